"""My queue: the open work a person may take as a worklist (highest priority first, or
sorted by any column; filtered; exported as CSV; saved as named views), and "Next item"."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain.types import (
    ActionIn,
    Actor,
    DenialCategory,
    Role,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.tables import AuditEvent, Payer, SavedView
from denialflow.web.deps import (
    NotFound,
    RowId,
    SessionDep,
    SettingsDep,
    TemporalDep,
    Viewer,
    Worker,
)
from denialflow.web.queries import (
    AGE_BUCKETS,
    DEFAULT_SORT,
    PAGE_SIZE,
    SORTS,
    QueueFilters,
    member_queues,
    queue_items,
)
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused, act

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["queue"], include_in_schema=False)

KINDS = [k.value for k in WorkItemKind]
CATEGORIES = [c.value for c in DenialCategory]
# How many of the top items "Next item" tries when colleagues take them first.
NEXT_ATTEMPTS = 5


def _payers(session: Session) -> dict[str, str]:
    return dict(session.exec(select(Payer.id, Payer.name).order_by(Payer.name)).all())


def _choice(value: str | None, allowed: Any, what: str, problems: list[str]) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if value in allowed:
        return value
    problems.append(f"{what}: there is no {what} {value!r}; showing every {what}")
    return None


def _amount(value: str | None, what: str, problems: list[str]) -> Decimal | None:
    raw = (value or "").strip().replace(",", "").lstrip("$")
    if not raw:
        return None
    try:
        amount = Decimal(raw)
        if not amount.is_finite() or len(raw) > 16:
            raise InvalidOperation
    except InvalidOperation:
        problems.append(f"{what}: {value!r} is not an amount (such as 250 or 1200.50); ignored")
        return None
    return amount


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "on", "true", "yes"}


# Clicking a column first sorts it this way (money, age and recency: the most first).
FIRST_DESCENDING = {"priority", "balance", "escalation", "updated", "age"}
# Header keys that are not SORTS keys: age sorts by the date of service, the other way.
SORT_ALIASES = {"age": ("dos", True)}
# The most rows one CSV export holds (README: My queue); past it the file says so.
CSV_CAP = 20_000
# Saved views: a name's length, and how many one person may keep.
VIEW_NAME_MAX = 60
VIEWS_PER_USER = 50
QUERY_MAX = 2000  # SavedView.query's column
NEXT_KINDS_WITHOUT_CLAIM = {
    WorkItemKind.UNMATCHED_REMITTANCE.value,
    WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value,
}


@dataclass
class Worklist:
    """The queue as asked for: filters for the SQL, the sort, the page, and the same
    request as a canonical query string (for links, the CSV export and saved views)."""

    filters: QueueFilters
    sort: str = DEFAULT_SORT
    descending: bool = True
    page: int = 1
    query: dict[str, str] = field(default_factory=dict)
    today: date = field(default_factory=date.today)

    @property
    def sort_key(self) -> tuple[str, bool]:
        """The SORTS key and direction to ask the query for."""
        if self.sort in SORT_ALIASES:
            key, flip = SORT_ALIASES[self.sort]
            return key, self.descending != flip
        return self.sort, self.descending

    def link(self, **changes: str | None) -> str:
        """This view's query string with some parameters changed (None drops one)."""
        params = dict(self.query)
        if self.page > 1:
            params["page"] = str(self.page)
        for k, v in changes.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        return urlencode(params)

    def sort_link(self, key: str) -> str:
        """Sort by this column: the other way if it is the current one."""
        desc = not self.descending if key == self.sort else key in FIRST_DESCENDING
        if key == DEFAULT_SORT and desc:
            return self.link(sort=None, dir=None, page=None)
        return self.link(sort=key, dir="desc" if desc else "asc", page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def _practice_day(tz: ZoneInfo, now: datetime | None = None) -> tuple[date, datetime, datetime]:
    """The practice's today, and its start and end as UTC times."""
    now = now or datetime.now(UTC)
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=tz)
    return today, start.astimezone(UTC), end.astimezone(UTC)


