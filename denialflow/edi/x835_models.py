"""Typed 835 (005010X221A1) remittance. Money is Decimal cents, never float."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, Field, computed_field

from denialflow.models.types import ZERO, Money

M = TypeVar("M", bound=BaseModel)


class Procedure(BaseModel):
    """A composite procedure id such as HC:99213:25 (qualifier, code, up to 4 modifiers)."""

    qualifier: str = ""
    code: str = ""
    modifiers: list[str] = Field(default_factory=list)

    @classmethod
    def from_parts(cls, parts: list[str]) -> Procedure | None:
        if not parts:
            return None
        # Component 7 is a free-text description; it is deliberately not kept.
        modifiers = [m for m in parts[2:6] if m]
        return cls(qualifier=parts[0], code=parts[1] if len(parts) > 1 else "", modifiers=modifiers)

    def __str__(self) -> str:
        return ":".join(p for p in (self.qualifier, self.code, *self.modifiers) if p)


class Adjustment(BaseModel):
    """One CAS triplet: group (CO/PR/OA/PI), reason code (CARC), amount, optional quantity."""

    group: str
    reason: str
    amount: Money
    quantity: Decimal | None = None


class ServicePayment(BaseModel):
    procedure: Procedure
    charge: Money
    paid: Money
    revenue_code: str = ""
    units: Decimal = Decimal("1")
    original_procedure: Procedure | None = None
    original_units: Decimal | None = None
    allowed: Money | None = None
    adjustments: list[Adjustment] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)
    control_number: str = ""  # REF*6R, the line item control number from the 837
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None


class ClaimPayment(BaseModel):
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
    adjustments: list[Adjustment] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)
    statement_from: dt.date | None = None  # DTM*232
    statement_to: dt.date | None = None  # DTM*233
    received_on: dt.date | None = None  # DTM*050
    services: list[ServicePayment] = Field(default_factory=list)
    segment_number: int = 0  # file position of the CLP, to point people at the source

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


def prevalidated(cls: type[M]) -> Callable[..., M]:
    """A constructor for values that are already exactly what validation would make
    of them: money from `to_money`, plain str, Decimal, date, fresh lists of built
    models. It skips re-validating them and sets the same fields, defaults and
    fields-set as `cls(**values)` would, as `model_construct` does but without its
    per-call default lookups. Only for the 835 reader's hot path; anything that
    takes outside values goes through normal validation.

    Refuses models whose validation does more than convert field values (model or
    field validators, private attributes, extra fields), which this could not mirror."""
    decorators = cls.__pydantic_decorators__
    if (
        cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.model_config.get("extra") == "allow"
        or decorators.model_validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.validators
    ):
        raise TypeError(f"{cls.__name__} needs validation to construct")
    template: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: set[str] = set()
    for name, info in cls.model_fields.items():
        template[name] = None  # a placeholder that keeps the declared field order
        if info.is_required():
            required.add(name)
        elif info.default_factory is not None:
            factories.append((name, info.default_factory))  # type: ignore[arg-type]
        else:
            template[name] = info.default
    required_names = frozenset(required)
    field_names = frozenset(template)
    new = cls.__new__
    setattr_ = object.__setattr__

    def construct(**given: Any) -> M:
        if not required_names <= given.keys() <= field_names:
            missing = sorted(required_names - given.keys())
            unknown = sorted(given.keys() - field_names)
            raise TypeError(f"{cls.__name__}: missing {missing}, unknown {unknown}")
        values = template.copy()
        for name, factory in factories:
            values[name] = factory()
        values.update(given)
        model = new(cls)
        setattr_(model, "__dict__", values)
        setattr_(model, "__pydantic_fields_set__", set(given))
        setattr_(model, "__pydantic_extra__", None)
        setattr_(model, "__pydantic_private__", None)
        return model

    construct.__name__ = f"prevalidated_{cls.__name__}"
    return construct
