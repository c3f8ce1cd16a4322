"""Payer scorecards on a small practice built by the real claim machine
(tests/reports/denial_claims.py), on SQLite and PostgreSQL: each measure's known value
per payer and per month, and every number's link landing on exactly the claims it
counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.reports.denials import LISTS, claim_page, parse_slice
from denialflow.reports.payers import Counts, Lags, scorecard
from denialflow.reports.period import ReportFilter, parse_filter
from denialflow.web.routers.reports.payers import _category_cell, _cells, _month_filter
from tests.reports.denial_claims import AETNA, MARCH_APRIL, MEDICARE, UHC, build

D = Decimal
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture
def practice(any_engine: Engine) -> Engine:
    build(any_engine)
    return any_engine


def test_each_payer_over_the_range(practice: Engine) -> None:
    with Session(practice) as session:
        card = scorecard(session, MARCH_APRIL)
    uhc, medicare, aetna = card.by_payer[UHC], card.by_payer[MEDICARE], card.by_payer[AETNA]
    # UHC: 8 first answers (U6 twice), 7 of them denials; 1 of 7 initial answers paid;
    # the one appeal paid; U1 paid 10 days after it was sent.
    assert (uhc.first_answers, dict(uhc.denied_by_category)) == (
        8,
        {"medical_necessity": 3, "missing_information": 2, "authorization": 1, "bundling": 1},
    )
    assert uhc.category_rate("medical_necessity") == D("37.5")
    assert uhc.denial_rate == D("87.5")
    assert (uhc.initial_paid, uhc.initial_answers, uhc.first_pass_rate) == (1, 7, D("14.3"))
    assert (uhc.underpaid, uhc.paid_answers, uhc.underpayment_rate) == (0, 2, D("0.0"))
    assert (uhc.appeal_paid, uhc.appeal_answers, uhc.appeal_win_rate) == (1, 1, D("100.0"))
    assert (uhc.lags.mean, uhc.lags.median, uhc.lags.answers) == (D("10.0"), D("10.0"), 1)
    # Medicare: M1 paid after 20 days, M3 underpaid after 13, M2 denied; no appeals.
    assert (medicare.first_pass_rate, medicare.underpayment_rate) == (D("66.7"), D("50.0"))
    assert (medicare.lags.mean, medicare.lags.median) == (D("16.5"), D("16.5"))
    assert medicare.appeal_win_rate is None  # no appeal answered: a gap, not 0%
    assert (aetna.denial_rate, aetna.first_pass_rate, aetna.lags.mean) == (
        D("0.0"),
        D("100.0"),
        D("4.0"),
    )
    # Payers that did not answer in the range have no scorecard row.
    assert set(card.by_payer) == {UHC, MEDICARE, AETNA}


def test_one_payer_month_by_month(practice: Engine) -> None:
    with Session(practice) as session:
        card = scorecard(session, replace(MARCH_APRIL, payer_id=UHC))
    march, april = card.by_month[MARCH], card.by_month[APRIL]
    assert (march.first_answers, march.first_denied, april.first_answers, april.first_denied) == (
        6,
        5,
        2,
        2,
    )
    assert (march.appeal_answers, april.appeal_answers, april.appeal_win_rate) == (0, 1, D("100.0"))
    assert (march.lags.mean, april.lags.mean) == (D("10.0"), None)
    assert card.categories == [
        "authorization",
        "bundling",
        "medical_necessity",
        "missing_information",
    ]
    # The filter's payer only: Medicare's timely filing denial is not in UHC's months.
    assert card.total.first_answers == 8
    assert "timely_filing" not in card.total.denied_by_category


def test_the_median_of_a_histogram() -> None:
    lags = Lags()
    for days, n in ((3, 1), (10, 2), (40, 1)):
        lags.days[days] += n
    assert (lags.answers, lags.mean, lags.median) == (4, D("15.8"), D("10.0"))
    lags.days[40] += 1
    assert lags.median == D("10.0")
    lags.days[41] += 2  # 3 10 10 40 40 41 41
    assert lags.median == D("40.0")
    assert Lags().median is None and Lags().mean is None


def _follow(session: Session, href: str) -> list[str]:
    """The claim ids of the list a link opens, as the denials page reads its query."""
    query = dict(parse_qsl(urlsplit(href).query))
    assert urlsplit(href).path == "/reports/denials"
    flt, problems = parse_filter(query, date(2026, 5, 1), {UHC, MEDICARE, AETNA})
    s, more = parse_slice(query, flt)
    assert problems == more == []
    kind = {"1": "denials"}.get(query["list"], query["list"])
    assert kind in LISTS
    page = claim_page(session, s, kind)
    assert page.pages == 1
    return sorted(r.claim_id for r in page.rows)


EXPECTED = {
    # (payer, month or None) -> cell -> the claims behind it
    (UHC, None): {
        "paid_first": ["U1"],
        "first_answers": ["U1", "U2", "U3", "U4", "U5", "U6", "U6", "U7"],
        "first_denied": ["U2", "U3", "U4", "U5", "U6", "U6", "U7"],
        "initial_answers": ["U1", "U2", "U3", "U4", "U5", "U6", "U7"],
        "initial_paid": ["U1"],
        "paid_answers": ["U1", "U7"],
        "underpaid": [],
        "appeal_answers": ["U7"],
        "appeal_paid": ["U7"],
    },
    (MEDICARE, None): {
        "paid_first": ["M1", "M3"],
        "first_denied": ["M2"],
        "initial_paid": ["M1", "M3"],
        "paid_answers": ["M1", "M3"],
        "underpaid": ["M3"],
        "appeal_answers": [],
    },
    (UHC, APRIL): {
        "first_answers": ["U3", "U6"],
        "first_denied": ["U3", "U6"],
        "appeal_paid": ["U7"],
        "paid_first": [],
    },
    (None, MARCH): {
        "paid_first": ["A1", "M1", "M3", "U1"],
        "underpaid": ["M3"],
        "first_denied": ["M2", "U2", "U4", "U5", "U6", "U7"],
    },
}


def _counted(c: Counts, key: str) -> int:
    return {
        "paid_first": c.lags.answers,
        "first_answers": c.first_answers,
        "first_denied": c.first_denied,
        "initial_answers": c.initial_answers,
        "initial_paid": c.initial_paid,
        "paid_answers": c.paid_answers,
        "underpaid": c.underpaid,
        "appeal_answers": c.appeal_answers,
        "appeal_paid": c.appeal_paid,
    }[key]


def test_every_number_links_to_exactly_its_claims(practice: Engine) -> None:
    with Session(practice) as session:
        for (payer, month), cells in EXPECTED.items():
            flt = replace(MARCH_APRIL, payer_id=payer)
            card = scorecard(session, flt)
            counts = card.total if month is None else card.by_month[month]
            shown = _cells(flt if month is None else _month_filter(flt, month), counts)
            for key, claims in cells.items():
                assert _follow(session, shown[key]["href"]) == claims, (payer, month, key)
                assert _counted(counts, key) == len(claims), (payer, month, key)
        # A category's rate in a month links to that category's denials in that month.
        card = scorecard(session, replace(MARCH_APRIL, payer_id=UHC))
        march = _month_filter(replace(MARCH_APRIL, payer_id=UHC), MARCH)
        cell = _category_cell(march, card.by_month[MARCH], "medical_necessity")
        assert cell["text"] == "33.3%"
        assert _follow(session, cell["href"]) == ["U2", "U7"]


def test_a_month_cut_by_the_range_keeps_the_range() -> None:
    flt = ReportFilter(date(2026, 3, 10), date(2026, 4, 5), UHC)
    assert _month_filter(flt, MARCH) == ReportFilter(date(2026, 3, 10), date(2026, 3, 31), UHC)
    assert _month_filter(flt, APRIL) == ReportFilter(date(2026, 4, 1), date(2026, 4, 5), UHC)
    december = ReportFilter(date(2025, 12, 1), date(2026, 1, 31))
    assert _month_filter(december, date(2025, 12, 1)).end == date(2025, 12, 31)
