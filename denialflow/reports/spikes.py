"""The daily denial spike check: each payer's denial rate per category over the last
week against its own 90 days before (denialflow/domain/rules/spikes.py decides), and a
work item for the supervisors for each rise beyond chance.

Counts come from remittance_summary (one indexed range of decision dates: a few
thousand summary rows however many claims there are); the claims and reason codes
behind a spike come from the remittance rows of one payer and one week
(ix_remittance_payer_decided). Rates are over the payer's first answers (stages
initial and resubmission, as the initial denial rate counts them); a denial is an
answer with outcome denied or partial, counted in its denial category.

The work item, `spike:<payer>:<category>:<day>` in the escalations queue with no claim,
is opened once: a rerun on the same day finds it, and a payer+category already reported
in the past week is not reported again while the same week's denials are still in the
window. A supervisor resolves it with a note (`resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from denialflow.domain import queues
from denialflow.domain.rules.adjudication import DENIAL_OUTCOMES, FIRST_PASS_STAGES
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.rules.spikes import (
    ALPHA,
    BASELINE_DAYS,
    MIN_DENIALS,
    MIN_RATIO,
    RECENT_DAYS,
    Counts,
    Verdict,
    Windows,
    judge,
    ratio,
)
from denialflow.domain.types import ZERO, PayerRules, WorkItemKind, WorkItemState, to_money
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Payer, Remittance, RemittanceSummary, WorkItem
from denialflow.store import work_summaries

__all__ = [
    "KIND",
    "PREFIX",
    "Refused",
    "Spike",
    "SpikeItem",
    "SpikeRun",
    "claims_behind",
    "denial_counts",
    "denials_link",
    "find_spikes",
    "item_id",
    "load_item",
    "resolve",
    "run_spike_check",
    "top_codes",
]

KIND = WorkItemKind.DENIAL_SPIKE
PREFIX = "spike:"
ACTOR = "system"
# Codes named on the work item, and claim numbers listed in its text.
TOP_CODES = 3
CLAIMS_IN_TEXT = 10
# Claims the spike's page lists (the denials report lists them all).
CLAIMS_ON_PAGE = 500
NOTE_LIMIT = 500
ID_LIMIT = 80  # WorkItem.id


@dataclass(frozen=True)
class PairCounts:
    payer_id: str
    category: str
    counts: Counts
    denied_amount: Decimal  # dollars denied in the recent window


@dataclass
class Spike:
    payer_id: str
    payer_name: str
    category: str
    day: date
    windows: Windows
    counts: Counts
    verdict: Verdict
    denied_amount: Decimal
    codes: list[tuple[str, int]] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    @property
    def item_id(self) -> str:
        return item_id(self.payer_id, self.category, self.day)

    @property
    def link(self) -> str:
        return denials_link(self.payer_id, self.category, self.windows)

    def next_action(self) -> str:
        c, v, w = self.counts, self.verdict, self.windows
        times = ratio(v)
        shown = ", ".join(self.claims[:CLAIMS_IN_TEXT])
        more = len(self.claims) - CLAIMS_IN_TEXT
        codes = ", ".join(f"{code} ({n})" for code, n in self.codes) or "none given"
        category = self.category.replace("_", " ")
        return (
            f"{self.payer_name} denied {v.recent_rate}% of its first answers for {category} "
            f"from {w.recent_start} to {w.recent_end} ({c.recent_denials} of "
            f"{c.recent_answers}), against {v.baseline_rate}% in the {BASELINE_DAYS} days "
            f"before ({c.baseline_denials} of {c.baseline_answers})"
            + (f", {times} times as often" if times is not None else "")
            + f"; Fisher's exact test p = {v.p_value:.2g} (alerts below {ALPHA}). "
            f"Top codes: {codes}. {c.recent_denials} claims, ${self.denied_amount:,.2f} "
            f"denied: {shown}" + (f" and {more} more" if more > 0 else "") + ". "
            "Look for a payer policy or edit change behind it, fix the cause for the claims "
            "still to be sent, then resolve this with a note."
        )


@dataclass
class SpikeRun:
    day: date
    checked: int = 0  # payer x category pairs with a denial in either window
    spikes: list[Spike] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)  # item ids opened by this run
    already: list[str] = field(default_factory=list)  # spikes reported before

    def describe(self) -> str:
        lines = [
            f"denial spike check for {self.day}: {self.checked} payer/category pairs, "
            f"{len(self.spikes)} spike(s), {len(self.opened)} work item(s) opened"
        ]
        for s in self.spikes:
            state = "opened" if s.item_id in self.opened else "already reported"
            lines.append(
                f"  {s.payer_id} {s.category}: {s.verdict.recent_rate}% vs "
                f"{s.verdict.baseline_rate}%, p = {s.verdict.p_value:.2g}, "
                f"{s.counts.recent_denials} claims ({state}: {s.item_id})"
            )
        return "\n".join(lines)


def _day_text(day: date) -> str:
    return day.isoformat()


def item_id(payer_id: str, category: str, day: date) -> str:
    """`spike:<payer>:<category>:<YYYY-MM-DD>`; in the one case that would not fit the
    column (a 39-40 character payer id with coordination_of_benefits) the date is
    written YYYYMMDD, which `parse_item_id` reads too."""
    text = f"{PREFIX}{payer_id}:{category}:{_day_text(day)}"
    if len(text) > ID_LIMIT:
        text = f"{PREFIX}{payer_id}:{category}:{day:%Y%m%d}"
    return text


def parse_item_id(value: str) -> tuple[str, str, date] | None:
    if not value.startswith(PREFIX):
        return None
    parts = value[len(PREFIX) :].rsplit(":", 2)
    if len(parts) != 3:
        return None
    try:
        return parts[0], parts[1], date.fromisoformat(parts[2])
    except ValueError:
        return None


def denials_link(payer_id: str, category: str, windows: Windows) -> str:
    """The denials report for this payer and category over the spike's week."""
    query = {
        "payer": payer_id,
        "category": category,
        "from": windows.recent_start.isoformat(),
        "to": windows.recent_end.isoformat(),
    }
    return "/reports/denials?" + urlencode(query)


