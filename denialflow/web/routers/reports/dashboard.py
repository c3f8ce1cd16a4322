"""The KPI dashboard (/reports): the revenue cycle's headline numbers over the range and
payer, each beside its formula and industry reference with the gap to it, a
month-by-month trend chart per headline KPI, and write-offs by reason
(denialflow/reports/kpis.py computes them).

Every number links to exactly the rows it counts: /reports/claims?kpi=...&from&to&payer
(paginated; /reports/claims.csv for all of them). CSV of the page's tables:
/reports.csv?table=kpis|trend|write_offs (or ?format=csv). Supervisors and admins only:
a specialist gets a 403 page pointing at their own productivity."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from denialflow.reports.charts import chart_spec
from denialflow.reports.kpis import (
    DEFINITIONS,
    KPIS,
    REFERENCES,
    KpiReport,
    Measures,
    Ratio,
    claim_rows,
    kpi_report,
)
from denialflow.reports.period import ReportFilter
from denialflow.web.routers.reports.common import (
    ReportPage,
    count,
    csv_links,
    days,
    dollars,
    page_number,
    pager,
    percent,
    report_page,
)

router = APIRouter(include_in_schema=False)

PATH = "/reports"
CLAIMS_PATH = "/reports/claims"
TABLES = ("kpis", "trend", "write_offs")
PAGE_SIZE = 50


# A specialist is pointed at their own numbers rather than just refused.
OPERATIONS_ONLY = (
    "The KPI dashboard is for supervisors and admins. Your own numbers are on "
    "Reports > Productivity (/reports/productivity)."
)
DashboardPage = Annotated[ReportPage, Depends(report_page("dashboard", OPERATIONS_ONLY))]
ClaimsPage = Annotated[ReportPage, Depends(report_page("dashboard-claims", OPERATIONS_ONLY))]


# --- the headline cards ---------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    value: str
    formula: str
    href: str | None = None
    reference: str | None = None
    status: str | None = None
    raw: Decimal | None = None  # the number, for the CSV
    unit: str = "%"


def _status_and_gap(key: str, value: Decimal | None) -> tuple[str | None, str | None]:
    """How a value compares with its reference ("ok", "warn" within a tenth of the
    target, else "bad") and the reference with the gap to it, in words."""
    if key not in REFERENCES:
        return None, None
    how, target = REFERENCES[key]
    unit = " days" if key == "days_in_ar" else "%"
    points = "days" if key == "days_in_ar" else "points"
    reference = f"{how} {target}{unit}"
    if value is None:
        return None, reference
    gap = value - target
    slack = target / 10
    if how == "under":
        good, near = value < target, value < target + slack
    else:
        good, near = value >= target, value >= target - slack
    status = "ok" if good else ("warn" if near else "bad")
    if gap == 0:
        words = "exactly on it"
    else:
        side = "above" if gap > 0 else "below"
        words = f"{abs(gap)} {points} {side} it"
    return status, f"{reference} (this range: {words})"


def _ratio_text(ratio: Ratio, what: str, of: str, money: bool = False) -> str:
    fmt = dollars if money else count
    return f"{fmt(ratio.part)} {what} of {fmt(ratio.whole)} {of}"


def _aging_link(flt: ReportFilter) -> str:
    # Aging is of today's balances, whatever the range: only the payer carries over.
    return "/reports/aging?" + urlencode(
        {k: v for k, v in (("payer", flt.payer_id), ("basis", "service")) if v}
    )


def _cards(report: KpiReport, link: Any) -> list[Card]:
    t = report.total
    flt = report.flt

    def card(
        key: str,
        title: str,
        value: Decimal | None,
        formula: str,
        href: str | None,
        shown: str | None = None,
    ) -> Card:
        status, reference = _status_and_gap(key, value)
        return Card(
            key=key,
            title=title,
            value=shown if shown is not None else percent(value),
            formula=formula,
            href=href,
            reference=reference,
            status=status,
            raw=value,
        )

    aging = _aging_link(flt)
    return [
        card(
            "initial_denial_rate",
            "Initial denial rate",
            t.initial_denials.value,
            _ratio_text(t.initial_denials, "first answers denied", "first answers")
            + f" (duplicates left out); by dollars {percent(t.initial_denial_dollars.value)}: "
            + _ratio_text(t.initial_denial_dollars, "denied", "charged", money=True),
            link("initial_denials"),
        ),
        card(
            "clean_claim_rate",
            "Clean claim rate",
            t.clean_claims.value,
            _ratio_text(t.clean_claims, "claims", "served in the range")
            + " neither rejected nor corrected before their first answer",
            link("clean"),
        ),
        card(
            "first_pass",
            "First-pass resolution rate",
            t.first_pass.value,
            _ratio_text(t.first_pass, "paid in full", "answers to claims as first sent"),
            link("first_pass_paid"),
        ),
        card(
            "days_in_ar",
            "Net days in A/R",
            t.days_in_ar,
            f"A/R {dollars(t.ar)} at {flt.end.isoformat()} / (net revenue "
            f"{dollars(t.net_revenue)} / {t.days} days)",
            aging,
            shown=days(t.days_in_ar),
        ),
        card(
            "ar_over_90",
            "A/R over 90 days",
            report.ar_over_90.value,
            _ratio_text(
                report.ar_over_90,
                f"owed on claims served before {report.aged_before.isoformat()}",
                "owed today",
                money=True,
            ),
            link("ar_over_90"),
        ),
        card(
            "net_collection_rate",
            "Net collection rate",
            t.net_collection.value,
            f"payer payments {dollars(t.net_collection.part)} / (charges - contractual - "
            f"patient share) {dollars(t.net_collection.whole)} of the claims served in "
            "the range",
            link("claims"),
        ),
        card(
            "primary_denial_rate",
            "Primary denial rate",
            t.primary_denials.value,
            _ratio_text(t.primary_denials, "denied", "answers to claims as first sent"),
            link("primary_denials"),
        ),
        card(
            "remittance_denial_rate",
            "Remittance denial rate (HFMA AR-5)",
            t.remittance_denials.value,
            _ratio_text(t.remittance_denials, "remittances with a denial", "received"),
            link("remittance_denials"),
        ),
        card(
            "overturn_rate",
            "Denial overturn rate",
            t.overturn.value,
            _ratio_text(t.overturn, "answers while appealed paid", "answers while appealed"),
            link("overturned"),
        ),
        card(
            "to_appeal",
            "Days from denial to appeal",
            report.to_appeal.value,
            f"mean over {count(report.to_appeal.count)} denials and underpayments decided "
            "in the range and since appealed",
            link("appeals"),
            shown=days(report.to_appeal.value),
        ),
        card(
            "to_resolution",
            "Days from denial to resolution",
            report.to_resolution.value,
            f"mean over {count(report.to_resolution.count)} denials decided in the range "
            f"and resolved; {count(report.to_resolution.pending)} not resolved yet",
            link("denials"),
            shown=days(report.to_resolution.value),
        ),
        card(
            "denial_write_offs",
            "Denial write-offs (HFMA AR-6)",
            t.denial_write_offs.value,
            _ratio_text(t.denial_write_offs, "written off on denials", "net revenue", money=True),
            link("denial_write_offs"),
        ),
        card(
            "underpayments",
            "Underpayments found",
            Decimal(t.underpaid),
            f"{dollars(t.underpaid_dollars)} left unpaid; recovered since "
            f"{dollars(report.recovered.dollars)} on {count(report.recovered.recovered_claims)} "
            f"of {count(report.recovered.claims)} underpayments",
            link("underpaid"),
            shown=count(t.underpaid),
        ),
    ]


# --- the trend ------------------------------------------------------------------------

TREND = [
    # key, title, value of a month's Measures, the part and whole, kpi list, reference
    ("initial_denial_rate", "Initial denial rate", "initial_denials", "initial_denials"),
    ("clean_claim_rate", "Clean claim rate", "clean_claims", "clean"),
    ("first_pass", "First-pass resolution rate", "first_pass", "first_pass_paid"),
    ("net_collection_rate", "Net collection rate", "net_collection", "claims"),
]


def _month_link(flt: ReportFilter, m: Measures, kpi: str) -> str:
    window = ReportFilter(m.start, m.end, flt.payer_id)
    return f"{CLAIMS_PATH}?{window.query_string(kpi=kpi)}"


def _trend_charts(report: KpiReport) -> list[dict[str, Any]]:
    flt = report.flt
    labels = [first.strftime("%Y-%m") for first, _ in report.trend]
    charts: list[dict[str, Any]] = []
    for key, title, field, kpi in TREND:
        ratios: list[Ratio] = [getattr(m, field) for _, m in report.trend]
        links = [_month_link(flt, m, kpi) for _, m in report.trend]
        reference = REFERENCES.get(key)
        money = field == "net_collection"
        fmt = dollars if money else count
        charts.append(
            {
                "id": f"trend-{key}",
                "title": f"{title} per month",
                "spec": chart_spec(
                    "line",
                    labels,
                    [(f"{title} (%)", [r.value for r in ratios])],
                    unit="percent",
                    reference=reference[1] if reference else None,
                    reference_label=f"reference {reference[0]} {reference[1]}%"
                    if reference
                    else None,
                    links=links,
                ),
                "headers": ["Month", title, "Counted", "Out of"],
                "rows": [
                    [
                        label,
                        {"text": percent(r.value), "href": link},
                        {"text": fmt(r.part), "href": link},
                        fmt(r.whole),
                    ]
                    for label, r, link in zip(labels, ratios, links, strict=True)
                ],
            }
        )
    days_in_ar = [m.days_in_ar for _, m in report.trend]
    aging = _aging_link(flt)
    charts.append(
        {
            "id": "trend-days_in_ar",
            "title": "Net days in A/R per month (A/R at the month's end)",
            "spec": chart_spec(
                "line",
                labels,
                [("Days in A/R", days_in_ar)],
                unit="count",
                reference=REFERENCES["days_in_ar"][1],
                reference_label="reference under 40 days",
            ),
            "headers": ["Month", "Days in A/R", "A/R at the end", "Net revenue", "Days"],
            "rows": [
                [
                    label,
                    {"text": days(m.days_in_ar), "href": aging},
                    dollars(m.ar),
                    {"text": dollars(m.net_revenue), "href": _month_link(flt, m, "claims")},
                    count(m.days),
                ]
                for label, (_, m) in zip(labels, report.trend, strict=True)
            ],
        }
    )
    return charts


# --- CSV ------------------------------------------------------------------------------

KPI_HEADERS = ["KPI", "Value", "Formula", "Reference", "From", "To", "Payer"]
TREND_HEADERS = [
    "Month",
    "From",
    "To",
    "Initial denial rate %",
    "First answers denied",
    "First answers",
    "Clean claim rate %",
    "Clean claims",
    "Claims served",
    "First-pass resolution rate %",
    "Paid on first answer",
    "First answers to claims as first sent",
    "Net collection rate %",
    "Payer payments",
    "Collectible",
    "A/R at the end",
    "Net revenue",
    "Net days in A/R",
]
WRITE_OFF_HEADERS = ["Reason", "Patient balance", "Write-offs", "Amount"]


def _trend_rows(report: KpiReport) -> list[list[object]]:
    return [
        [
            first.strftime("%Y-%m"),
            m.start,
            m.end,
            m.initial_denials.value,
            m.initial_denials.part,
            m.initial_denials.whole,
            m.clean_claims.value,
            m.clean_claims.part,
            m.clean_claims.whole,
            m.first_pass.value,
            m.first_pass.part,
            m.first_pass.whole,
            m.net_collection.value,
            m.net_collection.part,
            m.net_collection.whole,
            m.ar,
            m.net_revenue,
            m.days_in_ar,
        ]
        for first, m in report.trend
    ]


def _write_off_rows(report: KpiReport) -> list[list[object]]:
    return [[w.reason_code, w.patient, w.write_offs, w.amount] for w in report.write_offs]


# --- the pages ------------------------------------------------------------------------


@router.get(PATH, response_model=None)
@router.get(PATH + ".csv", response_model=None)
def dashboard_page(page: DashboardPage) -> Response:
    table = page.params.get("table") or "kpis"
    if refused := page.refusal(table, TABLES):
        return refused
    flt = page.flt
    report = kpi_report(page.session, flt, page.settings.tz, page.filters.today)

    def link(kpi: str) -> str:
        return f"{CLAIMS_PATH}?{flt.query_string(kpi=kpi)}"

    cards = _cards(report, link)
    if page.csv:
        if table == "kpis":
            rows: list[list[object]] = [
                [
                    c.title,
                    c.raw,
                    c.formula,
                    c.reference or "",
                    flt.start,
                    flt.end,
                    flt.payer_id or "",
                ]
                for c in cards
            ]
            return page.export(table, KPI_HEADERS, rows)
        if table == "trend":
            return page.export(table, TREND_HEADERS, _trend_rows(report))
        return page.export(table, WRITE_OFF_HEADERS, _write_off_rows(report))
    write_offs = {
        "spec": chart_spec(
            "bar",
            [w.reason_code + (" (patient)" if w.patient else "") for w in report.write_offs],
            [("Written off ($)", [w.amount for w in report.write_offs])],
            unit="dollars",
        ),
        "headers": ["Reason", "Write-offs", "Amount"],
        "rows": [
            [
                w.reason_code + (" (patient)" if w.patient else ""),
                count(w.write_offs),
                dollars(w.amount),
            ]
            for w in report.write_offs
        ],
    }
    denials_page = "/reports/denials?" + flt.query_string(stage="first")
    context = {
        "report": report,
        "cards": cards[:6],
        "more_cards": cards[6:],
        "charts": _trend_charts(report),
        "write_offs": write_offs,
        "definitions": DEFINITIONS,
        "denials_page": denials_page,
        "empty": report.total.empty,
        "csv": csv_links(PATH, flt, TABLES),
    }
    return page.render("pages/report_dashboard.html", context)


LIST_HEADERS = ["Claim", "Payer", "Date of service", "Day", "What", "Amount"]


@router.get(CLAIMS_PATH, response_model=None)
@router.get(CLAIMS_PATH + ".csv", response_model=None)
def kpi_claims_page(page: ClaimsPage) -> Response:
    """The rows behind one of the dashboard's numbers."""
    kpi = page.params.get("kpi") or ""
    if kpi not in KPIS:
        page.problems.append(f"KPI: {kpi[:40]!r} is not one of {', '.join(KPIS)}.")
    if refused := page.refusal():
        return refused
    session, flt, tz, today = page.session, page.flt, page.settings.tz, page.filters.today
    if page.csv:
        found = claim_rows(session, kpi, flt, tz, today, limit=None)
        return page.export(kpi, LIST_HEADERS, found.rows)
    number = page_number(page.params.get("page"))
    found = None
    if kpi in KPIS:
        found = claim_rows(
            session, kpi, flt, tz, today, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    pages = max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1) if found else 1

    def page_link(n: int) -> str:
        return f"{CLAIMS_PATH}?{flt.query_string(kpi=kpi, page=str(n))}"

    payer_name = page.filters.payers.get
    context = {
        "found": found,
        "claims": [
            {
                "id": claim_id,
                "href": "/claims/" + quote(claim_id, safe="/"),
                "payer": payer_name(payer_id, payer_id),
                "service_date": service_date.isoformat() if service_date else "",
                "day": day.isoformat() if day else "",
                "what": what,
                "amount": dollars(amount) if amount is not None else "",
            }
            for claim_id, payer_id, service_date, day, what, amount in (found.rows if found else [])
        ],
        "kpi": kpi,
        "page": number,
        "pages": pages,
        "pager": pager(number, pages, page_link),
        "csv_href": f"{CLAIMS_PATH}.csv?{flt.query_string(kpi=kpi)}",
        "back": f"{PATH}?{flt.query_string()}",
        "headers": LIST_HEADERS,
        "fmt": {"dollars": dollars, "count": count},
    }
    return page.render("pages/report_kpi_claims.html", context)