def _read_worklist(
    params: Mapping[str, Any], payers: dict[str, str], tz: ZoneInfo, problems: list[str]
) -> Worklist:
    today, day_start, day_end = _practice_day(tz)
    query: dict[str, str] = {}
    kind = _choice(params.get("kind"), KINDS, "kind", problems)
    payer = _choice(params.get("payer"), payers, "payer", problems)
    category = _choice(params.get("category"), CATEGORIES, "category", problems)
    age = _choice(params.get("age"), AGE_BUCKETS, "age bucket", problems)
    service_from = service_to = None
    if age:
        first, last = AGE_BUCKETS[age]
        service_to = today - timedelta(days=first) if first is not None else None
        service_from = today - timedelta(days=last) if last is not None else None
    balance_min = _amount(params.get("balance_min"), "minimum balance", problems)
    balance_max = _amount(params.get("balance_max"), "maximum balance", problems)
    escalated = _flag(params.get("escalated"))
    due_today = _flag(params.get("due_today"))
    for name, value in (
        ("kind", kind),
        ("payer", payer),
        ("category", category),
        ("age", age),
        ("balance_min", balance_min),
        ("balance_max", balance_max),
        ("escalated", "1" if escalated else None),
        ("due_today", "1" if due_today else None),
    ):
        if value is not None:
            query[name] = str(value)
    filters = QueueFilters(
        kind=kind,
        payer=payer,
        category=category,
        service_from=service_from,
        service_to=service_to,
        balance_min=balance_min,
        balance_max=balance_max,
        escalated=escalated,
        due_from=day_start if due_today else None,
        due_before=day_end if due_today else None,
    )
    sort = str(params.get("sort") or "").strip() or DEFAULT_SORT
    if sort not in SORTS and sort not in SORT_ALIASES:
        problems.append(f"sort: the queue cannot be sorted by {sort!r}; sorted by priority")
        sort = DEFAULT_SORT
    direction = str(params.get("dir") or "").strip().lower()
    if direction not in ("", "asc", "desc"):
        problems.append(f"dir: {direction!r} is neither asc nor desc; using the default")
        direction = ""
    descending = direction == "desc" if direction else sort in FIRST_DESCENDING
    if sort != DEFAULT_SORT or not descending:
        query["sort"] = sort
        query["dir"] = "desc" if descending else "asc"
    raw = str(params.get("page") or "1").strip()
    try:
        page = int(raw)
        if page < 1:
            raise ValueError
    except ValueError:
        problems.append(f"page: {raw!r} is not a page number (1, 2, ...); showing page 1")
        page = 1
    return Worklist(filters, sort, descending, page, query, today)