# --- the counts ---------------------------------------------------------------------


def _first_answers(start: date, end: date) -> list[Any]:
    s = RemittanceSummary
    return [
        col(s.decision_date) >= start,
        col(s.decision_date) <= end,
        col(s.stage).in_(FIRST_PASS_STAGES),
    ]


def _denials(start: date, end: date) -> list[Any]:
    s = RemittanceSummary
    return [
        *_first_answers(start, end),
        col(s.outcome).in_(DENIAL_OUTCOMES),
        col(s.denial_category) != "",
    ]


def _answers(session: Session, start: date, end: date) -> dict[str, int]:
    s = RemittanceSummary
    rows = session.exec(
        select(s.payer_id, func.sum(s.remittances))
        .where(*_first_answers(start, end))
        .group_by(s.payer_id)
    ).all()
    return {payer: int(n or 0) for payer, n in rows}


def _denied(session: Session, start: date, end: date) -> dict[tuple[str, str], tuple[int, Decimal]]:
    s = RemittanceSummary
    rows = session.exec(
        select(s.payer_id, s.denial_category, func.sum(s.remittances), func.sum(s.denied_amount))
        .where(*_denials(start, end))
        .group_by(s.payer_id, s.denial_category)
    ).all()
    return {
        (payer, category): (int(n or 0), to_money(amount if amount is not None else ZERO))
        for payer, category, n, amount in rows
    }


def denial_counts(session: Session, windows: Windows) -> list[PairCounts]:
    """Every payer and category with a denial in either window: its denials and the
    payer's first answers, in the recent window and in the baseline. Four GROUP BY
    queries over remittance_summary."""
    w = windows
    recent_answers = _answers(session, w.recent_start, w.recent_end)
    baseline_answers = _answers(session, w.baseline_start, w.baseline_end)
    recent = _denied(session, w.recent_start, w.recent_end)
    baseline = _denied(session, w.baseline_start, w.baseline_end)
    pairs = []
    for payer, category in sorted(set(recent) | set(baseline)):
        d1, amount = recent.get((payer, category), (0, ZERO))
        d0, _ = baseline.get((payer, category), (0, ZERO))
        counts = Counts(
            recent_denials=d1,
            recent_answers=recent_answers.get(payer, 0),
            baseline_denials=d0,
            baseline_answers=baseline_answers.get(payer, 0),
        )
        pairs.append(PairCounts(payer, category, counts, amount))
    return pairs


