"""Reading scenario files: mistakes are one line naming the line and field, exit status 2;
payer overrides map onto PayerRules. None of these start a Temporal server."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from denialflow.domain.types import PayerRules, Role, WorkItemKind
from denialflow.simulate import simulate_main
from denialflow.simulation.scenario import ScenarioError, parse_scenario
from tests.simulate.conftest import ERRORS, SCENARIOS

BASE = """\
start: 2025-03-03
until: 2025-06-30
claims:
  - id: C1
    payer: medicare
    service_date: 2025-02-27
    submitted: 2025-03-03
    charge: 100
events:
  - at: 2025-03-20
    claim: C1
    remit: {status_code: 4, paid: 0}
"""


def run_main(path: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = simulate_main(str(path), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("name", "line", "where", "message"),
    [
        ("bad_field.yaml", 14, "events[0].remit.paid", "'lots' is not an amount"),
        ("out_of_order.yaml", 13, "events[1].at", "events must be in time order"),
        ("unknown_claim.yaml", 11, "events[0].claim", "unknown claim 'E2'"),
        ("unknown_payer_key.yaml", 5, "payers.medicare.appeal_days", "unknown field"),
        ("duplicate_payer_id.yaml", 8, "payers[2].id", "payer acme is listed twice"),
        ("payer_without_id.yaml", 6, "payers[1].id", "is required"),
    ],
)
def test_mistake_is_one_line_with_line_and_field_and_exit_2(
    name: str, line: int, where: str, message: str
) -> None:
    path = ERRORS / name
    code, out, err = run_main(path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"{path}: line {line}: {where}: ")
    assert message in err


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run_main(tmp_path / "nope.yaml")
    assert code == 2
    assert err.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE.replace("paid: 0}", "paid: 0"))
    code, _, err = run_main(path)
    assert code == 2
    assert err.startswith(f"{path}: line 13: YAML syntax error: ")


def test_cli_reports_a_mistake_without_a_traceback() -> None:
    path = ERRORS / "out_of_order.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "denialflow.cli", "simulate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: line 13: events[1].at: events must be in time order: "
        "2025-03-20T00:00:00Z is before the event above it (2025-04-01T00:00:00Z)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "at: 2025-03-20",
            "at: 2025-01-20",
            "line 10: events[0].at: 2025-01-20T00:00:00Z is before start",
        ),
        (
            "at: 2025-03-20",
            "at: 2025-07-01",
            "line 10: events[0].at: 2025-07-01T00:00:00Z is after until",
        ),
        ("at: 2025-03-20", "at: 2025-13-20", "line 10: events[0].at: '2025-13-20' is not a date"),
        (
            "at: 2025-03-20",
            "at: 2025-03-20T10:00:05Z",
            "line 10: events[0].at: give times to the minute",
        ),
        ("payer: medicare", "payer: bcbs", "line 5: claims[0].payer: unknown payer 'bcbs'"),
        (
            "paid: 0}",
            "paid: 1.005}",
            "line 12: events[0].remit.paid: 1.005 has fractions of a cent",
        ),
        (
            "paid: 0}",
            "paid: 0, fee: 1}",
            "line 12: events[0].remit.fee: unknown field; expected one of",
        ),
        (
            "    remit: {status_code: 4, paid: 0}\n",
            "",
            "line 10: events[0]: an event has either `remit` or `action`",
        ),
        (
            "remit: {status_code: 4, paid: 0}",
            "action: {kind: appeal, by: sam}",
            "line 12: events[0].action.kind: Input should be",
        ),
        (
            "remit: {status_code: 4, paid: 0}",
            "action: {kind: reassign, by: lee}",
            "line 12: events[0].action: reassign needs `to`",
        ),
        (
            "remit: {status_code: 4, paid: 0}",
            "remit: {adjustments: [{group: XX, reason: 50, amount: 1}]}",
            "line 12: events[0].remit.adjustments[0].group: Input should be 'CO'",
        ),
        (
            "    charge: 100\n",
            "    charge: 100\n    charge: 200\n",
            "line 9: claims[0].charge: charge is given twice",
        ),
        ("    charge: 100\n", "", "line 4: claims[0]: a claim needs a charge or lines"),
        (
            "submitted: 2025-03-03",
            "submitted: 2025-02-01",
            "line 7: claims[0].submitted: submitted 2025-02-01 is before the service date",
        ),
        (
            "submitted: 2025-03-03",
            "submitted: 2025-07-03",
            "line 7: claims[0].submitted: 2025-07-03 is after until",
        ),
        ("id: C1", "id: 'C 1'", "line 4: claims[0].id: 'C 1' is not a claim id"),
        ("until: 2025-06-30", "until: 2025-01-30", "line 2: until: 2025-01-30 is before start"),
        ("start: 2025-03-03\n", "", "line 1: start: is required"),
    ],
)
def test_scenario_mistakes(old: str, new: str, expected: str) -> None:
    assert old in BASE
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BASE.replace(old, new), "s.yaml")
    assert str(caught.value).startswith(f"s.yaml: {expected}")


def test_payer_section_mistakes() -> None:
    def problem(payer_yaml: str) -> str:
        text = BASE.replace("claims:\n", f"payers:\n  medicare:\n{payer_yaml}claims:\n")
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(text, "s.yaml")
        return str(caught.value)

    assert problem("    sla_business_days: {denials: 3}\n").startswith(
        "s.yaml: line 5: payers.medicare.sla_business_days.denials: Input should be 'follow_up'"
    )
    assert problem("    appeal_deadline_days: [0]\n").startswith(
        "s.yaml: line 5: payers.medicare.appeal_deadline_days[0]: "
    )
    assert problem("    timely_filing_days: '90'\n").startswith(
        "s.yaml: line 5: payers.medicare.timely_filing_days: "
    )
    assert "not both" in problem("    follow_up_days: 21\n    follow_up_every_days: 14\n")


def test_payer_list_mistakes_name_the_entry() -> None:
    def problem(payers_yaml: str) -> str:
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(BASE.replace("claims:\n", f"payers:\n{payers_yaml}claims:\n"), "s.yaml")
        return str(caught.value)

    unknown = problem("  - id: medicare\n    appeal_days: [30]\n")
    assert unknown.startswith("s.yaml: line 5: payers[0].appeal_days: unknown field; expected ")
    # The fields of a listed payer: a payer's, and its id.
    assert "appeal_deadline_days" in unknown and unknown.endswith(", id")
    assert problem("  - id: medicare\n  - {id: acme, timely_filing_days: 0}\n").startswith(
        "s.yaml: line 5: payers[1].timely_filing_days: "
    )
    assert problem("  - {id: acme}\n  - {id: acme}\n").startswith(
        "s.yaml: line 5: payers[1].id: payer acme is listed twice"
    )
    assert problem("  - {name: Acme}\n").startswith("s.yaml: line 4: payers[0].id: is required")
    assert problem("  - {id: true}\n").startswith("s.yaml: line 4: payers[0].id: expected text")
    assert problem("  - acme\n").startswith("s.yaml: line 4: payers[0]: ")
    assert problem("  42\n").startswith(
        "s.yaml: line 3: payers: expected payers by id (a mapping), or a list of payers"
    )


def test_payers_as_a_list_read_as_the_same_mapping() -> None:
    mapping = parse_scenario((SCENARIOS / "payer_override.yaml").read_text())
    listed = parse_scenario((SCENARIOS / "payer_override_list.yaml").read_text())
    assert listed.payers == mapping.payers
    assert listed.payer_rules() == mapping.payer_rules()
    assert parse_scenario(BASE.replace("claims:\n", "payers: []\nclaims:\n")).payers == {}


def test_empty_or_non_mapping_scenario() -> None:
    for text in ("", "- a\n- b\n"):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(text, "s.yaml")
        assert str(caught.value).startswith("s.yaml: line 1: ")


def test_payer_overrides_map_onto_payer_rules() -> None:
    text = BASE.replace(
        "claims:\n",
        """\
