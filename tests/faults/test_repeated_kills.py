"""The worker SIGKILLed three times while it posts an 835: every claim is paid exactly
once and the money balances to the file.

CI runs it at 800 claims (about 45 s on a busy 2-core machine) to stay inside the
suite's budget; 10,000 claims take about 10 minutes there, so that run is
`python -m bench crash_posting --claims 10000 --kills 3`.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from tests.conftest import make_engine
from tests.faults.posting import assert_posted_exactly_once, post_through_kills

CLAIMS = 800
KILLS = 3


async def test_worker_killed_three_times_mid_posting_pays_every_claim_once(
    tmp_path: Path, dev_server: str, temporal: Client
) -> None:
    engine = make_engine(tmp_path, "sqlite")
    batch, run = await post_through_kills(tmp_path, dev_server, temporal, engine, CLAIMS, KILLS)
    assert len(run.killed_at) == KILLS
    # Every kill landed inside the posting, not after it.
    assert all(0 < n < CLAIMS for n in run.killed_at), run.killed_at
    assert_posted_exactly_once(engine, batch)
