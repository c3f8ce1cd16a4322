"""What every report page does the same way: read the shared filters, format numbers
for the page, answer ?format=csv, audit an export and render with the filters' state."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.datastructures import QueryParams
from fastapi.responses import Response
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, Payer
from denialflow.reports.period import ReportFilter, parse_filter, practice_today
from denialflow.settings import Settings
from denialflow.store.accounts import utcnow
from denialflow.web.csv_export import csv_response
from denialflow.web.deps import (
    Forbidden,
    ReportReader,
    ReportViewer,
    SessionDep,
    SettingsDep,
    audit_denied,
)
from denialflow.web.templating import templates

__all__ = [
    "DASH",
    "FilterContext",
    "ReportPage",
    "audit_export",
    "count",
    "csv_links",
    "csv_refused",
    "days",
    "dollars",
    "export",
    "page_number",
    "pager",
    "percent",
    "read_filter",
    "report_page",
    "wants_csv",
]

# Shown where there is nothing to divide (no items, no denials): not a zero.
DASH = "—"


@dataclass(frozen=True)
class FilterContext:
    flt: ReportFilter
    problems: list[str]
    payers: dict[str, str]  # id -> name, by name
    today: date


def read_filter(request: Request, session: Session, settings: Settings) -> FilterContext:
    """The page's date range and payer from its query string, checked (see period.py)."""
    payers = dict(session.exec(select(Payer.id, Payer.name).order_by(Payer.name)).all())
    today = practice_today(settings.tz)
    flt, problems = parse_filter(request.query_params, today, payers)
    return FilterContext(flt, problems, payers, today)


@dataclass
class ReportPage:
    """One request to a report page or to its CSV. A page adds its own problems (a bad
    slice, bucket or KPI) to `problems`: they refuse the CSV and make the page a 422,
    like the filters' own."""

    request: Request
    session: Session
    settings: Settings
    reader: ReportReader
    report: str  # names the CSV files and the audit lines
    filters: FilterContext
    csv: bool
    problems: list[str] = field(default_factory=list)

    @property
    def params(self) -> QueryParams:
        return self.request.query_params

    @property
    def flt(self) -> ReportFilter:
        return self.filters.flt

    def refusal(self, table: str | None = None, tables: Sequence[str] = ()) -> Response | None:
        """The answer to a CSV request that cannot be met (its problems, else a `table`
        not among `tables`); None for a page, or a CSV that can be made."""
        if not self.csv:
            return None
        if self.problems:
            return csv_refused(self.problems)
        if table is not None and table not in tables:
            return csv_refused([f"Table: {table[:40]!r} is not one of {', '.join(tables)}."])
        return None

    def export(
        self,
        table: str,
        headers: list[str],
        rows: Iterable[Sequence[object]],
        flt: ReportFilter | None = None,
    ) -> Response:
        return export(self.session, self.reader, self.report, table, flt or self.flt, headers, rows)

    def render(self, template: str, context: dict[str, Any]) -> Response:
        """The page, given the filters' state for report_macros.filters (`context` may
        override it: aging widens the range)."""
        shared = {"flt": self.flt, "problems": self.problems, "payers": self.filters.payers}
        return templates.TemplateResponse(
            self.request,
            template,
            shared | context,
            status_code=422 if self.problems else 200,
        )


def report_page(report: str, operations_only: str | None = None) -> Callable[..., ReportPage]:
    """The dependency opening a report's ReportPage. With `operations_only` (the 403
    page's words) a specialist is refused, audited, before any filter is read."""

    def open_page(
        request: Request, session: SessionDep, settings: SettingsDep, reader: ReportViewer
    ) -> ReportPage:
        if operations_only and not reader.sees_all:
            audit_denied(session, reader.username, request, "forbidden")
            raise Forbidden(operations_only)
        filters = read_filter(request, session, settings)
        return ReportPage(
            request,
            session,
            settings,
            reader,
            report,
            filters,
            wants_csv(request),
            list(filters.problems),
        )

    return open_page


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv" or request.url.path.endswith(".csv")


def csv_refused(problems: Sequence[str]) -> Response:
    """An export whose filters could not be used exports nothing: the file would not be
    what was asked for."""
    return Response(
        "Nothing exported: " + " ".join(problems) + "\n",
        status_code=422,
        media_type="text/plain; charset=utf-8",
    )


def audit_export(
    session: Session, reader: ReportReader, report: str, table: str, flt: ReportFilter, rows: int
) -> None:
    """Data leaving the system is worth a line in the audit log (filters only: no PHI)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=reader.username,
            action="report_exported",
            detail={"report": report, "table": table, "filters": flt.params(), "rows": rows},
        )
    )
    session.commit()


def export(
    session: Session,
    reader: ReportReader,
    report: str,
    table: str,
    flt: ReportFilter,
    headers: list[str],
    rows: Iterable[Sequence[object]],
) -> Response:
    """One table as a CSV download named after the report, table and range; audited."""
    listed = list(rows)
    audit_export(session, reader, report, table, flt, len(listed))
    name = f"{report}-{table}-{flt.start.isoformat()}-to-{flt.end.isoformat()}"
    if flt.payer_id:
        name += f"-{flt.payer_id}"
    return csv_response(name, headers, listed)


def csv_links(path: str, flt: ReportFilter, tables: Iterable[str]) -> dict[str, str]:
    return {t: f"{path}.csv?{flt.query_string(table=t)}" for t in tables}


def page_number(raw: str | None) -> int:
    """?page=, from 1; capped so that no offset computed from it overflows the database."""
    try:
        return max(1, min(int(raw or "1"), 10**6))
    except ValueError:
        return 1


def pager(page: int, pages: int, link: Callable[[int], str]) -> dict[str, str | None]:
    """The previous and next pages' links for report_macros.pager (None at either end)."""
    return {
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }


def percent(value: Decimal | None) -> str:
    return DASH if value is None else f"{value}%"


def count(value: int | Decimal | None) -> str:
    return DASH if value is None else f"{value:,}"


def dollars(value: Decimal | None) -> str:
    return DASH if value is None else f"${value:,.2f}"


def days(value: Decimal | None) -> str:
    return DASH if value is None else f"{value} days"
