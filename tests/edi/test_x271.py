"""271 eligibility responses: the sample's facts, a synthetic response with every
part the reader keeps, errors that name segment and element, the coverage question,
and `denialflow edi parse` on 270/271 files."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from edi_samples import interchange, path, text
from test_edi_limits import BAD_AMOUNTS, BAD_NUMBERS, assert_names_the_place

from denialflow.edi import X12Error, parse_document, tokenize
from denialflow.edi.cli import parse_command
from denialflow.edi.coverage import CoverageAnswer, coverage_on
from denialflow.edi.reader import UnknownTransaction
from denialflow.edi.x271 import (
    Benefit,
    Code,
    DateFact,
    EligibilityResponse,
    MemberEligibility,
    Rejection,
    parse_271,
)

SAMPLE = "271_lfh_subscriber-benefit-check.271"


def read(source: str, name: str = "elig.271") -> EligibilityResponse:
    (tx,) = tokenize(source, name).transactions
    return parse_271(tx)


# --- the LinuxForHealth X279A1 sample ----------------------------------------


def test_sample_271_facts() -> None:
    response = read(text(SAMPLE))
    assert (response.control_number, response.version) == ("4321", "005010X279A1")
    assert (response.purpose, response.reference) == ("11", "10001234")
    assert response.created_on == dt.date(2006, 5, 1)
    assert (response.rejections, response.warnings) == ([], [])
    (member,) = response.members
    assert member.level == "subscriber"
    assert (member.payer_name, member.payer_id) == ("ABC COMPANY", "841610001")
    assert (member.receiver_name, member.receiver_id) == ("BONE AND JOIN CLINIC", "2000035")
    assert (member.trace_number, member.payer_trace_numbers) == ("93175-012547", [])
    assert (member.name, member.member_id) == ("SMITH, JOHN", "123456789")
    assert (member.subscriber_name, member.subscriber_member_id) == ("SMITH, JOHN", "123456789")
    assert (member.birth_date, member.gender) == (dt.date(1963, 5, 19), "M")
    assert (member.plan_begin, member.plan_end) == (dt.date(2006, 1, 1), None)
    assert member.plan_names == ["GOLD 123 PLAN"]
    assert member.rejections == []

    plan, pcp, services, copay_in, copay_out = member.benefits
    assert (plan.kind.code, plan.kind.meaning) == ("1", "covered (active)")
    assert [(s.code, s.meaning) for s in plan.service_types] == [
        ("30", "health plan coverage in general")
    ]
    assert (plan.plan, plan.segment_number) == ("GOLD 123 PLAN", 16)

    assert (pcp.kind.code, pcp.kind.meaning) == ("L", "primary care provider")
    (doctor,) = pcp.related
    assert (doctor.entity, doctor.name, doctor.id_qualifier, doctor.id) == (
        "P3",
        "JONES, MARCUS",
        "SV",
        "0202034",
    )

    codes = ["1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"]
    assert [s.code for s in services.service_types] == codes
    assert services.kind.code == "1"
    assert [s.meaning for s in services.service_types][:3] == [
        "medical care",
        "chiropractic",
        "dental",
    ]
    for copay, amount, network in ((copay_in, "10.00", True), (copay_out, "30.00", False)):
        assert (copay.kind.code, copay.kind.meaning) == (
            "B",
            "co-payment (flat amount the patient pays)",
        )
        assert [s.code for s in copay.service_types] == codes
        assert copay.insurance_type == Code(code="HM", meaning="HMO")
        assert copay.plan == "GOLD 123 PLAN"
        assert copay.period == Code(code="27", meaning="per visit")
        assert copay.amount == Decimal(amount) and isinstance(copay.amount, Decimal)
        assert str(copay.amount) == amount
        assert copay.in_network is network
        assert (copay.percent, copay.quantity, copay.authorization_required) == (None, None, None)


@pytest.mark.parametrize(
    ("day", "service", "status", "segment"),
    [
        (dt.date(2006, 5, 1), "30", "active", 16),
        (dt.date(2006, 2, 1), "33", "active", 21),  # chiropractic, its own EB
        (dt.date(2006, 5, 1), "A6", "active", 16),  # not listed: the plan in general
        (dt.date(2005, 12, 31), "30", "inactive", 0),  # before the plan began
        (dt.date(2006, 5, 2), "30", "unknown", 16),  # after the answer, no end date
    ],
)
def test_sample_271_coverage(day: dt.date, service: str, status: str, segment: int) -> None:
    response = read(text(SAMPLE))
    (member,) = response.members
    answer = coverage_on(member, day, service, as_of=response.created_on)
    assert (answer.status, answer.segment_number) == (status, segment), answer.reason


# --- a synthetic response with dependents, rejections, dates and amounts ----

BODY = [
    "BHT*0022*11*REF-1*20240110*1200",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH*****PI*ACME1",
    "HL*2*1*21*1",
    "NM1*1P*2*VALLEY CLINIC*****XX*1245319599",
    "HL*3*2*22*1",
    "NM1*IL*1*SMITH*RICK*Q***MI*JS001",
    "REF*6P*GRP-9",
    "REF*SY*123456789",
    "DTP*346*D8*20240101",
    "DTP*347*D8*20241231",
    "HL*4*3*23*0",
    "TRN*2*B-1*1123456789",
    "TRN*1*PAYER-77*9ACME00001",
    "NM1*03*1*SMITH*TED",
    "DMG*D8*20150501*M",
    "INS*N*19",
    "DTP*291*RD8*20240101-20241231",
    "EB*1*FAM*30^1^98*PR*SILVER PPO",
    "EB*C*IND*30*PR*SILVER PPO*23*1500.00*****Y",
    "EB*C*IND*30*PR*SILVER PPO*29*250.5*****Y",
    "EB*A*IND*98*PR**27**0.2****N",
    "MSG*OUT OF NETWORK VISITS NEED A REFERRAL",
    "EB*B*IND*98*PR**27*25*****Y*HC:99213",
    "DTP*348*D8*20240301",
    "EB*F*IND*33***23***VS*20*Y",
    "EB*I**35",
    "EB*L",
    "LS*2120",
    "NM1*P3*1*JONES*MARCUS****XX*1234567893",
    "LE*2120",
    "HL*5*2*22*0",
    "TRN*2*C-1*1123456789",
    "NM1*IL*1*DOE*JANE****MI*BADID",
    "AAA*N**72*C",
    "HL*6*2*22*0",
    "TRN*2*E-1*1123456789",
    "NM1*IL*1*ROE*RAY****MI*R1",
    "DMG*D8*19700101*M",
    "DTP*346*D8*20230101",
    "DTP*347*D8*20231231",
    "EB*6**30",
    "EB*1**30",
    "AAA*Y**42*R",
]


def synthetic() -> EligibilityResponse:
    return read(interchange("271", BODY, "005010X279A1"))


def test_dependent_gets_subscriber_id_dates_and_benefits() -> None:
    response = synthetic()
    rick, ted, jane, ray = response.members
    assert [m.level for m in response.members] == [
        "subscriber",
        "dependent",
        "subscriber",
        "subscriber",
    ]
    assert (rick.name, rick.member_id, rick.benefits) == ("SMITH, RICK Q", "JS001", [])
    # The social security number is never kept.
    assert rick.references == {"group_number": "GRP-9"}
    assert (rick.plan_begin, rick.plan_end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert (ted.name, ted.member_id) == ("SMITH, TED", "JS001")
    assert (ted.subscriber_name, ted.subscriber_member_id) == ("SMITH, RICK Q", "JS001")
    assert (ted.trace_number, ted.payer_trace_numbers) == ("B-1", ["PAYER-77"])
    assert (ted.birth_date, ted.gender, ted.relationship) == (dt.date(2015, 5, 1), "M", "19")
    assert (ted.payer_name, ted.payer_id) == ("ACME HEALTH", "ACME1")
    assert (ted.receiver_name, ted.receiver_id) == ("VALLEY CLINIC", "1245319599")
    assert ted.dates == [
        DateFact(
            qualifier="291",
            meaning="plan dates",
            start=dt.date(2024, 1, 1),
            end=dt.date(2024, 12, 31),
            segment_number=21,
        )
    ]
    assert (jane.trace_number, ray.trace_number) == ("C-1", "E-1")
    assert response.warnings == []


def test_each_eb_is_a_fact_with_our_wording() -> None:
    ted = synthetic().members[1]
    active, deductible, left, coinsurance, copay, visits, excluded, pcp = ted.benefits
    assert active.coverage_level == Code(code="FAM", meaning="family")
    assert [s.code for s in active.service_types] == ["30", "1", "98"]
    assert active.insurance_type == Code(code="PR", meaning="preferred provider organization (PPO)")
    assert active.plan == "SILVER PPO"
    assert (deductible.kind.meaning, deductible.period, deductible.amount) == (
        "deductible",
        Code(code="23", meaning="per calendar year"),
        Decimal("1500.00"),
    )
    assert (left.period, left.amount, str(left.amount)) == (
        Code(code="29", meaning="still left to meet"),
        Decimal("250.50"),
        "250.50",
    )
    assert (coinsurance.kind.code, coinsurance.percent, coinsurance.amount) == (
        "A",
        Decimal("0.2"),
        None,
    )
    assert coinsurance.in_network is False
    assert coinsurance.messages == ["OUT OF NETWORK VISITS NEED A REFERRAL"]
    assert (copay.amount, copay.procedure, copay.in_network) == (
        Decimal("25.00"),
        "HC:99213",
        True,
    )
    assert [(d.qualifier, d.meaning, d.start) for d in copay.dates] == [
        ("348", "benefit begins", dt.date(2024, 3, 1))
    ]
    assert (visits.kind.meaning, visits.quantity_kind, visits.quantity) == (
        "limit on the benefit",
        Code(code="VS", meaning="visits"),
        Decimal("20"),
    )
    assert (visits.authorization_required, visits.in_network) == (True, None)
    assert (excluded.kind.meaning, [s.meaning for s in excluded.service_types]) == (
        "service not covered",
        ["dental"],
    )
    assert [(e.entity, e.name, e.id) for e in pcp.related] == [
        ("P3", "JONES, MARCUS", "1234567893")
    ]


def test_rejections_at_member_and_benefit_level() -> None:
    _, _, jane, ray = synthetic().members
    assert jane.rejections == [
        Rejection(
            level="subscriber",
            valid_request=False,
            reason="72",
            reason_meaning="member id is missing or wrong",
            follow_up="C",
            follow_up_meaning="correct the inquiry and send it again",
            segment_number=38,
        )
    ]
    assert jane.benefits == []
    (benefit_rejection,) = ray.benefits[-1].rejections
    assert (benefit_rejection.level, benefit_rejection.reason_meaning) == (
        "benefit",
        "the payer cannot answer now; ask again later",
    )


def test_rejection_of_the_whole_inquiry_at_payer_level() -> None:
    response = read(
        interchange(
            "271",
            [
                "BHT*0022*11*REF-2*20240110*1200",
                "HL*1**20*0",
                "AAA*Y**42*W",
                "NM1*PR*2*ACME HEALTH*****PI*ACME1",
                "AAA*N**79*N",
                "AAA*N**ZZ",
            ],
            "005010X279A1",
        )
    )
    assert response.members == []
    assert [
        (r.level, r.reason, r.reason_meaning, r.follow_up_meaning) for r in response.rejections
    ] == [
        (
            "payer",
            "42",
            "the payer cannot answer now; ask again later",
            "wait 30 days, then send it again",
        ),
        (
            "payer",
            "79",
            "the payer does not trade with this submitter (invalid participant)",
            "do not send it again",
        ),
        ("payer", "ZZ", "code ZZ (not in denialflow's list)", ""),
    ]


def test_odd_values_become_warnings_not_errors() -> None:
    body = [*BODY]
    body[body.index("DTP*348*D8*20240301")] = "DTP*348*D8*20240231"
    body[body.index("EB*A*IND*98*PR**27**0.2****N")] = "EB*A*IND*98*PR**27**20****N"
    response = read(interchange("271", body, "005010X279A1"))
    assert response.warnings == [
        "segment 25 (EB): EB08 20 is not a fraction between 0 and 1",
        "segment 28 (DTP): DTP03 '20240231' is not a date",
    ]


def test_271_and_270_are_unknown_to_posting_unless_asked() -> None:
    doc = tokenize(text(SAMPLE), "elig.271")
    assert parse_document(doc) == [UnknownTransaction(type="271", control_number="4321")]
    (response,) = parse_document(doc, eligibility=True)
    assert isinstance(response, EligibilityResponse)


# --- bad input: X12Error naming file, segment and element -------------------


def _bad(old: str, new: str) -> str:
    assert old in BODY
    return interchange("271", [new if s == old else s for s in BODY], "005010X279A1")


def read_error(source: str) -> X12Error:
    with pytest.raises(X12Error) as caught:
        parse_document(tokenize(source, "limits.x12"), eligibility=True)
    return caught.value


EB_A = "EB*A*IND*98*PR**27**0.2****N"
EB_C = "EB*C*IND*30*PR*SILVER PPO*23*1500.00*****Y"
EB_F = "EB*F*IND*33***23***VS*20*Y"


@pytest.mark.parametrize("value", BAD_NUMBERS + BAD_AMOUNTS, ids=lambda v: v[:12])
def test_eb07_amount_names_segment_and_element(value: str) -> None:
    source = _bad(EB_C, EB_C.replace("1500.00", value))
    assert_names_the_place(read_error(source), source, "EB*C*IND*30*PR*SILVER PPO*23", "EB07")


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=lambda v: v[:12])
def test_eb08_percent_and_eb10_quantity_name_segment_and_element(value: str) -> None:
    source = _bad(EB_A, EB_A.replace("0.2", value))
    assert_names_the_place(read_error(source), source, "EB*A", "EB08")
    source = _bad(EB_F, EB_F.replace("*20*", f"*{value}*"))
    assert_names_the_place(read_error(source), source, "EB*F", "EB10")


@pytest.mark.parametrize(
    ("old", "new", "prefix", "message"),
    [
        (EB_A, EB_A[:-1] + "X", "EB*A", "EB12 'X' is not Y, N, U or W"),
        (EB_F, EB_F[:-1] + "maybe", "EB*F", "EB11 'maybe' is not Y, N, U or W"),
        ("EB*L", "EB**IND", "EB**IND", "EB01 (eligibility or benefit code) is missing"),
        ("AAA*N**72*C", "AAA*Q**72*C", "AAA", "AAA01 'Q' is not Y or N"),
        ("AAA*N**72*C", "AAA*N**", "AAA", "AAA03 (reject reason) is missing"),
        ("LS*2120", "LE*2120", "LE*2120", "LE without LS"),
        ("HL*3*2*22*1", "HL*3*2*XX*1", "HL*4", "HL03 '23' (dependent) without a subscriber"),
        (
            "EB*I**35",
            "EB*I**" + "^".join(["35"] * 100),
            "EB*I",
            "EB03 repeats 100 times; X12 allows at most 99",
        ),
    ],
)
def test_malformed_271_names_segment_and_element(
    old: str, new: str, prefix: str, message: str
) -> None:
    source = _bad(old, new)
    error = read_error(source)
    assert_names_the_place(error, source, prefix, message)


def test_eb_before_any_member_names_the_segment() -> None:
    source = interchange(
        "271", ["BHT*0022*11*R*20240110", "HL*1**20*1", "EB*1**30"], "005010X279A1"
    )
    assert_names_the_place(
        read_error(source), source, "EB", "EB outside a subscriber or dependent level"
    )


# --- was coverage active on day D for service type S? -----------------------

JAN1, JUN1, DEC31 = dt.date(2024, 1, 1), dt.date(2024, 6, 1), dt.date(2024, 12, 31)


def eb(kind: str, *services: str, dates: list[DateFact] | None = None, n: int = 0) -> Benefit:
    return Benefit(
        kind=Code(code=kind, meaning=f"kind {kind}"),
        service_types=[Code(code=s, meaning="") for s in services],
        dates=dates or [],
        segment_number=n,
    )


def dtp(qualifier: str, start: dt.date, end: dt.date | None = None) -> DateFact:
    return DateFact(qualifier=qualifier, meaning="", start=start, end=end or start)


def member(
    *benefits: Benefit, dates: list[DateFact] | None = None, **fields: object
) -> MemberEligibility:
    return MemberEligibility(
        level="subscriber", benefits=list(benefits), dates=dates or [], **fields
    )  # type: ignore[arg-type]


PLAN_2024 = [dtp("346", JAN1), dtp("347", DEC31)]
REJECTED = [
    Rejection(
        level="subscriber",
        valid_request=False,
        reason="75",
        reason_meaning="the payer cannot find the subscriber",
        segment_number=9,
    )
]

# (case, member, day, service type, as_of, status, segment, words in the reason)
CASES = [
    (
        "active, plan dates",
        member(eb("1", "30", n=1), dates=PLAN_2024),
        JUN1,
        "30",
        None,
        "active",
        1,
        "kind 1",
    ),
    (
        "no dates at all",
        member(eb("1", "30", n=1)),
        JUN1,
        "30",
        None,
        "active",
        1,
        "gives no dates",
    ),
    (
        "no service types: the plan",
        member(eb("1", n=1), dates=PLAN_2024),
        JUN1,
        "98",
        None,
        "active",
        1,
        "the plan in general",
    ),
    (
        "before the plan",
        member(eb("1", "30", n=1), dates=PLAN_2024),
        dt.date(2023, 12, 31),
        "30",
        None,
        "inactive",
        0,
        "before coverage began on 2024-01-01",
    ),
    (
        "after the plan",
        member(eb("1", "30", n=1), dates=PLAN_2024),
        dt.date(2025, 1, 1),
        "30",
        None,
        "inactive",
        0,
        "after coverage ended on 2024-12-31",
    ),
    (
        "eligibility range",
        member(eb("1", "30", n=1), dates=[dtp("307", JAN1, JUN1)]),
        DEC31,
        "30",
        None,
        "inactive",
        0,
        "after coverage ended on 2024-06-01",
    ),
    (
        "inactive",
        member(eb("6", "30", n=2), dates=PLAN_2024),
        JUN1,
        "30",
        None,
        "inactive",
        2,
        "kind 6",
    ),
    ("pending update", member(eb("7", "30", n=2)), JUN1, "30", None, "inactive", 2, "kind 7"),
    (
        "general covers a service",
        member(eb("1", "30", n=1), dates=PLAN_2024),
        JUN1,
        "98",
        None,
        "active",
        1,
        "the plan in general",
    ),
    (
        "service excluded",
        member(eb("1", "30", n=1), eb("I", "35", n=2), dates=PLAN_2024),
        JUN1,
        "35",
        None,
        "inactive",
        2,
        "kind I",
    ),
    (
        "exclusion is not general",
        member(eb("I", "35", n=2), dates=PLAN_2024),
        JUN1,
        "30",
        None,
        "unknown",
        0,
        "no coverage fact",
    ),
    (
        "specific beats general",
        member(eb("6", "30", n=1), eb("1", "98", n=2), dates=PLAN_2024),
        JUN1,
        "98",
        None,
        "active",
        2,
        "98 (office visit",
    ),
    (
        "rejected",
        member(eb("1", "30", n=1), rejections=REJECTED),
        JUN1,
        "30",
        None,
        "unknown",
        9,
        "cannot find the subscriber (AAA03 75)",
    ),
    (
        "only amounts",
        member(eb("C", "30", n=1), eb("B", "98", n=2)),
        JUN1,
        "30",
        None,
        "unknown",
        0,
        "no coverage fact for 30",
    ),
    (
        "contradiction",
        member(eb("1", "30", n=1), eb("6", "30", n=2)),
        JUN1,
        "30",
        None,
        "unknown",
        2,
        "contradicts itself",
    ),
    (
        "later than the answer",
        member(eb("1", "30", n=1), dates=[dtp("346", JAN1)]),
        DEC31,
        "30",
        JUN1,
        "unknown",
        1,
        "as of 2024-06-01 with no end date",
    ),
    (
        "earlier than the answer",
        member(eb("1", "30", n=1), dates=[dtp("347", DEC31)]),
        JAN1,
        "30",
        JUN1,
        "unknown",
        1,
        "as of 2024-06-01 with no begin date",
    ),
    ("on the answer's day", member(eb("1", "30", n=1)), JUN1, "30", JUN1, "active", 1, "kind 1"),
    (
        "member 291 is the as-of day",
        member(eb("1", "30", n=1), dates=[dtp("291", JAN1)]),
        JUN1,
        "30",
        None,
        "unknown",
        1,
        "as of 2024-01-01",
    ),
    (
        "benefit dates",
        member(eb("1", "30", dates=[dtp("348", JUN1)], n=1), dates=PLAN_2024),
        JAN1,
        "30",
        None,
        "unknown",
        0,
        "1 apply only on other dates",
    ),
    (
        "benefit dates hold",
        member(eb("1", "30", dates=[dtp("348", JAN1), dtp("349", JUN1)], n=1), dates=PLAN_2024),
        JUN1,
        "30",
        None,
        "active",
        1,
        "kind 1",
    ),
]


@pytest.mark.parametrize(
    ("member", "day", "service", "as_of", "status", "segment", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_coverage_on(
    member: MemberEligibility,
    day: dt.date,
    service: str,
    as_of: dt.date | None,
    status: str,
    segment: int,
    words: str,
) -> None:
    answer = coverage_on(member, day, service, as_of=as_of)
    assert isinstance(answer, CoverageAnswer)
    assert (answer.status, answer.segment_number) == (status, segment), answer.reason
    assert words in answer.reason


# --- denialflow edi parse -----------------------------------------------------


def run(file: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = parse_command(str(file), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_shows_a_271() -> None:
    code, out, err = run(path(SAMPLE))
    assert (code, err) == (0, "")
    (t,) = json.loads(out)["transactions"]
    assert (t["type"], t["control_number"], t["created_on"]) == ("271", "4321", "2006-05-01")
    (m,) = t["members"]
    assert (m["name"], m["member_id"], m["plans"], m["plan_begin"]) == (
        "SMITH, JOHN",
        "123456789",
        ["GOLD 123 PLAN"],
        "2006-01-01",
    )
    assert m["payer"] == {"name": "ABC COMPANY", "id": "841610001"}
    assert m["coverage"]["status"] == "active"
    copay = m["benefits"][3]
    assert copay["kind"] == {"code": "B", "meaning": "co-payment (flat amount the patient pays)"}
    assert (copay["amount"], copay["in_network"], copay["period"]["meaning"]) == (
        "10.00",
        True,
        "per visit",
    )
    assert m["benefits"][1]["related"][0]["name"] == "JONES, MARCUS"


def test_cli_shows_a_270() -> None:
    code, out, err = run(path("270_lfh_subscriber-benefit-check.270"))
    assert (code, err) == (0, "")
    (t,) = json.loads(out)["transactions"]
    (inquiry,) = t["inquiries"]
    assert (t["type"], inquiry["name"], inquiry["member_id"]) == (
        "270",
        "SMITH, ROBERT",
        "11122333301",
    )
    assert inquiry["service_types"] == [
        {"code": "30", "meaning": "health plan coverage in general"}
    ]
    assert inquiry["dates"][0]["start"] == "2006-05-01"


def test_cli_refuses_a_broken_271_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.271"
    file.write_text(text(SAMPLE).replace("*27*10.00*", "*27*10.0.0*"))
    code, out, err = run(file)
    assert (code, out) == (2, "")
    assert err == f"{file}: segment 22 (EB): EB07 '10.0.0' is not a number\n"
