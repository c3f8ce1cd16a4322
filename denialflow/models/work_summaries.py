"""Keeping the productivity facts on the rows, and the productivity summaries equal to
the sums over them.

The facts are columns on the rows they describe, derived before every flush from the row
itself and from the timeline events and audits that name it (`_before_flush`), so every
writer keeps them without knowing about them: the claim projection, the writers of work
that has no claim (complaints, refunds, unmatched payments, spikes...), tests and tools
that add rows. Days are practice days (the session's `use_tz`, else the settings' zone).

- WorkItem.payer_id: its claim's payer (following the claim when it moves on to its next
  coverage); None for work that has no claim;
- WorkItem.opened_on: the practice day of its `work_item_opened` event (the first);
- WorkItem.started_at: its first `work_item_started` event (a person pressed Start work)
  on its own claim's timeline;
- WorkItem.acted_at: the first audit on its claim of a person's action on it
  (ACTED_ACTIONS, the audit's detail naming the item);
- WorkItem.closed_on: the practice day it closed, while it is closed;
- WorkItem.handling_seconds: while it is closed and was started, the seconds from
  started_at to closed_at (to the nearest second);
- WorkItem.acted_in_time: for an item with opened_on, once acted on or closed: whether the
  earlier of the two came at most DENIAL_TARGET_DAYS business days after opened_on;
- WorkItem.escalations: one [practice day, level (1 or 2)] pair per `work_item_escalated`
  event naming it;
- Remittance.received_on: the practice day its 835 file came in (IngestedFile);
- Remittance.claim_payer_id: its claim's payer (None while it matches no claim);
- Remittance.posted_in_time: whether it was posted within POSTING_TARGET_DAYS business
  days of received_on; a payment that matched no claim (it has an `unmatched:<key>` work
  item) is posted when that item closed (a person matched it or sent it back).

The monotone facts ("first ...") only ever move earlier, and an event or audit is
written once (they are keyed), so a retried projection changes nothing.

The summaries (`_after_flush`, in the same transaction, adding each changed row's
difference as models/summaries.py does): closed_work_summary, escalation_summary,
denial_work_summary (work items) and posting_summary (remittances). What is not yet done
(a denial not acted on, a payment waiting) is left out of the sums and judged on the day
the report is read. store/work_summaries.py says the same sums in SQL, and finds the
facts again from the rows in bulk (`derive`).

A Core UPDATE (the compare-and-swap of a person's action on claim-less work) is not seen
by the ORM: store/work_summaries.swap makes it and sets the same values on the loaded
object afterwards, so this hook sees the change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from denialflow.domain.rules.calendar import as_utc, business_days_between, practice_day
from denialflow.domain.types import ZERO, WorkItemKind, WorkItemState
from denialflow.models.summaries import add_to, keep_old_values, values_of

DENIAL_TARGET_DAYS = 10
POSTING_TARGET_DAYS = 4
# What counts as acting on a denial: a person's own step on the item. Starting work
# (claiming it) and a supervisor moving it are not.
ACTED_ACTIONS = (
    "call_logged",
    "appeal_filed",
    "corrected_claim",
    "write_off",
    "transfer_to_patient",
    "resolve",
)
OPENED, STARTED, ESCALATED = "work_item_opened", "work_item_started", "work_item_escalated"
ITEM_EVENTS = (OPENED, STARTED, ESCALATED)
# A payment that matched no claim waits as the work item "unmatched:<its key>".
UNMATCHED_PREFIX = "unmatched:"
CLOSED = WorkItemState.CLOSED.value
DENIAL = WorkItemKind.DENIAL.value
# session.info key: the practice's time zone for the facts written in this session.
PRACTICE_TZ = "denialflow.practice_tz"

CLOSED_KEY = ("closed_on", "assignee", "payer_id")
CLOSED_SUMS = ("closed", "sla_met")
ESCALATION_KEY = ("day", "home_queue", "assignee", "payer_id", "level")
ESCALATION_SUMS = ("escalations",)
DENIAL_KEY = ("opened_on", "assignee", "payer_id")
DENIAL_SUMS = ("opened", "on_time", "late")
POSTING_KEY = ("received_on", "payer_id")
POSTING_SUMS = ("received", "on_time", "late")
# The columns the summaries read: their old values are loaded when they are set (active
# history), so a change's difference is known even on an expired object.
ITEM_INPUTS = (
    "kind",
    "state",
    "assignee",
    "home_queue",
    "payer_id",
    "closed_at",
    "due_at",
    "closed_on",
    "opened_on",
    "acted_in_time",
    "escalations",
)
REMIT_INPUTS = ("received_on", "claim_payer_id", "paid", "posted_in_time")
# The facts kept on the rows (store/work_summaries.derive finds them again in bulk).
ITEM_FACTS = (
    "payer_id",
    "opened_on",
    "started_at",
    "acted_at",
    "closed_on",
    "handling_seconds",
    "acted_in_time",
    "escalations",
)
REMIT_FACTS = ("received_on", "claim_payer_id", "posted_in_time")

Contribution = tuple[tuple[Any, ...], tuple[Any, ...]]


def use_tz(session: Session, tz: tzinfo) -> None:
    """The practice's time zone for the facts this session writes (else the settings')."""
    session.info[PRACTICE_TZ] = tz


def _tz(session: Session) -> tzinfo:
    tz = session.info.get(PRACTICE_TZ)
    if tz is None:
        from denialflow.settings import get_settings

        tz = get_settings().tz
    return tz


def whole_seconds(start: datetime, end: datetime) -> int:
    """Seconds from `start` to `end`, to the nearest second (a half rounds up)."""
    return (as_utc(end) - as_utc(start) + timedelta(microseconds=500_000)) // timedelta(seconds=1)


def in_time(start: date, done: date, days: int) -> bool:
    """Was `done` at most `days` business days after `start`?"""
    return business_days_between(start, done) <= days


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


# --- what a row adds to the summaries ------------------------------------------------------


def closed_contribution(values: dict[str, Any]) -> Contribution | None:
    if values.get("state") != CLOSED or values.get("closed_on") is None:
        return None
    closed_at, due_at = values.get("closed_at"), values.get("due_at")
    met = closed_at is not None and due_at is not None and as_utc(closed_at) <= as_utc(due_at)
    key = (values["closed_on"], values.get("assignee") or "", values.get("payer_id") or "")
    return key, (1, 1 if met else 0)


def escalation_contributions(values: dict[str, Any]) -> list[Contribution]:
    holder, payer = values.get("assignee") or "", values.get("payer_id") or ""
    return [
        ((date.fromisoformat(day), values["home_queue"], holder, payer, int(level)), (1,))
        for day, level in values.get("escalations") or []
    ]


def denial_contribution(values: dict[str, Any]) -> Contribution | None:
    if values.get("kind") != DENIAL or values.get("opened_on") is None:
        return None
    acted = values.get("acted_in_time")
    key = (values["opened_on"], values.get("assignee") or "", values.get("payer_id") or "")
    return key, (1, 1 if acted is True else 0, 1 if acted is False else 0)


def posting_contribution(values: dict[str, Any]) -> Contribution | None:
    if values.get("received_on") is None:
        return None
    amount = abs(_money(values.get("paid")))
    posted = values.get("posted_in_time")
    return (values["received_on"], values.get("claim_payer_id") or ""), (
        amount,
        amount if posted is True else ZERO,
        amount if posted is False else ZERO,
    )


# --- the hook -------------------------------------------------------------------------------


def install() -> None:
    """Keep the facts and the summaries for every session (called once, by
    summaries.install)."""
    from denialflow.models.tables import Claim, Remittance, WorkItem

    keep_old_values(*(getattr(WorkItem, name) for name in ITEM_INPUTS))
    keep_old_values(
        *(getattr(Remittance, name) for name in (*REMIT_INPUTS, "claim_id", "file_id", "posted_at"))
    )
    keep_old_values(Claim.payer_id)
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)


def _changed(obj: Any, name: str) -> bool:
    history = inspect(obj).attrs[name].history
    return bool(history.added or history.deleted)


def _set(obj: Any, name: str, value: Any) -> None:
    """Set a fact only when it differs (a clean row stays clean)."""
    current = getattr(obj, name)
    if isinstance(current, datetime) and isinstance(value, datetime):
        if as_utc(current) == as_utc(value):
            return
    elif current == value and type(current) is type(value):
        return
    setattr(obj, name, value)


class _Facts:
    """The facts one flush decides, found from the session's new and changed rows."""

    def __init__(self, session: Session) -> None:
        from denialflow.models.tables import Claim, Remittance, WorkItem

        self.session = session
        self.tz = _tz(session)
        self.new_items = {o.id: o for o in session.new if isinstance(o, WorkItem)}
        self.new_claims = {o.id: o for o in session.new if isinstance(o, Claim)}
        self.new_remits = {o.key: o for o in session.new if isinstance(o, Remittance)}
        # Items whose facts to work out again, and payments' keys whose posting to.
        self.items: dict[str, Any] = {}
        self.remits: dict[str, Any] = {}

    def item(self, item_id: Any) -> Any:
        from denialflow.models.tables import WorkItem

        if not isinstance(item_id, str):
            return None
        found = self.new_items.get(item_id)
        return found if found is not None else self.session.get(WorkItem, item_id)

    def payer_of(self, claim_id: str | None) -> str | None:
        from denialflow.models.tables import Claim

        if claim_id is None:
            return None
        claim = self.new_claims.get(claim_id) or self.session.get(Claim, claim_id)
        return claim.payer_id if claim is not None else None

    def run(self) -> None:
        from denialflow.models.tables import AuditEvent, Claim, ClaimEvent, Remittance, WorkItem

        session = self.session
        for obj in list(session.dirty):
            if isinstance(obj, Claim) and _changed(obj, "payer_id"):
                self._claim_moved(obj)
        for obj in list(session.new):
            if isinstance(obj, ClaimEvent) and obj.event in ITEM_EVENTS:
                self._event(obj)
            elif isinstance(obj, AuditEvent) and obj.action in ACTED_ACTIONS:
                self._audit(obj)
            elif isinstance(obj, AuditEvent) and obj.action == ESCALATED and not obj.claim_id:
                # Work with no claim has no timeline: its escalation is an audit.
                self._escalated(obj.detail or {}, obj.at)
        for obj in [*session.new, *session.dirty]:
            if isinstance(obj, WorkItem):
                self.items.setdefault(obj.id, obj)
            elif isinstance(obj, Remittance) and (
                obj.key in self.new_remits
                or any(_changed(obj, n) for n in ("claim_id", "file_id", "posted_at"))
            ):
                self.remits.setdefault(obj.key, obj)
        for item in self.items.values():
            self._item(item)
        for key, remit in list(self.remits.items()):
            self._remittance(key, remit)

    def _claim_moved(self, claim: Any) -> None:
        """The claim is billed to another payer now: so are its work and payments."""
        from denialflow.models.tables import Remittance, WorkItem

        for item in self.session.scalars(select(WorkItem).where(WorkItem.claim_id == claim.id)):
            _set(item, "payer_id", claim.payer_id)
        for remit in self.session.scalars(
            select(Remittance).where(Remittance.claim_id == claim.id)
        ):
            _set(remit, "claim_payer_id", claim.payer_id)

    def _event(self, e: Any) -> None:
        data = e.data or {}
        item = self.item(data.get("item"))
        if item is None:
            return
        if e.event == OPENED:
            day = practice_day(e.at, self.tz)
            if item.opened_on is None or day < item.opened_on:
                item.opened_on = day
        elif e.event == STARTED:
            if item.claim_id != e.claim_id:
                return
            if item.started_at is None or as_utc(e.at) < as_utc(item.started_at):
                item.started_at = e.at
        else:
            self._escalated(data, e.at)
            return
        self.items[item.id] = item

    def _escalated(self, data: dict[str, Any], at: datetime) -> None:
        item = self.item(data.get("item"))
        if item is None:
            return
        try:
            level = 2 if int(data.get("level") or 0) >= 2 else 1
        except (TypeError, ValueError):
            level = 1
        day = practice_day(at, self.tz).isoformat()
        # A new list: an in-place append would not be seen as a change.
        item.escalations = [*(item.escalations or []), [day, level]]
        self.items[item.id] = item

    def _audit(self, a: Any) -> None:
        item = self.item((a.detail or {}).get("item"))
        if item is None or item.claim_id is None or item.claim_id != a.claim_id:
            return
        if item.acted_at is None or as_utc(a.at) < as_utc(item.acted_at):
            item.acted_at = a.at
        self.items[item.id] = item

    def _item(self, item: Any) -> None:
        if item.id in self.new_items and item.payer_id is None and item.claim_id is not None:
            item.payer_id = self.payer_of(item.claim_id)
        closed = item.state == CLOSED and item.closed_at is not None
        _set(item, "closed_on", practice_day(item.closed_at, self.tz) if closed else None)
        handled = None
        if (
            closed
            and item.started_at is not None
            and as_utc(item.started_at) <= as_utc(item.closed_at)
        ):
            handled = whole_seconds(item.started_at, item.closed_at)
        _set(item, "handling_seconds", handled)
        acted = None
        done = [as_utc(t) for t in (item.acted_at, item.closed_at) if t is not None]
        if item.opened_on is not None and done:
            acted = in_time(item.opened_on, practice_day(min(done), self.tz), DENIAL_TARGET_DAYS)
        _set(item, "acted_in_time", acted)
        if item.id.startswith(UNMATCHED_PREFIX):
            key = item.id[len(UNMATCHED_PREFIX) :]
            if key not in self.remits:
                remit = self.new_remits.get(key) or self._stored_remittance(key)
                if remit is not None:
                    self.remits[key] = remit

    def _stored_remittance(self, key: str) -> Any:
        from denialflow.models.tables import Remittance

        return self.session.scalars(select(Remittance).where(Remittance.key == key)).first()

    def _remittance(self, key: str, remit: Any) -> None:
        from denialflow.models.tables import IngestedFile

        new = key in self.new_remits
        if new or _changed(remit, "claim_id"):
            _set(remit, "claim_payer_id", self.payer_of(remit.claim_id))
        if new or _changed(remit, "file_id"):
            file = self.session.get(IngestedFile, remit.file_id) if remit.file_id else None
            received = file.received_at if file is not None else None
            _set(remit, "received_on", practice_day(received, self.tz) if received else None)
        posted = None
        if remit.received_on is not None:
            unmatched = self.item(UNMATCHED_PREFIX + key)
            done = unmatched.closed_at if unmatched is not None else remit.posted_at
            if done is not None:
                day = practice_day(done, self.tz)
                posted = in_time(remit.received_on, day, POSTING_TARGET_DAYS)
        _set(remit, "posted_in_time", posted)


