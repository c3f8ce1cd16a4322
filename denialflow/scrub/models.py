"""What the scrubber reads (ScrubClaim, ScrubContext) and what it reports (Problem).

The claim model is deliberately lenient: blank strings, missing dates, odd
codes and out-of-range pointers are all accepted, because reporting them in
plain English is the scrubber's job. Only values that cannot be read at all
(a charge that is not a number, a date that is not a date) fail validation.

Field paths in `Problem.field` use these models' attribute names with
0-based indexes ("lines[1].modifiers[0]" is the first modifier of the second
line), so a form can put the problem next to the right input. Messages count
from 1, as people do ("line 2, modifier 1").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from denialflow.domain.types import Money, PayerRules


class Problem(BaseModel):
    """One thing to fix before the claim is sent."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="stable machine id, e.g. 'icd10.not_billable'")
    field: str = Field(description="path of the offending value, e.g. 'lines[1].modifiers[0]'")
    message: str = Field(description="what is wrong, where, and how to fix it")


class ScrubLine(BaseModel):
    """One service line (837P loop 2400)."""

    model_config = ConfigDict(frozen=True)

    procedure_code: str = ""
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal(1)
    charge: Money
    # 1-based positions in ScrubClaim.diagnoses, as on the 837 (SV107).
    diagnosis_pointers: tuple[int, ...] = ()
    # Only when the line's date differs from the claim's; None means the claim's date.
    service_date: date | None = None


class ScrubClaim(BaseModel):
    """The claim fields the checks look at.

    Names match `ClaimIn` where both have the field, so
    `ScrubClaim.model_validate(claim_in.model_dump() | {...})` works.
    """

    model_config = ConfigDict(frozen=True)

    id: str = ""  # patient control number (CLM01)
    payer_id: str = ""
    # CLM05-3: 1 original, 7 replacement, 8 void.
    frequency_code: str = "1"
    # The payer's ICN of the claim that a replacement or void refers to (REF*F8).
    payer_claim_control_number: str = ""
    place_of_service: str = ""
    billing_npi: str = ""
    rendering_npi: str = ""  # blank when the billing provider rendered the service
    patient_name: str = ""
    patient_birth_date: date | None = None
    member_id: str = ""
    # The first day of service; timely filing counts from it.
    service_date: date | None = None
    # When the claim was (or will be) sent; None means today.
    submitted_on: date | None = None
    diagnoses: tuple[str, ...] = ()
    lines: tuple[ScrubLine, ...] = ()
    # Total charge as entered; None when the system computes it from the lines.
    charge: Money | None = None


class ScrubContext(BaseModel):
    """Everything outside the claim that a check depends on, so scrub stays pure."""

    model_config = ConfigDict(frozen=True)

    today: date
    rules: PayerRules = Field(default_factory=PayerRules)
    # `fingerprint()` values of claims already sent to a payer.
    already_sent: frozenset[str] = frozenset()
