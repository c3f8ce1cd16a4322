"""Scenario files: YAML read with its line numbers, checked strictly, so that a mistake
is reported as `scenario.yaml: line 14: events[2].remit.paid: <what is wrong>`.

A scenario names the calendar it runs in (`start`, `until`), payer rule overrides,
the claims, and what happens to them (`events`, in time order). Amounts are read
as decimals through their text: YAML turns `12.5` into a float, and
`Decimal(str(12.5))` is exactly 12.50, which is safe for the two-decimal amounts a
scenario carries; an amount with fractions of a cent is refused rather than rounded.
Times are whole minutes in UTC (a bare date means midnight UTC).

    name, description        optional text
    start, until             dates; `until` is inclusive (the run ends at midnight after it)
    payers:                  a mapping by id, or a list like claims' with an `id` in each;
                             a shipped profile is changed, an unknown id is added
      ID: {name, timely_filing_days, follow_up_days (or follow_up_first_days and
           follow_up_every_days), appeal_deadline_days: [per level], notice_receipt_days,
           sla_business_days: {KIND: days}, escalation: {level2_after_business_days,
           deadline_window_days}}
      - {id: ID, name, timely_filing_days, ...}       (the list form: the same fields)
    claims:                  id, payer, service_date, submitted, charge (or the lines' sum),
                             diagnoses, lines: [{code, charge, units, modifiers, diagnoses}],
                             patient, member_id
    events:                  in time order; at (date or date and time), claim, and one of
      remit: {status_code, paid, patient_responsibility, adjustments: [{group, reason,
              amount}], remarks, payer_claim_control_number, decision_date (default: at)}
      action: {kind, by, role (default specialist; supervisor for reassign), item, level,
               reason, to (reassign: a username or queue:NAME), follow_up_date,
               representative, reference_number, outcome, note, reason_code and
               amount (write-offs)}; a corrected claim or void needs an edited claim
               and an 837P, which a simulation never writes, so it is refused

The two forms of `payers` say the same thing (an id listed twice is a mistake in either):

    payers:                              payers:
      acme-health:                         - id: acme-health
        name: Acme Health Plan               name: Acme Health Plan
        appeal_deadline_days: [30]           appeal_deadline_days: [30]

A claim submitted before `start` starts at `start`, and its workflow catches up on
what is already overdue.
"""

from __future__ import annotations

import contextlib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from denialflow.domain.types import (
    CENT,
    ActionKind,
    AdjustmentGroup,
    EscalationPolicy,
    Money,
    PayerRules,
    Role,
    WorkItemKind,
)
from denialflow.models.payer_profiles import default_profiles

Loc = tuple[str | int, ...]


class ScenarioError(Exception):
    """A mistake in a scenario file, with the line and the field it is about."""

    def __init__(self, path: str, message: str, line: int | None = None, where: str = "") -> None:
        self.path = path
        self.line = line
        self.where = where
        self.message = message
        parts = [path]
        if line is not None:
            parts.append(f"line {line}")
        if where:
            parts.append(where)
        parts.append(message)
        super().__init__(": ".join(parts))


# --- scalar types -----------------------------------------------------------


def _text(value: object) -> object:
    # YAML reads `12345` as a number; ids, names and reference numbers are text.
    if isinstance(value, bool):
        raise ValueError("expected text, not true/false (put it in quotes)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("expected text, not a decimal number (put it in quotes)")
    return value


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("expected an amount such as 125.00")
    try:
        # str() first: a YAML float becomes its shortest decimal text (12.5 -> "12.5").
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount such as 125.00") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount such as 125.00")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{value} has fractions of a cent")
    return amount.quantize(CENT)


def _positive_amount(value: object) -> Decimal:
    amount = _amount(value)
    if amount <= 0:
        raise ValueError("must be more than 0.00")
    return amount


def _optional_positive_amount(value: object) -> Decimal | None:
    return None if value is None else _positive_amount(value)