def _local(tz: ZoneInfo) -> Any:
    def local(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(tz)

    return local


def _table_context(
    session: Session,
    viewer: Viewer,
    worklist: Worklist,
    payers: dict[str, str],
    tz: ZoneInfo,
) -> dict[str, Any]:
    sort, descending = worklist.sort_key
    rows, total = queue_items(
        session, viewer, worklist.filters, worklist.page, sort=sort, descending=descending
    )
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = worklist.page
    return {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1,
        "last": (page - 1) * PAGE_SIZE + len(rows),
        "filters": worklist.filters,
        "worklist": worklist,
        "query": worklist.query,
        "query_string": urlencode(worklist.query),
        "filtered": any(k not in ("sort", "dir") for k in worklist.query),
        "payers": payers,
        "now": datetime.now(UTC),
        "today": worklist.today,
        "local": _local(tz),
        "tz": tz,
        "everyone": viewer.role == Role.SUPERVISOR,
    }


def _page_context(
    session: Session, viewer: Viewer, context: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    context.update(
        problems=problems,
        kinds=KINDS,
        categories=CATEGORIES,
        buckets=list(AGE_BUCKETS),
        queues=[] if context["everyone"] else member_queues(session, viewer.username),
        views=_views(session, viewer.username),
    )
    return context


def _views(session: Session, username: str) -> list[SavedView]:
    return list(
        session.exec(
            select(SavedView).where(SavedView.username == username).order_by(col(SavedView.name))
        )
    )


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: Worker
) -> HTMLResponse:
    problems: list[str] = []
    payers = _payers(session)
    worklist = _read_worklist(request.query_params, payers, settings.tz, problems)
    context = _table_context(session, viewer, worklist, payers, settings.tz)
    context["problems"] = problems
    # The filter form, the column headers and the pager swap only the table.
    if is_htmx(request):
        response = templates.TemplateResponse(request, "partials/queue_table.html", context)
    else:
        context = _page_context(session, viewer, context, problems)
        response = templates.TemplateResponse(request, "pages/queue.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


# The CSV's columns: nothing a person cannot see on the page, money as plain decimals.
CSV_COLUMNS = (
    "work_item_id",
    "claim_id",
    "balance",
    "payer",
    "kind",
    "state",
    "category",
    "reason_codes",
    "date_of_service",
    "age_days",
    "age_bucket",
    "deadline",
    "deadline_date",
    "due_at",
    "escalation_level",
    "next_follow_up",
    "last_change",
    "queue",
    "assignee",
    "priority",
)


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a leading =, +, -, @)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/queue.csv", response_model=None)
def queue_csv(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: Worker
) -> Response:
    """The whole filtered, sorted queue as CSV, every matching row up to CSV_CAP (a
    capped file ends with a line saying so, and X-Export-Capped is set); audited."""
    problems: list[str] = []
    payers = _payers(session)
    worklist = _read_worklist(request.query_params, payers, settings.tz, problems)
    sort, descending = worklist.sort_key
    rows, total = queue_items(
        session, viewer, worklist.filters, 1, sort=sort, descending=descending, page_size=CSV_CAP
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    today = worklist.today
    for r in rows:
        writer.writerow(
            (
                _cell(r.item_id),
                _cell(r.claim_id or ""),
                f"{r.balance:.2f}",
                _cell(payers.get(r.payer_id, r.payer_id) if r.payer_id else ""),
                r.kind,
                r.state,
                r.category or "",
                _cell(" ".join(r.reason_codes)),
                r.service_date.isoformat() if r.service_date else "",
                "" if r.age_days(today) is None else r.age_days(today),
                r.age_bucket(today) or "",
                r.deadline_name or "",
                r.deadline_at.isoformat() if r.deadline_at else "",
                _iso(r.due_at),
                r.escalation_level,
                _iso(r.next_follow_up()),
                _iso(r.updated_at),
                _cell(r.queue),
                _cell(r.assignee or ""),
                f"{r.priority:.2f}",
            )
        )
    capped = total > len(rows)
    if capped:
        # Last, so the header stays the first line for whatever reads the file.
        writer.writerow(
            (
                f"# capped: the first {len(rows):,} of {total:,} matching items "
                f"(an export holds at most {CSV_CAP:,}); narrow the filters for the rest",
            )
        )
    # The whitelisted, canonical filter values only (kinds, payer ids, buckets, amounts,
    # flags, the sort): no PHI.
    detail: dict[str, Any] = {"rows": len(rows), "filters": dict(worklist.query)}
    if capped:
        detail.update(capped=True, matching=total)
    session.add(
        AuditEvent(
            at=datetime.now(UTC),
            actor=viewer.username,
            action="queue_exported",
            detail=detail,
        )
    )
    session.commit()
    stamp = datetime.now(settings.tz).strftime("%Y%m%d-%H%M")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="queue-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Export-Rows": str(len(rows)),
            "X-Export-Matching": str(total),
            **({"X-Export-Capped": str(CSV_CAP)} if capped else {}),
        },
    )


# --- saved views --------------------------------------------------------------


def _canonical_query(raw: str, payers: dict[str, str], tz: ZoneInfo) -> tuple[str, list[str]]:
    """A submitted query string as the page itself would write it (unknown values out)."""
    problems: list[str] = []
    params = dict(parse_qsl(raw.lstrip("?"), keep_blank_values=False))
    worklist = _read_worklist(params, payers, tz, problems)
    return urlencode(worklist.query), problems


def _queue_with_message(
    request: Request,
    session: Session,
    viewer: Viewer,
    settings: Any,
    query: str,
    message: str,
    status: int,
) -> Response:
    problems: list[str] = []
    payers = _payers(session)
    worklist = _read_worklist(dict(parse_qsl(query)), payers, settings.tz, problems)
    context = _table_context(session, viewer, worklist, payers, settings.tz)
    context = _page_context(session, viewer, context, [message, *problems])
    return templates.TemplateResponse(request, "pages/queue.html", context, status_code=status)


