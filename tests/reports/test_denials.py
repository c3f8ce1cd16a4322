"""The denials report on a small practice built by the real claim machine
(tests/reports/denial_claims.py), on SQLite and PostgreSQL: the numbers at each level of
the drill-down, month by month, and the claim list behind every number holding exactly
the claims that number counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.reports import denials as report
from denialflow.reports.denials import Slice, breakdown, by_month, claim_page, parse_slice
from tests.reports.denial_claims import (
    AETNA,
    ANSWERS,
    DENIALS,
    MARCH_APRIL,
    MEDICARE,
    UHC,
    build,
)

D = Decimal
NAMES = {UHC: "UHC", MEDICARE: "Medicare", AETNA: "Aetna"}
STAGE_SETS = {k: v[1] for k, v in report.STAGES.items()}


@pytest.fixture
def practice(any_engine: Engine) -> Engine:
    build(any_engine)
    return any_engine


def _in(s: Slice, payer: str, stage: str, day: date) -> bool:
    return (
        s.flt.start <= day <= s.flt.end
        and stage in STAGE_SETS[s.stage]
        and (s.flt.payer_id is None or payer == s.flt.payer_id)
    )


def expected_denials(s: Slice) -> list[str]:
    """The claims of a denial slice, from the list of what build() made."""
    return sorted(
        c
        for c, payer, stage, category, reason, day, _ in DENIALS
        if _in(s, payer, stage, day)
        and (s.category is None or category == s.category)
        and (s.reason is None or reason == s.reason)
    )


def expected_answers(s: Slice, outcomes: tuple[str, ...]) -> list[str]:
    return sorted(
        c
        for c, payer, stage, outcome, day in ANSWERS
        if _in(s, payer, stage, day) and outcome in outcomes
    )


def listed(session: Session, s: Slice, kind: str = "denials") -> list[str]:
    """Every claim id of a claim list, page after page."""
    first = claim_page(session, s, kind)
    ids = [r.claim_id for r in first.rows]
    for n in range(2, first.pages + 1):
        ids += [r.claim_id for r in claim_page(session, s, kind, n).rows]
    assert len(ids) == first.total
    return sorted(ids)


def test_payers_categories_and_reasons_have_the_known_numbers(practice: Engine) -> None:
    top = Slice(MARCH_APRIL)
    with Session(practice) as session:
        payers = breakdown(session, top, NAMES)
        assert payers.level == "payer"
        assert [(r.key, r.answers, r.denials, r.denied, r.share) for r in payers.rows] == [
            (UHC, 8, 7, D("1650.00"), D("87.5")),
            (MEDICARE, 3, 1, D("90.00"), D("33.3")),
            # A payer that answered and denied nothing is shown at 0%.
            (AETNA, 1, 0, D("0"), D("0.0")),
        ]
        assert (payers.total.answers, payers.total.denials, payers.total.share) == (
            12,
            8,
            D("66.7"),
        )

        uhc = replace(top, flt=replace(MARCH_APRIL, payer_id=UHC))
        categories = breakdown(session, uhc, NAMES)
        assert categories.level == "category"
        assert [(r.key, r.denials, r.denied, r.share) for r in categories.rows] == [
            ("medical_necessity", 3, D("1050.00"), D("37.5")),
            ("missing_information", 2, D("300.00"), D("25.0")),
            ("authorization", 1, D("200.00"), D("12.5")),
            ("bundling", 1, D("100.00"), D("12.5")),
        ]
        # The categories' shares are parts of the payer's denial rate.
        assert sum(r.denials for r in categories.rows) == categories.total.denials == 7

        reasons = breakdown(session, replace(uhc, category="medical_necessity"), NAMES)
        assert reasons.level == "reason"
        assert [(r.key, r.denials, r.denied) for r in reasons.rows] == [("CO-50", 3, D("1050.00"))]
        assert "medical records" in report.reason_wording("CO-50")

        # Every answer: the appeal that paid is an answer, not a denial.
        every = breakdown(session, replace(uhc, stage="all"), NAMES)
        assert (every.total.answers, every.total.denials) == (9, 7)
        appeals = breakdown(session, replace(uhc, stage="appeal"), NAMES)
        assert (appeals.total.answers, appeals.total.denials) == (1, 0)


def test_month_by_month(practice: Engine) -> None:
    with Session(practice) as session:
        rows = by_month(session, Slice(MARCH_APRIL))
        assert [(m.label, m.answers, m.denials, m.denied, m.share) for m in rows] == [
            ("2026-03", 10, 6, D("1290.00"), D("60.0")),
            ("2026-04", 2, 2, D("450.00"), D("100.0")),
        ]
        # A category's months: its denials out of every answer of the scope.
        mn = Slice(replace(MARCH_APRIL, payer_id=UHC), category="medical_necessity")
        assert [(m.answers, m.denials, m.denied) for m in by_month(session, mn)] == [
            (6, 2, D("750.00")),
            (2, 1, D("300.00")),
        ]
        # A month with no answers is a row of zeros, and its share a gap, not 0%.
        longer = Slice(replace(MARCH_APRIL, start=date(2026, 2, 1)))
        february = by_month(session, longer)[0]
        assert (february.label, february.answers, february.share) == ("2026-02", 0, None)


def _slices_of_every_number(session: Session) -> list[Slice]:
    """The slice of every row of every level the page can show, from the top down."""
    out: list[Slice] = []
    for stage in ("first", "all", "initial", "resubmission", "appeal"):
        todo = [Slice(MARCH_APRIL, stage)]
        while todo:
            s = todo.pop()
            out.append(s)
            b = breakdown(session, s, NAMES)
            todo += [s.narrowed(b.level, r.key) for r in b.rows] if b.level != "claims" else []
            out += [s.in_month(m.month) for m in by_month(session, s)]
    return out


def test_every_number_lands_on_exactly_its_claims(practice: Engine) -> None:
    with Session(practice) as session:
        slices = _slices_of_every_number(session)
        assert len(slices) > 40
        for s in slices:
            b = breakdown(session, s, NAMES)
            ids = listed(session, s)
            assert ids == expected_denials(s), s
            assert len(ids) == b.total.denials, s
            assert listed(session, Slice(s.flt, s.stage), "answers") == expected_answers(
                s, report.ANSWER_OUTCOMES
            )
        # The category and reason a drill ends on, and the list it shows.
        deepest = Slice(
            replace(MARCH_APRIL, payer_id=UHC), category="medical_necessity", reason="CO-50"
        )
        assert listed(session, deepest) == ["U2", "U3", "U7"]
        assert listed(session, Slice(MARCH_APRIL, "all"), "paid") == ["A1", "M1", "M3", "U1", "U7"]
        assert listed(session, Slice(MARCH_APRIL, "all"), "underpaid") == ["M3"]


def test_the_claim_list_shows_what_a_specialist_needs(practice: Engine) -> None:
    s = Slice(replace(MARCH_APRIL, payer_id=UHC), category="bundling")
    with Session(practice) as session:
        (row,) = claim_page(session, s, "denials").rows
    assert (row.claim_id, row.payer, row.decision_date) == (
        "U5",
        "Commercial (UnitedHealthcare-like)",
        date(2026, 3, 20),
    )
    assert (row.outcome, row.reason, row.denied, row.paid) == (
        "partial",
        "CO-97",
        D("100.00"),
        D("250.00"),
    )
    assert (row.status, row.balance) == ("partially_paid", D("100.00"))
    assert "modifier 59" in row.wording


def test_pages_split_the_list_without_losing_or_repeating_a_claim(
    practice: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "PER_PAGE", 3)
    s = Slice(MARCH_APRIL)
    with Session(practice) as session:
        pages = [claim_page(session, s, "denials", n) for n in (1, 2, 3)]
        assert [p.pages for p in pages] == [3, 3, 3]
        assert [len(p.rows) for p in pages] == [3, 3, 2]
        seen = [r.remittance_id for p in pages for r in p.rows]
        assert len(set(seen)) == 8
        # Newest decision first; a page past the end shows the last page.
        days = [r.decision_date for p in pages for r in p.rows]
        assert days == sorted(days, reverse=True)
        assert claim_page(session, s, "denials", 99).page == 3


def test_a_query_string_that_cannot_be_used_says_why() -> None:
    s, problems = parse_slice(
        {"stage": "final", "category": "mood", "reason": "50; drop table"}, MARCH_APRIL
    )
    assert (s.stage, s.category, s.reason) == ("first", None, None)
    assert len(problems) == 3 and problems[0].startswith("Stage")
    s, problems = parse_slice({"stage": "all", "reason": "co-50"}, MARCH_APRIL)
    assert (s.stage, s.reason, problems) == ("all", "CO-50", [])
    s, _ = parse_slice({"reason": "none"}, MARCH_APRIL)
    assert s.reason == report.NO_REASON
