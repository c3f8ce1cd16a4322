"""`python -m bench lifecycle [--claims N] [--quick]`: claims through their lifecycle on
one machine, with the figures a capacity plan needs.

Set-up (fresh, in a temporary directory removed at the end): a Temporal dev server
(`temporal server start-dev`, SQLite file, headless), a migrated SQLite database with
the reference payers and the demo users, the shipped worker (`python -m bench.worker`,
which is denialflow.worker.build_worker plus the baseline workflows) and the shipped
web app (`python -m denialflow.cli web`), each in its own process. One payload key for
all of them, as a deployment has.

The timed phases, in order, each as a person or a payer would drive it:

submit  every claim through the web app's API (POST /api/claims with a supervisor's
        bearer token, `--concurrency` requests in flight): validation, scrubbing, the
        intake transaction and the workflow's start. Then the queue settles (every
        workflow has run its first task and waits on its follow-up timer).
remit   the payer answers: 835 files of `--chunk` claims each go through ingest_bytes
        (what `denialflow ingest` and the inbound folder run): about 70% paid with a
        contractual adjustment, 20% with a patient share, 10% denied (CO-50). Timed
        until every claim's workflow has applied its remittance (the status in the
        database is the one the payment leads to).
act     specialists work the denials through the API: for each denial work item,
        start work and then file a level-1 appeal (two workflow Updates each), with
        `--concurrency` in flight. Timed until the last answer.

Measured per phase: wall time, rate, the CPU seconds of this process (the API
client and the 835 ingest), the web app, the worker and the dev server ("where the
time goes"), and the web app's and worker's memory (RSS) after it. The baseline from
the same run, on the same server and worker: SignalBaseline workflows that each take
one signal and record it with one no-op local activity, the least any workflow can do
with an event.

Results go to var/bench/lifecycle.json; a summary with a one-machine capacity estimate
is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.edi import (
    HOST,
    ROOT,
    TASK_QUEUE,
    BenchClaim,
    BenchError,
    Post,
    log,
    machine,
    make_835,
    make_claims,
)
from bench.procs import Children, rss_mib, run_with_children
from denialflow.demo import install_demo_users
from denialflow.devserver import free_port, wait_for_port
from denialflow.models.db import session_scope
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.store.accounts import issue_api_token, utcnow
from denialflow.worker import MAX_CACHED_WORKFLOWS

DEFAULT_OUTPUT = ROOT / "var" / "bench" / "lifecycle.json"
ACTOR = "casey"  # a demo supervisor: may create claims and act on any queue's items
SEED = 2718


class Lifecycle(Post):
    """Post's server, database and worker, plus the web app and the phases above."""

    def __init__(self, args: argparse.Namespace, tmp: Path, children: Children) -> None:
        super().__init__(args, tmp, children)
        self.web: subprocess.Popen | None = None
        self.base_url = ""
        self.token = ""

    async def start_web(self) -> None:
        assert self.engine is not None
        with session_scope(self.engine) as session:
            install_demo_users(session)
            self.token = issue_api_token(session, ACTOR, "bench", utcnow())
        port = free_port()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url,
            TEMPORAL_ADDRESS=self.address,
            DENIALFLOW_TASK_QUEUE=TASK_QUEUE,
            DENIALFLOW_VAR_DIR=str(self.tmp / "var"),
        )
        with (self.tmp / "web.log").open("ab") as logfile:
            self.web = self.children.add(
                subprocess.Popen(
                    [sys.executable, "-m", "denialflow.cli", "web", "--host", HOST]
                    + ["--port", str(port)],
                    env=env,
                    cwd=ROOT,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        await asyncio.to_thread(wait_for_port, HOST, port, 60, self.web, "web app")
        self.base_url = f"http://{HOST}:{port}"
        log(f"web app pid {self.web.pid} on {self.base_url}")

    def cpu(self) -> dict[str, float]:
        from bench.procs import cpu_seconds

        out = super().cpu()
        assert self.web is not None
        out["web"] = cpu_seconds(self.web.pid)
        return out

    def memory(self) -> dict[str, float]:
        """RSS of the worker and the web app, and the machine's load then: a figure taken
        while other work shared the two cores reads lower than the machine can do."""
        assert self.worker is not None and self.web is not None
        return {
            "worker_rss_mib": round(rss_mib(self.worker.pid), 1),
            "web_rss_mib": round(rss_mib(self.web.pid), 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
            limits=httpx.Limits(max_connections=self.args.concurrency),
        )

    async def lanes(self, jobs: list[Any], work: Any, what: str) -> tuple[float, int]:
        """Run `work(job)` over jobs with `concurrency` in flight; (seconds, jobs done)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        done = 0

        async def lane() -> None:
            nonlocal done
            while not queue.empty():
                await work(queue.get_nowait())
                done += 1

        t0 = time.perf_counter()
        watcher = asyncio.create_task(self.progress(what, lambda: done, len(jobs), t0))
        try:
            await asyncio.gather(*(lane() for _ in range(self.args.concurrency)))
        finally:
            watcher.cancel()
        return time.perf_counter() - t0, done

    async def phase_submit(self, claims: list[BenchClaim]) -> dict[str, Any]:
        async with self.http() as http:

            async def submit(c: BenchClaim) -> None:
                answer = await http.post("/api/claims", json=c.claim.model_dump(mode="json"))
                if answer.status_code != 201:
                    raise BenchError(
                        f"POST /api/claims {c.claim.id}: {answer.status_code} {answer.text[:300]}"
                    )

            cpu0 = self.cpu()
            seconds, n = await self.lanes(claims, submit, "submit: claims through the API")
            cpu1 = self.cpu()
        settled = await self.settle()
        log(f"submit: {n} claims in {seconds:.1f}s ({n / seconds:.1f}/s), settled {settled:.0f}s")
        return {
            "claims": n,
            "seconds": round(seconds, 2),
            "per_second": round(n / seconds, 1),
            "settle_seconds": round(settled, 1),
            "per_second_with_first_task": round(n / (seconds + settled), 1),
            "cpu_seconds": _delta(cpu0, cpu1),
            "memory_after": self.memory(),
        }

    async def phase_remit(self, claims: list[BenchClaim], today: date) -> dict[str, Any]:
        assert self.client is not None and self.engine is not None
        settings = Settings(
            DENIALFLOW_TASK_QUEUE=TASK_QUEUE,
            DENIALFLOW_VAR_DIR=str(self.tmp / "var"),
            DATABASE_URL=self.db_url,
            TEMPORAL_ADDRESS=self.address,
        )
        ctx = IngestContext(self.client, self.engine, settings)
        chunks = [claims[i : i + self.args.chunk] for i in range(0, len(claims), self.args.chunk)]
        files = [make_835(chunk, today, n).encode() for n, chunk in enumerate(chunks, 1)]
        expected = collections.Counter(c.expected for c in claims)
        cpu0 = self.cpu()
        t0 = time.perf_counter()
        for number, data in enumerate(files, 1):
            report = await ingest_bytes(data, f"bench-{number}.835", ctx)
            if not report.ok or report.unmatched:
                raise BenchError(f"835 {number} did not post: {report.describe()[:2000]}")
            log(f"remit: 835 {number}/{len(files)} ingested at {time.perf_counter() - t0:.0f}s")
        ingest_seconds = time.perf_counter() - t0
        await self.wait_for_statuses(expected, t0, "remit: workflows applied")
        seconds = time.perf_counter() - t0
        n = len(claims)
        log(f"remit: {n} remittances applied in {seconds:.1f}s ({n / seconds:.1f}/s)")
        return {
            "claims": n,
            "files": len(files),
            "bytes": sum(len(f) for f in files),
            "statuses": dict(expected),
            "ingest_seconds": round(ingest_seconds, 2),
            "seconds": round(seconds, 2),
            "per_second": round(n / seconds, 1),
            "cpu_seconds": _delta(cpu0, self.cpu()),
            "memory_after": self.memory(),
        }

    async def phase_act(self, today: date) -> dict[str, Any]:
        async with self.http() as http:
            items: list[dict[str, Any]] = []
            while True:
                page = await http.get(
                    "/api/work-items",
                    params={"kind": "denial", "limit": 500, "offset": len(items)},
                )
                if page.status_code != 200:
                    raise BenchError(f"GET /api/work-items: {page.status_code} {page.text[:300]}")
                batch = page.json()["items"]
                items += batch
                if not batch:
                    break
            refused: collections.Counter[str] = collections.Counter()

            async def act(item: dict[str, Any]) -> None:
                version = item["version"]
                for body in (
                    {"kind": "start_work"},
                    {"kind": "appeal_filed", "level": 1, "note": "records and policy enclosed"},
                ):
                    answer = await http.post(
                        f"/api/work-items/{item['id']}/actions",
                        json={**body, "expected_version": version},
                    )
                    if answer.status_code != 200:
                        refused[f"{body['kind']} {answer.status_code}"] += 1
                        return
                    version = answer.json()["version"] or version

            cpu0 = self.cpu()
            seconds, n = await self.lanes(items, act, "act: denials worked through the API")
            cpu1 = self.cpu()
        actions = 2 * n - sum(refused.values())
        log(f"act: {n} denials, {actions} actions in {seconds:.1f}s ({actions / seconds:.1f}/s)")
        if refused:
            log(f"act: refused {dict(refused)}")
        return {
            "denial_items": n,
            "actions": actions,
            "refused": dict(refused),
            "seconds": round(seconds, 2),
            "actions_per_second": round(actions / seconds, 1) if seconds else None,
            "cpu_seconds": _delta(cpu0, cpu1),
            "memory_after": self.memory(),
        }

    async def run_all(self, today: date) -> dict[str, Any]:
        await self.start()
        await self.start_web()
        idle = self.memory()
        claims = make_claims(self.args.claims, today, seed=SEED)
        result: dict[str, Any] = {"claims": len(claims), "memory_idle": idle}
        result["submit"] = await self.phase_submit(claims)
        result["remit"] = await self.phase_remit(claims, today)
        result["act"] = await self.phase_act(today)
        result["baseline"] = await self.signal_baseline(min(len(claims), self.args.baseline))
        result["capacity"] = capacity(result)
        return result


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 1) for name in before}


def capacity(result: dict[str, Any]) -> dict[str, Any]:
    """What one machine like this one holds, from the run's own figures.

    A claim's life costs one submission, one remittance and, for the denied share, two
    actions; the seconds per claim are the sum of those at the measured rates (the
    phases ran one after another, so each rate had the machine to itself). Memory: the
    worker's growth per open claim while the claims waited on timers (its cache holds
    them all up to its size)."""
    n = result["claims"]
    submit, remit, act = result["submit"], result["remit"], result["act"]
    denied_share = act["denial_items"] / n if n else 0.0
    per_claim = 1 / submit["per_second_with_first_task"] + 1 / remit["per_second"]
    if act["actions_per_second"]:
        per_claim += denied_share * 2 / act["actions_per_second"]
    grown = submit["memory_after"]["worker_rss_mib"] - result["memory_idle"]["worker_rss_mib"]
    return {
        "claims_per_hour": round(3600 / per_claim),
        "claims_per_8h_day": round(8 * 3600 / per_claim),
        "worker_kib_per_open_claim": round(grown * 1024 / n, 1) if n else None,
        "what": "one machine's throughput for whole lifecycles (submit + remit + the denied "
        "share's two actions) at the rates measured here, phases not overlapping",
    }


def summary(result: dict[str, Any]) -> str:
    r = result["lifecycle"]
    s, m, a, b = r["submit"], r["remit"], r["act"], r["baseline"]
    rows = [
        ("phase", "count", "seconds", "per second", "CPU s: bench / web / worker / server"),
        ("submit (API)", s["claims"], s["seconds"], s["per_second"], _cpu(s["cpu_seconds"])),
        ("  + first tasks", s["claims"], round(s["seconds"] + s["settle_seconds"], 2),
         s["per_second_with_first_task"], ""),
        ("remit (835s)", m["claims"], m["seconds"], m["per_second"], _cpu(m["cpu_seconds"])),
        ("act (API updates)", a["actions"], a["seconds"], a["actions_per_second"],
         _cpu(a["cpu_seconds"])),
        ("baseline: one signal", b["seconds"] and round(b["signals_per_second"] * b["seconds"]),
         b["seconds"], b["signals_per_second"], _cpu(b["cpu_seconds"])),
    ]  # fmt: skip
    width = [max(len(str(row[i])) for row in rows) for i in range(5)]
    lines = ["  ".join(str(v).ljust(width[i]) for i, v in enumerate(row)) for row in rows]
    mem = [("idle", r["memory_idle"])] + [
        (name, r[name]["memory_after"]) for name in ("submit", "remit", "act")
    ]
    lines.append("")
    lines.append("memory (RSS MiB)      worker   web     load (1 min)")
    for name, m_ in mem:
        lines.append(
            f"  after {name:<14} {m_['worker_rss_mib']:>6}  {m_['web_rss_mib']:>6}  "
            f"{m_['load_average_1m']:>6}"
        )
    c = r["capacity"]
    lines.append("")
    lines.append(
        f"remittances applied at {m['per_second'] / b['signals_per_second']:.0%} of the "
        f"one-signal baseline's rate ({m['per_second']}/s vs {b['signals_per_second']}/s)"
    )
    lines.append(
        f"one machine: about {c['claims_per_hour']:,} claim lifecycles an hour "
        f"({c['claims_per_8h_day']:,} in an 8-hour day); the worker holds an open claim in "
        f"about {c['worker_kib_per_open_claim']} KiB"
    )
    return "\n".join(lines)


def _cpu(cpu: dict[str, float]) -> str:
    return " / ".join(str(cpu.get(k, "-")) for k in ("bench_process", "web", "worker", "server"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench lifecycle",
        description="Claims through submission, remittances and actions on a dev server, "
        "a worker and the web app; rates, CPU per process, memory and a capacity estimate.",
    )
    parser.add_argument("--claims", type=int, help="claims (50000; 2000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="2,000 claims")
    parser.add_argument("--chunk", type=int, default=10_000, help="claims per 835 (10000)")
    parser.add_argument("--concurrency", type=int, default=32, help="API calls in flight (32)")
    parser.add_argument(
        "--baseline", type=int, default=10_000, help="signal-baseline workflows (10000)"
    )
    parser.add_argument("--stall", type=float, default=300.0, help="give up after so long idle")
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=MAX_CACHED_WORKFLOWS,
        help=f"worker cache ({MAX_CACHED_WORKFLOWS}, as shipped)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.claims is None:
        args.claims = 2000 if args.quick else 50_000
    if min(args.claims, args.chunk, args.concurrency, args.baseline) < 1:
        parser.error("counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "benchmark": "lifecycle",
        "command": "python -m bench lifecycle " + " ".join(argv or []),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("output",)},
    }
    # Claims served over the last weeks (make_claims), submitted and remitted today.
    lifecycle = run_with_children(
        "denialflow-bench-lifecycle-",
        args.keep,
        lambda tmp, children: Lifecycle(args, tmp, children).run_all(started.date()),
    )
    if lifecycle is None:
        return 130
    result["lifecycle"] = lifecycle
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    result["settings"]["output"] = str(args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print(summary(result))
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