def top_codes(
    session: Session, payer_id: str, category: str, start: date, end: date, limit: int = TOP_CODES
) -> list[tuple[str, int]]:
    """The reason codes (e.g. CO-197) behind a payer's denials in a category, most first."""
    s = RemittanceSummary
    total = func.sum(s.remittances)
    rows = session.exec(
        select(s.denial_reason, total)
        .where(
            *_denials(start, end),
            col(s.payer_id) == payer_id,
            col(s.denial_category) == category,
            col(s.denial_reason) != "",
        )
        .group_by(s.denial_reason)
        .order_by(total.desc(), s.denial_reason)
        .limit(limit)
    ).all()
    return [(code, int(n)) for code, n in rows]


def claims_behind(
    session: Session,
    payer_id: str,
    category: str,
    start: date,
    end: date,
    limit: int = CLAIMS_ON_PAGE,
) -> list[Remittance]:
    """The remittances (one per claim answer) counted as the spike's recent denials,
    oldest decision first."""
    r = Remittance
    return list(
        session.exec(
            select(r)
            .where(
                col(r.payer_id) == payer_id,
                col(r.decision_date) >= start,
                col(r.decision_date) <= end,
                col(r.stage).in_(FIRST_PASS_STAGES),
                col(r.outcome).in_(DENIAL_OUTCOMES),
                col(r.denial_category) == category,
            )
            .order_by(col(r.decision_date), col(r.claim_id), col(r.id))
            .limit(limit)
        ).all()
    )


def find_spikes(session: Session, day: date) -> tuple[int, list[Spike]]:
    """How many payer+category pairs were checked for `day`, and the spikes among them
    with their codes and claims."""
    windows = Windows.for_day(day)
    pairs = denial_counts(session, windows)
    names = dict(session.exec(select(Payer.id, Payer.name)).all())
    spikes = []
    for pair in pairs:
        verdict = judge(pair.counts)
        if not verdict.fires:
            continue
        spike = Spike(
            payer_id=pair.payer_id,
            payer_name=names.get(pair.payer_id, pair.payer_id),
            category=pair.category,
            day=day,
            windows=windows,
            counts=pair.counts,
            verdict=verdict,
            denied_amount=pair.denied_amount,
        )
        spike.codes = top_codes(
            session, pair.payer_id, pair.category, windows.recent_start, windows.recent_end
        )
        rows = claims_behind(
            session, pair.payer_id, pair.category, windows.recent_start, windows.recent_end
        )
        spike.claims = list(dict.fromkeys(r.claim_id for r in rows if r.claim_id))
        spikes.append(spike)
    return len(pairs), spikes


# --- opening the work items -----------------------------------------------------------


def _reported_this_week(session: Session, spike: Spike) -> bool:
    """A spike for this payer and category opened in the past week (open or resolved):
    its denials are still in the window, so they are not news."""
    earlier = [
        item_id(spike.payer_id, spike.category, spike.day - timedelta(days=n))
        for n in range(1, RECENT_DAYS)
    ]
    found = session.exec(select(WorkItem.id).where(col(WorkItem.id).in_(earlier))).first()
    return found is not None


def _work_item(spike: Spike, now: datetime) -> WorkItem:
    return WorkItem(
        id=spike.item_id,
        claim_id=None,
        kind=KIND.value,
        queue=queues.ESCALATIONS,
        home_queue=queues.ESCALATIONS,
        state=WorkItemState.OPEN.value,
        category=spike.category,
        reason_codes=[code for code, _ in spike.codes],
        next_action=spike.next_action()[:2000],
        opened_at=now,
        due_at=sla_due_at(now, KIND, PayerRules()),
        # The week's denied dollars: what ranks it among the supervisor's work.
        balance=spike.denied_amount,
        priority=spike.denied_amount,
        updated_at=now,
    )


