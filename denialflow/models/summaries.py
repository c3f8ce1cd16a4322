"""Keeping the report summaries (claim_summary, remittance_summary, payment_lag_summary,
write_off_summary) equal to the sums over the rows they add up.

Every flush that inserts, changes or deletes a Claim, a Remittance or a write-off event
adds the difference it makes to its summary row, in the same transaction: the summaries
are exactly as idempotent as the writes that feed them (a projection retried after a
crash writes no row twice, so it adds nothing twice). Adding differences, rather than
recounting a key, keeps concurrent writers correct on PostgreSQL: `x = x + d` commutes.

`rebuild_sql` and `aggregate_sql` say the same sums in SQL, for `denialflow check` to
compare and `--repair` (and migrations, and bulk loads that bypass the ORM) to rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from denialflow.domain.rules.adjudication import FIRST_PASS_STAGES, PAID_OUTCOMES
from denialflow.domain.types import ZERO

_installed = False

CLAIM_KEY = ("payer_id", "service_date", "submitted_on")
CLAIM_SUMS = (
    "claims",
    "open_claims",
    "charge",
    "paid",
    "contractual",
    "written_off",
    "patient_responsibility",
    "patient_paid",
    "balance",
    "insurance_ar",
    "patient_ar",
    "credit",
    "unclean",
)
# The Claim columns a summary row depends on: their old values are loaded when they are
# set (active history), so a change's difference is known even on an expired object.
CLAIM_INPUTS = (
    "payer_id",
    "service_date",
    "submitted_on",
    "charge",
    "paid",
    "contractual",
    "written_off",
    "patient_responsibility",
    "patient_paid",
    "balance",
    "unclean",
)
REMIT_KEY = ("decision_date", "payer_id", "stage", "outcome", "denial_category", "denial_reason")
REMIT_SUMS = (
    "remittances",
    "charge",
    "paid",
    "contractual",
    "patient_responsibility",
    "denied_amount",
    "appealed",
    "appeal_days",
    "resolved",
    "resolution_days",
    "recovered_count",
    "recovered",
)
REMIT_INPUTS = (
    "claim_id",
    *REMIT_KEY,
    "charge",
    "paid",
    "contractual",
    "patient_responsibility",
    "denied_amount",
    "sent_on",
    "appealed_on",
    "resolved_on",
    "recovered",
)
LAG_KEY = ("decision_date", "payer_id", "days")
LAG_SUMS = ("answers",)
MONTH_KEY = ("month", "payer_id", "stage", "outcome", "denial_category")
MONTH_SUMS = ("remittances",)
LAG_MONTH_KEY = ("month", "payer_id", "days")
WRITE_OFF_KEY = ("day", "payer_id", "reason_code", "patient", "denial_category")
WRITE_OFF_SUMS = ("write_offs", "amount")
WRITE_OFF_EVENTS = ("written_off", "write_off_reversed")

Contribution = tuple[tuple[Any, ...], tuple[Any, ...]]


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


def claim_contribution(values: dict[str, Any]) -> Contribution | None:
    """What one claim adds to its claim_summary row (None: nothing, e.g. no payer yet)."""
    if values.get("payer_id") is None or values.get("service_date") is None:
        return None
    balance = _money(values.get("balance"))
    # What the patient still owes of their share.
    owes = _money(values.get("patient_responsibility")) - _money(values.get("patient_paid"))
    key = (values["payer_id"], values["service_date"], values["submitted_on"])
    sums = (
        1,
        1 if balance != ZERO else 0,
        _money(values.get("charge")),
        _money(values.get("paid")),
        _money(values.get("contractual")),
        _money(values.get("written_off")),
        _money(values.get("patient_responsibility")),
        _money(values.get("patient_paid")),
        balance,
        max(balance - owes, ZERO),
        max(min(owes, balance), ZERO),
        min(balance, ZERO),
        1 if values.get("unclean") else 0,
    )
    return key, sums


def remittance_contribution(values: dict[str, Any]) -> Contribution | None:
    """What one remittance adds to remittance_summary: only a payment posted to a claim
    (an unmatched one is counted once a person posts it to its claim)."""
    if not values.get("claim_id") or not values.get("payer_id"):
        return None
    if values.get("decision_date") is None or not values.get("outcome"):
        return None
    key = tuple(values.get(name) or "" for name in REMIT_KEY[1:])
    decided = values["decision_date"]
    recovered = _money(values.get("recovered"))
    sums = (
        1,
        *(_money(values.get(name)) for name in REMIT_SUMS[1:6]),
        *_days_to(values.get("appealed_on"), decided),
        *_days_to(values.get("resolved_on"), decided),
        1 if recovered != ZERO else 0,
        recovered,
    )
    return (decided, *key), sums


def _days_to(later: date | None, decided: date) -> tuple[int, int]:
    """(1, days from the decision to `later`, none below 0), or (0, 0) when not yet."""
    if later is None:
        return 0, 0
    return 1, max((later - decided).days, 0)


def lag_contribution(values: dict[str, Any]) -> Contribution | None:
    """A first answer that paid adds one answer at its days from the submission it
    answered (payment_lag_summary)."""
    if remittance_contribution(values) is None or values.get("sent_on") is None:
        return None
    if values["stage"] not in FIRST_PASS_STAGES or values["outcome"] not in PAID_OUTCOMES:
        return None
    days = (values["decision_date"] - values["sent_on"]).days
    return (values["decision_date"], values["payer_id"], days), (1,)


def by_month(found: Contribution | None, kept: int) -> Contribution | None:
    """A daily contribution moved to its month (the key's first part is the day), with
    the key's first `kept` parts after the day and the first sum only."""
    if found is None:
        return None
    key, sums = found
    return (key[0].replace(day=1), *key[1 : 1 + kept]), sums[:1]


def write_off_contribution(
    event_name: str, data: dict[str, Any], payer_id: str
) -> Contribution | None:
    if event_name not in WRITE_OFF_EVENTS or not data.get("day"):
        return None
    amount = _money(data.get("amount"))
    if event_name == "write_off_reversed":
        key = (date.fromisoformat(data["day"]), payer_id, "reversed", False, "")
        return key, (-1, -amount)
    key = (
        date.fromisoformat(data["day"]),
        payer_id,
        str(data.get("reason_code") or ""),
        bool(data.get("patient")),
        str(data.get("category") or ""),
    )
    return key, (1, amount)


def install() -> None:
    """Keep the summaries for every session (called once, when mappers configure)."""
    global _installed
    if _installed:
        return
    from denialflow.models.tables import Claim, Remittance

    keep_old_values(*(getattr(Claim, name) for name in CLAIM_INPUTS))
    keep_old_values(*(getattr(Remittance, name) for name in REMIT_INPUTS))
    event.listen(Session, "after_flush", _after_flush)
    from denialflow.models import work_summaries

    work_summaries.install()
    _installed = True


def keep_old_values(*attributes: Any) -> None:
    """Have SQLAlchemy load each attribute's old value before it is set (active
    history), so a flush knows the difference a change makes even on an expired row."""
    for attribute in attributes:
        event.listen(attribute, "set", _noop, active_history=True)


def _noop(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
    """A listener only so SQLAlchemy loads the old value before a set."""


def values_of(obj: Any, names: Iterable[str], *, old: bool) -> dict[str, Any]:
    from sqlalchemy import inspect

    state = inspect(obj)
    values = {}
    for name in names:
        if not old:
            values[name] = getattr(obj, name)
            continue
        history = state.attrs[name].history
        if history.deleted:
            values[name] = history.deleted[0]
        elif history.unchanged:
            values[name] = history.unchanged[0]
        else:
            values[name] = state.committed_state.get(name, getattr(obj, name))
    return values


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    from denialflow.models.tables import (
        Claim,
        ClaimEvent,
        ClaimSummary,
        PaymentLagMonthSummary,
        PaymentLagSummary,
        Remittance,
        RemittanceMonthSummary,
        RemittanceSummary,
        WriteOffSummary,
    )

    claims: dict[tuple, list] = defaultdict(lambda: [0] * len(CLAIM_SUMS))
    remits: dict[tuple, list] = defaultdict(lambda: [0] * len(REMIT_SUMS))
    lags: dict[tuple, list] = defaultdict(lambda: [0] * len(LAG_SUMS))
    months: dict[tuple, list] = defaultdict(lambda: [0] * len(MONTH_SUMS))
    lag_months: dict[tuple, list] = defaultdict(lambda: [0] * len(LAG_SUMS))
    write_offs: dict[tuple, list] = defaultdict(lambda: [0] * len(WRITE_OFF_SUMS))

    def add(into: dict, found: Contribution | None, sign: int) -> None:
        if found is None:
            return
        key, sums = found
        row = into[key]
        for i, value in enumerate(sums):
            row[i] += value * sign

    def add_remittance(values: dict[str, Any], sign: int) -> None:
        answer = remittance_contribution(values)
        lag = lag_contribution(values)
        add(remits, answer, sign)
        add(lags, lag, sign)
        add(months, by_month(answer, len(MONTH_KEY) - 1), sign)
        add(lag_months, by_month(lag, len(LAG_MONTH_KEY) - 1), sign)

    for obj in session.new:
        if isinstance(obj, Claim):
            add(claims, claim_contribution(values_of(obj, CLAIM_INPUTS, old=False)), 1)
        elif isinstance(obj, Remittance):
            add_remittance(values_of(obj, REMIT_INPUTS, old=False), 1)
        elif isinstance(obj, ClaimEvent) and obj.event in WRITE_OFF_EVENTS:
            payer = _payer_of(session, obj.claim_id)
            if payer is not None:
                add(write_offs, write_off_contribution(obj.event, obj.data or {}, payer), 1)
    for obj in session.dirty:
        if isinstance(obj, Claim) and session.is_modified(obj):
            add(claims, claim_contribution(values_of(obj, CLAIM_INPUTS, old=True)), -1)
            add(claims, claim_contribution(values_of(obj, CLAIM_INPUTS, old=False)), 1)
        elif isinstance(obj, Remittance) and session.is_modified(obj):
            add_remittance(values_of(obj, REMIT_INPUTS, old=True), -1)
            add_remittance(values_of(obj, REMIT_INPUTS, old=False), 1)
    for obj in session.deleted:
        if isinstance(obj, Claim):
            add(claims, claim_contribution(values_of(obj, CLAIM_INPUTS, old=True)), -1)
        elif isinstance(obj, Remittance):
            add_remittance(values_of(obj, REMIT_INPUTS, old=True), -1)

    connection = session.connection()
    add_to(connection, ClaimSummary.__table__, CLAIM_KEY, CLAIM_SUMS, claims)
    add_to(connection, RemittanceSummary.__table__, REMIT_KEY, REMIT_SUMS, remits)
    add_to(connection, PaymentLagSummary.__table__, LAG_KEY, LAG_SUMS, lags)
    add_to(connection, RemittanceMonthSummary.__table__, MONTH_KEY, MONTH_SUMS, months)
    add_to(connection, PaymentLagMonthSummary.__table__, LAG_MONTH_KEY, LAG_SUMS, lag_months)
    add_to(connection, WriteOffSummary.__table__, WRITE_OFF_KEY, WRITE_OFF_SUMS, write_offs)


def _payer_of(session: Session, claim_id: str) -> str | None:
    from denialflow.models.tables import Claim

    claim = session.identity_map.get(session.identity_key(Claim, claim_id))  # type: ignore[arg-type]
    if claim is not None:
        return claim.payer_id
    return (
        session.connection()
        .execute(select(Claim.__table__.c.payer_id).where(Claim.__table__.c.id == claim_id))
        .scalar()
    )


def add_to(
    connection: Connection,
    table: Table,
    key_names: tuple[str, ...],
    sum_names: tuple[str, ...],
    changes: dict[tuple, list],
) -> None:
    """Upsert `row.sum = row.sum + change` for every key that changed, in key order
    (two PostgreSQL transactions then lock shared rows in the same order)."""
    rows = [
        {**dict(zip(key_names, key, strict=True)), **dict(zip(sum_names, sums, strict=True))}
        for key, sums in sorted(changes.items(), key=lambda kv: tuple(map(str, kv[0])))
        if any(value != 0 for value in sums)
    ]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for row in rows:
        statement = dialect.insert(table).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=list(key_names),
            set_={name: table.c[name] + statement.excluded[name] for name in sum_names},
        )
        connection.execute(statement)