def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    with session.no_autoflush:
        _Facts(session).run()


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    from denialflow.models.tables import (
        ClosedWorkSummary,
        DenialWorkSummary,
        EscalationSummary,
        PostingSummary,
        Remittance,
        WorkItem,
    )

    closed: dict[tuple, list] = defaultdict(lambda: [0] * len(CLOSED_SUMS))
    escalations: dict[tuple, list] = defaultdict(lambda: [0] * len(ESCALATION_SUMS))
    denials: dict[tuple, list] = defaultdict(lambda: [0] * len(DENIAL_SUMS))
    posting: dict[tuple, list] = defaultdict(lambda: [ZERO] * len(POSTING_SUMS))

    def add(into: dict, found: Iterable[Contribution | None], sign: int) -> None:
        for contribution in found:
            if contribution is None:
                continue
            key, sums = contribution
            row = into[key]
            for i, value in enumerate(sums):
                row[i] += value * sign

    def add_item(values: dict[str, Any], sign: int) -> None:
        add(closed, [closed_contribution(values)], sign)
        add(escalations, escalation_contributions(values), sign)
        add(denials, [denial_contribution(values)], sign)

    def add_remittance(values: dict[str, Any], sign: int) -> None:
        add(posting, [posting_contribution(values)], sign)

    for obj in session.new:
        if isinstance(obj, WorkItem):
            add_item(values_of(obj, ITEM_INPUTS, old=False), 1)
        elif isinstance(obj, Remittance):
            add_remittance(values_of(obj, REMIT_INPUTS, old=False), 1)
    for obj in session.dirty:
        if isinstance(obj, WorkItem) and session.is_modified(obj):
            add_item(values_of(obj, ITEM_INPUTS, old=True), -1)
            add_item(values_of(obj, ITEM_INPUTS, old=False), 1)
        elif isinstance(obj, Remittance) and session.is_modified(obj):
            add_remittance(values_of(obj, REMIT_INPUTS, old=True), -1)
            add_remittance(values_of(obj, REMIT_INPUTS, old=False), 1)
    for obj in session.deleted:
        if isinstance(obj, WorkItem):
            add_item(values_of(obj, ITEM_INPUTS, old=True), -1)
        elif isinstance(obj, Remittance):
            add_remittance(values_of(obj, REMIT_INPUTS, old=True), -1)

    connection = session.connection()
    add_to(connection, ClosedWorkSummary.__table__, CLOSED_KEY, CLOSED_SUMS, closed)
    add_to(connection, EscalationSummary.__table__, ESCALATION_KEY, ESCALATION_SUMS, escalations)
    add_to(connection, DenialWorkSummary.__table__, DENIAL_KEY, DENIAL_SUMS, denials)
    add_to(connection, PostingSummary.__table__, POSTING_KEY, POSTING_SUMS, posting)
