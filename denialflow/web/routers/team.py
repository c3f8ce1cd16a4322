"""The supervisor's pages: load per queue and per person, escalations, and reassigning
work one item or many at a time.

Reads are a handful of GROUP BY queries over the work_item read model; every move goes
through the item's claim workflow (a `reassign` Update), so a supervisor and a specialist
acting on the same item at once get one success and one clear conflict.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, distinct, func, literal_column
from sqlmodel import Session, col, select
from starlette.datastructures import ImmutableMultiDict
from temporalio.client import Client

from denialflow.domain.types import ZERO, ActionIn, Actor, Role, to_money
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    Payer,
    Queue,
    QueueMembership,
    User,
    WorkItem,
)
from denialflow.models.work_summaries import ACTED_ACTIONS
from denialflow.reports.period import day_bounds_utc, practice_today
from denialflow.store.accounts import utcnow
from denialflow.web.deps import SessionDep, Supervisor, TemporalDep, Viewer
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused, act

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["team"], include_in_schema=False)
log = logging.getLogger(__name__)

# Actions a person takes while working an item: starting it, then acting on it (the
# productivity report's list); `reassign` is the supervisor's, not work.
WORK_ACTIONS = ("start_work", *ACTED_ACTIONS)
UNASSIGNED = "-"
# Items a page of the table shows; the pager (which keeps the filters) shows the rest.
PAGE_SIZE = 50
# A page number beyond any backlog: larger ones are read as the last page.
MAX_PAGE = 100_000
MAX_BATCH = 500
# Each move is one workflow Update; a bound keeps a 500-item batch from flooding Temporal.
CONCURRENT_MOVES = 8


def now() -> datetime:
    """The business clock. Tests pin it to the workflow test server's clock, which
    is the clock that set the items' due dates and the audit times."""
    return datetime.now(UTC)


class BadInput(Exception):
    """Input the page cannot act on; the message says what and where."""


# --- read model ------------------------------------------------------------------

Page = Literal["team", "escalations"]


@dataclass
class QueueLoad:
    name: str
    title: str
    open: int = 0
    unassigned: int = 0
    at_stake: Decimal = ZERO
    oldest: datetime | None = None
    past_sla: int = 0
    escalated: int = 0

    def oldest_days(self, at: datetime) -> int | None:
        return None if self.oldest is None else (at - self.oldest).days


@dataclass
class PersonLoad:
    username: str
    full_name: str
    role: str
    active: bool
    queues: list[str] = field(default_factory=list)
    open: int = 0
    at_stake: Decimal = ZERO
    past_sla: int = 0
    escalated: int = 0
    worked_today: int = 0


@dataclass(frozen=True)
class ItemFilter:
    queue: str = ""
    assignee: str = ""
    escalated: bool = False

    def query(self, page: Page, number: int, partial: bool = False) -> str:
        """The query string of page `number` of this list, filters kept: for the page
        itself, or (`partial`) for the item table alone (/team/items)."""
        params = {
            "page": page if partial else "",
            "queue": self.queue,
            "assignee": self.assignee,
            # The escalations page is escalated work only, whatever the query says.
            "escalated": "1" if self.escalated and page == "team" else "",
            "p": str(number) if number > 1 else "",
        }
        return urlencode({k: v for k, v in params.items() if v})


