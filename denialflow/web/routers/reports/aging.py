"""The A/R aging report (denialflow/reports/aging.py computes it): today's open balances
by age bucket and payer, insurance and patient apart, the share over 90 days and the
oldest claims. Every number links to the claims behind it:

    /reports/aging?bucket=0-30|31-60|61-90|91-120|over-120|over-90|all
                  &party=insurance|patient|owed|credit|any&payer=...&basis=service|submission

lists exactly those open claims, a page at a time, and downloads them as CSV
(/reports/aging.csv?... or ?format=csv). Without a bucket, the CSV is a table of the
page: ?table=buckets (the default) or ?table=oldest.

Supervisors and admins see every claim (read from claim_summary); a specialist sees the
claims with an open work item in their queues (read from the claim rows)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from denialflow.models.tables import ClaimSummary
from denialflow.reports.aging import (
    BASES,
    BUCKETS,
    DEFINITIONS,
    OVER_90_TARGET,
    PAGE_SIZE,
    PARTIES,
    SPANS,
    AgedClaim,
    AgingReport,
    AgingScope,
    Basis,
    aging,
    bucket_claims,
    every_bucket_claim,
    member_queues,
    oldest_claims,
)
from denialflow.reports.charts import chart_spec
from denialflow.reports.period import FROM, TO, ReportFilter
from denialflow.web.deps import ReportReader
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

PATH = "/reports/aging"
TABLES = ("buckets", "oldest")
AgingPage = Annotated[ReportPage, Depends(report_page("aging"))]


@dataclass(frozen=True)
class View:
    """What the page shows: the scope, whether the range is "every date", and the
    names it needs to write links and labels."""

    scope: AgingScope
    all_dates: bool
    payers: dict[str, str]
    queues: list[tuple[str, str]] | None

    def params(self, **extra: str | None) -> dict[str, str]:
        flt = self.scope.flt
        values: dict[str, str] = {}
        if not self.all_dates:
            values[FROM], values[TO] = flt.start.isoformat(), flt.end.isoformat()
        if flt.payer_id:
            values["payer"] = flt.payer_id
        values["basis"] = self.scope.basis
        for key, value in extra.items():
            if value is None:
                continue
            if value == "":
                values.pop(key, None)
            else:
                values[key] = value
        return values

    def link(self, path: str = PATH, **extra: str | None) -> str:
        return f"{path}?{urlencode(self.params(**extra))}"

    def drill(self, bucket: str, party: str, payer: str | None = None) -> str:
        """The claims behind one number: `payer` narrows to one payer (the filter's
        payer otherwise)."""
        return self.link(bucket=bucket, party=party, payer=payer, page=None)

    def payer_name(self, payer_id: str) -> str:
        return self.payers.get(payer_id, payer_id)


def _open_span(session: Session, basis: Basis, payer_id: str | None) -> tuple[Any, Any]:
    """The oldest and newest basis dates of the open claims (of the payer), read from
    claim_summary; (None, None) when nothing is open."""
    day = col(ClaimSummary.service_date if basis == "service" else ClaimSummary.submitted_on)
    query = select(func.min(day), func.max(day)).where(col(ClaimSummary.open_claims) != 0)
    if payer_id:
        query = query.where(ClaimSummary.payer_id == payer_id)
    first, last = session.exec(query).one()
    return first, last


def _view(page: ReportPage) -> View:
    """The page's scope; a basis it cannot use is one of `page.problems`."""
    session, filters, params = page.session, page.filters, page.params
    raw_basis = (params.get("basis") or "service").strip()
    basis: Basis = "service"
    if raw_basis == "submission":
        basis = "submission"
    elif raw_basis != "service":
        page.problems.append(
            f"Basis: {raw_basis[:40]!r} is not 'service' or 'submission'; "
            "aging from the date of service."
        )
    flt = filters.flt
    # No dates asked for: every open claim, whatever its date (the shared default of
    # the last 13 months would leave the oldest A/R out of an aging report).
    all_dates = not (params.get(FROM) or "").strip() and not (params.get(TO) or "").strip()
    if all_dates:
        first, last = _open_span(session, basis, flt.payer_id)
        today = filters.today
        flt = ReportFilter(
            start=min(first or today, today), end=max(last or today, today), payer_id=flt.payer_id
        )
    reader = page.reader
    queues = None if reader.sees_all else member_queues(session, reader.username)
    scope = AgingScope(
        flt=flt,
        basis=basis,
        today=filters.today,
        queues=None if queues is None else tuple(name for name, _ in queues),
    )
    return View(scope, all_dates, filters.payers, queues)


