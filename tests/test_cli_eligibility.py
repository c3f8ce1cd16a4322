"""`denialflow eligibility send`: a batch of 270s for claims named or held, from the shell."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from denialflow.domain.types import ClaimIn, ClaimLineIn, ClaimStatus
from denialflow.edi.tokenizer import read_x12
from denialflow.models.db import engine_for, session_scope
from denialflow.store.claims import record_claim


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DENIALFLOW_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "denialflow.cli", *args], env=env, capture_output=True, text=True
    )


def _claim(claim_id: str, member_id: str) -> ClaimIn:
    return ClaimIn(
        id=claim_id,
        payer_id="medicare",
        patient_name="DOE, JANE",
        patient_birth_date=date(1950, 1, 2),
        patient_gender="F",
        member_id=member_id,
        service_date=date(2025, 4, 1),
        submitted_on=date(2025, 4, 2),
        diagnoses=["I10"],
        lines=[ClaimLineIn(procedure_code="99213", charge="90.00", diagnosis_pointers=[1])],
    )


def test_send_held_claims_or_named_ones_and_say_what_was_not_asked(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    engine = engine_for(f"sqlite:///{tmp_path / 'denialflow.db'}")
    with session_scope(engine) as session:
        record_claim(session, _claim("CLI-HELD", "1EG4TE5MK72"), status=ClaimStatus.HELD)
        record_claim(session, _claim("CLI-SENT", "1EG4TE5MK73"))
    engine.dispose()

    held = _run(tmp_path, "eligibility", "send", "--held")
    assert held.returncode == 0, held.stderr
    assert "for 1 claim: CLI-HELD" in held.stdout
    (written,) = (tmp_path / "outbound").glob("270-*.x12")
    assert written.name in held.stdout
    (tx,) = read_x12(written).transactions
    assert ["NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", "1EG4TE5MK72"] in tx.segments

    some = _run(tmp_path, "eligibility", "send", "--claims", "CLI-SENT,NOPE")
    assert some.returncode == 1
    assert "for 1 claim: CLI-SENT" in some.stdout
    assert "not asked: claim NOPE: there is no such claim" in some.stdout

    none = _run(tmp_path, "eligibility", "send", "--claims", "NOPE")
    assert none.returncode == 2 and "no 270 written" in none.stderr
    assert len(list((tmp_path / "outbound").glob("270-*.x12"))) == 2
    assert "Traceback" not in held.stderr + some.stderr + none.stderr
