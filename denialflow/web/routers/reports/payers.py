"""The payer scorecards page: per payer, month by month, days to pay, denial rate by
category, first-pass rate, underpayment rate and appeal win rate
(denialflow/reports/payers.py computes them), with every payer side by side over the
range. The numbers link to the claims behind them: the denials report's claim list
(/reports/denials?list=...), which lists any slice of answers.

CSV: ?format=csv&table=payers|days|denials|first_pass|underpayment|appeals (or
/reports/payers.csv?table=...). Supervisors and admins only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from denialflow.reports.charts import chart_spec
from denialflow.reports.denials import category_label
from denialflow.reports.payers import Counts, Scorecard, scorecard
from denialflow.reports.period import ReportFilter
from denialflow.web.deps import Operations
from denialflow.web.routers.reports.common import (
    DASH,
    ReportPage,
    count,
    csv_links,
    days,
    dollars,
    percent,
    report_page,
)

router = APIRouter(include_in_schema=False)

PATH = "/reports/payers"
DENIALS = "/reports/denials"
TABLES = ("payers", "days", "denials", "first_pass", "underpayment", "appeals")
PayersPage = Annotated[ReportPage, Depends(report_page("payers"))]

DEFINITIONS = [
    (
        "Answer",
        "A remittance posted to a claim that paid, underpaid, partly denied or denied it "
        "(not a reversal, a predetermination or an answer to a voided claim). A paid "
        "answer paid with no denial reason: outcome paid (nothing left for the payer) or "
        "underpaid (a payer balance or a shortfall against the contract).",
    ),
    (
        "Days to pay",
        "Calendar days from sending a claim (or its corrected version) to the payer's "
        "first answer to it, for first answers that paid; mean and median over them. The "
        "sending date is the claim's latest submission, which is the one answered unless "
        "the claim was corrected again after a paid answer.",
    ),
    (
        "Denial rate by category",
        "First answers (to the claim as first sent, and to each corrected claim) denied "
        "in full or in part, with their main reason in that category / first answers. "
        "The categories add up to the initial denial rate (target under 5%, typical "
        "9-12%).",
    ),
    (
        "First-pass rate",
        "Answers to the claim as first sent that paid / answers to the claim as first "
        "sent (HFMA's first-pass resolution rate, counted on the payer's answers).",
    ),
    (
        "Underpayment rate",
        "Underpaid answers / paid answers, at every stage.",
    ),
    (
        "Appeal win rate",
        "Answers to appeals that paid / answers to appeals (HFMA's denial overturn rate, "
        "counted per appeal answer; over 40% is typical).",
    ),
    ("Months", "Calendar months of the payer's decision dates on the 835."),
]


def _link(flt: ReportFilter, stage: str, kind: str, category: str | None = None) -> str:
    params = flt.params() | {"stage": stage, "list": kind}
    if category:
        params["category"] = category
    return DENIALS + "?" + urlencode(params) + "#claims"


def _month_filter(flt: ReportFilter, month: date) -> ReportFilter:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    last = date.fromordinal(nxt.toordinal() - 1)
    return replace(flt, start=max(month, flt.start), end=min(last, flt.end))


# --- the measures: (title, unit, value, numerator, denominator, links) ------------------


def _cells(flt: ReportFilter, c: Counts) -> dict[str, Any]:
    """Every measure of one payer-month (or payer-range) as linked cells."""
    paid_first = _link(flt, "first", "paid")
    cells = {
        "mean_days": {"text": days(c.lags.mean), "href": paid_first},
        "median_days": {"text": days(c.lags.median), "href": paid_first},
        "paid_first": {"text": count(c.lags.answers), "href": paid_first},
        "first_answers": {"text": count(c.first_answers), "href": _link(flt, "first", "answers")},
        "first_denied": {"text": count(c.first_denied), "href": _link(flt, "first", "denials")},
        "denial_rate": {"text": percent(c.denial_rate), "href": _link(flt, "first", "denials")},
        "initial_answers": {
            "text": count(c.initial_answers),
            "href": _link(flt, "initial", "answers"),
        },
        "initial_paid": {"text": count(c.initial_paid), "href": _link(flt, "initial", "paid")},
        "first_pass": {"text": percent(c.first_pass_rate), "href": _link(flt, "initial", "paid")},
        "paid_answers": {"text": count(c.paid_answers), "href": _link(flt, "all", "paid")},
        "underpaid": {"text": count(c.underpaid), "href": _link(flt, "all", "underpaid")},
        "underpayment": {
            "text": percent(c.underpayment_rate),
            "href": _link(flt, "all", "underpaid"),
        },
        "appeal_answers": {
            "text": count(c.appeal_answers),
            "href": _link(flt, "appeal", "answers"),
        },
        "appeal_paid": {"text": count(c.appeal_paid), "href": _link(flt, "appeal", "paid")},
        "appeal_win": {"text": percent(c.appeal_win_rate), "href": _link(flt, "appeal", "paid")},
    }
    # Nothing to divide is a dash, not a number: no list behind it.
    return {k: v if v["text"] != DASH else {"text": DASH, "href": None} for k, v in cells.items()}


def _category_cell(flt: ReportFilter, c: Counts, category: str) -> dict[str, str | None]:
    rate = c.category_rate(category)
    return {
        "text": percent(rate),
        "href": None if rate is None else _link(flt, "first", "denials", category),
    }


# (table key, title, chart unit, the value to plot, the table's columns (header, cell key))
MEASURES: list[tuple[str, str, str, Callable[[Counts], Any], list[tuple[str, str]]]] = [
    (
        "days",
        "Days to pay",
        "count",
        lambda c: c.lags.mean,
        [("Mean", "mean_days"), ("Median", "median_days"), ("Paid first answers", "paid_first")],
    ),
    (
        "first_pass",
        "First-pass rate",
        "percent",
        lambda c: c.first_pass_rate,
        [
            ("First-pass rate", "first_pass"),
            ("Initial answers paid", "initial_paid"),
            ("Initial answers", "initial_answers"),
        ],
    ),
    (
        "underpayment",
        "Underpayment rate",
        "percent",
        lambda c: c.underpayment_rate,
        [
            ("Underpayment rate", "underpayment"),
            ("Underpaid", "underpaid"),
            ("Paid answers", "paid_answers"),
        ],
    ),
    (
        "appeals",
        "Appeal win rate",
        "percent",
        lambda c: c.appeal_win_rate,
        [
            ("Appeal win rate", "appeal_win"),
            ("Appeal answers paid", "appeal_paid"),
            ("Appeal answers", "appeal_answers"),
        ],
    ),
]

_RAW: dict[str, Callable[[Counts], object]] = {
    "mean_days": lambda c: c.lags.mean,
    "median_days": lambda c: c.lags.median,
    "paid_first": lambda c: c.lags.answers,
    "first_answers": lambda c: c.first_answers,
    "first_denied": lambda c: c.first_denied,
    "denial_rate": lambda c: c.denial_rate,
    "initial_answers": lambda c: c.initial_answers,
    "initial_paid": lambda c: c.initial_paid,
    "first_pass": lambda c: c.first_pass_rate,
    "paid_answers": lambda c: c.paid_answers,
    "underpaid": lambda c: c.underpaid,
    "underpayment": lambda c: c.underpayment_rate,
    "appeal_answers": lambda c: c.appeal_answers,
    "appeal_paid": lambda c: c.appeal_paid,
    "appeal_win": lambda c: c.appeal_win_rate,
}

PAYER_COLUMNS = [
    ("Mean days to pay", "mean_days"),
    ("Median days to pay", "median_days"),
    ("First answers", "first_answers"),
    ("Denial rate %", "denial_rate"),
    ("First-pass rate %", "first_pass"),
    ("Underpayment rate %", "underpayment"),
    ("Appeal win rate %", "appeal_win"),
]


def _label(month: date) -> str:
    return month.strftime("%Y-%m")


def _measure_view(card: Scorecard, key: str) -> dict[str, Any]:
    _, title, unit, value, columns = next(m for m in MEASURES if m[0] == key)
    flt = card.flt
    labels = [_label(m) for m in card.months]
    links = [_link(_month_filter(flt, m), *_chart_link(key)) for m in card.months]
    return {
        "key": key,
        "title": title,
        "spec": chart_spec(
            "line",
            labels,
            [
                (
                    title + (" (mean days)" if key == "days" else " (%)"),
                    [value(card.by_month[m]) for m in card.months],
                )
            ]
            + (
                [("Days to pay (median days)", [card.by_month[m].lags.median for m in card.months])]
                if key == "days"
                else []
            ),
            unit=unit,  # type: ignore[arg-type]
            links=links,
        ),
        "headers": ["Month", *[h for h, _ in columns]],
        "rows": [
            [_label(m), *[_cells(_month_filter(flt, m), card.by_month[m])[k] for _, k in columns]]
            for m in card.months
        ],
    }


def _chart_link(key: str) -> tuple[str, str]:
    return {
        "days": ("first", "paid"),
        "first_pass": ("initial", "paid"),
        "underpayment": ("all", "underpaid"),
        "appeals": ("appeal", "paid"),
    }[key]


def _denials_view(card: Scorecard) -> dict[str, Any]:
    flt = card.flt
    cats = card.categories
    labels = [_label(m) for m in card.months]
    return {
        "spec": chart_spec(
            "bar",
            labels,
            [
                (category_label(c), [card.by_month[m].category_rate(c) for m in card.months])
                for c in cats
            ],
            unit="percent",
            stacked=True,
            reference=5,
            reference_label="target under 5%",
        ),
        "title": "Denial rate of first answers, by category",
        "headers": ["Month", *[category_label(c) for c in cats], "All categories", "First answers"],
        "rows": [
            [
                _label(m),
                *[_category_cell(_month_filter(flt, m), card.by_month[m], c) for c in cats],
                _cells(_month_filter(flt, m), card.by_month[m])["denial_rate"],
                _cells(_month_filter(flt, m), card.by_month[m])["first_answers"],
            ]
            for m in card.months
        ],
    }


def _payer_rows(card: Scorecard, payers: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for payer_id, name in payers.items():
        c = card.by_payer.get(payer_id)
        if c is None:
            continue
        flt = replace(card.flt, payer_id=payer_id)
        cells = _cells(flt, c)
        out.append(
            {
                "name": name,
                "href": PATH + "?" + urlencode(flt.params()),
                "cells": [cells[k] for _, k in PAYER_COLUMNS],
                "raw": [payer_id, name, *[_RAW[k](c) for _, k in PAYER_COLUMNS]],
            }
        )
    return out


def _csv(
    card: Scorecard, table: str, payers: dict[str, str]
) -> tuple[list[str], list[list[object]]]:
    if table == "payers":
        headers = ["Payer id", "Payer", *[h for h, _ in PAYER_COLUMNS]]
        return headers, [r["raw"] for r in _payer_rows(card, payers)]
    if table == "denials":
        cats = card.categories
        headers = [
            "Month",
            *[category_label(c) + " %" for c in cats],
            "All categories %",
            "First answers",
        ]
        rows: list[list[object]] = [
            [
                _label(m),
                *[card.by_month[m].category_rate(c) for c in cats],
                card.by_month[m].denial_rate,
                card.by_month[m].first_answers,
            ]
            for m in card.months
        ]
        return headers, rows
    _, _, _, _, columns = next(m for m in MEASURES if m[0] == table)
    headers = ["Month", *[h for h, _ in columns]]
    return headers, [
        [_label(m), *[_RAW[k](card.by_month[m]) for _, k in columns]] for m in card.months
    ]


@router.get(PATH, response_model=None)
@router.get(PATH + ".csv", response_model=None)
def payers_page(_allowed: Operations, page: PayersPage) -> Response:
    table = page.params.get("table") or "payers"
    if refused := page.refusal(table, TABLES):
        return refused
    flt, payers = page.flt, page.filters.payers
    card = scorecard(page.session, flt)
    if page.csv:
        headers, rows = _csv(card, table, payers)
        return page.export(table, headers, rows)
    context = {
        "scope": payers.get(flt.payer_id, flt.payer_id) if flt.payer_id else "Every payer",
        "card": card,
        "total": _cells(flt, card.total),
        "payer_headers": [h for h, _ in PAYER_COLUMNS],
        "payer_rows": _payer_rows(card, payers),
        "denials": _denials_view(card),
        "measures": [_measure_view(card, key) for key, *_ in MEASURES],
        "definitions": DEFINITIONS,
        "csv": csv_links(PATH, flt, TABLES),
        "dollars": dollars,
    }
    return page.render("pages/report_payers.html", context)
