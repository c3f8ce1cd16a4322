"""`python -m bench crash_posting --claims 10000 --kills 3`: SIGKILL the worker
repeatedly while it posts one large 835, then check every claim was paid exactly once
and the money balances to the file.

The fault test (tests/faults/test_repeated_kills.py) runs this at a size that fits the
CI budget; this is the full-size run, on a real dev server, worker processes and a
SQLite database in a temporary directory (or PostgreSQL with --database-url).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.procs import Children, start_temporal
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data

# Run from the checkout (as `python -m bench` is): the scenario and its checks are the
# fault test's own, so the bench and CI prove the same thing at different sizes.
from tests.faults.posting import assert_posted_exactly_once, post_through_kills


async def run(claims: int, kills: int, database_url: str | None, keep: bool) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="crash-posting-"))
    children = Children()
    try:
        address, _server, client = await start_temporal(children, tmp, print)
        engine = engine_for(database_url or f"sqlite:///{tmp / 'denialflow.db'}")
        upgrade(engine)
        with session_scope(engine) as session:
            install_reference_data(session)
        t0 = time.monotonic()
        batch, result = await post_through_kills(tmp, address, client, engine, claims, kills)
        assert_posted_exactly_once(engine, batch)
        print(
            json.dumps(
                {
                    "claims": result.claims,
                    "kills": result.kills,
                    "killed_after_remittances": result.killed_at,
                    "posted_exactly_once": True,
                    "total_paid": str(batch.total_paid),
                    "totals_balance": True,
                    "submit_seconds": round(result.submit_seconds, 1),
                    "ingest_seconds": round(result.ingest_seconds, 1),
                    "post_seconds": round(result.post_seconds, 1),
                    "total_seconds": round(time.monotonic() - t0, 1),
                },
                indent=2,
            )
        )
        return 0
    finally:
        children.stop_all()
        if keep:
            print(f"kept {tmp}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench crash_posting", description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.claims, args.kills, args.database_url, args.keep))