def _units(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("expected a number of units such as 1")
    try:
        units = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number of units") from None
    if not units.is_finite() or units <= 0:
        raise ValueError("units must be more than 0")
    return units


def _date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError("expected a date such as 2025-03-01, without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date such as 2025-03-01")


def _optional_date(value: object) -> date | None:
    return None if value is None else _date(value)


def start_of(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _moment(value: object) -> datetime:
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return start_of(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            return start_of(date.fromisoformat(text))
        except ValueError:
            pass
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(text)
    if moment is None:
        raise ValueError(
            f"{value!r} is not a date (2025-03-01) or a date and time (2025-03-01T09:30:00Z)"
        )
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        raise ValueError("give times to the minute (seconds must be 00)")
    return moment


Text = Annotated[str, BeforeValidator(_text)]
Name = Annotated[str, BeforeValidator(_text), Field(min_length=1)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Charge = Annotated[Decimal, BeforeValidator(_positive_amount)]
OptionalCharge = Annotated[Decimal | None, BeforeValidator(_optional_positive_amount)]
Units = Annotated[Decimal, BeforeValidator(_units)]
ScenarioDate = Annotated[date, BeforeValidator(_date)]
OptionalDate = Annotated[date | None, BeforeValidator(_optional_date)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Days = Annotated[int, Strict(), Field(gt=0)]
DaysOrZero = Annotated[int, Strict(), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _none_as_empty(value: object) -> object:
    return {} if value is None else value


def _none_as_empty_list(value: object) -> object:
    return [] if value is None else value


# --- payers -------------------------------------------------------------------


class EscalationSpec(_Strict):
    level2_after_business_days: DaysOrZero | None = None
    deadline_window_days: DaysOrZero | None = None


class PayerSpec(_Strict):
    """Changes to a payer's rules; what is left out keeps the profile's (or the default) value."""

    name: Name | None = None
    timely_filing_days: Days | None = None
    # Sets both the first follow-up and the cadence after it.
    follow_up_days: Days | None = None
    follow_up_first_days: Days | None = None
    follow_up_every_days: Days | None = None
    appeal_deadline_days: list[Days] | None = None
    notice_receipt_days: DaysOrZero | None = None
    sla_business_days: dict[WorkItemKind, DaysOrZero] | None = None
    escalation: EscalationSpec | None = None

    @model_validator(mode="after")
    def _one_way_to_say_follow_up(self) -> PayerSpec:
        if self.follow_up_days is not None and (
            self.follow_up_first_days is not None or self.follow_up_every_days is not None
        ):
            raise ValueError(
                "give follow_up_days, or follow_up_first_days and follow_up_every_days, not both"
            )
        return self

    def apply(self, base: PayerRules) -> PayerRules:
        data = base.model_dump()
        for name in ("timely_filing_days", "notice_receipt_days", "appeal_deadline_days"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        first = self.follow_up_first_days or self.follow_up_days
        every = self.follow_up_every_days or self.follow_up_days
        if first is not None:
            data["follow_up_first_days"] = first
        if every is not None:
            data["follow_up_every_days"] = every
        if self.sla_business_days is not None:
            data["sla_business_days"] = {**base.sla_business_days, **self.sla_business_days}
        if self.escalation is not None:
            changes = self.escalation.model_dump(exclude_none=True)
            data["escalation"] = EscalationPolicy(**{**base.escalation.model_dump(), **changes})
        return PayerRules.model_validate(data)


class PayerEntry(PayerSpec):
    """One payer of `payers` written as a list: the changes and the id they are for."""

    id: Name


_PAYER_LIST = TypeAdapter(list[PayerEntry])


def _payers_by_id(value: object, handler: ValidatorFunctionWrapHandler) -> dict[str, PayerSpec]:
    """`payers` as a list of entries with an `id`, the way claims are given, becomes the
    mapping by id; the errors keep the list's positions, so they name the entry's line."""
    if value is None or isinstance(value, dict):
        return handler(value)
    if not isinstance(value, list):
        raise ValueError("expected payers by id (a mapping), or a list of payers each with an id")
    entries = _PAYER_LIST.validate_python(value)
    payers: dict[str, PayerSpec] = {}
    duplicates: list[InitErrorDetails] = []
    for i, entry in enumerate(entries):
        if entry.id in payers:
            duplicates.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_id", "payer {id} is listed twice", {"id": entry.id}
                    ),
                    loc=(i, "id"),
                    input=entry.id,
                )
            )
        # A plain PayerSpec, so the scenario is the same whichever way it was written.
        payers[entry.id] = PayerSpec.model_validate(
            entry.model_dump(exclude={"id"}, exclude_unset=True)
        )
    if duplicates:
        raise ValidationError.from_exception_data("payers", duplicates)
    return payers


# The model of one item when a mapping by id is written as a list (to name its fields).
_LIST_FORMS: dict[Any, type[BaseModel]] = {PayerSpec: PayerEntry}


# --- claims -------------------------------------------------------------------


class LineSpec(_Strict):
    code: Name
    charge: Charge
    units: Units = Decimal(1)
    modifiers: list[Name] = Field(default_factory=list, max_length=4)
    diagnoses: list[Name] = Field(default_factory=list, max_length=4)


def _claim_id(value: object) -> object:
    value = _text(value)
    if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
        raise ValueError(f"{value!r} is not a claim id: 1 to 64 letters, digits, '.', '_' or '-'")
    return value


class ClaimSpec(_Strict):
    id: Annotated[str, BeforeValidator(_claim_id)]
    payer: Name
    service_date: ScenarioDate
    submitted: ScenarioDate
    charge: OptionalCharge = None
    diagnoses: list[Name] = Field(default_factory=list)
    lines: list[LineSpec] = Field(default_factory=list)
    patient: Text = ""
    member_id: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> ClaimSpec:
        if self.charge is None and not self.lines:
            raise ValueError("a claim needs a charge or lines")
        return self

    @field_validator("submitted")
    @classmethod
    def _not_before_service(cls, value: date, info: ValidationInfo) -> date:
        service = info.data.get("service_date")
        if service is not None and value < service:
            raise ValueError(f"submitted {value} is before the service date {service}")
        return value

    def diagnosis_codes(self) -> list[str]:
        """The claim's diagnoses: its own list, then any new codes its lines name."""
        codes = list(self.diagnoses)
        for line in self.lines:
            codes += [c for c in line.diagnoses if c not in codes]
        return codes


# --- events -------------------------------------------------------------------


class AdjustmentSpec(_Strict):
    group: AdjustmentGroup
    reason: Name
    amount: Amount


class RemitSpec(_Strict):
    status_code: Name = "1"
    paid: Amount = Decimal("0.00")
    patient_responsibility: Amount = Decimal("0.00")
    adjustments: list[AdjustmentSpec] = Field(default_factory=list)
    remarks: list[Name] = Field(default_factory=list)
    payer_claim_control_number: Text = ""
    # The date on the payer's decision; the event's date when left out.
    decision_date: OptionalDate = None


class ActionSpec(_Strict):
    kind: ActionKind
    by: Name
    role: Role | None = None
    item: Name | None = None
    level: Days | None = None
    reason: Text = ""
    to: Name | None = None
    follow_up_date: OptionalDate = None
    representative: Text = ""
    reference_number: Text = ""
    outcome: Text = ""
    note: Text = ""
    # Write-offs: the adjustment reason's code and how much (all that is owed if left out).
    reason_code: Text = ""
    amount: Money | None = None

    @model_validator(mode="after")
    def _target(self) -> ActionSpec:
        if self.kind == "reassign" and self.to is None:
            raise ValueError("reassign needs `to`: a username, or queue:NAME")
        if self.kind != "reassign" and self.to is not None:
            raise ValueError(f"`to` is only for reassign, not {self.kind}")
        if self.to is not None and self.to.startswith("queue:") and not self.to[6:].strip():
            raise ValueError("`to: queue:NAME` needs the queue's name")
        return self

    @property
    def effective_role(self) -> Role:
        if self.role is not None:
            return self.role
        return Role.SUPERVISOR if self.kind == "reassign" else Role.SPECIALIST


class EventSpec(_Strict):
    at: Moment
    claim: Name
    remit: RemitSpec | None = None
    action: ActionSpec | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> EventSpec:
        if (self.remit is None) == (self.action is None):
            raise ValueError("an event has either `remit` or `action` (exactly one)")
        return self


class Scenario(_Strict):
    name: Text = ""
    description: Text = ""
    start: ScenarioDate
    # Inclusive: the run covers every moment up to the end of this day.
    until: ScenarioDate
    payers: Annotated[
        dict[Name, PayerSpec], BeforeValidator(_none_as_empty), WrapValidator(_payers_by_id)
    ] = Field(default_factory=dict)
    claims: list[ClaimSpec] = Field(min_length=1)
    events: Annotated[list[EventSpec], BeforeValidator(_none_as_empty_list)] = Field(
        default_factory=list
    )

    @property
    def begins(self) -> datetime:
        return start_of(self.start)

    @property
    def ends(self) -> datetime:
        """The first moment after the scenario: midnight after `until`."""
        return start_of(self.until + timedelta(days=1))

    def payer_rules(self) -> dict[str, tuple[str, PayerRules]]:
        """Every payer the run knows, id -> (name, rules): profiles with the overrides."""
        payers = {p.id: (p.name, p.rules) for p in default_profiles()}
        for payer_id, spec in self.payers.items():
            name, base = payers.get(payer_id, (payer_id, PayerRules()))
            payers[payer_id] = (spec.name or name, spec.apply(base))
        return payers

    def claim_starts(self, claim: ClaimSpec) -> datetime:
        """When the claim's workflow starts: its submission, or the scenario's start for a
        claim submitted earlier (the workflow then catches up on what is overdue)."""
        return max(start_of(claim.submitted), self.begins)


# --- reading a file -------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates and times as text: the scenario's validators read them
    (PyYAML would raise a bare ValueError, without a line, for a date such as 2025-13-01)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class _Problem:
    loc: Loc
    message: str
    line: int | None = None


class _Lines:
    """Line numbers of the YAML nodes, found by the path pydantic reports."""

    def __init__(self, root: yaml.Node) -> None:
        self.root = root

    def line(self, loc: Sequence[str | int]) -> int:
        node = self.root
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        line, node = key.start_mark.line + 1, value
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> _Problem | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None:
                if name in seen:
                    return _Problem(
                        (*loc, name), f"{name} is given twice", line=key.start_mark.line + 1
                    )
                seen.add(name)
            found = _duplicate_keys(value, (*loc, name if name is not None else "?"))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_keys(item, (*loc, i))
            if found:
                return found
    return None


def where(loc: Sequence[str | int]) -> str:
    """`events[2].remit.paid` for ('events', 2, 'remit', 'paid')."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The scenario model that the path `loc` leads to, to list its fields."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            if typing.get_origin(current) is list and args:
                current = args[0]
            elif typing.get_origin(current) is dict and args:
                current = _LIST_FORMS.get(_unwrap(args[1]))
            else:
                current = None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field is not None else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        if model is not None:
            return f"unknown field; expected one of: {', '.join(model.model_fields)}"
        return "unknown field"
    if kind == "missing":
        return "is required"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def _semantic_problems(s: Scenario) -> list[_Problem]:
    problems: list[_Problem] = []
    if s.until < s.start:
        problems.append(_Problem(("until",), f"{s.until} is before start {s.start}"))
    payers = s.payer_rules()
    claims: dict[str, ClaimSpec] = {}
    for i, claim in enumerate(s.claims):
        if claim.id in claims:
            problems.append(_Problem(("claims", i, "id"), f"claim {claim.id} is listed twice"))
        claims[claim.id] = claim
        if claim.payer not in payers:
            known = ", ".join(sorted(payers))
            problems.append(
                _Problem(
                    ("claims", i, "payer"),
                    f"unknown payer {claim.payer!r}; known payers: {known} "
                    "(add a new one under `payers`)",
                )
            )
        if claim.submitted > s.until:
            problems.append(
                _Problem(("claims", i, "submitted"), f"{claim.submitted} is after until {s.until}")
            )
    previous: datetime | None = None
    for i, event in enumerate(s.events):
        at = _iso(event.at)
        if event.at < s.begins:
            problems.append(_Problem(("events", i, "at"), f"{at} is before start {s.start}"))
        elif event.at >= s.ends:
            problems.append(_Problem(("events", i, "at"), f"{at} is after until {s.until}"))
        elif previous is not None and event.at < previous:
            problems.append(
                _Problem(
                    ("events", i, "at"),
                    f"events must be in time order: {at} is before the event above it "
                    f"({_iso(previous)})",
                )
            )
        previous = event.at if previous is None else max(previous, event.at)
        claim = claims.get(event.claim)
        if claim is None:
            known = ", ".join(claims) or "none"
            problems.append(
                _Problem(
                    ("events", i, "claim"),
                    f"unknown claim {event.claim!r}; the claims are: {known}",
                )
            )
        elif event.at < s.claim_starts(claim):
            problems.append(
                _Problem(
                    ("events", i, "at"),
                    f"claim {claim.id} is not submitted until {claim.submitted}",
                )
            )
    return problems


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_scenario(text: str, path: str = "scenario.yaml") -> Scenario:
    """Read and check a scenario; raises ScenarioError naming the line and field."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "not valid YAML"
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(path, f"YAML syntax error: {problem}", line=line) from None
    except (yaml.YAMLError, ValueError, TypeError) as err:
        raise ScenarioError(path, f"YAML syntax error: {err}") from None
    finally:
        loader.dispose()
    if root is None or data is None:
        raise ScenarioError(path, "the scenario is empty", line=1)
    if not isinstance(data, dict):
        raise ScenarioError(
            path, "a scenario is a mapping with start, until, claims and events", line=1
        )
    lines = _Lines(root)
    duplicate = _duplicate_keys(root)
    if duplicate is not None:
        raise ScenarioError(path, duplicate.message, duplicate.line, where(duplicate.loc))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        problems = [_Problem(tuple(e["loc"]), _message(e)) for e in err.errors()]
    else:
        problems = _semantic_problems(scenario)
    if problems:
        for problem in problems:
            if problem.line is None:
                problem.line = lines.line(problem.loc)
        first = min(problems, key=lambda p: p.line or 0)
        raise ScenarioError(path, first.message, first.line, where(first.loc))
    return scenario


def load_scenario(path: str) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(path, "is a directory, not a scenario file") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(path, f"not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise ScenarioError(path, err.strerror or str(err)) from None
    return parse_scenario(text, path)
