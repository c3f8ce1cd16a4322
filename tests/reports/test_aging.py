"""A/R aging with known answers: claims driven by the real claim machine and written as
the workflow writes them (tests/reports/ledger.py), aged at the bucket boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.demo import install_demo_users
from denialflow.reports.aging import (
    BUCKETS,
    PARTIES,
    SPANS,
    AgingReport,
    AgingScope,
    Amounts,
    aging,
    bucket_claims,
    every_bucket_claim,
    member_queues,
    oldest_claims,
)
from denialflow.reports.period import ReportFilter
from tests.reports.ledger import LedgerClaim

TODAY = date(2026, 6, 30)
UHC, MEDICARE = "commercial-uhc", "medicare"
D = Decimal
EVERYTHING = ReportFilter(start=date(2020, 1, 1), end=TODAY)


def served(engine: Engine, claim_id: str, age: int, charge: str, payer: str = UHC) -> LedgerClaim:
    """A claim served `age` days before TODAY and submitted the day after."""
    service = TODAY - timedelta(days=age)
    return LedgerClaim(
        engine,
        claim_id,
        payer=payer,
        charge=charge,
        service=service,
        submitted=service + timedelta(days=1),
    )


def build(engine: Engine) -> None:
    # One UHC claim either side of every boundary, nothing paid: all insurance A/R.
    for age, charge in ((30, "100"), (31, "101"), (60, "102"), (61, "103"), (90, "104")):
        served(engine, f"U{age}", age, charge)
    served(engine, "U91", 91, "105").deny("27")  # eligibility: in sam's queues
    served(engine, "U120", 120, "106")
    served(engine, "U121", 121, "107")
    # Medicare: paid short with a patient share (insurance 50, patient 50)...
    served(engine, "M-split", 45, "500.00", MEDICARE).remit(
        paid="300.00", pr="50.00", adjustments=[("CO", "45", "100.00"), ("PR", "1", "50.00")]
    )
    # ...only the patient's share left (40)...
    served(engine, "M-patient", 100, "200.00", MEDICARE).remit(
        paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )
    # ...overpaid by 50 (a credit balance), and paid in full (not open).
    served(engine, "M-credit", 10, "200.00", MEDICARE).remit(paid="250.00")
    served(engine, "M-paid", 10, "300.00", MEDICARE).remit(paid="300.00")


@pytest.fixture
def engine(any_engine: Engine) -> Iterator[Engine]:
    build(any_engine)
    yield any_engine


def report(engine: Engine, **kw: object) -> AgingReport:
    scope = AgingScope(**{"flt": EVERYTHING, "basis": "service", "today": TODAY, **kw})  # type: ignore[arg-type]
    with Session(engine) as session:
        return aging(session, scope)


def cells(found: AgingReport) -> dict[tuple[str, str], tuple[int, Decimal, Decimal, Decimal]]:
    return {
        key: (a.claims, a.insurance, a.patient, a.credit) for key, a in sorted(found.cells.items())
    }


EXPECTED = {
    (MEDICARE, "0-30"): (1, D("0.00"), D("0.00"), D("-50.00")),
    (MEDICARE, "31-60"): (1, D("50.00"), D("50.00"), D("0.00")),
    (MEDICARE, "91-120"): (1, D("0.00"), D("40.00"), D("0.00")),
    (UHC, "0-30"): (1, D("100.00"), D("0.00"), D("0.00")),  # 30 days
    (UHC, "31-60"): (2, D("203.00"), D("0.00"), D("0.00")),  # 31 and 60
    (UHC, "61-90"): (2, D("207.00"), D("0.00"), D("0.00")),  # 61 and 90
    (UHC, "91-120"): (2, D("211.00"), D("0.00"), D("0.00")),  # 91 and 120
    (UHC, "over-120"): (1, D("107.00"), D("0.00"), D("0.00")),  # 121
}


def test_buckets_at_their_boundaries_insurance_patient_and_credit(engine: Engine) -> None:
    found = report(engine)
    assert cells(found) == EXPECTED
    total = found.total
    assert (total.claims, total.insurance, total.patient, total.credit) == (
        11,
        D("878.00"),
        D("90.00"),
        D("-50.00"),
    )
    # Over 90: 211 + 107 insurance and 40 patient, of 968 A/R (credits left out).
    assert found.over_90.owed == D("358.00")
    assert found.over_90_share == D("37.0")


def test_aged_from_submission_moves_the_boundary_claims(engine: Engine) -> None:
    found = report(engine, basis="submission")
    # Submitted a day after service: the 31-day claim is 30 days from submission.
    assert {key: a.insurance for key, a in found.cells.items() if key[0] == UHC} == {
        (UHC, "0-30"): D("201.00"),  # 29 and 30 days from submission
        (UHC, "31-60"): D("205.00"),  # 59 and 60
        (UHC, "61-90"): D("209.00"),  # 89 and 90
        (UHC, "91-120"): D("213.00"),  # 119 and 120
    }
    assert found.over_90_share == D("26.1")  # (213 + 40) / 968


def test_payer_filter_and_range_pick_the_claims(engine: Engine) -> None:
    only_uhc = report(engine, flt=ReportFilter(start=EVERYTHING.start, end=TODAY, payer_id=UHC))
    assert set(only_uhc.payer_ids) == {UHC}
    assert only_uhc.total.owed == D("828.00")
    # Served in the last 60 days only: 30, 31, 60 (UHC) and 45, 10, 10 (Medicare).
    recent = report(engine, flt=ReportFilter(start=TODAY - timedelta(days=60), end=TODAY))
    assert recent.total.claims == 5
    assert recent.over_90_share == D("0.0")


@pytest.mark.parametrize("basis", ["service", "submission"])
def test_every_drill_down_lists_exactly_the_claims_counted(engine: Engine, basis: str) -> None:
    scope = AgingScope(flt=EVERYTHING, basis=basis, today=TODAY)  # type: ignore[arg-type]
    with Session(engine) as session:
        found = aging(session, scope)
        for payer in (None, UHC, MEDICARE):
            flt = ReportFilter(start=EVERYTHING.start, end=TODAY, payer_id=payer)
            narrowed = AgingScope(flt=flt, basis=basis, today=TODAY)  # type: ignore[arg-type]
            for bucket in [b.key for b in BUCKETS] + ["over-90", "all"]:
                for party in PARTIES:
                    page = bucket_claims(session, narrowed, bucket, party, per_page=3)
                    listed = list(every_bucket_claim(session, narrowed, bucket, party))
                    expected = _expected(found, payer, bucket)
                    assert page.totals.amount(party) == expected.amount(party), (bucket, party)
                    assert sum((c.balance for c in listed), D(0)) == page.totals.net
                    if party == "any":
                        assert len(listed) == expected.claims == page.totals.claims
                    party_sum = {
                        "insurance": sum((c.insurance for c in listed), D(0)),
                        "patient": sum((c.patient for c in listed), D(0)),
                        "credit": sum((c.credit for c in listed), D(0)),
                        "owed": sum((c.insurance + c.patient for c in listed), D(0)),
                        "any": sum((c.balance for c in listed), D(0)),
                    }[party]
                    assert party_sum == expected.amount(party), (payer, bucket, party)
                    # Exactly the open claims of the span that owe that party something.
                    owing = {
                        "insurance": lambda c: c.insurance > 0,
                        "patient": lambda c: c.patient > 0,
                        "credit": lambda c: c.credit < 0,
                        "owed": lambda c: c.balance > 0,
                        "any": lambda c: c.balance != 0,
                    }[party]
                    everyone = every_bucket_claim(session, narrowed, bucket, "any")
                    assert [c.id for c in listed] == [c.id for c in everyone if owing(c)]
                    assert len(page.claims) == min(3, len(listed))
                    assert [c.id for c in page.claims] == [c.id for c in listed[:3]]


def _expected(found: AgingReport, payer: str | None, bucket: str) -> Amounts:
    """The report's cells inside a drill-down's span (and payer), added up."""
    total = Amounts()
    for (p, key), amounts in found.cells.items():
        span = SPANS[key]
        wanted = SPANS[bucket]
        inside = span.low >= wanted.low and (
            wanted.high is None or (span.high or 10**6) <= wanted.high
        )
        if inside and (payer is None or p == payer):
            total += amounts
    return total


def test_drill_down_ids_at_the_boundaries(engine: Engine) -> None:
    scope = AgingScope(flt=EVERYTHING, basis="service", today=TODAY)
    with Session(engine) as session:

        def ids(bucket: str, party: str = "any") -> list[str]:
            return [c.id for c in every_bucket_claim(session, scope, bucket, party)]

        assert ids("0-30") == ["U30", "M-credit"]
        assert ids("31-60") == ["U60", "M-split", "U31"]  # oldest first
        assert ids("61-90") == ["U90", "U61"]
        assert ids("91-120") == ["U120", "M-patient", "U91"]
        assert ids("over-120") == ["U121"]
        assert ids("91-120", "insurance") == ["U120", "U91"]
        assert ids("all", "patient") == ["M-patient", "M-split"]
        assert ids("all", "credit") == ["M-credit"]
        assert ids("over-90", "owed") == ["U121", "U120", "M-patient", "U91"]
        second = bucket_claims(session, scope, "all", "any", page=2, per_page=5)
        assert (second.page, second.pages, second.totals.claims) == (2, 3, 11)
        assert [c.id for c in second.claims] == ["U61", "U60", "M-split", "U31", "U30"]
        assert [c.age for c in second.claims] == [61, 60, 45, 31, 30]


def test_oldest_claims_come_first_with_their_balance(engine: Engine) -> None:
    scope = AgingScope(flt=EVERYTHING, basis="service", today=TODAY)
    with Session(engine) as session:
        oldest = oldest_claims(session, scope, limit=3)
    assert [(c.id, c.age, c.balance, c.status) for c in oldest] == [
        ("U121", 121, D("107.00"), "submitted"),
        ("U120", 120, D("106.00"), "submitted"),
        ("M-patient", 100, D("40.00"), "patient_balance"),
    ]


def test_a_specialist_counts_only_the_claims_in_their_queues(engine: Engine) -> None:
    with Session(engine) as session:
        install_demo_users(session)
        session.commit()
        sam = tuple(name for name, _ in member_queues(session, "sam"))
        jordan = tuple(name for name, _ in member_queues(session, "jordan"))
    assert "eligibility" in sam and "patient" in sam
    # sam: U91's eligibility denial, and the patient balances of M-split and M-patient.
    found = report(engine, queues=sam)
    assert cells(found) == {
        (MEDICARE, "31-60"): (1, D("50.00"), D("50.00"), D("0.00")),
        (MEDICARE, "91-120"): (1, D("0.00"), D("40.00"), D("0.00")),
        (UHC, "91-120"): (1, D("105.00"), D("0.00"), D("0.00")),
    }
    scope = AgingScope(flt=EVERYTHING, basis="service", today=TODAY, queues=sam)
    with Session(engine) as session:
        assert [c.id for c in every_bucket_claim(session, scope, "all", "any")] == [
            "M-patient",
            "U91",
            "M-split",
        ]
        assert [c.id for c in oldest_claims(session, scope)] == ["M-patient", "U91", "M-split"]
    # jordan works underpayments: M-split's underpayment item, nothing else.
    assert {k for k in report(engine, queues=jordan).cells} == {(MEDICARE, "31-60")}
    # In no queue: nothing.
    assert report(engine, queues=()).cells == {}
