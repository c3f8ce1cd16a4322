"""Request and response bodies of the JSON API (/api), so /docs and /openapi.json describe
every field. Money is always a string of cents ("125.00") in and out: a JSON number
would pass through a float and lose cents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from denialflow.domain.types import (
    ActionKind,
    ClaimIn,
    ClaimLineIn,
    ClaimStatus,
    WorkItemKind,
    WorkItemState,
    to_money,
)

# Numeric(14, 2) columns hold twelve digits before the point.
_MONEY_LIMIT = Decimal("1e12")


def _money(value: object) -> Decimal:
    # types.to_money raises TypeError/InvalidOperation, which pydantic would let through
    # as a 500; here they become a 422 naming the field.
    if isinstance(value, float):
        raise ValueError('money must be a string such as "125.00", not a JSON number with a point')
    try:
        amount = to_money(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f'{value!r} is not an amount of money; write it like "125.00"') from None
    if not amount.is_finite() or abs(amount) >= _MONEY_LIMIT:
        raise ValueError(f"{value!r} is not a usable amount of money")
    return amount


def _decimal_text(value: Decimal) -> str:
    return str(value)


ApiMoney = Annotated[
    Decimal,
    BeforeValidator(_money),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$", "examples": ["125.00"]}),
]
# Score parts (likelihood 0.550, urgency 3.125 ...): exact decimals, also as strings.
ApiDecimal = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["0.550"]}),
]


class ErrorOut(BaseModel):
    """Every refusal: what was wrong and, where it matters, what to do."""

    detail: str = Field(examples=["work item WI-1 was changed since you loaded it; reload"])


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: body, then the field's path")
    msg: str
    type: str


class InvalidOut(BaseModel):
    """422: a sentence when the request is well formed but does not fit (an unknown payer,
    an action the claim's state does not allow), or one entry per malformed field."""

    detail: str | list[FieldError]


# --- claims ------------------------------------------------------------------

# A JSON integer is not a name or a code, and a NUL byte breaks the database and X12.
_Text = Annotated[StrictStr, Field(pattern=r"^[^\x00]*$")]


class ClaimLineCreate(ClaimLineIn):
    charge: ApiMoney = Field(ge=0, description="line charge, a string of cents")
    units: Decimal = Field(default=Decimal("1"), gt=0, max_digits=10, decimal_places=3)


class ClaimCreate(ClaimIn):
    """A new claim from an integration (practice management system, clearinghouse feed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "PM-100234",
                    "payer_id": "commercial-uhc",
                    "patient_name": "DOE, JANE",
                    "patient_birth_date": "1970-05-17",
                    "patient_gender": "F",
                    "member_id": "MBR0001",
                    "service_date": "2024-03-01",
                    "submitted_on": "2024-03-04",
                    "diagnoses": ["J20.9"],
                    "lines": [{"procedure_code": "99213", "charge": "125.00"}],
                }
            ]
        }
    )

    # Lengths are the database columns', so an oversized value is a 422 here, not a 500.
    payer_id: _Text = Field(min_length=1, max_length=40)
    patient_name: _Text = Field(default="", max_length=200)
    # The 276 status inquiry cannot be sent without it.
    member_id: _Text = Field(min_length=1, max_length=80)
    # Deadlines are days added to these; year 9999 would overflow into a 500.
    service_date: date = Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))
    submitted_on: date = Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))
    charge: ApiMoney | None = Field(
        default=None, ge=0, description="total charge; the sum of the lines when left out"
    )
    diagnoses: list[Annotated[_Text, Field(min_length=1, max_length=10)]] = Field(
        min_length=1, max_length=12, description="ICD-10-CM codes"
    )
    lines: list[ClaimLineCreate] = Field(min_length=1, max_length=50)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _consistent(self) -> ClaimCreate:
        if self.service_date > self.submitted_on:
            raise ValueError(
                f"service_date {self.service_date} is after submitted_on {self.submitted_on}"
            )
        for n, line in enumerate(self.lines):
            for pointer in line.diagnosis_pointers:
                if not 1 <= pointer <= len(self.diagnoses):
                    raise ValueError(
                        f"lines[{n}].diagnosis_pointers: {pointer} does not point at one of "
                        f"the {len(self.diagnoses)} diagnoses (they count from 1)"
                    )
        return self


class ClaimLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_number: int
    procedure_code: str
    modifiers: list[str]
    units: ApiDecimal
    charge: ApiMoney
    diagnosis_pointers: list[int]


class PriorityOut(BaseModel):
    """Why an item ranks where it does: balance x likelihood x urgency x escalation."""

    score: ApiDecimal
    balance: ApiMoney
    likelihood: ApiDecimal
    urgency: ApiDecimal
    escalation_multiplier: ApiDecimal


class WorkItemOut(BaseModel):
    id: str
    claim_id: str | None
    kind: WorkItemKind
    state: WorkItemState
    queue: str
    home_queue: str
    assignee: str | None
    version: int = Field(description="send it back as expected_version when acting")
    category: str | None
    reason_codes: list[str]
    next_action: str
    opened_at: datetime
    due_at: datetime
    snoozed_until: datetime | None
    escalation_level: int
    escalation_reason: str | None
    deadline_name: str | None
    deadline_at: date | None
    balance: ApiMoney
    expected_amount: ApiMoney | None
    actual_amount: ApiMoney | None
    priority: PriorityOut


class WorkItemPage(BaseModel):
    total: int = Field(description="items matching the filters, before limit and offset")
    limit: int
    offset: int
    items: list[WorkItemOut]


class AdjustmentOut(BaseModel):
    group: str
    reason: str
    amount: ApiMoney
    category: str
    recommended_action: str = Field(description="our own wording, from the reason code's route")


class RemittanceOut(BaseModel):
    posted_at: datetime
    status_code: str
    paid: ApiMoney
    patient_responsibility: ApiMoney
    payer_claim_control_number: str
    decision_date: date | None
    remarks: list[str]
    adjustments: list[AdjustmentOut]


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(description="'call' for a payer call log, else 'text'")
    author: str
    body: str
    representative: str
    reference_number: str
    outcome: str
    next_follow_up: date | None
    created_at: datetime


class TimelineEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    event: str
    data: dict[str, Any]


class ClaimOut(BaseModel):
    id: str
    payer_id: str
    status: ClaimStatus
    patient_name: str
    patient_birth_date: date | None
    member_id: str
    service_date: date
    submitted_on: date
    frequency_code: str
    payer_claim_control_number: str
    charge: ApiMoney
    paid: ApiMoney
    contractual: ApiMoney
    patient_responsibility: ApiMoney
    written_off: ApiMoney
    balance: ApiMoney
    appeal_level: int
    timely_filing_deadline: date | None
    appeal_deadline: date | None
    next_follow_up_at: datetime | None
    flags: list[str]
    diagnoses: list[str]
    lines: list[ClaimLineOut]
    work_items: list[WorkItemOut] = Field(description="open items first, by priority")
    remittances: list[RemittanceOut]
    notes: list[NoteOut]
    timeline: list[TimelineEventOut]


# --- queues ------------------------------------------------------------------


class QueueOut(BaseModel):
    name: str
    title: str
    open_items: int = Field(description="items not closed: open, in progress or snoozed")
    unassigned: int
    escalated: int
    open_balance: ApiMoney


# --- actions -----------------------------------------------------------------


class ActionRequest(BaseModel):
    """One action on a work item, sent to the claim's workflow. Fields beyond `kind` and
    `expected_version` apply to some kinds only: call_logged needs follow_up_date and
    outcome; appeal_filed takes level; write_off needs reason; reassign (supervisors)
    needs to_user or to_queue."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "start_work", "expected_version": 3}]},
    )

    kind: ActionKind
    expected_version: int = Field(
        ge=1,
        description="the item's version you last read; a newer one means someone else acted "
        "first, and the action is refused with 409 and nothing changes",
    )
    level: int | None = Field(default=None, ge=1, le=9)
    reason: str = Field(default="", max_length=500)
    to_user: str | None = Field(default=None, max_length=60)
    to_queue: str | None = Field(default=None, max_length=60)
    follow_up_date: date | None = None
    # Lengths match the call-log columns, so a long value is refused here, not in a retry loop.
    representative: str = Field(default="", max_length=120)
    reference_number: str = Field(default="", max_length=80)
    outcome: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=4000)


class ActionOut(BaseModel):
    ok: bool = True
    message: str
    claim_id: str
    status: ClaimStatus = Field(description="the claim's status after the action")
    work_item_id: str | None = Field(description="the item acted on, when it is still there")
    version: int | None = Field(description="the item's new version")
