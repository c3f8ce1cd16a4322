from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from edi_samples import path, text

from denialflow.edi.cli import parse_command


def run(file: Path | str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = parse_command(str(file), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def transactions(file: Path | str) -> list[dict]:
    code, out, err = run(file)
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert list(document) == ["transactions"]
    return document["transactions"]


def test_835_contract() -> None:
    (t,) = transactions(path("835_keiron_uhc_legacy_sample.txt"))
    assert set(t) >= {
        "type",
        "control_number",
        "payer",
        "payee",
        "payment",
        "claims",
        "provider_adjustments",
        "balanced",
        "problems",
    }
    assert (t["type"], t["control_number"], t["balanced"], t["problems"]) == (
        "835",
        "000000064",
        True,
        [],
    )
    assert t["payer"] == {"name": "UNITED HEALTHCARE INSURANCE COMPANY", "id": "87726"}
    assert t["payee"] == {"name": "KLAUS MEDICAL CENTER", "npi": "1922164458"}
    assert t["payment"] == {
        "amount": "349.99",
        "credit_debit": "C",
        "method": "ACH",
        "date": "2021-02-04",
        "trace_number": "1234567890",
    }
    claim = t["claims"][0]
    assert {k: claim[k] for k in list(claim)[:6]} == {
        "patient_control_number": "001-18573-358",
        "status_code": "1",
        "charge": "341.28",
        "paid": "88.92",
        "patient_responsibility": "105.26",
        "payer_claim_control_number": "ATL2819897200",
    }
    assert (claim["adjustments"], claim["remarks"]) == ([], [])
    second_line = claim["services"][1]
    assert second_line == {
        "procedure": {"qualifier": "HC", "code": "B4152", "modifiers": []},
        "charge": "184.86",
        "paid": "0.00",
        "units": "277",
        "allowed": "105.26",
        "adjustments": [
            {"group": "PR", "reason": "1", "amount": "105.26"},
            {"group": "CO", "reason": "45", "amount": "79.60"},
        ],
        "remarks": [],
    }


def test_835_unbalanced_and_plb_in_json() -> None:
    (t,) = transactions(path("835_lfh_tertiary-payment.835"))
    assert t["balanced"] is False
    assert len(t["problems"]) == 1
    (medicare,) = transactions(path("835_lfh_medicare-part-a.835"))
    assert medicare["provider_adjustments"] == [
        {"reason": "CV", "reference": "CP", "amount": "-1.27"}
    ]


def test_277ca_and_277_contract() -> None:
    (ca,) = transactions(path("277CA_ims_rejected.txt"))
    assert (ca["type"], ca["control_number"]) == ("277CA", "000001120")
    (claim,) = ca["claims"]
    assert claim["statuses"] == [{"category": "A7", "code": "562", "entity": "85"}]
    assert claim["patient_control_number"] == "3920394930203"
    assert claim["rejected"] is True
    assert claim["charge"] == "199.14"
    (status,) = transactions(path("277_lfh_claim-level-status.277"))
    assert status["type"] == "277"
    assert [c["statuses"][0]["category"] for c in status["claims"]] == ["P3", "F0", "F2"]
    assert status["claims"][2]["services"][0]["statuses"] == [
        {"category": "F2", "code": "88", "entity": "QC"}
    ]


def test_999_and_837_and_unknown() -> None:
    (ack,) = transactions(path("999_ims_rejected.txt"))
    assert (ack["type"], ack["accepted"], ack["status"]) == ("999", False, "R")
    assert ack["transaction_sets"][0]["segment_errors"][0]["segment_id"] == "NM"
    (claims,) = transactions(path("837P_lfh_tr3-example1.837"))
    assert (claims["type"], claims["control_number"]) == ("837P", "0021")
    assert [c["id"] for c in claims["claims"]] == ["26463774"]
    assert claims["claims"][0]["charge"] == "100.00"
    assert claims["claims"][0]["service_date"] == "2006-10-03"
    (unknown,) = transactions(path("276_lfh_claim-level-status.276"))
    assert unknown == {"type": "276", "control_number": "0001"}


def test_837_shows_coverages_in_order_with_the_prior_payer_s_adjudication() -> None:
    (batch,) = transactions(path("837P_lfh_cob-example3B.837"))
    (claim,) = batch["claims"]
    primary, secondary = claim["coverages"]
    assert (primary["responsibility"], primary["this_claim"]) == ("P", False)
    assert primary["payer"] == {"name": "KEY INSURANCE COMPANY", "id": "999996666"}
    assert primary["subscriber"]["member_id"] == "JS00111223333"
    paid = primary["adjudication"]
    assert (paid["paid"], paid["remaining_patient_liability"]) == ("39.15", "36.89")
    assert paid["adjustments"] == [
        {"group": "PR", "reason": "1", "amount": "21.89", "quantity": None},
        {"group": "PR", "reason": "2", "amount": "15.00", "quantity": None},
    ]
    assert [(ln["line"], ln["procedure"]["code"], ln["paid"]) for ln in paid["lines"]] == [
        (1, "99213", "40.00"),
        (2, "90782", "15.00"),
        (3, "J3301", "21.04"),
    ]
    assert paid["lines"][0]["adjustments"][0]["reason"] == "42"
    assert paid["lines"][0]["adjudicated_on"] == "2005-10-15"
    assert (secondary["responsibility"], secondary["this_claim"]) == ("S", True)
    assert (secondary["payer"]["id"], secondary["adjudication"]) == ("567890", None)
    assert claim["unmatched_line_adjudications"] == []


def test_several_transactions_in_file_order(tmp_path: Path) -> None:
    file = tmp_path / "mixed.x12"
    file.write_text(text("999_ims_rejected.txt") + text("835_lfh_managed-care.835"))
    kinds = [(t["type"], t["control_number"]) for t in transactions(file)]
    assert kinds == [("999", "95832987"), ("835", "112233")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "277_ims_x212_multi.txt: segment 111 (IEA): IEA02 '842928883'"),
        ("not an edi file\nsecond line\n", "bad.x12: segment 1 (not): expected ISA"),
        ("mutate-clp", "bad.x12: segment 13 (CLP): CLP04 'x' is not a number"),
    ],
)
def test_malformed_input_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    if content is None:
        file = path("277_ims_x212_multi.txt")
    else:
        file = tmp_path / "bad.x12"
        if content == "mutate-clp":
            content = text("835_lfh_managed-care.835").replace("*800.00*450.00*", "*800.00*x*")
        file.write_text(content)
    code, out, err = run(file)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert expected in err
    assert err.startswith(str(file))


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "absent.835")
    assert (code, out) == (2, "")
    assert err == f"{tmp_path / 'absent.835'}: cannot read: No such file or directory\n"


def test_module_entry_point_never_shows_a_traceback(tmp_path: Path) -> None:
    file = tmp_path / "truncated.835"
    file.write_text(text("835_lfh_managed-care.835")[:-200])
    done = subprocess.run(
        [sys.executable, "-m", "denialflow.edi.cli", str(file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],  # the repo root, so the package imports
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "file ends inside transaction '112233': no SE" in done.stderr