@router.post("/queue/views", response_model=None)
async def save_view(
    request: Request, session: SessionDep, settings: SettingsDep, viewer: Worker
) -> Response:
    """Save the current filters and sort under a name, for this user only."""
    form = await request.form()
    name = " ".join(str(form.get("name") or "").split())
    query, _problems = _canonical_query(str(form.get("query") or ""), _payers(session), settings.tz)
    problem = None
    if not 1 <= len(name) <= VIEW_NAME_MAX:
        problem = (
            f"View name: give the view a name of 1 to {VIEW_NAME_MAX} characters; "
            "nothing was saved."
        )
    elif len(query) > QUERY_MAX:
        problem = "View: these filters are too long to save; nothing was saved."
    elif len(_views(session, viewer.username)) >= VIEWS_PER_USER:
        problem = (
            f"View: you already have {VIEWS_PER_USER} saved views, the most one person may "
            "keep; delete one first. Nothing was saved."
        )
    if problem:
        return _queue_with_message(request, session, viewer, settings, query, problem, 422)
    exists = session.exec(
        select(SavedView).where(SavedView.username == viewer.username, SavedView.name == name)
    ).first()
    if exists is None:
        session.add(
            SavedView(
                username=viewer.username, name=name, query=query, created_at=datetime.now(UTC)
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            exists = True  # type: ignore[assignment]
    if exists is not None:
        return _queue_with_message(
            request,
            session,
            viewer,
            settings,
            query,
            f"View name: you already have a view named {name!r}; choose another name or "
            "delete that one first. Nothing was saved.",
            409,
        )
    return RedirectResponse(f"/queue?{query}" if query else "/queue", status_code=303)


@router.post("/queue/views/{view_id}/delete", response_model=None)
def delete_view(view_id: RowId, session: SessionDep, viewer: Worker) -> Response:
    view = session.get(SavedView, view_id)
    # Someone else's view is as good as none: its existence is not for others to learn.
    if view is None or view.username != viewer.username:
        raise NotFound(f"You have no saved view {view_id}: nothing was deleted.")
    session.delete(view)
    session.commit()
    return RedirectResponse("/queue", status_code=303)


def _message(
    request: Request, session: Session, viewer: Viewer, text: str, status: int
) -> Response:
    """Say why no item was opened: in place (htmx), or on the queue page (no script)."""
    if is_htmx(request):
        response = templates.TemplateResponse(
            request, "partials/claim_alert.html", {"message": text}, status_code=status
        )
        response.headers["HX-Retarget"] = "#queue-message"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    payers = _payers(session)
    tz = request.app.state.settings.tz
    worklist = _read_worklist({}, payers, tz, [])
    context = _table_context(session, viewer, worklist, payers, tz)
    context = _page_context(session, viewer, context, [text])
    return templates.TemplateResponse(request, "pages/queue.html", context, status_code=status)


def _go_to(request: Request, target: str) -> Response:
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/queue/next")
async def next_item(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    """Start work on the top item of the queue (as filtered and sorted) and open its
    claim; an unmatched remittance or acknowledgement at the top opens its matching page."""
    form = await request.form()
    # The filters come from the queue's own form; anything else falls back to "any".
    worklist = _read_worklist(form, _payers(session), settings.tz, problems=[])
    sort, descending = worklist.sort_key
    rows, _total = queue_items(
        session, viewer, worklist.filters, 1, sort=sort, descending=descending
    )
    candidates = [
        r
        for r in rows
        # No claim means no workflow to start: an unmatched remittance or acknowledgement
        # is matched on its own page, anything else without one is skipped. Someone
        # else's item in progress would only be a conflict.
        if (r.claim_id or r.kind in NEXT_KINDS_WITHOUT_CLAIM)
        and not (r.state == WorkItemState.IN_PROGRESS.value and r.assignee != viewer.username)
    ][:NEXT_ATTEMPTS]
    if not candidates:
        if temporal is None:
            return _message(
                request, session, viewer, "Temporal is not reachable: nothing was started.", 503
            )
        return _message(request, session, viewer, "Your queue is empty: nothing to start.", 200)
    refusals: list[str] = []
    tried = 0
    for row in candidates:
        if row.claim_id is None:
            # Matching it to a claim is the work; its page starts nothing by itself.
            return _go_to(request, f"/unmatched/{quote(row.item_id, safe='')}")
        if temporal is None:
            return _message(
                request, session, viewer, "Temporal is not reachable: nothing was started.", 503
            )
        if row.state == WorkItemState.IN_PROGRESS.value:
            # Already this person's: open it again rather than start it twice.
            return _go_to(request, f"/claims/{row.claim_id}")
        tried += 1
        try:
            await act(
                temporal,
                row.claim_id,
                ActionIn(
                    kind="start_work",
                    by=Actor(username=viewer.username, role=viewer.role),
                    work_item_id=row.item_id,
                    expected_version=row.version,
                ),
            )
        except ActionRefused as err:
            # Taken or changed by a colleague a moment ago: the next one will do.
            refusals.append(err.message)
            continue
        except (RPCError, WorkflowUpdateFailedError):
            return _message(
                request,
                session,
                viewer,
                "Temporal did not answer; reload the queue and try again.",
                503,
            )
        return _go_to(request, f"/claims/{row.claim_id}")
    return _message(
        request,
        session,
        viewer,
        f"The top {tried} items were all taken or changed just now "
        f"(last: {refusals[-1]}); reload the queue.",
        409,
    )
