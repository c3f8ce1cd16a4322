"""Appeal letters (templates checked against the sample claim, the context a letter is
written from) and the payer's decision on an appeal level in the claim machine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from denialflow.domain import appeal_letters as letters
from denialflow.domain.claim_machine import ActionRejected
from denialflow.domain.types import ClaimStatus
from tests.domain.claims import MONDAY, SAM, ClaimRun, denied

# --- templates ---------------------------------------------------------------------------


def test_the_shipped_default_template_passes_its_own_check() -> None:
    letters.check_template(letters.DEFAULT_TEMPLATE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "Dear {{ payer.name }},\n{{ claim.payer_claim_nmber }}",
            "line 2: unknown field 'claim.payer_claim_nmber'",
            id="a misspelt field is named with its line",
        ),
        pytest.param(
            "{{ patinet.name }}",
            "line 1: unknown field 'patinet.name'",
            id="an unknown record is named",
        ),
        pytest.param(
            "{% for line in lines %}\n{{ line.amount_denied }}\n{% endfor %}",
            "line 2: unknown field 'line.amount_denied'",
            id="a field of a list's items is checked too",
        ),
        pytest.param(
            "{{ claim.id ",
            "line 1: unexpected end of template",
            id="a syntax error says where",
        ),
        pytest.param(
            "{{ claim.id.__class__ }}",
            "not allowed in a letter template",
            id="the sandbox refuses Python internals",
        ),
        pytest.param("   ", "the template is empty", id="an empty template is refused"),
    ],
)
def test_a_template_that_would_not_render_is_refused_naming_what(body: str, message: str) -> None:
    with pytest.raises(letters.TemplateProblem) as refused:
        letters.check_template(body)
    assert message in str(refused.value)


def test_loops_and_jinja_names_are_not_unknown_fields() -> None:
    letters.check_template(
        "{% for e in enclosures %}{{ loop.index }}. {{ e.title|upper }}{% endfor %}"
        "{% set n = claim.id %}{{ n }} {{ claim.id.lower() }}"
        "{% for c in denial.codes %}{{ c.code }} {{ c.amount }}{% endfor %}"
    )


def test_values_are_escaped_in_the_letter() -> None:
    context = letters.sample_context()
    context["patient"] = {"name": "<script>x</script>", "member_id": "", "birth_date": ""}
    html = letters.render_template("{{ patient.name }}", context)
    assert html == "&lt;script&gt;x&lt;/script&gt;"


def test_the_letter_context_says_the_claim_amounts_and_the_argument_of_its_category() -> None:
    facts = letters.sample_facts(category="timely_filing", level=2)
    context = letters.letter_context(facts)
    assert context["claim"]["charge"] == "$250.00"  # type: ignore[index]
    assert context["denial"]["codes"] == [  # type: ignore[index]
        {"code": "CO-50", "amount": "$250.00", "wording": "not considered medically necessary"}
    ]
    assert context["appeal"]["level_label"] == "Second-level appeal"  # type: ignore[index]
    assert "proof of timely filing" in str(context["argument"])
    html = letters.render_template(letters.DEFAULT_TEMPLATE, context)
    for text in ("PCN0000001", "SAMPLE-1", "$250.00", "PO Box 1000", "Capital City, ST 00000"):
        assert text in html


def test_every_argued_category_has_its_own_words() -> None:
    for category in letters.LETTER_CATEGORIES:
        if category in (letters.ANY_CATEGORY, "other"):
            assert letters.argument_for(category) == letters.GENERIC_ARGUMENT
        else:
            assert letters.argument_for(category) != letters.GENERIC_ARGUMENT


# --- the payer's decision on a level --------------------------------------------------------


def appealed(**kw: object) -> ClaimRun:
    claim = denied(**kw)  # type: ignore[arg-type]
    claim.act("appeal_filed", level=1, packet_id=7, sent_via="fax", sent_on=claim.now.date())
    return claim


def test_an_appeal_filed_with_a_packet_records_how_and_when_it_went() -> None:
    claim = appealed()
    (status,) = [e for e in claim.timeline("claim_status") if e.data["status"] == "appealed"]
    assert (status.data["packet"], status.data["sent_via"], status.data["level"]) == (7, "fax", 1)
    assert status.data["sent_on"] == claim.now.date().isoformat()
    (audit,) = [a for a in claim.audits if a.action == "appeal_filed"]
    assert (audit.detail["packet"], audit.detail["sent_via"]) == (7, "fax")


def test_a_lost_level_opens_the_next_levels_work_with_its_deadline() -> None:
    claim = appealed()
    claim.advance(days=40)
    decided = claim.now.date() - timedelta(days=2)
    result = claim.act("appeal_decided", decision="upheld", decision_date=decided)
    assert result.status == ClaimStatus.DENIED
    # commercial-uhc: 180 days for level 1, 60 for level 2, from the decision.
    deadline = decided + timedelta(days=60)
    assert claim.claim.appeal_deadline == deadline
    item = claim.item("denial")
    assert item.next_action == f"Level 1 appeal lost: file the level 2 appeal by {deadline}."
    assert (item.deadline_name, item.deadline_at) == ("appeal_level_2", deadline)
    assert claim.open_items("appeal_follow_up") == []
    (event,) = claim.timeline("appeal_decided")
    assert (event.data["level"], event.data["decision"]) == (1, "upheld")
    # The next level is offered, the one just lost is not.
    claim.act("appeal_filed", level=2)
    assert claim.claim.appeal_level == 2


def test_a_lost_level_whose_next_deadline_has_passed_says_so() -> None:
    claim = appealed()
    claim.advance(days=100)
    decided = claim.now.date() - timedelta(days=70)  # level 2 gives 60 days
    claim.act("appeal_decided", decision="upheld", decision_date=decided)
    item = claim.item("denial")
    deadline = decided + timedelta(days=60)
    assert item.next_action == (
        f"Level 1 appeal lost; the level 2 appeal deadline passed on {deadline}: write off, "
        "or document good cause outside the system."
    )
    assert "appeal_level_2" in claim.machine.s.missed
    with pytest.raises(ActionRejected, match=f"the level 2 appeal deadline passed on {deadline}"):
        claim.act("appeal_filed", level=2)


def test_the_last_level_lost_says_no_level_is_left() -> None:
    claim = appealed()
    claim.advance(days=10)
    claim.act("appeal_decided", decision="upheld", decision_date=claim.now.date())
    claim.act("appeal_filed", level=2)
    claim.advance(days=10)
    claim.act("appeal_decided", decision="upheld", decision_date=claim.now.date())
    assert claim.item("denial").next_action == (
        "All appeal levels are used: write off or transfer to the patient if allowed."
    )


def test_a_won_level_waits_for_the_payers_payment() -> None:
    claim = appealed(charge="300.00")
    claim.advance(days=20)
    result = claim.act("appeal_decided", decision="overturned", decision_date=claim.now.date())
    assert result.status == ClaimStatus.ACCEPTED
    assert claim.claim.next_follow_up_at is not None
    claim.remit(paid="300.00")
    assert claim.status == ClaimStatus.PAID


def test_an_835_denial_after_an_appeal_records_the_level_lost() -> None:
    claim = appealed()
    claim.advance(days=20)
    claim.deny("50")
    (event,) = claim.timeline("appeal_decided")
    assert (event.data["level"], event.data["decision"], event.data["source"]) == (
        1,
        "upheld",
        "835",
    )


@pytest.mark.parametrize(
    ("setup", "fields", "message"),
    [
        pytest.param(
            denied,
            {"decision": "upheld", "decision_date": MONDAY},
            "no appeal is waiting for the payer's decision; this claim is denied",
            id="no appeal is with the payer",
        ),
        pytest.param(
            appealed,
            {"decision": "", "decision_date": MONDAY},
            "say whether the payer upheld the denial or overturned it",
            id="the decision itself is missing",
        ),
        pytest.param(
            appealed,
            {"decision": "upheld"},
            "the decision needs its date",
            id="the decision date is missing",
        ),
        pytest.param(
            appealed,
            {"decision": "upheld", "decision_date": MONDAY, "level": 2},
            "the appeal with the payer is level 1, not 2",
            id="a decision on another level",
        ),
    ],
)
def test_a_decision_that_cannot_be_recorded_is_refused(
    setup: object, fields: dict[str, object], message: str
) -> None:
    claim = setup()  # type: ignore[operator]
    with pytest.raises(ActionRejected, match=message):
        claim.act("appeal_decided", by=SAM, **fields)


def test_a_decision_dated_after_today_is_refused() -> None:
    claim = appealed()
    later = claim.now.date() + timedelta(days=1)
    with pytest.raises(ActionRejected, match=f"the decision date {later} is after today"):
        claim.act("appeal_decided", decision="upheld", decision_date=later)