def run_spike_check(engine: Engine, day: date, now: datetime | None = None) -> SpikeRun:
    """Check every payer and category for `day` and open a work item per new spike;
    safe to run again (the same day opens nothing twice)."""
    now = now or datetime.now(UTC)
    run = SpikeRun(day)
    with Session(engine) as session:
        run.checked, run.spikes = find_spikes(session, day)
    for spike in run.spikes:
        try:
            with session_scope(engine) as session:
                if session.get(WorkItem, spike.item_id) is not None or _reported_this_week(
                    session, spike
                ):
                    run.already.append(spike.item_id)
                    continue
                session.add(_work_item(spike, now))
        except IntegrityError:  # another run opened it a moment ago
            run.already.append(spike.item_id)
            continue
        run.opened.append(spike.item_id)
    with session_scope(engine) as session:
        session.add(
            AuditEvent(
                at=now,
                actor=ACTOR,
                action="denial_spike_check",
                detail={
                    "day": day.isoformat(),
                    "pairs": run.checked,
                    "spikes": len(run.spikes),
                    "opened": run.opened,
                },
            )
        )
    return run


# --- the spike's page: reading and resolving it -----------------------------------------


class Refused(Exception):
    """Nothing was changed, and the message says why; `conflict` when someone else acted."""

    def __init__(self, message: str, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict

    @property
    def status(self) -> int:
        return 409 if self.conflict else 422


@dataclass
class SpikeItem:
    item: WorkItem
    payer_id: str
    payer_name: str
    category: str
    day: date
    windows: Windows
    claims: list[Remittance]

    @property
    def link(self) -> str:
        return denials_link(self.payer_id, self.category, self.windows)

    @property
    def is_open(self) -> bool:
        return self.item.state != WorkItemState.CLOSED.value

    @property
    def rules(self) -> str:
        return (
            f"Last {RECENT_DAYS} days against the {BASELINE_DAYS} days before, per payer and "
            f"denial category, over the payer's first answers. Fisher's exact test, "
            f"one-sided; an alert needs p < {ALPHA}, at least {MIN_DENIALS} denials in the "
            f"week and {MIN_RATIO} times the baseline rate."
        )


def load_item(session: Session, value: str) -> SpikeItem | None:
    item = session.get(WorkItem, value)
    parsed = parse_item_id(value)
    if item is None or item.kind != KIND.value or parsed is None:
        return None
    payer_id, category, day = parsed
    windows = Windows.for_day(day)
    payer = session.get(Payer, payer_id)
    return SpikeItem(
        item=item,
        payer_id=payer_id,
        payer_name=payer.name if payer is not None else payer_id,
        category=category,
        day=day,
        windows=windows,
        claims=claims_behind(session, payer_id, category, windows.recent_start, windows.recent_end),
    )


def resolve(engine: Engine, value: str, version: int, note: str, actor: str) -> None:
    """Close the spike with the supervisor's note (kept at the end of its text); one of
    two people resolving at once gets a conflict and changes nothing."""
    note = " ".join(note.split())
    if not note:
        raise Refused("Say what was found or done: a note is required to resolve this.")
    if len(note) > NOTE_LIMIT:
        raise Refused(f"The note is {len(note)} characters; at most {NOTE_LIMIT}.")
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        item = session.get(WorkItem, value)
        if item is None or item.kind != KIND.value:
            raise Refused(f"There is no denial spike {value!r}: nothing was changed.")
        if item.state == WorkItemState.CLOSED.value or item.version != version:
            who = f" by {item.assignee}" if item.assignee else ""
            state = f"it was resolved{who}" if item.state == "closed" else "it was changed"
            raise Refused(
                f"Someone got there first: {state}. Nothing was changed; reload the page.",
                conflict=True,
            )
        text = f"{item.next_action}\n\nResolved {now:%Y-%m-%d} by {actor}: {note}"
        values = {
            "version": version + 1,
            "state": WorkItemState.CLOSED.value,
            "outcome": "resolved",
            "closed_at": now,
            "assignee": actor,
            "next_action": text[:4000],
            "updated_at": now,
        }
        if not work_summaries.swap(session, item, version, values):
            raise Refused(
                "Someone got there first. Nothing was changed; reload the page.", conflict=True
            )
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action="denial_spike_resolved",
                detail={"item": value, "note_length": len(note)},
            )
        )