# --- the tables, as CSV rows (raw values) --------------------------------------------------

BUCKET_HEADERS = [
    "Payer id",
    "Payer",
    "Age bucket",
    "Open claims",
    "Insurance A/R",
    "Patient A/R",
    "A/R",
    "Credit balances",
]


def _bucket_rows(report: AgingReport, view: View) -> list[list[object]]:
    rows: list[list[object]] = []
    for payer_id in _payers_by_name(report, view):
        for bucket in BUCKETS:
            a = report.cell(payer_id, bucket.key)
            rows.append(
                [
                    payer_id,
                    view.payer_name(payer_id),
                    bucket.label,
                    a.claims,
                    a.insurance,
                    a.patient,
                    a.owed,
                    a.credit,
                ]
            )
    return rows


CLAIM_HEADERS = [
    "Claim",
    "Patient",
    "Payer id",
    "Payer",
    "Date of service",
    "Submitted on",
    "Age (days)",
    "Status",
    "Balance",
    "Insurance A/R",
    "Patient A/R",
    "Credit",
]


def _claim_rows(claims: Any, view: View) -> list[list[object]]:
    return [
        [
            c.id,
            c.patient_name,
            c.payer_id,
            view.payer_name(c.payer_id),
            c.service_date,
            c.submitted_on,
            c.age,
            c.status,
            c.balance,
            c.insurance,
            c.patient,
            c.credit,
        ]
        for c in claims
    ]


def _payers_by_name(report: AgingReport, view: View) -> list[str]:
    return sorted(report.payer_ids, key=lambda p: (view.payer_name(p).lower(), p))


# --- the page ------------------------------------------------------------------------------


def _over_90_status(share: Decimal | None) -> str | None:
    if share is None:
        return None
    if share < OVER_90_TARGET:
        return "ok"
    return "warn" if share < OVER_90_TARGET + 5 else "bad"


def _kpis(report: AgingReport, view: View) -> list[dict[str, Any]]:
    total, over = report.total, report.over_90
    return [
        {
            "title": "A/R",
            "value": dollars(total.owed),
            "formula": f"insurance A/R + patient A/R of {total.claims:,} open claims",
            "href": view.drill("all", "owed"),
        },
        {
            "title": "Insurance A/R",
            "value": dollars(total.insurance),
            "formula": "balance less what the patient still owes, when above zero",
            "href": view.drill("all", "insurance"),
        },
        {
            "title": "Patient A/R",
            "value": dollars(total.patient),
            "formula": "the patient's responsibility less their payments, at most the balance",
            "href": view.drill("all", "patient"),
        },
        {
            "title": "Credit balances",
            "value": dollars(total.credit),
            "formula": "balances below zero: money owed back (not netted against A/R)",
            "href": view.drill("all", "credit"),
        },
        {
            "title": "A/R over 90 days",
            "value": percent(report.over_90_share),
            "formula": f"{dollars(over.owed)} of {dollars(total.owed)} A/R is on claims "
            "91 or more days old",
            "reference": "under 10%",
            "status": _over_90_status(report.over_90_share),
            "href": view.drill("over-90", "owed"),
        },
    ]


