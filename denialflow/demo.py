"""Demo data: a few hundred claims at every stage, made by sending real events through
the real workflows, so the queues look like a Monday morning.

Claims carry dates in the past (service, submission, decision), and the workflows
compute their deadlines from those dates, so silent claims, aging denials and
near deadlines appear without waiting. Everything is deterministic (fixed seed).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.domain import queues as q
from denialflow.domain.types import (
    ActionIn,
    Actor,
    AdjustmentIn,
    ClaimIn,
    ClaimLineIn,
    RemittanceIn,
    Role,
)
from denialflow.models.db import get_engine, session_scope
from denialflow.models.reference import add_supervisors_to_their_queues
from denialflow.models.tables import Claim, Queue, QueueMembership, User
from denialflow.settings import Settings
from denialflow.store.patient_accounts import assign_accounts
from denialflow.workflows.claim_client import ActionRefused, act, post_remittance, submit_claim
from denialflow.workflows.client import connect

DEMO_USERS: list[tuple[str, str, Role, list[str]]] = [
    ("sam", "Sam Ortiz", Role.SPECIALIST, [q.FOLLOW_UP, q.ELIGIBILITY, q.AUTHORIZATION, q.PATIENT]),
    ("riley", "Riley Chen", Role.SPECIALIST, [q.CODING, q.CLINICAL, q.COB, q.APPEALS]),
    ("jordan", "Jordan Blake", Role.SPECIALIST, [q.FOLLOW_UP, q.UNDERPAYMENTS, q.REJECTIONS]),
    ("casey", "Casey Morgan", Role.SUPERVISOR, []),
    ("alex", "Alex Rivera", Role.ADMIN, []),
]
PAYERS = ["medicare", "medicaid-tx", "commercial-uhc", "commercial-aetna", "commercial-cigna"]
PROCEDURES = ["99213", "99214", "99203", "93000", "36415", "80053", "71046", "97110", "G0439"]
DIAGNOSES = ["E11.9", "I10", "J06.9", "M54.50", "Z00.00", "R07.9", "E78.5", "K21.9"]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "June", "Kai", "Lena"]
LAST = ["Adams", "Brooks", "Cruz", "Diaz", "Evans", "Flores", "Gray", "Hill", "Ito", "Jones"]
# (CARC group, code) per denial flavour, so queues fill across categories.
DENIALS = [
    ("CO", "50"),
    ("CO", "197"),
    ("CO", "16"),
    ("CO", "27"),
    ("CO", "4"),
    ("CO", "97"),
    ("CO", "22"),
    ("CO", "11"),
    ("CO", "18"),
    ("CO", "29"),
    ("CO", "9999"),
]
STAGES = [
    ("paid", 0.16),
    ("silent", 0.18),
    ("pending", 0.10),
    ("denied", 0.26),
    ("appealed", 0.08),
    ("patient_balance", 0.10),
    ("underpaid", 0.06),
    ("worked", 0.06),
]


DEMO_PASSWORD = "demo"  # printed in the README; demo data only


def install_demo_users(session: Session) -> None:
    from denialflow.store.accounts import hash_password

    for username, full_name, role, _queues in DEMO_USERS:
        if session.get(User, username) is None:
            session.add(
                User(
                    username=username,
                    full_name=full_name,
                    role=role.value,
                    password_hash=hash_password(DEMO_PASSWORD),
                )
            )
    session.flush()
    for username, _name, _role, queues in DEMO_USERS:
        for queue in queues:
            if (
                session.get(Queue, queue)
                and session.get(QueueMembership, (queue, username)) is None
            ):
                session.add(QueueMembership(queue_name=queue, username=username))
    # The supervisor (casey) works the unmatched, refunds and approvals queues by default.
    add_supervisors_to_their_queues(session)


def _has_claims(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Claim)).one() > 0


def _claim(rng: random.Random, n: int, today: date, submitted_days_ago: int) -> ClaimIn:
    lines = [
        ClaimLineIn(
            procedure_code=rng.choice(PROCEDURES),
            charge=Decimal(rng.randrange(60, 900)) + Decimal("0.00"),
            diagnosis_pointers=[1],
        )
        for _ in range(rng.randint(1, 3))
    ]
    submitted = today - timedelta(days=submitted_days_ago)
    return ClaimIn(
        id=f"DEMO-{n:05d}",
        payer_id=rng.choice(PAYERS),
        patient_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        patient_birth_date=date(rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28)),
        member_id=f"M{rng.randrange(10**8, 10**9)}",
        service_date=submitted - timedelta(days=rng.randint(1, 10)),
        submitted_on=submitted,
        diagnoses=rng.sample(DIAGNOSES, 2),
        lines=lines,
    )


def _pick_stage(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for stage, weight in STAGES:
        total += weight
        if roll < total:
            return stage
    return STAGES[-1][0]


def _decision_days_ago(stage: str, rng: random.Random) -> int | None:
    """How long ago the payer answered, per stage: most work is fresh, some has aged
    past its SLA, a few denials sit near their appeal deadline."""
    if stage == "silent":
        return None
    if stage == "pending":
        return None
    if stage == "denied":
        roll = rng.random()
        if roll < 0.65:
            return rng.randint(0, 4)
        if roll < 0.9:
            return rng.randint(5, 20)
        return rng.randint(100, 118)
    if stage in ("patient_balance", "underpaid", "worked"):
        return rng.randint(0, 10)
    if stage == "appealed":
        return rng.randint(10, 60)
    return rng.randint(0, 60)


async def _drive(
    client: Client, claim: ClaimIn, stage: str, rng: random.Random, decided: date
) -> None:
    charge = claim.total_charge()
    key = f"{claim.id}-era1"
    specialist = Actor(username=rng.choice(["sam", "riley", "jordan"]), role=Role.SPECIALIST)

    def remit(paid: Decimal, pr: Decimal, adjustments: list[tuple[str, str, Decimal]], code: str):  # type: ignore[no-untyped-def]
        return RemittanceIn(
            key=key,
            status_code=code,
            paid=paid,
            patient_responsibility=pr,
            adjustments=[AdjustmentIn(group=g, reason=r, amount=a) for g, r, a in adjustments],
            decision_date=decided,
            payer_claim_control_number=f"ICN{rng.randrange(10**9, 10**10)}",
        )

    contractual = (charge * Decimal("0.3")).quantize(Decimal("0.01"))
    allowed = charge - contractual
    if stage == "paid":
        await post_remittance(
            client, claim.id, remit(allowed, Decimal(0), [("CO", "45", contractual)], "1")
        )
    elif stage == "patient_balance":
        pr = min(allowed, Decimal(rng.choice([20, 35, 50, 150])))
        await post_remittance(
            client,
            claim.id,
            remit(
                allowed - pr,
                pr,
                [("CO", "45", contractual), ("PR", rng.choice(["1", "2", "3"]), pr)],
                "1",
            ),
        )
    elif stage == "underpaid":
        short = (allowed * Decimal("0.2")).quantize(Decimal("0.01"))
        await post_remittance(
            client, claim.id, remit(allowed - short, Decimal(0), [("CO", "45", contractual)], "1")
        )
    elif stage in ("denied", "appealed", "worked"):
        group, code = rng.choice(DENIALS)
        await post_remittance(
            client, claim.id, remit(Decimal(0), Decimal(0), [(group, code, charge)], "4")
        )
        if stage == "appealed":
            # A passed deadline refuses the appeal: the claim stays denied, as in real life.
            with contextlib.suppress(ActionRefused):
                await act(client, claim.id, ActionIn(kind="appeal_filed", by=specialist, level=1))
        elif stage == "worked":
            await act(client, claim.id, ActionIn(kind="start_work", by=specialist))


async def seed_demo(settings: Settings, claims: int = 300, force: bool = False) -> int:
    """Seed demo users and claims into an empty database; returns the claims created."""
    engine = get_engine(settings.effective_database_url)
    with session_scope(engine) as session:
        install_demo_users(session)
        # Claims recorded before patient accounts existed get their guarantor's account.
        assign_accounts(session)
    if _has_claims(engine) and not force:
        return 0
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    rng = random.Random(20261126)
    today = datetime.now(UTC).date()
    start = 1
    if force:
        with Session(engine) as session:
            start = session.exec(select(func.count()).select_from(Claim)).one() + 1
    plans: list[tuple[ClaimIn, str, date]] = []
    for n in range(start, start + claims):
        stage = _pick_stage(rng)
        decided_ago = _decision_days_ago(stage, rng)
        if decided_ago is None:
            age = rng.randint(1, 25) if stage == "pending" else rng.randint(31, 50)
        else:
            age = decided_ago + rng.randint(14, 30)
        decided = today - timedelta(days=decided_ago or 0)
        plans.append((_claim(rng, n, today, age), stage, decided))
    semaphore = asyncio.Semaphore(20)

    async def one(claim: ClaimIn, stage: str, decided: date) -> None:
        async with semaphore:
            await submit_claim(
                client,
                engine,
                claim,
                settings.task_queue,
                actor="demo-seed",
                activity_timeout_seconds=settings.activity_timeout_seconds,
            )
            await _drive(client, claim, stage, random.Random(claim.id), decided)

    await asyncio.gather(*(one(c, s, d) for c, s, d in plans))
    return len(plans)
