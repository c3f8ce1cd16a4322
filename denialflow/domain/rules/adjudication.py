"""How a remittance is counted in the reports: its stage in the claim's life and its
outcome, decided once by the claim machine when it posts the remittance and stored
with it, so every report (and the drill-down to the claims behind a number) reads the
same answer instead of re-deriving it from codes.

Stages: `initial` is the payer's first answer to the claim as first sent;
`resubmission` the first answer to a corrected claim; `appeal` an answer while an
appeal is open; `later` any other answer (a correction after a reversal, a second
835 for the same submission); `reversal` and `predetermination` are what CLP02 22
and 25 say. Outcomes: `paid` (nothing left for the payer to pay), `underpaid` (a
payer balance or a contract shortfall, with no denial reason), `partial` (paid part,
with a denial reason for the rest), `denied` (nothing paid, or CLP02 4), `reversal`,
`predetermination` and `voided` (an answer to a claim that was voided).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from denialflow.domain.rules import carc
from denialflow.domain.types import ZERO, DenialCategory

STAGES = ("initial", "resubmission", "appeal", "later", "reversal", "predetermination")
OUTCOMES = ("paid", "underpaid", "partial", "denied", "reversal", "predetermination", "voided")
# Outcomes that count as a denial in the denial rates.
DENIAL_OUTCOMES = ("partial", "denied")
# Stages that are a first answer to a submission (the initial denial rate's base).
FIRST_PASS_STAGES = ("initial", "resubmission")
# Outcomes that paid with no denial reason left.
PAID_OUTCOMES = ("paid", "underpaid")
# Outcomes a specialist may appeal (a denial or an underpayment work item).
APPEALABLE_OUTCOMES = ("partial", "denied", "underpaid")

_NOT_DENIED = frozenset({DenialCategory.CONTRACTUAL, DenialCategory.PATIENT_RESPONSIBILITY})


def stage(status_code: str, *, appeal_level: int, answered_before: bool, submission: int) -> str:
    if status_code == "22":
        return "reversal"
    if status_code == "25":
        return "predetermination"
    if appeal_level > 0:
        return "appeal"
    if answered_before:
        return "later"
    return "initial" if submission <= 1 else "resubmission"


def denied_amount(adjustments: Iterable[tuple[str, str, Decimal]]) -> Decimal:
    """The dollars the payer adjusted for a denial reason: every adjustment except the
    contractual ones and the patient's share."""
    return sum(
        (
            amount
            for group, code, amount in adjustments
            if carc.route(group, code).category not in _NOT_DENIED
        ),
        ZERO,
    )
