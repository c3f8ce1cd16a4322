"""The denials report page: payer -> denial category -> reason code -> the claims, with
denied dollars and the share of answers denied at each level, a month-by-month chart of
the slice and a bar chart of its breakdown (denialflow/reports/denials.py computes them).

Query: from, to, payer (the shared filters), stage (first: initial and resubmission
answers, the default; all; or one stage), category, reason ('CO-50', or 'none'), list
(1 or denials, answers, paid, underpaid: the claims behind a number), page. Every number
links to the claim list of exactly the rows it counts. CSV: ?format=csv&table=
breakdown|months|claims (or /reports/denials.csv?table=...). Supervisors and admins only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from denialflow.reports import denials as report
from denialflow.reports.charts import chart_spec
from denialflow.reports.denials import (
    LISTS,
    NO_REASON,
    STAGES,
    Breakdown,
    BreakdownRow,
    ClaimPage,
    ClaimRow,
    MonthRow,
    Slice,
)
from denialflow.web.deps import Operations
from denialflow.web.routers.reports.common import (
    ReportPage,
    count,
    dollars,
    page_number,
    pager,
    percent,
    report_page,
)

router = APIRouter(include_in_schema=False)

PATH = "/reports/denials"
TABLES = ("breakdown", "months", "claims")
DenialsPage = Annotated[ReportPage, Depends(report_page("denials"))]
# The industry's initial denial rate reference (DOMAIN.md, KPIs).
REFERENCE = 5

LEVEL_TITLES = {
    "payer": "Payer",
    "category": "Denial category",
    "reason": "Reason code",
    "claims": "Reason code",
}

DEFINITIONS = [
    (
        "Answer",
        "A remittance posted to a claim at the chosen stages (by default the first answer "
        "to each submission: to the claim as first sent, and to each corrected claim) "
        "that paid, underpaid, partly denied or denied it. Reversals, predeterminations "
        "and answers to voided claims are not counted.",
    ),
    (
        "Denial",
        "An answer that paid nothing (or said CLP02 4), or paid part with a denial reason "
        "for the rest (partial). It is counted once, under its main reason: the largest "
        "adjustment that is neither contractual nor the patient's share, and that "
        "reason's category.",
    ),
    (
        "Denied dollars",
        "The answer's adjustments other than contractual ones and the patient's share (the "
        "payer's unpaid balance when a denial gives no reason).",
    ),
    (
        "Share of answers denied",
        "Denials in the row / answers of the row's payer (every payer's when the row is a "
        "category or reason), so a payer's rows add up to its denial rate. With first "
        "answers this is the initial denial rate (HFMA): under 5% is the target, 9-12% "
        "typical. The HFMA rate leaves out duplicate denials (CARC 18); they are the "
        "'Duplicate' category here, to subtract.",
    ),
    (
        "Dates",
        "The payer's decision date on the 835; a month is a calendar month of them.",
    ),
    (
        "Reason wording",
        "Beside each reason code is our own recommended next step for it, not X12's "
        "description of the code.",
    ),
]

BREAKDOWN_HEADERS = ["Key", "Name", "Answers", "Denials", "Denied dollars", "Share denied %"]
MONTH_HEADERS = ["Month", "Answers", "Denials", "Denied dollars", "Share denied %"]
CLAIM_HEADERS = [
    "Claim",
    "Payer",
    "Date of service",
    "Decision date",
    "Stage",
    "Outcome",
    "Denial category",
    "Reason",
    "Reason wording (ours)",
    "Paid",
    "Denied amount",
    "Claim status",
    "Claim balance",
]


def url(s: Slice, **extra: str | None) -> str:
    return PATH + "?" + urlencode(s.params(**extra))


def _list_url(s: Slice, kind: str = "denials") -> str:
    return url(s, list=kind) + "#claims"


def _breakdown_rows(b: Breakdown) -> list[list[object]]:
    return [[r.key, r.label, r.answers, r.denials, r.denied, r.share] for r in b.rows] + [
        ["", b.total.label, b.total.answers, b.total.denials, b.total.denied, b.total.share]
    ]


def _month_rows(rows: list[MonthRow]) -> list[list[object]]:
    return [[m.label, m.answers, m.denials, m.denied, m.share] for m in rows]


def _claim_rows(rows: list[ClaimRow]) -> list[list[object]]:
    return [
        [
            r.claim_id,
            r.payer,
            r.service_date,
            r.decision_date,
            r.stage,
            r.outcome,
            r.category,
            r.reason,
            r.wording,
            r.paid,
            r.denied,
            r.status,
            r.balance,
        ]
        for r in rows
    ]


def _row_view(s: Slice, b: Breakdown, row: BreakdownRow) -> dict[str, Any]:
    narrow = s.narrowed(b.level, row.key) if row.key else s
    # The answers a row's share is out of: its payer's, or the slice's when not a payer.
    answers_of = narrow if b.level == "payer" else s
    answers_of = Slice(answers_of.flt, answers_of.stage)
    return {
        "key": row.key,
        "label": row.label,
        "wording": report.reason_wording(row.key) if b.level == "reason" else "",
        "drill": url(narrow) if row.key else None,
        "answers": {"text": count(row.answers), "href": _list_url(answers_of, "answers")},
        "denials": {"text": count(row.denials), "href": _list_url(narrow)},
        "denied": {"text": dollars(row.denied), "href": _list_url(narrow)},
        "share": {
            "text": percent(row.share),
            "href": None if row.share is None else _list_url(narrow),
        },
    }


def _crumbs(s: Slice, payers: dict[str, str]) -> list[tuple[str, str | None]]:
    """(label, link) from every payer down to the slice; the last is where we are."""
    top = Slice(replace(s.flt, payer_id=None), s.stage)
    crumbs: list[tuple[str, str | None]] = [("Every payer", url(top))]
    here = top
    if s.flt.payer_id:
        here = here.narrowed("payer", s.flt.payer_id)
        crumbs.append((payers.get(s.flt.payer_id, s.flt.payer_id), url(here)))
    if s.category:
        here = here.narrowed("category", s.category)
        crumbs.append((report.category_label(s.category), url(here)))
    if s.reason:
        here = here.narrowed("reason", s.reason)
        crumbs.append((s.reason if s.reason != NO_REASON else "No reason code", url(here)))
    return [
        (label, None if i == len(crumbs) - 1 else link) for i, (label, link) in enumerate(crumbs)
    ]


def _charts(s: Slice, b: Breakdown, month_rows: list[MonthRow]) -> dict[str, Any]:
    labels = [m.label for m in month_rows]
    month_links = [_list_url(s.in_month(m.month)) for m in month_rows]
    first = s.stage == "first"
    by_month = {
        "spec": chart_spec(
            "bar",
            labels,
            [("Denials", [m.denials for m in month_rows])],
            links=month_links,
        ),
        "title": "Denials per month",
        "headers": ["Month", "Answers", "Denials", "Denied dollars", "Share denied"],
        "rows": [
            [
                m.label,
                {
                    "text": count(m.answers),
                    "href": _list_url(Slice(s.in_month(m.month).flt, s.stage), "answers"),
                },
                {"text": count(m.denials), "href": link},
                {"text": dollars(m.denied), "href": link},
                {"text": percent(m.share), "href": None if m.share is None else link},
            ]
            for m, link in zip(month_rows, month_links, strict=True)
        ],
    }
    share = chart_spec(
        "line",
        labels,
        [("Share of answers denied (%)", [m.share for m in month_rows])],
        unit="percent",
        reference=REFERENCE if first else None,
        reference_label="target under 5%" if first else None,
        links=month_links,
    )
    shown = b.rows[:20]
    breakdown_spec = chart_spec(
        "bar",
        [r.label for r in shown],
        [("Denials", [r.denials for r in shown])],
        links=[url(s.narrowed(b.level, r.key)) for r in shown] if b.level != "claims" else None,
    )
    return {"by_month": by_month, "share": share, "breakdown": breakdown_spec}


def _claim_view(page: ClaimPage, s: Slice, kind: str) -> dict[str, Any]:
    def page_url(n: int) -> str:
        return url(s, list=kind, page=str(n)) + "#claims"

    return {
        "page": page,
        "title": LISTS[kind][0],
        "rows": page.rows,
        **pager(page.page, page.pages, page_url),
        "csv": PATH + ".csv?" + urlencode(s.params(table="claims", list=kind)),
        "first_row": (page.page - 1) * page.per_page + 1 if page.rows else 0,
        "last_row": (page.page - 1) * page.per_page + len(page.rows),
    }


def _kind(raw: str | None, s: Slice, problems: list[str]) -> str | None:
    """Which claim list to show: from `list`, or the denials once a reason is chosen."""
    if raw is None or raw == "":
        return "denials" if s.level == "claims" else None
    if raw in ("1", "denials"):
        return "denials"
    if raw in LISTS:
        return raw
    problems.append(f"List: {raw[:40]!r} is not one of 1, {', '.join(LISTS)}.")
    return "denials" if s.level == "claims" else None


@router.get(PATH, response_model=None)
@router.get(PATH + ".csv", response_model=None)
def denials_page(_allowed: Operations, page: DenialsPage) -> Response:
    session, params = page.session, page.params
    s, problems = report.parse_slice(params, page.flt)
    page.problems += problems
    kind = _kind(params.get("list"), s, page.problems)
    table = params.get("table") or "breakdown"
    if refused := page.refusal(table, TABLES):
        return refused

    if page.csv and table == "claims":
        return page.export(
            table, CLAIM_HEADERS, _claim_rows(report.all_claims(session, s, kind or "denials"))
        )
    b = report.breakdown(session, s, page.filters.payers)
    if page.csv and table == "breakdown":
        headers = [LEVEL_TITLES[b.level], *BREAKDOWN_HEADERS[1:]]
        return page.export(table, headers, _breakdown_rows(b))
    month_rows = report.by_month(session, s)
    if page.csv:
        return page.export(table, MONTH_HEADERS, _month_rows(month_rows))

    claims = None
    if kind is not None:
        claims = _claim_view(
            report.claim_page(session, s, kind, page_number(params.get("page"))), s, kind
        )
    total = _row_view(s, b, b.total)
    context = {
        "s": s,
        "stages": {k: v[0] for k, v in STAGES.items()},
        "level": b.level,
        "level_title": LEVEL_TITLES[b.level],
        "rows": [_row_view(s, b, r) for r in b.rows],
        "total": total,
        "totals": b.total,
        "crumbs": _crumbs(s, page.filters.payers),
        "charts": _charts(s, b, month_rows),
        "claims": claims,
        "category_label": report.category_label,
        "wording": report.reason_wording(s.reason) if s.reason else "",
        "reference": REFERENCE,
        "definitions": DEFINITIONS,
        "csv": {t: PATH + ".csv?" + urlencode(s.params(table=t)) for t in ("breakdown", "months")},
        "fmt": {"count": count, "percent": percent, "dollars": dollars},
    }
    return page.render("pages/report_denials.html", context)
