"""The audit log: who did or saw what, when; filtered, paged, and exported as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from denialflow.models.tables import AuditEvent
from denialflow.store.accounts import utcnow
from denialflow.web.deps import Admin, SessionDep
from denialflow.web.rendering import render

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["audit"], include_in_schema=False)

PAGE_SIZE = 50
CSV_COLUMNS = ("at", "actor", "action", "claim_id", "detail")
# Rows fetched per round trip while streaming an export of any size.
CSV_BATCH = 1000


@dataclass
class AuditFilters:
    """The filters as typed (to show them back) and as parsed (to query with)."""

    actor: str = ""
    action: str = ""
    claim_id: str = ""
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None

    def query(self, page: int | None = None) -> str:
        """The query string for these filters, for paging links and the CSV export."""
        params = {
            "actor": self.actor,
            "action": self.action,
            "claim_id": self.claim_id,
            "date_from": self.date_from,
            "date_to": self.date_to,
        }
        params = {k: v for k, v in params.items() if v}
        if page is not None and page > 1:
            params["page"] = str(page)
        return urlencode(params)

    def described(self) -> dict[str, str]:
        return {
            k: v
            for k, v in {
                "actor": self.actor,
                "action": self.action,
                "claim_id": self.claim_id,
                "date_from": self.date_from,
                "date_to": self.date_to,
            }.items()
            if v
        }


EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
# Far beyond any real log; keeps the OFFSET inside a 64-bit integer.
MAX_PAGE = 1_000_000


def _date(raw: str, label: str, errors: dict[str, str], name: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{label}: {raw!r} is not a date (YYYY-MM-DD)"
        return None
    # The `to` day gets a day added; year 9999 would overflow into a 500.
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        errors[name] = f"{label}: {raw!r} is outside {EARLIEST_DAY} to {LATEST_DAY}"
        return None
    return day


def parse_filters(request: Request) -> AuditFilters:
    """Filters from the query string; a bad value becomes a message on its own field."""
    q = request.query_params
    f = AuditFilters(
        actor=(q.get("actor") or "").strip(),
        action=(q.get("action") or "").strip(),
        claim_id=(q.get("claim_id") or "").strip(),
        date_from=(q.get("date_from") or "").strip(),
        date_to=(q.get("date_to") or "").strip(),
    )
    start = _date(f.date_from, "From", f.errors, "date_from")
    end = _date(f.date_to, "To", f.errors, "date_to")
    if start and end and end < start:
        f.errors["date_to"] = f"To: {end} is before From {start}"
    # Whole UTC days, the `to` day included.
    f.start = datetime.combine(start, time.min, tzinfo=UTC) if start else None
    f.end = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC) if end else None
    raw_page = (q.get("page") or "1").strip()
    if raw_page.isdigit() and len(raw_page) <= 7 and 1 <= int(raw_page) <= MAX_PAGE:
        f.page = int(raw_page)
    else:
        f.errors["page"] = f"Page: {raw_page!r} is not a page number"
    return f


def _filtered(query: SelectOfScalar[Any], f: AuditFilters) -> SelectOfScalar[Any]:
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.claim_id:
        query = query.where(AuditEvent.claim_id == f.claim_id)
    if f.start:
        query = query.where(col(AuditEvent.at) >= f.start)
    if f.end:
        query = query.where(col(AuditEvent.at) < f.end)
    return query


def _newest_first(query: SelectOfScalar[Any]) -> SelectOfScalar[Any]:
    return query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())


def _detail(event: AuditEvent) -> str:
    return json.dumps(event.detail, sort_keys=True, default=str, separators=(",", ": "))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    f = parse_filters(request)
    events: list[AuditEvent] = []
    total = 0
    if not f.errors:
        total = session.exec(_filtered(select(func.count()).select_from(AuditEvent), f)).one()
        events = list(
            session.exec(
                _newest_first(_filtered(select(AuditEvent), f))
                .offset((f.page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            ).all()
        )
    actions = session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    context = {
        "f": f,
        "events": [(e, _detail(e)) for e in events],
        "total": total,
        "first": (f.page - 1) * PAGE_SIZE + 1,
        "last": (f.page - 1) * PAGE_SIZE + len(events),
        "has_newer": f.page > 1,
        "has_older": f.page * PAGE_SIZE < total,
        "actions": actions,
    }
    # Filter errors make the plain page a 422; under htmx the results area shows them.
    return render(
        request,
        "pages/audit.html",
        "partials/audit_results.html",
        context,
        status=422 if f.errors else 200,
    )


def _csv_rows(engine: Engine, f: AuditFilters) -> Iterator[str]:
    # Its own session: the request's may close before a long export finishes streaming.
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with Session(engine) as session:
        result = session.exec(
            _newest_first(_filtered(select(AuditEvent), f)).execution_options(yield_per=CSV_BATCH)
        )
        for n, event in enumerate(result, start=1):
            writer.writerow(
                (
                    event.at.astimezone(UTC).isoformat(),
                    event.actor,
                    event.action,
                    event.claim_id or "",
                    _detail(event),
                )
            )
            if n % CSV_BATCH == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/audit.csv", response_model=None)
def audit_csv(request: Request, session: SessionDep, viewer: Admin) -> Response:
    f = parse_filters(request)
    f.errors.pop("page", None)  # an export is every page
    if f.errors:
        return Response(
            "Nothing exported: " + "; ".join(f.errors.values()) + "\n",
            status_code=422,
            media_type="text/plain; charset=utf-8",
        )
    # Data leaving the system is itself worth a line in the log.
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=viewer.username,
            action="audit_exported",
            detail={"filters": f.described()},
        )
    )
    session.commit()
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _csv_rows(request.app.state.engine, f),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
