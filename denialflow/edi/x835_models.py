"""Typed 835 (005010X221A1) remittance. Money is Decimal cents, never float.

The records a remittance repeats for every claim and line (ClaimPayment,
ServicePayment, Adjustment, Procedure) are msgspec Structs; the envelope around them
(Remittance, Payment, Payer, Payee, ProviderAdjustment), one or a few per file, stays
pydantic. A 10,000-claim file holds some 60,000 records: as pydantic models each one
was three or four objects the cyclic garbage collector tracks (instance, __dict__,
fields-set, lists), and the collections that growth sets off (a full one rescans the
whole heap) made the parse nearly three times slower. Structs declared with gc=False
are not tracked at all, take under a quarter of the memory and are built in C.
gc=False is safe because a record cannot be part of a reference cycle: it holds values
and lists of the records below it, never one above.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, Field, GetCoreSchemaHandler, computed_field
from pydantic_core import core_schema

from denialflow.domain.types import CENT, ZERO, Money, to_money

_ONE = Decimal("1")
# What model_dump(mode="python") leaves as objects, as BaseModel.model_dump does.
_NATIVE = (Decimal, dt.date)


def _cents(value: object) -> Decimal:
    """`to_money(value)`, skipping the rounding when value already is a Decimal in whole
    cents: the reader hands over amounts it rounded once per distinct text, and
    rounding each again made the reading pass some 40% slower."""
    if type(value) is Decimal and value.same_quantum(CENT):
        return value
    return to_money(value)


class Record(msgspec.Struct, gc=False):
    """Base of the per-claim records, with the part of the pydantic model API that
    their users rely on: `model_dump`, and use as a field of a pydantic model.

    Construction takes keywords only and checks no types, except that every money
    field goes through `to_money` (so "12.5" becomes Decimal("12.50") and a float is
    refused, as with the pydantic `Money` type). `msgspec.convert(mapping, Type)`
    builds a record from outside data with every field type checked."""

    def model_dump(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The record as a dict of plain values, nested records as dicts. In "json" mode
        amounts are strings and dates ISO strings, as pydantic's JSON mode gives them."""
        data: dict[str, Any] = msgspec.to_builtins(
            self, builtin_types=_NATIVE if mode == "python" else None
        )
        return data

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Instances are taken as they are (the check runs in pydantic-core, so a
        # 10,000-claim Remittance validates its list without a Python call per claim);
        # a mapping is converted, as pydantic would for a model-typed field.
        return core_schema.union_schema(
            [
                core_schema.is_instance_schema(cls),
                core_schema.no_info_plain_validator_function(
                    lambda value: msgspec.convert(value, cls, strict=False)
                ),
            ],
            serialization=core_schema.plain_serializer_function_ser_schema(_dump, info_arg=True),
        )


def _dump(record: Record, info: core_schema.SerializationInfo) -> dict[str, Any]:
    return record.model_dump(mode="json" if info.mode_is_json() else "python")


class Procedure(Record, kw_only=True):
    """A composite procedure id such as HC:99213:25 (qualifier, code, up to 4 modifiers)."""

    qualifier: str = ""
    code: str = ""
    modifiers: list[str] = msgspec.field(default_factory=list)

    @classmethod
    def from_parts(cls, parts: list[str]) -> Procedure | None:
        if not parts:
            return None
        # Component 7 is a free-text description; it is deliberately not kept.
        modifiers = [m for m in parts[2:6] if m]
        return cls(qualifier=parts[0], code=parts[1] if len(parts) > 1 else "", modifiers=modifiers)

    def __str__(self) -> str:
        return ":".join(p for p in (self.qualifier, self.code, *self.modifiers) if p)


class Adjustment(Record, kw_only=True):
    """One CAS triplet: group (CO/PR/OA/PI), reason code (CARC), amount, optional quantity."""

    group: str
    reason: str
    amount: Money
    quantity: Decimal | None = None

    def __post_init__(self) -> None:
        self.amount = _cents(self.amount)


class ServicePayment(Record, kw_only=True):
    procedure: Procedure
    charge: Money
    paid: Money
    revenue_code: str = ""
    units: Decimal = _ONE
    original_procedure: Procedure | None = None
    original_units: Decimal | None = None
    allowed: Money | None = None
    adjustments: list[Adjustment] = msgspec.field(default_factory=list)
    remarks: list[str] = msgspec.field(default_factory=list)
    control_number: str = ""  # REF*6R, the line item control number from the 837
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None

    def __post_init__(self) -> None:
        self.charge = _cents(self.charge)
        self.paid = _cents(self.paid)
        if self.allowed is not None:
            self.allowed = _cents(self.allowed)


class ClaimPayment(Record, kw_only=True):
    patient_control_number: str
    status_code: str
    charge: Money
    paid: Money
    patient_responsibility: Money = ZERO
    filing_indicator: str = ""
    payer_claim_control_number: str = ""
    facility_code: str = ""
    frequency_code: str = ""
    patient_name: str = ""
    patient_id: str = ""
    original_reference_number: str = ""  # REF*F8: the ICN a correction replaces
    # NM1*TT: the payer this one sent the claim on to (a crossover to the next coverage).
    crossover_carrier: str = ""
    adjustments: list[Adjustment] = msgspec.field(default_factory=list)
    remarks: list[str] = msgspec.field(default_factory=list)
    statement_from: dt.date | None = None  # DTM*232
    statement_to: dt.date | None = None  # DTM*233
    received_on: dt.date | None = None  # DTM*050
    services: list[ServicePayment] = msgspec.field(default_factory=list)
    segment_number: int = 0  # file position of the CLP, to point people at the source

    def __post_init__(self) -> None:
        self.charge = _cents(self.charge)
        self.paid = _cents(self.paid)
        self.patient_responsibility = _cents(self.patient_responsibility)

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"

    def service_period(self) -> tuple[dt.date | None, dt.date | None]:
        """Statement dates, else the span of the line service dates."""
        if self.statement_from is not None:
            return self.statement_from, self.statement_to or self.statement_from
        dated = [s for s in self.services if s.service_date is not None]
        if not dated:
            return None, None
        starts = [s.service_date for s in dated if s.service_date]
        ends = [s.service_date_end or s.service_date for s in dated if s.service_date]
        return min(starts), max(e for e in ends if e)


class ProviderAdjustment(BaseModel):
    """One PLB reason/amount pair. A negative amount adds to the payment."""

    provider_id: str
    fiscal_period_date: dt.date | None = None
    reason: str
    reference: str = ""
    amount: Money


class Payment(BaseModel):
    amount: Money
    credit_debit: str = "C"
    method: str = ""
    handling_code: str = ""  # BPR01: I remittance and payment, H notification only, ...
    date: dt.date | None = None
    trace_number: str = ""
    originator: str = ""  # TRN03

    @property
    def signed_amount(self) -> Money:
        """BPR02 is unsigned; a debit means money flows back to the payer."""
        return -self.amount if self.credit_debit == "D" else self.amount


class Payer(BaseModel):
    name: str = ""
    id: str = ""


class Payee(BaseModel):
    name: str = ""
    npi: str = ""
    id_qualifier: str = ""
    id: str = ""
    tax_id: str = ""


class Remittance(BaseModel):
    control_number: str
    version: str = ""
    production_date: dt.date | None = None
    payment: Payment
    payer: Payer = Field(default_factory=Payer)
    payee: Payee = Field(default_factory=Payee)
    claims: list[ClaimPayment] = Field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # balancing failures
    warnings: list[str] = Field(default_factory=list)  # unreadable non-money values

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balanced(self) -> bool:
        return not self.problems
