"""The patient side's pure rules: applying a patient's payment to their balances, payment
plan schedules, the financial-assistance sliding scale, and the statement cycle's
state machine. No I/O; the account and plan workflows and the web app call these."""