payers:
  medicare:
    follow_up_days: 21
    appeal_deadline_days: [30]
    sla_business_days: {denial: 3}
  acme:
    follow_up_first_days: 14
    follow_up_every_days: 45
    escalation: {deadline_window_days: 3}
claims:
""",
    )
    payers = parse_scenario(text).payer_rules()
    name, medicare = payers["medicare"]
    assert name == "Medicare (fee-for-service)"
    assert (medicare.follow_up_first_days, medicare.follow_up_every_days) == (21, 21)
    assert medicare.appeal_deadline_days == [30]
    assert medicare.notice_receipt_days == 5  # kept from the shipped profile
    assert medicare.timely_filing_days == 365
    assert medicare.sla_for(WorkItemKind.DENIAL) == 3
    assert medicare.sla_for(WorkItemKind.FOLLOW_UP) == 5  # other kinds keep theirs
    name, acme = payers["acme"]
    assert name == "acme"
    defaults = PayerRules()
    assert (acme.follow_up_first_days, acme.follow_up_every_days) == (14, 45)
    assert acme.appeal_deadline_days == defaults.appeal_deadline_days
    assert acme.escalation.deadline_window_days == 3
    assert acme.escalation.level2_after_business_days == 3


def test_values_are_read_exactly() -> None:
    text = BASE.replace("paid: 0}", "paid: 12.5, patient_responsibility: '3.10'}").replace(
        "  - at: 2025-03-20\n", "  - at: 2025-03-20 09:30:00\n"
    )
    text += "  - at: 2025-03-21T10:00:00-05:00\n    claim: C1\n"
    text += "    action: {kind: reassign, by: lee, to: 'queue:coding'}\n"
    scenario = parse_scenario(text)
    first, second = scenario.events
    assert first.remit is not None
    # YAML reads 12.5 as a float; it is taken through its text, never as binary.
    assert first.remit.paid == Decimal("12.50")
    assert first.remit.patient_responsibility == Decimal("3.10")
    assert first.remit.status_code == "4"
    assert first.at == datetime(2025, 3, 20, 9, 30, tzinfo=UTC)  # no zone: UTC
    assert second.at == datetime(2025, 3, 21, 15, 0, tzinfo=UTC)
    assert second.action is not None
    assert second.action.effective_role == Role.SUPERVISOR  # reassign defaults to supervisor
    assert scenario.claims[0].submitted == date(2025, 3, 3)