@dataclass(frozen=True)
class Pager:
    """Which page of the filtered items is shown (1-based), of how many."""

    number: int
    total: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def first_shown(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_shown(self) -> int:
        return min(self.number * self.size, self.total)


@dataclass
class ItemRow:
    item: WorkItem
    payer_id: str | None
    payer_name: str | None = None


@dataclass
class Outcome:
    item_id: str
    claim_id: str | None
    result: Literal["moved", "conflict", "refused", "failed"]
    message: str
    version: int | None = None


def _open() -> object:
    # A literal, not a parameter: the planner then sees that the open-work index
    # (ix_work_item_open_load, partial on this condition) holds every row it needs.
    return col(WorkItem.state) != literal_column("'closed'")


def _money(value: object) -> Decimal:
    return ZERO if value is None else to_money(value)


def queue_loads(session: Session, at: datetime) -> list[QueueLoad]:
    """Every queue, with its open work, in one GROUP BY."""
    rows = session.exec(
        select(
            WorkItem.queue,
            func.count(),
            func.sum(case((col(WorkItem.assignee).is_(None), 1), else_=0)),
            func.sum(WorkItem.balance),
            func.min(WorkItem.opened_at),
            func.sum(case((col(WorkItem.due_at) < at, 1), else_=0)),
            func.sum(case((col(WorkItem.escalation_level) > 0, 1), else_=0)),
        )
        .where(_open())
        .group_by(WorkItem.queue)
    ).all()
    loads = {
        name: QueueLoad(name, title)
        for name, title in session.exec(select(Queue.name, Queue.title))
    }
    for name, count, unassigned, at_stake, oldest, past_sla, escalated in rows:
        load = loads.setdefault(name, QueueLoad(name, name))
        load.open = count
        load.unassigned = int(unassigned or 0)
        load.at_stake = _money(at_stake)
        load.oldest = oldest
        load.past_sla = int(past_sla or 0)
        load.escalated = int(escalated or 0)
    # Busiest first, so the page opens on where help is needed.
    return sorted(loads.values(), key=lambda q: (-q.open, q.name))


def day_bounds(at: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The practice day holding `at` (midnight to midnight in `tz`), as UTC moments."""
    return day_bounds_utc(practice_today(tz, at), tz)


def people_loads(session: Session, at: datetime, tz: tzinfo) -> list[PersonLoad]:
    """Every specialist, and anyone else still holding open work (a supervisor, or a
    deactivated account whose items need a new owner). Four GROUP BY queries in all."""
    people: dict[str, PersonLoad] = {
        u.username: PersonLoad(u.username, u.full_name, u.role, u.active)
        for u in session.exec(
            select(User).where(User.role == Role.SPECIALIST.value).order_by(User.username)
        )
    }
    held = session.exec(
        select(
            WorkItem.assignee,
            func.count(),
            func.sum(WorkItem.balance),
            func.sum(case((col(WorkItem.due_at) < at, 1), else_=0)),
            func.sum(case((col(WorkItem.escalation_level) > 0, 1), else_=0)),
        )
        .where(_open(), col(WorkItem.assignee).is_not(None))
        .group_by(WorkItem.assignee)
    ).all()
    others = [row[0] for row in held if row[0] not in people]
    if others:
        known = {
            u.username: u for u in session.exec(select(User).where(col(User.username).in_(others)))
        }
        for username in others:
            user = known.get(username)
            people[username] = (
                PersonLoad(username, user.full_name, user.role, user.active)
                if user
                else PersonLoad(username, "", "unknown", False)
            )
    for username, count, at_stake, past_sla, escalated in held:
        person = people[username]
        person.open = count
        person.at_stake = _money(at_stake)
        person.past_sla = int(past_sla or 0)
        person.escalated = int(escalated or 0)
    start, end = day_bounds(at, tz)
    # Claims rather than items: an audit row names its claim in a column, its item only
    # inside JSON, and a claim has at most one open item of each kind.
    worked = session.exec(
        select(AuditEvent.actor, func.count(distinct(AuditEvent.claim_id)))
        .where(
            col(AuditEvent.action).in_(WORK_ACTIONS),
            col(AuditEvent.at) >= start,
            col(AuditEvent.at) < end,
            col(AuditEvent.actor).in_(list(people)),
        )
        .group_by(AuditEvent.actor)
    ).all()
    for username, count in worked:
        people[username].worked_today = count
    for queue_name, username in session.exec(
        select(QueueMembership.queue_name, QueueMembership.username)
        .where(col(QueueMembership.username).in_(list(people)))
        .order_by(QueueMembership.queue_name)
    ):
        people[username].queues.append(queue_name)
    return sorted(people.values(), key=lambda p: (not p.active, -p.open, p.username))


def queue_names(session: Session) -> list[str]:
    return list(session.exec(select(Queue.name).order_by(Queue.name)))


def specialists(session: Session) -> list[User]:
    """Who work can be given to: active specialists."""
    return list(
        session.exec(
            select(User)
            .where(User.role == Role.SPECIALIST.value, col(User.active).is_(True))
            .order_by(User.username)
        )
    )


def assignee_choices(session: Session) -> list[str]:
    """Specialists, and whoever else holds open work, for the assignee filter."""
    holders = session.exec(
        select(WorkItem.assignee).where(_open(), col(WorkItem.assignee).is_not(None)).distinct()
    ).all()
    return sorted({u.username for u in specialists(session)} | {h for h in holders if h})


def check_filter(session: Session, flt: ItemFilter) -> None:
    if flt.queue and session.get(Queue, flt.queue) is None:
        raise BadInput(f"Queue filter: there is no queue named {flt.queue!r}.")
    if flt.assignee not in ("", UNASSIGNED) and session.get(User, flt.assignee) is None:
        raise BadInput(f"Assignee filter: there is no user named {flt.assignee!r}.")


def open_items(session: Session, flt: ItemFilter, page: int = 1) -> tuple[list[ItemRow], Pager]:
    """A page of the open items matching the filter, escalated and then highest priority
    first, and which page it is of how many (a page past the end is the last one)."""
    conditions = [_open()]
    if flt.queue:
        conditions.append(col(WorkItem.queue) == flt.queue)
    if flt.assignee == UNASSIGNED:
        conditions.append(col(WorkItem.assignee).is_(None))
    elif flt.assignee:
        conditions.append(col(WorkItem.assignee) == flt.assignee)
    if flt.escalated:
        conditions.append(col(WorkItem.escalation_level) >= 1)
    total = session.exec(select(func.count()).select_from(WorkItem).where(*conditions)).one()
    last = Pager(1, total, PAGE_SIZE).pages
    pager = Pager(min(max(page, 1), last), total, PAGE_SIZE)
    rows = session.exec(
        select(WorkItem, Claim.payer_id, Payer.name)
        .outerjoin(Claim, col(Claim.id) == col(WorkItem.claim_id))
        .outerjoin(Payer, col(Payer.id) == col(Claim.payer_id))
        .where(*conditions)
        .order_by(
            col(WorkItem.escalation_level).desc(),
            col(WorkItem.priority).desc(),
            col(WorkItem.opened_at),
            col(WorkItem.id),
        )
        .offset((pager.number - 1) * pager.size)
        .limit(pager.size)
    ).all()
    return [ItemRow(item, payer, name) for item, payer, name in rows], pager


def escalation_summary(session: Session) -> list[tuple[int, str | None, int]]:
    """(level, reason, count) of open escalated items."""
    return list(
        session.exec(
            select(WorkItem.escalation_level, WorkItem.escalation_reason, func.count())
            .where(_open(), col(WorkItem.escalation_level) >= 1)
            .group_by(WorkItem.escalation_level, WorkItem.escalation_reason)
            .order_by(col(WorkItem.escalation_level).desc(), col(WorkItem.escalation_reason))
        ).all()
    )


# --- rendering ---------------------------------------------------------------------


def _filter_from(values: ImmutableMultiDict, page: Page) -> ItemFilter:
    """The item filters from a query string or a posted form (both carry them)."""
    return ItemFilter(
        queue=str(values.get("queue") or "").strip(),
        assignee=str(values.get("assignee") or "").strip(),
        # The escalations page lists escalated work only, whatever the form says.
        escalated=page == "escalations" or bool(values.get("escalated")),
    )


def _page_number(values: ImmutableMultiDict) -> int:
    """The item table's page (`p`, 1-based) from a query string or a posted form; anything
    that is not a page number is the first page."""
    raw = str(values.get("p") or "").strip()
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


def _context(
    session: Session, page: Page, flt: ItemFilter, number: int = 1, *, tz: tzinfo
) -> dict[str, object]:
    at = now()
    error = ""
    try:
        check_filter(session, flt)
        rows, pager = open_items(session, flt, number)
    except BadInput as err:
        error, rows, pager = str(err), [], Pager(1, 0, PAGE_SIZE)
    context: dict[str, object] = {
        "page": page,
        "now": at,
        "flt": flt,
        "rows": rows,
        "total": pager.total,
        "pager": pager,
        "filter_error": error,
        "queues": queue_names(session),
        "specialists": specialists(session),
        "assignees": assignee_choices(session),
        "unassigned": UNASSIGNED,
    }
    if page == "team":
        today: date = practice_today(tz, at)
        context |= {
            "queue_loads": queue_loads(session, at),
            "people": people_loads(session, at, tz),
            "today": today,
        }
    else:
        context["summary"] = escalation_summary(session)
    return context


def _render(
    request: Request,
    session: Session,
    page: Page,
    flt: ItemFilter,
    status: int = 200,
    number: int = 1,
    **extra: object,
) -> HTMLResponse:
    context = _context(session, page, flt, number, tz=request.app.state.settings.tz) | extra
    if context["filter_error"] and status == 200:
        status = 422
    return templates.TemplateResponse(request, f"pages/{page}.html", context, status_code=status)


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request, session: SessionDep, viewer: Supervisor) -> HTMLResponse:
    params = request.query_params
    return _render(
        request, session, "team", _filter_from(params, "team"), number=_page_number(params)
    )


@router.get("/escalations", response_class=HTMLResponse)
def escalations_page(request: Request, session: SessionDep, viewer: Supervisor) -> HTMLResponse:
    params = request.query_params
    return _render(
        request,
        session,
        "escalations",
        _filter_from(params, "escalations"),
        number=_page_number(params),
    )


@router.get("/team/items", response_class=HTMLResponse)
def items_partial(request: Request, session: SessionDep, viewer: Supervisor) -> HTMLResponse:
    """The item table alone, for the filters' HTMX swap."""
    page: Page = "escalations" if request.query_params.get("page") == "escalations" else "team"
    params = request.query_params
    tz = request.app.state.settings.tz
    context = _context(session, page, _filter_from(params, page), _page_number(params), tz=tz)
    return templates.TemplateResponse(
        request,
        "partials/team_items.html",
        context,
        status_code=422 if context["filter_error"] else 200,
    )


# --- reassigning -------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    item_id: str
    expected_version: int


def parse_moves(tokens: list[str]) -> list[Move]:
    """Checkbox values are "<item id>@<version the page showed>"; ids may hold '@'."""
    moves: dict[str, Move] = {}
    for token in tokens:
        item_id, sep, version = token.strip().rpartition("@")
        if not sep or not item_id or not version.isdigit():
            raise BadInput(
                f"Selected item {token!r} is not in the form <item id>@<version>; "
                "reload the page and select again."
            )
        moves.setdefault(item_id, Move(item_id, int(version)))
    return list(moves.values())


def check_target(session: Session, to_user: str, to_queue: str) -> None:
    if not to_user and not to_queue:
        raise BadInput("Choose a person, a queue, or both to reassign the selected items to.")
    if to_user:
        user = session.get(User, to_user)
        if user is None:
            raise BadInput(f"Reassign to: there is no user named {to_user!r}.")
        if user.role != Role.SPECIALIST.value or not user.active:
            raise BadInput(
                f"Reassign to: {to_user} is not an active specialist; work goes to specialists."
            )
    if to_queue and session.get(Queue, to_queue) is None:
        raise BadInput(f"Reassign to queue: there is no queue named {to_queue!r}.")


async def move_items(
    client: Client,
    viewer: Viewer,
    claims: dict[str, str | None],
    moves: list[Move],
    to_user: str | None,
    to_queue: str | None,
) -> list[Outcome]:
    """Send one `reassign` Update per item, a few at a time; one item's refusal or
    failure never stops the others. `claims` maps the known item ids to their claim."""
    gate = asyncio.Semaphore(CONCURRENT_MOVES)
    actor = Actor(username=viewer.username, role=Role.SUPERVISOR)

    async def one(move: Move) -> Outcome:
        if move.item_id not in claims:
            return Outcome(move.item_id, None, "refused", "no such work item; reload the page")
        claim_id = claims[move.item_id]
        if claim_id is None:
            return Outcome(
                move.item_id,
                None,
                "refused",
                "this item belongs to no claim, so no claim workflow can move it",
            )
        action = ActionIn(
            kind="reassign",
            by=actor,
            work_item_id=move.item_id,
            expected_version=move.expected_version,
            to_user=to_user,
            to_queue=to_queue,
        )
        async with gate:
            try:
                result = await act(client, claim_id, action)
            except ActionRefused as err:
                kind: Literal["conflict", "refused"] = "conflict" if err.conflict else "refused"
                return Outcome(move.item_id, claim_id, kind, err.message)
            except Exception as err:  # noqa: BLE001 - reported per item, the rest go on
                # No ids in the application log: the batch's audit row names the item.
                log.warning("a reassign Update failed: %s", type(err).__name__)
                return Outcome(
                    move.item_id,
                    claim_id,
                    "failed",
                    "no answer from the claim's workflow; reload to see whether it moved",
                )
        target = _describe_target(to_user, to_queue)
        return Outcome(move.item_id, claim_id, "moved", f"moved to {target}", result.version)

    return list(await asyncio.gather(*(one(m) for m in moves)))


def _describe_target(to_user: str | None, to_queue: str | None) -> str:
    parts = ([to_user] if to_user else []) + ([f"queue {to_queue}"] if to_queue else [])
    return " in ".join(parts)


@router.post("/team/reassign", response_class=HTMLResponse)
async def reassign(
    request: Request, session: SessionDep, temporal: TemporalDep, viewer: Supervisor
) -> Response:
    form = await request.form()
    page: Page = "escalations" if form.get("page") == "escalations" else "team"
    flt = _filter_from(form, page)
    number = _page_number(form)
    to_user = str(form.get("to_user") or "").strip()
    to_queue = str(form.get("to_queue") or "").strip()
    htmx = is_htmx(request)

    def answer(status: int, error: str = "", outcomes: list[Outcome] | None = None) -> Response:
        extra = {
            "reassign_error": error,
            "outcomes": outcomes,
            "target": _describe_target(to_user or None, to_queue or None),
        }
        if not htmx:
            return _render(request, session, page, flt, status, number, **extra)
        # Refused input sends back only the message; after moves the tables come too.
        tz = request.app.state.settings.tz
        tables = _context(session, page, flt, number, tz=tz) if outcomes else {"page": page}
        context = tables | extra
        return templates.TemplateResponse(
            request, "partials/team_reassign.html", context, status_code=status
        )

    try:
        moves = parse_moves([str(v) for v in form.getlist("item")])
        if not moves:
            raise BadInput("Select at least one item to reassign.")
        if len(moves) > MAX_BATCH:
            raise BadInput(f"{len(moves)} items selected; reassign at most {MAX_BATCH} at a time.")
        check_target(session, to_user, to_queue)
    except BadInput as err:
        return answer(422, f"{err} Nothing was reassigned.")
    if temporal is None:
        return answer(503, "Temporal is not reachable, so nothing was reassigned; try again.")

    ids = [m.item_id for m in moves]
    claims = dict(
        session.exec(select(WorkItem.id, WorkItem.claim_id).where(col(WorkItem.id).in_(ids))).all()
    )
    outcomes = await move_items(temporal, viewer, claims, moves, to_user or None, to_queue or None)
    # The workflow audits each move it made; this row records the request as a whole,
    # including what was refused. Ids and usernames only: no PHI.
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=viewer.username,
            action="reassign_batch",
            detail={
                "to_user": to_user or None,
                "to_queue": to_queue or None,
                "moved": [o.item_id for o in outcomes if o.result == "moved"],
                "not_moved": {o.item_id: o.result for o in outcomes if o.result != "moved"},
            },
        )
    )
    session.commit()
    return answer(200, outcomes=outcomes)
