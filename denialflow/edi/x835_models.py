"""Typed 835 (005010X221A1) remittance. Money is Decimal cents, never float."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, Field, computed_field

from denialflow.domain.types import ZERO, Money

M = TypeVar("M", bound=BaseModel)
_IMMUTABLE = (str, int, bool, Decimal, dt.date, type(None))


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


def prevalidated(cls: type[M], *given: str) -> Callable[..., M]:
    """A constructor taking exactly the keyword arguments `given`, for values that are
    already what validation would make of them (money from `to_money`, plain str,
    Decimal, date, freshly built models). The result equals `cls(**values)`: same
    fields in declared order, same defaults, same fields-set; only the re-validation
    is skipped. `model_construct` would do the same but looks defaults up per call.
    For the 835 reader's hot path only; anything taking outside values validates.

    Refuses models whose validation or assignment does more than convert field
    values (validators, private attributes, extra fields, frozen or validated
    assignment), which this could not mirror."""
    config = cls.model_config
    decorators = cls.__pydantic_decorators__
    if (
        cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.__pydantic_root_model__
        or config.get("extra") == "allow"
        or config.get("frozen")
        or config.get("validate_assignment")
        or decorators.model_validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.validators
    ):
        raise TypeError(f"{cls.__name__} needs validation to construct")
    fields = cls.model_fields
    missing = [name for name, info in fields.items() if info.is_required() and name not in given]
    unknown = [name for name in given if name not in fields or not name.isidentifier()]
    if missing or unknown or len(set(given)) != len(given):
        raise TypeError(f"{cls.__name__}: missing {missing}, unknown {unknown} in {given}")
    # Generated like dataclasses' __init__: one dict display in field order.
    namespace: dict[str, Any] = {"_new": cls.__new__, "_cls": cls, "_set": object.__setattr__}
    namespace["_given"] = frozenset(given)
    entries = []
    for n, (name, info) in enumerate(fields.items()):
        if name in given:
            entries.append(f"{name!r}: {name}")
        elif info.default_factory is list:
            entries.append(f"{name!r}: []")
        elif info.default_factory is not None:
            namespace[f"_factory{n}"] = info.default_factory
            entries.append(f"{name!r}: _factory{n}()")
        elif type(info.default) in _IMMUTABLE:  # pydantic would copy anything else
            namespace[f"_default{n}"] = info.default
            entries.append(f"{name!r}: _default{n}")
        else:
            raise TypeError(f"{cls.__name__}.{name}: mutable default {info.default!r}")
    source = (
        f"def construct(*, {', '.join(given)}):\n"
        "    model = _new(_cls)\n"
        f"    _set(model, '__dict__', {{{', '.join(entries)}}})\n"
        "    _set(model, '__pydantic_fields_set__', set(_given))\n"
        "    _set(model, '__pydantic_extra__', None)\n"
        "    _set(model, '__pydantic_private__', None)\n"
        "    return model\n"
    )
    exec(source, namespace)  # noqa: S102 - built from field names checked above
    construct: Callable[..., M] = namespace["construct"]
    construct.__qualname__ = construct.__name__ = f"prevalidated_{cls.__name__}"
    return construct


def assign(model: BaseModel, name: str, value: Any) -> None:
    """`setattr(model, name, value)` for a plain field of a model `prevalidated` accepts
    (no validated assignment): store it and mark it set, as BaseModel.__setattr__ does."""
    model.__dict__[name] = value
    model.__pydantic_fields_set__.add(name)