def _link(text: str, href: str) -> dict[str, str] | str:
    """A number linking to its claims; a zero links nowhere (there are none to list)."""
    if text in ("0", "$0.00"):
        return text
    return {"text": text, "href": href}


def _totals_rows(report: AgingReport, view: View) -> list[list[Any]]:
    rows: list[list[Any]] = []
    spans = [(b.key, b.label) for b in BUCKETS] + [("all", "Total")]
    for key, label in spans:
        a = report.total if key == "all" else report.bucket_total(key)
        share = _share_text(report, key)
        rows.append(
            [
                label,
                _link(count(a.claims), view.drill(key, "any")),
                _link(dollars(a.insurance), view.drill(key, "insurance")),
                _link(dollars(a.patient), view.drill(key, "patient")),
                _link(dollars(a.owed), view.drill(key, "owed")),
                share,
                _link(dollars(a.credit), view.drill(key, "credit")),
            ]
        )
    return rows


def _share_text(report: AgingReport, key: str) -> str:
    if key == "all":
        return percent(Decimal(100) if report.total.owed > 0 else None)
    return percent(report.bucket_share(key))


def _party_chart(report: AgingReport, view: View, party: str) -> dict[str, Any]:
    payers = _payers_by_name(report, view)
    labels = [view.payer_name(p) for p in payers]
    datasets = [(b.label, [report.cell(p, b.key).amount(party) for p in payers]) for b in BUCKETS]
    rows = []
    for payer_id, label in zip(payers, labels, strict=True):
        row: list[Any] = [label]
        for b in BUCKETS:
            value = report.cell(payer_id, b.key).amount(party)
            row.append(_link(dollars(value), view.drill(b.key, party, payer_id)))
        total = report.payer_total(payer_id).amount(party)
        row.append(_link(dollars(total), view.drill("all", party, payer_id)))
        rows.append(row)
    who = "Insurance" if party == "insurance" else "Patient"
    return {
        "spec": chart_spec(
            "bar",
            labels,
            datasets,
            unit="dollars",
            stacked=True,
            links=[view.drill("all", party, p) for p in payers],
        ),
        "title": f"{who} A/R per payer, by age",
        "headers": ["Payer", *(b.label for b in BUCKETS), "Total"],
        "rows": rows,
    }


def _count_rows(report: AgingReport, view: View) -> list[list[Any]]:
    rows = []
    for payer_id in _payers_by_name(report, view):
        row: list[Any] = [view.payer_name(payer_id)]
        for b in BUCKETS:
            row.append(
                _link(
                    count(report.cell(payer_id, b.key).claims), view.drill(b.key, "any", payer_id)
                )
            )
        total = report.payer_total(payer_id)
        row.append(_link(count(total.claims), view.drill("all", "any", payer_id)))
        row.append(_link(dollars(total.credit), view.drill("all", "credit", payer_id)))
        rows.append(row)
    return rows


def _claim_cells(c: AgedClaim, view: View) -> dict[str, Any]:
    return {
        "id": c.id,
        "href": f"/claims/{quote(c.id, safe='')}",
        "patient": c.patient_name,
        "payer": view.payer_name(c.payer_id),
        "service_date": c.service_date.isoformat(),
        "submitted_on": c.submitted_on.isoformat(),
        "age": c.age,
        "status": c.status.replace("_", " "),
        "balance": dollars(c.balance),
        "insurance": dollars(c.insurance),
        "patient_part": dollars(c.patient),
    }


def _scope_words(view: View) -> str:
    flt = view.scope.flt
    basis = BASES[view.scope.basis]
    today = view.scope.today.isoformat()
    words = f"Open balances as of today, {today} (the practice's day), aged from the {basis}"
    if view.all_dates:
        words += "; every open claim, whatever its date"
    else:
        words += f"; claims with a {basis} from {flt.start.isoformat()} to {flt.end.isoformat()}"
    if flt.payer_id:
        words += f"; {view.payer_name(flt.payer_id)} only"
    return words + "."


