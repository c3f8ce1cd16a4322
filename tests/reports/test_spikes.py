"""The daily denial spike check on a real database: a planted rise in one payer's
authorization denials opens one supervisor work item naming the payer, the category, the
codes and the claims; a rerun opens nothing more; noise of the baseline's size opens
nothing. The spike's own denials are posted by the real claim machine (tests/reports/
ledger.py), so the report columns the check reads are the ones production writes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain import queues
from denialflow.domain.rules.spikes import Windows
from denialflow.domain.types import WorkItemKind
from denialflow.models.tables import AuditEvent, Claim, Remittance, WorkItem
from denialflow.reports.spikes import (
    Refused,
    find_spikes,
    item_id,
    load_item,
    resolve,
    run_spike_check,
)
from denialflow.store import summaries
from tests.reports.ledger import LedgerClaim

DAY = date(2026, 6, 10)  # the check runs on this practice day
WINDOWS = Windows.for_day(DAY)
NOW = datetime(2026, 6, 10, 11, tzinfo=UTC)
ANSWERS_PER_DAY = 10


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class Planter:
    """Claims with one first answer each, inserted in bulk (the history behind the week
    checked); `summarize` then rebuilds the summaries from the rows, as a bulk load must."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.n = 0

    def answers(
        self,
        payer: str,
        day: date,
        count: int,
        outcome: str = "paid",
        category: str = "",
        reason: str = "",
    ) -> list[str]:
        now = datetime.now(UTC)
        denied = outcome == "denied"
        paid = Decimal("0") if denied else Decimal("150.00")
        contractual = Decimal("0") if denied else Decimal("50.00")
        claims, remits = [], []
        for _ in range(count):
            self.n += 1
            claim_id = f"B{self.n:05d}"
            claims.append(
                {
                    "id": claim_id,
                    "payer_id": payer,
                    "patient_address": {},
                    "subscriber": {},
                    "flags": [],
                    "service_date": day - timedelta(days=20),
                    "submitted_on": day - timedelta(days=14),
                    "status": "denied" if denied else "paid",
                    "charge": Decimal("200.00"),
                    "paid": paid,
                    "contractual": contractual,
                    "patient_responsibility": Decimal("0"),
                    "written_off": Decimal("0"),
                    "balance": Decimal("200.00") if denied else Decimal("0"),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            remits.append(
                {
                    "key": f"bulk-{claim_id}",
                    "claim_id": claim_id,
                    "status_code": "4" if denied else "1",
                    "paid": paid,
                    "patient_responsibility": Decimal("0"),
                    "remarks": [],
                    "claim_adjustments": [],
                    "service_lines": [],
                    "decision_date": day,
                    "posted_at": now,
                    "payer_id": payer,
                    "stage": "initial",
                    "outcome": outcome,
                    "denial_category": category,
                    "denial_reason": reason,
                    "denied_amount": Decimal("200.00") if denied else Decimal("0"),
                    "contractual": contractual,
                    "charge": Decimal("200.00"),
                }
            )
        if claims:
            with self.engine.begin() as connection:
                connection.execute(insert(Claim), claims)
                connection.execute(insert(Remittance), remits)
        return [c["id"] for c in claims]

    def summarize(self) -> None:
        with self.engine.begin() as connection:
            summaries.rebuild(connection)

    def history(
        self, payer: str, days: list[date], rate: float, category: str, reason: str, seed: int
    ) -> None:
        """ANSWERS_PER_DAY first answers a day, each denied for `category` with chance
        `rate` (the rest paid): the day-to-day noise of a steady payer."""
        rng = random.Random(seed)
        for day in days:
            denied = sum(rng.random() < rate for _ in range(ANSWERS_PER_DAY))
            self.answers(payer, day, ANSWERS_PER_DAY - denied)
            if denied:
                self.answers(payer, day, denied, "denied", category, reason)


def deny_for_real(engine: Engine, claim_id: str, payer: str, day: date, reason: str) -> None:
    """A claim sent and denied by the payer through the claim machine, as production."""
    run = LedgerClaim(
        engine, claim_id, payer=payer, submitted=day - timedelta(days=10), charge="300.00"
    )
    run.advance_to(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9))
    run.deny(reason=reason, decision=day, key=f"era-{claim_id}")


BASELINE = _days(WINDOWS.baseline_start, WINDOWS.baseline_end)
RECENT = _days(WINDOWS.recent_start, WINDOWS.recent_end)


@pytest.fixture
def planted(any_engine: Engine) -> list[str]:
    return plant_rise(any_engine)


def plant_rise(engine: Engine) -> list[str]:
    """Aetna denies ~3% of first answers for authorization for 90 days, then denies 12
    claims for it in a week of 70 answers. Cigna keeps its usual ~3% with a noisy week
    (5 of 70, ~1.4 sd above its mean)."""
    p = Planter(engine)
    p.history("commercial-aetna", BASELINE, 0.03, "authorization", "CO-197", seed=1)
    p.history("commercial-cigna", BASELINE, 0.03, "authorization", "CO-197", seed=2)
    # Aetna's week: 58 paid, 12 denied for authorization (8 CO-197, 4 CO-15).
    spike_claims = []
    for n, day in enumerate(RECENT):
        p.answers("commercial-aetna", day, 9 if n < 2 else 8)
    for n in range(12):
        claim_id = f"SPIKE-{n:02d}"
        deny_for_real(engine, claim_id, "commercial-aetna", RECENT[n % 7], "197" if n < 8 else "15")
        spike_claims.append(claim_id)
    # Cigna's week: 65 paid and 5 authorization denials.
    for day in RECENT:
        p.answers("commercial-cigna", day, 9 if day != RECENT[-1] else 2)
    for n in range(5):
        p.answers("commercial-cigna", RECENT[n], 1, "denied", "authorization", "CO-197")
    p.summarize()
    return spike_claims


def _spike_items(engine: Engine) -> list[WorkItem]:
    with Session(engine) as session:
        return list(
            session.exec(select(WorkItem).where(WorkItem.kind == WorkItemKind.DENIAL_SPIKE.value))
        )


def test_a_planted_rise_opens_one_item_naming_payer_category_codes_and_claims(
    any_engine: Engine, planted: list[str]
) -> None:
    run = run_spike_check(any_engine, DAY, now=NOW)
    expected_id = "spike:commercial-aetna:authorization:2026-06-10"
    assert run.opened == [expected_id]
    assert run.checked >= 2  # both payers' authorization denials were looked at
    (item,) = _spike_items(any_engine)
    assert item.id == expected_id == item_id("commercial-aetna", "authorization", DAY)
    assert item.claim_id is None
    assert item.queue == queues.ESCALATIONS and item.state == "open"
    assert item.category == "authorization"
    assert item.reason_codes == ["CO-197", "CO-15"]
    text = item.next_action
    assert text.startswith("Commercial (Aetna-like) denied 17.14% of its first answers for ")
    assert "authorization from 2026-06-03 to 2026-06-09 (12 of 70)" in text
    assert "Fisher's exact test p = " in text
    assert "CO-197 (8), CO-15 (4)" in text
    assert "12 claims, $3,600.00 denied" in text
    # The claims by number: ten in the text, all of them on the spike's page.
    assert "SPIKE-00" in text and "and 2 more" in text
    assert item.balance == Decimal("3600.00")
    with Session(any_engine) as session:
        spike = load_item(session, item.id)
        assert spike is not None
        assert sorted(r.claim_id for r in spike.claims) == sorted(planted)
        assert spike.link == (
            "/reports/denials?payer=commercial-aetna&category=authorization"
            "&from=2026-06-03&to=2026-06-09"
        )
        audit = session.exec(
            select(AuditEvent).where(AuditEvent.action == "denial_spike_check")
        ).one()
        assert audit.detail["opened"] == [expected_id]


def test_rerunning_opens_nothing_new(any_engine: Engine, planted: list[str]) -> None:
    first = run_spike_check(any_engine, DAY, now=NOW)
    again = run_spike_check(any_engine, DAY, now=NOW + timedelta(hours=1))
    assert len(first.opened) == 1 and again.opened == []
    assert again.already == first.opened
    # The next days the same week's denials are still in the window: not news again.
    for n in (1, 3, 6):
        later = run_spike_check(any_engine, DAY + timedelta(days=n))
        assert later.opened == []
    assert len(_spike_items(any_engine)) == 1


def test_noise_of_the_baselines_size_opens_nothing(any_engine: Engine) -> None:
    p = Planter(any_engine)
    for seed, payer in enumerate(("commercial-aetna", "commercial-cigna", "medicare")):
        p.history(payer, BASELINE + RECENT, 0.05, "medical_necessity", "CO-50", seed=seed)
    p.summarize()
    checked, spikes = (lambda s: find_spikes(s, DAY))(Session(any_engine))
    assert checked == 3 and spikes == []
    assert run_spike_check(any_engine, DAY, now=NOW).opened == []
    assert _spike_items(any_engine) == []


def test_a_supervisor_resolves_it_with_a_note(any_engine: Engine, planted: list[str]) -> None:
    (opened,) = run_spike_check(any_engine, DAY, now=NOW).opened
    with pytest.raises(Refused, match="note is required"):
        resolve(any_engine, opened, 1, "   ", "casey")
    resolve(
        any_engine, opened, 1, "Aetna now needs prior auth for 97110; front desk told.", "casey"
    )
    (item,) = _spike_items(any_engine)
    assert (item.state, item.outcome, item.assignee, item.version) == (
        "closed",
        "resolved",
        "casey",
        2,
    )
    assert item.next_action.endswith(
        "by casey: Aetna now needs prior auth for 97110; front desk told."
    )
    with pytest.raises(Refused) as refused:
        resolve(any_engine, opened, 1, "me too", "morgan")
    assert refused.value.conflict and "resolved by casey" in refused.value.message
    # Resolved is not forgotten: the same week does not open it again.
    assert run_spike_check(any_engine, DAY + timedelta(days=1)).opened == []


def test_the_command_runs_the_same_check_once(engine: Engine, tmp_path: Path) -> None:
    """`denialflow spikes check --date` (the engine fixture's file is the one
    DENIALFLOW_VAR_DIR points the command at)."""
    plant_rise(engine)
    env = {**os.environ, "DENIALFLOW_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "denialflow.cli", "spikes", "check", *args],
            env=env,
            capture_output=True,
            text=True,
        )

    first = run("--date", "2026-06-10")
    assert first.returncode == 0, first.stderr
    assert "1 spike(s), 1 work item(s) opened" in first.stdout
    assert "commercial-aetna authorization: 17.14% vs " in first.stdout
    again = run("--date", "2026-06-10")
    assert "0 work item(s) opened" in again.stdout and "already reported" in again.stdout
    bad = run("--date", "June 10")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    assert len(_spike_items(engine)) == 1
