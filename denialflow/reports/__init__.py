"""Revenue-cycle reports: KPIs, A/R aging, denials, payer scorecards and productivity,
computed by SQL from the system of record (and the summary tables the projection keeps
beside it), for the report pages and their CSV downloads."""
