"""`python -m bench web`: the queue page's server time with 100,000 open work items.

Loads 100,000 open work items across 20 queues and 50 users into SQLite and into
PostgreSQL, then times GET /queue for a specialist and for a supervisor (200 requests
each, in process through ASGI, so the figure is the server's time without a network)
and, as the baseline in the same run, the raw SQL behind it (queries.queue_items).
Target: p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.domain.types import Role
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import Claim, Queue, QueueMembership, User, WebSession, WorkItem
from denialflow.settings import Settings
from denialflow.store.accounts import SESSION_COOKIE, token_digest
from denialflow.web.deps import Viewer
from denialflow.web.queries import queue_items

ROOT = Path(__file__).resolve().parents[1]
PAYERS = ["medicare", "medicaid-tx", "commercial-uhc", "commercial-aetna", "commercial-cigna"]
KINDS = ["follow_up", "denial", "underpayment", "patient_balance", "appeal_follow_up"]
CATEGORIES = ["eligibility", "authorization", "coding", "medical_necessity", "other", None]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(engine: Engine, items: int, queues: int, users: int, seed: int = 7) -> None:
    """Reference data, queues, users and `items` open work items, each on its own claim."""
    rng = random.Random(seed)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        install_reference_data(session)
        for q in range(1, queues + 1):
            session.add(Queue(name=f"q{q:02d}", title=f"Queue {q}"))
        for u in range(1, users + 1):
            session.add(User(username=f"u{u:02d}", full_name=f"User {u}", role="specialist"))
        session.add(User(username="boss", full_name="Supervisor", role="supervisor"))
        session.flush()
        for u in range(1, users + 1):
            for q in rng.sample(range(1, queues + 1), 2):
                session.add(QueueMembership(queue_name=f"q{q:02d}", username=f"u{u:02d}"))
    batch = 5000
    for start in range(0, items, batch):
        claims, work = [], []
        for n in range(start, min(start + batch, items)):
            cid = f"B{n:07d}"
            served = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
            balance = Decimal(rng.randint(2000, 500000)) / 100
            claims.append(
                {
                    "id": cid,
                    "payer_id": rng.choice(PAYERS),
                    "patient_name": "",
                    "member_id": "",
                    "patient_gender": "U",
                    "patient_address": {},
                    "subscriber": {},
                    "place_of_service": "11",
                    "service_date": served,
                    "submitted_on": served + timedelta(days=3),
                    "frequency_code": "1",
                    "payer_claim_control_number": "",
                    "status": "denied",
                    "charge": balance,
                    "paid": 0,
                    "contractual": 0,
                    "patient_responsibility": 0,
                    "written_off": 0,
                    "balance": balance,
                    "appeal_level": 0,
                    "flags": [],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            likelihood = Decimal(rng.choice(["0.45", "0.55", "0.75", "0.9"]))
            urgency = Decimal(rng.randint(1, 30))
            level = rng.choice([0, 0, 0, 1, 2])
            multiplier = Decimal([1, 2, 4][level])
            queue = f"q{rng.randint(1, queues):02d}"
            assigned = f"u{rng.randint(1, users):02d}" if rng.random() < 0.3 else None
            work.append(
                {
                    "id": f"{cid}:1",
                    "claim_id": cid,
                    "kind": rng.choice(KINDS),
                    "queue": queue,
                    "home_queue": queue,
                    "assignee": assigned,
                    "state": "in_progress" if assigned and rng.random() < 0.3 else "open",
                    "version": 1,
                    "category": rng.choice(CATEGORIES),
                    "reason_codes": ["CO-50"],
                    "next_action": "",
                    "opened_at": now - timedelta(days=rng.randint(0, 30)),
                    "due_at": now + timedelta(days=rng.randint(-10, 10)),
                    "escalation_level": level,
                    "escalation_reason": "sla" if level else None,
                    "deadline_name": "appeal_level_1",
                    "deadline_at": date.today() + timedelta(days=rng.randint(1, 120)),
                    "balance": balance,
                    "likelihood": likelihood,
                    "urgency": urgency,
                    "escalation_multiplier": multiplier,
                    "priority": (balance * likelihood * urgency * multiplier).quantize(
                        Decimal("0.01")
                    ),
                    "updated_at": now,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(Claim.__table__), claims)  # type: ignore[attr-defined]
            conn.execute(insert(WorkItem.__table__), work)  # type: ignore[attr-defined]
        log(f"  loaded {min(start + batch, items):,} work items")
    if engine.dialect.name == "postgresql":
        # VACUUM too: until the visibility map is set a count cannot be answered from the
        # index alone, and whether autovacuum gets to the fresh table before or during
        # the timing would decide the figures. A live table is vacuumed routinely.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def session_cookie(engine: Engine, username: str) -> str:
    token = f"bench-{username}"
    with session_scope(engine) as session:
        now = datetime.now(UTC)
        session.merge(
            WebSession(
                token_hash=token_digest(token),
                username=username,
                csrf_token="x",
                created_at=now,
                expires_at=now + timedelta(hours=10),
            )
        )
    return token


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def time_page(url: str, cookie: str, requests: int, settings: Settings) -> dict[str, float]:
    from denialflow.web.app import create_app

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    samples = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        http.cookies.set(SESSION_COOKIE, cookie)
        warm = await http.get(url)
        if warm.status_code != 200:
            raise RuntimeError(f"GET {url} answered {warm.status_code}: {warm.text[:300]}")
        for _ in range(requests):
            started = time.perf_counter()
            response = await http.get(url)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200
    return stats_ms(samples)


def time_sql(engine: Engine, viewer: Viewer, requests: int) -> dict[str, float]:
    samples = []
    with Session(engine) as session:
        rows, total = queue_items(session, viewer)
        assert rows and total
        for _ in range(requests):
            started = time.perf_counter()
            queue_items(session, viewer)
            samples.append(time.perf_counter() - started)
    return stats_ms(samples)


async def measure(url: str, engine: Engine, requests: int) -> dict[str, Any]:
    settings = Settings(DATABASE_URL=url)
    out: dict[str, Any] = {}
    for who, role in (("u01", Role.SPECIALIST), ("boss", Role.SUPERVISOR)):
        cookie = session_cookie(engine, who)
        viewer = Viewer(username=who, full_name=who, role=role, csrf_token="x")
        out[who] = {
            "role": role.value,
            "raw_sql": time_sql(engine, viewer, requests),
            "queue_page": await time_page("/queue", cookie, requests, settings),
        }
        log(f"  {who} ({role.value}): {out[who]}")
    return out


def _postgres() -> tuple[str | None, bool]:
    """A PostgreSQL URL: TEST_DATABASE_URL, else a throwaway server from scripts/postgres.sh."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url, False
    script = ROOT / "scripts" / "postgres.sh"
    started = subprocess.run([str(script), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        log(f"PostgreSQL not available: {started.stderr.strip()}")
        return None, False
    url = subprocess.run([str(script), "url"], capture_output=True, text=True).stdout.strip()
    return url, True


def _fresh_pg(url: str) -> str:
    from sqlalchemy import text

    name = f"bench_{int(time.time())}"
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + "/" + name


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "web queue page",
        "items": args.items,
        "queues": args.queues,
        "users": args.users,
        "requests": args.requests,
        "target_p95_ms": 50,
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="denialflow-webbench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        log(f"SQLite: loading {args.items:,} open work items")
        engine = engine_for(url)
        load(engine, args.items, args.queues, args.users)
        result["backends"]["sqlite"] = await measure(url, engine, args.requests)
        engine.dispose()
    if not args.no_postgres:
        base, started = _postgres()
        if base:
            try:
                url = _fresh_pg(base)
                log(f"PostgreSQL: loading {args.items:,} open work items")
                engine = engine_for(url)
                load(engine, args.items, args.queues, args.users)
                result["backends"]["postgresql"] = await measure(url, engine, args.requests)
                engine.dispose()
            finally:
                if started:
                    subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], check=False)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        f"queue page with {result['items']:,} open items, {result['queues']} queues, "
        f"{result['users']} users; {result['requests']} requests each (target p95 < 50 ms)",
        f"{'backend':<11} {'viewer':<11} {'what':<22} {'median ms':>10} {'p95 ms':>8}",
    ]
    for backend, viewers in result["backends"].items():
        for _who, figures in viewers.items():
            for what, label in (("queue_page", "GET /queue"), ("raw_sql", "raw SQL (baseline)")):
                f = figures[what]
                lines.append(
                    f"{backend:<11} {figures['role']:<11} {label:<22} "
                    f"{f['median_ms']:>10.2f} {f['p95_ms']:>8.2f}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench web", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10,000 items, 50 requests")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.requests = 10_000, 50
    result = asyncio.run(run(args))
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "web.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