def _base_context(view: View, reader: ReportReader) -> dict[str, Any]:
    flt = view.scope.flt
    return {
        "view": view,
        "reader": reader,
        "flt": flt,
        "form_from": "" if view.all_dates else flt.start.isoformat(),
        "form_to": "" if view.all_dates else flt.end.isoformat(),
        "bases": BASES,
        "basis": view.scope.basis,
        "scope_words": _scope_words(view),
        "queues": view.queues,
        "drill": None,
    }


@router.get(PATH, response_model=None)
@router.get(PATH + ".csv", response_model=None)
def aging_page(page: AgingPage) -> Response:
    session, reader, params = page.session, page.reader, page.params
    view = _view(page)
    bucket = (params.get("bucket") or "").strip()
    if bucket:
        party = (params.get("party") or "any").strip()
        if bucket not in SPANS:
            page.problems.append(f"Bucket: {bucket[:40]!r} is not one of {', '.join(SPANS)}.")
        if party not in PARTIES:
            page.problems.append(f"Party: {party[:40]!r} is not one of {', '.join(PARTIES)}.")
        if refused := page.refusal():
            return refused
        if bucket in SPANS and party in PARTIES:
            return _drill_down(page, view, bucket, party)
    table = params.get("table") or "buckets"
    if refused := page.refusal(table, TABLES):
        return refused
    if page.csv:
        if table == "oldest":
            rows = _claim_rows(oldest_claims(session, view.scope), view)
            return page.export("oldest", CLAIM_HEADERS, rows, view.scope.flt)
        report = aging(session, view.scope)
        rows = _bucket_rows(report, view)
        return page.export("buckets", BUCKET_HEADERS, rows, view.scope.flt)

    report = aging(session, view.scope)
    oldest = oldest_claims(session, view.scope)
    context = _base_context(view, reader) | {
        "kpis": _kpis(report, view),
        "totals_headers": [
            "Age",
            "Open claims",
            "Insurance A/R",
            "Patient A/R",
            "A/R",
            "Share of A/R",
            "Credit balances",
        ],
        "totals_rows": _totals_rows(report, view),
        "insurance_chart": _party_chart(report, view, "insurance"),
        "patient_chart": _party_chart(report, view, "patient"),
        "count_headers": ["Payer", *(b.label for b in BUCKETS), "All", "Credit balances"],
        "count_rows": _count_rows(report, view),
        "oldest": [_claim_cells(c, view) for c in oldest],
        "definitions": DEFINITIONS,
        "csv": {t: view.link(PATH + ".csv", table=t) for t in TABLES},
    }
    return page.render("pages/report_aging.html", context)


def _drill_down(page: ReportPage, view: View, bucket: str, party: str) -> Response:
    span = SPANS[bucket]
    if page.csv:
        rows = _claim_rows(every_bucket_claim(page.session, view.scope, bucket, party), view)
        table = f"claims-{bucket}-{party}-{view.scope.basis}"
        return page.export(table, CLAIM_HEADERS, rows, view.scope.flt)
    claims = bucket_claims(
        page.session,
        view.scope,
        bucket,
        party,
        page=page_number(page.params.get("page")),
        per_page=PAGE_SIZE,
    )

    def page_link(number: int) -> str:
        return view.link(bucket=bucket, party=party, page=str(number))

    context = _base_context(view, page.reader) | {
        "drill": {
            "bucket": bucket,
            "party": party,
            "title": f"Open claims {span.label} old: {PARTIES[party]}",
            "claims": [_claim_cells(c, view) for c in claims.claims],
            "count": count(claims.totals.claims),
            "amount": dollars(claims.totals.amount(party)),
            "page": claims.page,
            "pages": claims.pages,
            **pager(claims.page, claims.pages, page_link),
            "csv": view.link(PATH + ".csv", bucket=bucket, party=party, page=""),
            "back": view.link(bucket="", party="", page=""),
        },
    }
    return page.render("pages/report_aging.html", context)
