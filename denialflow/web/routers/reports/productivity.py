"""The productivity report: items closed per person per day, handling time, SLA
compliance, escalations per queue, denials acted on within 10 business days and payment
dollars posted within 4 (denialflow/reports/productivity.py computes them).

Supervisors and admins see everyone and the practice's payment posting; a specialist sees
their own row and their own items' escalations. Each table downloads as CSV:
/reports/productivity.csv?table=people|daily|escalations|posting (or ?format=csv)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from denialflow.domain.types import Role
from denialflow.reports.charts import chart_spec
from denialflow.reports.productivity import (
    DEFINITIONS,
    DENIAL_TARGET_DAYS,
    NOBODY,
    POSTING_TARGET_DAYS,
    TARGET_SHARE,
    PersonStats,
    ProductivityReport,
    productivity,
)
from denialflow.web.deps import ReportReader
from denialflow.web.routers.reports.common import (
    DASH,
    ReportPage,
    count,
    csv_links,
    dollars,
    percent,
    report_page,
)

router = APIRouter(include_in_schema=False)

PATH = "/reports/productivity"
TABLES = ("people", "daily", "escalations", "posting")
ProductivityPage = Annotated[ReportPage, Depends(report_page("productivity"))]


def _status(share: Any) -> str | None:
    """How a service level compares with its 95% target: ok, within 5 points, or below."""
    if share is None:
        return None
    if share >= TARGET_SHARE:
        return "ok"
    return "warn" if share >= TARGET_SHARE - 5 else "bad"


def _hours(value: Any) -> str:
    return DASH if value is None else f"{value} h"


# --- the tables, as CSV rows (raw values) ------------------------------------------------

PEOPLE_HEADERS = [
    "Username",
    "Name",
    "Items closed",
    "Per working day",
    "Median handling hours",
    "Mean handling hours",
    "Timed items",
    "Closed within SLA",
    "Closed within SLA %",
    "Escalations",
    "Denials acted on in time",
    "Denials acted on late",
    "Denials pending",
    f"Denials acted on within {DENIAL_TARGET_DAYS} business days %",
]


def _people_rows(report: ProductivityReport, with_team: bool) -> list[list[object]]:
    def row(p: PersonStats) -> list[object]:
        return [
            p.username,
            p.full_name,
            p.closed,
            p.per_day,
            p.median_hours,
            p.mean_hours,
            p.timed,
            p.sla_met,
            p.sla_share,
            p.escalations,
            p.denials.on_time,
            p.denials.late,
            p.denials.pending,
            p.denials.share,
        ]

    rows = [row(p) for p in report.people]
    if with_team:
        rows.append(row(report.team))
    return rows


def _daily_table(report: ProductivityReport) -> tuple[list[str], list[list[object]]]:
    by = report.closed_by
    names = _charted_people(report)
    headers = ["Day" if by.by == "day" else "Month"] + [label for _, label in names] + ["Total"]
    series = [by.series(name) for name, _ in names]
    totals = by.totals()
    rows: list[list[object]] = []
    for i, bucket in enumerate(by.buckets):
        # A month is its first day: an ISO date a spreadsheet reads as one.
        rows.append([bucket, *(s[i] for s in series), totals[i]])
    return headers, rows


def _charted_people(report: ProductivityReport) -> list[tuple[str, str]]:
    """(username, label) of everyone with items closed in the range, and the items
    closed while nobody held them."""
    labels = {p.username: p.label for p in report.people}
    named = [p.username for p in report.people if report.closed_by.counts.get(p.username)]
    out = [(n, labels[n]) for n in named]
    if report.closed_by.counts.get(NOBODY):
        out.append((NOBODY, "Nobody (closed before anyone took it)"))
    return out


ESCALATION_HEADERS = ["Queue", "Title", "To level 1", "To level 2", "Escalations"]


def _escalation_rows(report: ProductivityReport) -> list[list[object]]:
    return [[q.queue, q.title, q.level1, q.level2, q.total] for q in report.escalations]


POSTING_HEADERS = [
    "Month",
    "Dollars received",
    "Posted in time",
    "Posted late",
    "Waiting",
    f"Posted within {POSTING_TARGET_DAYS} business days %",
]


def _posting_rows(report: ProductivityReport) -> list[list[object]]:
    return [
        [
            m.month,
            m.received,
            m.dollars.on_time,
            m.dollars.late,
            m.dollars.pending,
            m.dollars.share,
        ]
        for m in report.posting or []
    ]


# --- the page ----------------------------------------------------------------------------


def _charts(report: ProductivityReport, reader: ReportReader) -> dict[str, Any]:
    by = report.closed_by
    names = _charted_people(report)
    daily_headers, daily_rows = _daily_table(report)
    per = "day" if by.by == "day" else "month"
    closed = {
        "spec": chart_spec(
            "bar",
            [by.label(b) for b in by.buckets],
            [(label, by.series(name)) for name, label in names],
            stacked=True,
        ),
        "title": f"Items closed per {per}, per person",
        "headers": daily_headers,
        "rows": [[by.label(r[0]), *r[1:]] for r in daily_rows],
    }
    shown = list(report.people) + ([report.team] if reader.sees_all else [])
    shown = [p for p in shown if p.denials.judged or p.denials.pending]
    denials = {
        "spec": chart_spec(
            "bar",
            [p.label for p in shown],
            [("Acted on in time (%)", [p.denials.share for p in shown])],
            unit="percent",
            reference=TARGET_SHARE,
            reference_label="target 95%",
        ),
        "title": f"Denials acted on within {DENIAL_TARGET_DAYS} business days, per person",
        "headers": ["Person", "In time", "Late", "Pending", "In time (%)"],
        "rows": [
            [
                p.label,
                count(p.denials.on_time),
                count(p.denials.late),
                count(p.denials.pending),
                percent(p.denials.share),
            ]
            for p in shown
        ],
    }
    return {"closed": closed, "denials": denials}


def _kpis(report: ProductivityReport, reader: ReportReader) -> list[dict[str, Any]]:
    whose = "the team" if reader.sees_all else "you"
    team = report.team
    cards: list[dict[str, Any]] = [
        {
            "title": "Items closed",
            "value": count(team.closed),
            "formula": (
                f"work items {whose} closed in the range; {count(team.per_day)} per working "
                f"day over {report.business_days} business days"
            ),
        },
        {
            "title": "Median handling time",
            "value": _hours(team.median_hours),
            "formula": f"Start work to closing, over {team.timed:,} timed items "
            f"(mean {_hours(team.mean_hours)})",
        },
        {
            "title": "Closed within SLA",
            "value": percent(team.sla_share),
            "formula": f"{team.sla_met:,} of {team.closed:,} items closed by their due time",
        },
        {
            "title": f"Denials acted on within {DENIAL_TARGET_DAYS} business days",
            "value": percent(report.denials.share),
            "formula": (
                f"{report.denials.on_time:,} of {report.denials.judged:,} denials "
                f"({report.denials.pending:,} still inside their {DENIAL_TARGET_DAYS} days)"
            ),
            "reference": "at least 95%",
            "status": _status(report.denials.share),
        },
    ]
    if report.posting_total is not None:
        total = report.posting_total
        cards.append(
            {
                "title": f"Payment dollars posted within {POSTING_TARGET_DAYS} business days",
                "value": percent(total.share),
                "formula": (
                    f"{dollars(total.on_time)} of {dollars(total.judged)} received "
                    f"({dollars(total.pending)} still inside their {POSTING_TARGET_DAYS} days)"
                ),
                "reference": "at least 95%",
                "status": _status(total.share),
            }
        )
    return cards


def _context(report: ProductivityReport, reader: ReportReader) -> dict[str, Any]:
    flt = report.flt
    links_to_team = reader.role == Role.SUPERVISOR
    people = list(report.people)
    return {
        "report": report,
        "reader": reader,
        "people": people,
        "team": report.team if reader.sees_all else None,
        "charts": _charts(report, reader),
        "kpis": _kpis(report, reader),
        "definitions": [
            d for d in DEFINITIONS if reader.sees_all or not d[0].startswith("Payment")
        ],
        "links_to_team": links_to_team,
        "csv": csv_links(PATH, flt, TABLES),
        "fmt": {"count": count, "percent": percent, "hours": _hours, "dollars": dollars},
    }


@router.get(PATH, response_model=None)
@router.get(PATH + ".csv", response_model=None)
def productivity_page(page: ProductivityPage) -> Response:
    reader = page.reader
    table = page.params.get("table") or "people"
    # Payment posting is the practice's, not a specialist's: not theirs to download.
    if refused := page.refusal(table, TABLES if reader.sees_all else TABLES[:-1]):
        return refused
    report = productivity(
        page.session,
        page.flt,
        page.settings.tz,
        page.filters.today,
        only=None if reader.sees_all else reader.username,
        with_posting=reader.sees_all,
    )
    if page.csv:
        if table == "people":
            return page.export(table, PEOPLE_HEADERS, _people_rows(report, reader.sees_all))
        if table == "daily":
            return page.export(table, *_daily_table(report))
        if table == "escalations":
            return page.export(table, ESCALATION_HEADERS, _escalation_rows(report))
        return page.export(table, POSTING_HEADERS, _posting_rows(report))
    return page.render("pages/reports_productivity.html", _context(report, reader))
