"""`python -m bench.edi [--quick] [--claims N]`: 835 parsing and posting speed.

Two parts, both run by default:

parse   A 10,000-claim 835 (paid claims, CO-50 denials, patient shares; one to three
        lines each) is read the way posting reads it: tokenize, then parse_835 with
        balancing. The baseline, timed in the same run and interleaved with it, is a
        bare `[s.split("*") for s in text.split("~")]` over the same text. Best of 5.
        The issue's target is a parse within 1.5x of the split.

post    A fresh Temporal dev server, a fresh SQLite database and a real worker
        (`python -m denialflow.cli worker`, a subprocess). N claims are recorded and
        their workflows started (set-up, not timed), then one 835 that pays, denies
        or bills the patient for every one of them goes through `ingest_bytes`: parse,
        match, database writes and one signal per claim. Reported: the ingest call,
        and end to end until every claim's workflow has applied its remittance (its
        status in the database is the one the payment leads to). The baselines from
        the same run: parsing the same file alone, and the set-up rate (record the
        claim, start its workflow) on the same server and worker.

Results go to var/bench/edi.json; the summary table is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.procs import Children, cpu_seconds, run_with_children, start_temporal
from bench.workflows import SIGNAL_BASELINE, SIGNAL_NAME
from denialflow.domain.types import ZERO, ClaimIn, ClaimLineIn, ClaimStatus
from denialflow.edi.samples import SampleClaim, SampleService, build_835
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x835 import parse_835
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import Claim
from denialflow.posting.ingest import DELIVERY_CONCURRENCY, IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.worker import MAX_CACHED_WORKFLOWS
from denialflow.workflows.claim_client import submit_claim

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "var" / "bench" / "edi.json"
HOST = "127.0.0.1"
PAYER = "commercial-uhc"
TASK_QUEUE = "bench-edi"
PARSE_TARGET = 1.5  # the issue: parse within 1.5x of a plain str.split pass
SEED = 835
CENT = Decimal("0.01")

# (code, fee): an office's common lines, priced per unit.
FEES = [
    ("99213", Decimal("150.00")),
    ("99214", Decimal("212.40")),
    ("99203", Decimal("185.50")),
    ("36415", Decimal("18.00")),
    ("85025", Decimal("32.75")),
    ("93000", Decimal("64.20")),
    ("71046", Decimal("120.00")),
    ("90471", Decimal("27.35")),
]
LAST_NAMES = ["SMITH", "GARCIA", "NGUYEN", "JOHNSON", "OKAFOR", "MULLER", "ROSSI", "KIM"]
FIRST_NAMES = ["ANA", "JAMES", "LI", "MARIA", "SAMUEL", "PRIYA", "", "JOSE"]


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, flush=True)


# --- the claims and their 835 -----------------------------------------------------


@dataclass
class BenchClaim:
    claim: ClaimIn  # as intake records it
    payment: SampleClaim  # what the payer's 835 says about it
    expected: str  # the claim status once its workflow has applied the payment


def make_claims(n: int, today: date, seed: int = SEED) -> list[BenchClaim]:
    """N claims for one payer and the 835 entries that settle them: about 70% paid
    (the rest of each line contractual, CO-45), 20% paid with a patient share (PR-1
    or PR-2), 10% denied as not medically necessary (CO-50, status 4)."""
    rng = random.Random(seed)
    claims = []
    for i in range(n):
        claim_id = f"B{i:06d}"
        served = today - timedelta(days=rng.randint(3, 40))
        last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
        member = f"M{rng.randrange(10**8):08d}"
        roll = rng.random()
        kind = "denied" if roll < 0.10 else "patient" if roll < 0.30 else "paid"
        lines: list[ClaimLineIn] = []
        services: list[SampleService] = []
        patient_share = ZERO
        for n_line in range(rng.choice((1, 1, 1, 2, 2, 3))):
            code, fee = rng.choice(FEES)
            units = Decimal(rng.choice((1, 1, 1, 2)))
            modifiers = ["25"] if code.startswith("992") and rng.random() < 0.2 else []
            charge = fee * units
            lines.append(
                ClaimLineIn(procedure_code=code, modifiers=modifiers, units=units, charge=charge)
            )
            if kind == "denied":
                paid, adjustments = ZERO, [("CO", "50", charge)]
            else:
                allowed = (charge * Decimal(rng.randint(55, 85)) / 100).quantize(CENT)
                adjustments = [("CO", "45", charge - allowed)]
                paid = allowed
                if kind == "patient" and n_line == 0:
                    share = (allowed * Decimal("0.2")).quantize(CENT)
                    # PR-1 deductible or PR-2 coinsurance
                    adjustments.append(("PR", rng.choice(("1", "2")), share))
                    paid -= share
                    patient_share += share
            services.append(
                SampleService(code, charge, paid, adjustments, units=units, modifiers=modifiers)
            )
        total = sum((line.charge for line in lines), ZERO)
        claim = ClaimIn(
            id=claim_id,
            payer_id=PAYER,
            patient_name=f"{last}, {first}".rstrip(", "),
            patient_birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
            patient_gender=rng.choice(("F", "M")),
            member_id=member,
            service_date=served,
            submitted_on=today,
            diagnoses=["J20.9"],
            lines=lines,
        )
        payment = SampleClaim(
            patient_control_number=claim_id,
            charge=total,
            paid=sum((s.paid for s in services), ZERO),
            status_code="4" if kind == "denied" else "1",
            patient_responsibility=patient_share,
            payer_claim_control_number=f"26{rng.randrange(10**11):011d}",
            services=services,
            service_date=served,
            patient_last=last,
            patient_first=first,
            member_id=member,
        )
        expected = {
            "paid": ClaimStatus.PAID,
            "patient": ClaimStatus.PATIENT_BALANCE,
            "denied": ClaimStatus.DENIED,
        }[kind]
        claims.append(BenchClaim(claim, payment, expected.value))
    return claims


def make_835(claims: list[BenchClaim], today: date, number: int = 1) -> str:
    """One payer check; `number` tells several checks of one run apart (their interchange
    control and trace numbers)."""
    # One interest payment on the PLB (a negative adjustment adds to the check).
    return build_835(
        [c.payment for c in claims],
        paid_on=today,
        trace_number=f"BENCH{number}X{len(claims)}",
        control_number=number,
        payer_name="UNITEDHEALTHCARE",
        payer_id="87726",
        provider_adjustments=[("L6", "INTEREST", Decimal("-12.34"))],
    )


# --- part 1: parse ---------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    gc.collect()  # each run starts from the same heap; the collection is not timed
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del result
    return wall, cpu


def bench_parse(n: int, repeats: int, today: date) -> dict[str, Any]:
    claims = make_claims(n, today)
    text = make_835(claims, today)
    log(f"parse: {n} claims, {len(text) / 2**20:.2f} MiB, best of {repeats}")

    remittance = parse_835(tokenize(text, "bench.835").transactions[0])
    if len(remittance.claims) != n or not remittance.balanced:
        raise BenchError(f"the generated 835 does not read back: {remittance.problems[:3]}")
    del claims, remittance  # only the text stays: the heap is not the generator's

    def split() -> object:
        return [s.split("*") for s in text.split("~")]

    def tokenize_only() -> object:
        return tokenize(text, "bench.835")

    # Full collections inside the timed parse, which the allocations set off under the
    # process's own settings: on a big heap they are much of the figure.
    full_collections: list[int] = []

    def parse() -> object:
        before = gc.get_stats()[2]["collections"]
        remittance = parse_835(tokenize(text, "bench.835").transactions[0])
        full_collections.append(gc.get_stats()[2]["collections"] - before)
        return remittance

    runs: dict[str, list[tuple[float, float]]] = {"split": [], "tokenize": [], "parse": []}
    for _ in range(repeats):  # interleaved, so a burst of load hits every side
        runs["split"].append(_timed(split))
        runs["tokenize"].append(_timed(tokenize_only))
        runs["parse"].append(_timed(parse))

    def figures(name: str) -> dict[str, float]:
        wall = [w for w, _c in runs[name]]
        cpu = [c for _w, c in runs[name]]
        return {
            "best_ms": round(min(wall) * 1e3, 1),
            "median_ms": round(statistics.median(wall) * 1e3, 1),
            "cpu_best_ms": round(min(cpu) * 1e3, 1),
            "claims_per_second": round(n / min(wall)),
        }

    result = {name: figures(name) for name in runs}
    ratio = min(w for w, _ in runs["parse"]) / min(w for w, _ in runs["split"])
    cpu_ratio = min(c for _, c in runs["parse"]) / min(c for _, c in runs["split"])
    return {
        "claims": n,
        "bytes": len(text),
        "segments": text.count("~"),
        "repeats": repeats,
        "method": (
            "best of N wall-clock runs each, interleaved, gc.collect() (untimed) before each; "
            "parse = tokenize + parse_835 (typed records, Decimal money, balancing), "
            "with the garbage collections it sets off; "
            'baseline = [s.split("*") for s in text.split("~")] over the same text'
        ),
        **result,
        "parse_full_collections": full_collections,
        "ratio": round(ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
        "target_ratio": PARSE_TARGET,
        "meets_target": ratio <= PARSE_TARGET,
    }


# --- part 2: post end to end -----------------------------------------------------


class Post:
    def __init__(self, args: argparse.Namespace, tmp: Path, children: Children) -> None:
        self.args = args
        self.tmp = tmp
        self.children = children
        self.address = ""
        self.db_url = f"sqlite:///{tmp / 'denialflow.db'}"
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.client: Client | None = None
        self.engine: Engine | None = None

    async def start(self) -> None:
        self.address, self.server, self.client = await start_temporal(
            self.children, self.tmp, log, HOST
        )

        self.engine = engine_for(self.db_url)
        upgrade(self.engine)
        with session_scope(self.engine) as session:
            install_reference_data(session)

        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url,
            TEMPORAL_ADDRESS=self.address,
            DENIALFLOW_TASK_QUEUE=TASK_QUEUE,
            DENIALFLOW_VAR_DIR=str(self.tmp / "var"),
        )
        logpath = self.tmp / "worker.log"
        t0 = time.perf_counter()
        with logpath.open("ab") as logfile:
            self.worker = self.children.add(
                subprocess.Popen(
                    # The shipped worker (denialflow.worker.build_worker) plus the
                    # baseline workflows, so both are judged on one worker.
                    [
                        sys.executable,
                        "-m",
                        "bench.worker",
                        "--address",
                        self.address,
                        "--task-queue",
                        TASK_QUEUE,
                        "--database-url",
                        self.db_url,
                        "--max-cached-workflows",
                        str(self.args.max_cached_workflows),
                        "--ready-file",
                        str(self.tmp / "worker.ready"),
                        "--parent-pid",
                        str(os.getpid()),
                    ],
                    env=env,
                    cwd=ROOT,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches us only; we stop it
                )
            )
        await self.wait_for_poller(logpath)
        log(f"worker pid {self.worker.pid} polling in {time.perf_counter() - t0:.1f}s")

    async def wait_for_poller(self, logpath: Path, timeout: float = 120.0) -> None:
        assert self.client is not None and self.worker is not None
        request = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=TASK_QUEUE),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.worker.poll() is not None:
                raise BenchError(f"worker exited with {self.worker.returncode} (log: {logpath})")
            response = await self.client.workflow_service.describe_task_queue(request)
            if response.pollers:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"worker not polling after {timeout:.0f}s (log: {logpath})")
            await asyncio.sleep(0.3)

    async def submit_all(self, claims: list[BenchClaim]) -> dict[str, Any]:
        """Record every claim and start its workflow, `concurrency` at a time."""
        assert self.client is not None and self.engine is not None
        client, engine = self.client, self.engine
        queue: asyncio.Queue[BenchClaim] = asyncio.Queue()
        for c in claims:
            queue.put_nowait(c)
        done = 0

        async def lane() -> None:
            nonlocal done
            while not queue.empty():
                c = queue.get_nowait()
                await submit_claim(client, engine, c.claim, TASK_QUEUE)
                done += 1

        t0 = time.perf_counter()
        lanes = [asyncio.create_task(lane()) for _ in range(self.args.concurrency)]
        watcher = asyncio.create_task(
            self.progress("set-up: claims recorded and started", lambda: done, len(claims), t0)
        )
        try:
            await asyncio.gather(*lanes)
        finally:
            watcher.cancel()
            for task in lanes:
                task.cancel()
        seconds = time.perf_counter() - t0
        log(f"set-up: {len(claims)} claims in {seconds:.1f}s ({len(claims) / seconds:.1f}/s)")
        return {
            "seconds": round(seconds, 2),
            "claims_per_second": round(len(claims) / seconds, 1),
            "concurrency": self.args.concurrency,
        }

    async def progress(
        self, what: str, count: Callable[[], int], total: int, t0: float, every: float = 10.0
    ) -> None:
        while True:
            await asyncio.sleep(every)
            n = count()
            elapsed = time.perf_counter() - t0
            rate = n / elapsed if elapsed else 0.0
            eta = f", about {(total - n) / rate:.0f}s to go" if rate and n < total else ""
            log(f"  {what}: {n}/{total} after {elapsed:.0f}s ({rate:.1f}/s{eta})")

    async def backlog(self) -> int:
        """Tasks waiting on our task queue (workflow and activity), as the server counts."""
        assert self.client is not None
        total = 0
        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=TASK_QUEUE),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            total += response.stats.approximate_backlog_count
        return total

    async def settle(
        self, quiet_share: float = 0.25, window: float = 2.0, limit: float = 600.0
    ) -> float:
        """Wait until the set-up's work is done (the workflows' first tasks): no task
        waiting on the queue and the worker and server nearly idle, so the timed part
        does not pay for the set-up's backlog."""
        assert self.worker is not None and self.server is not None
        pids = [self.worker.pid, self.server.pid]
        t0 = last_log = time.perf_counter()
        while True:
            before = sum(cpu_seconds(p) for p in pids)
            await asyncio.sleep(window)
            busy = (sum(cpu_seconds(p) for p in pids) - before) / window
            waiting = await self.backlog()
            now = time.perf_counter()
            if waiting == 0 and busy < quiet_share:
                break
            if now - t0 > limit:
                log(f"  not settled after {limit:.0f}s; going on")
                break
            if now - last_log >= 15:
                last_log = now
                log(f"  settling: {waiting} tasks queued, worker+server {busy:.0%} of a cpu")
        seconds = time.perf_counter() - t0
        log(f"settled after {seconds:.1f}s")
        return seconds

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by this process (ingest runs here), the worker and
        the dev server: where the time of the posting goes."""
        assert self.worker is not None and self.server is not None
        return {
            "bench_process": time.process_time(),
            "worker": cpu_seconds(self.worker.pid),
            "server": cpu_seconds(self.server.pid),
        }

    def statuses(self) -> collections.Counter[str]:
        assert self.engine is not None
        with Session(self.engine) as session:
            rows = session.exec(select(Claim.status, func.count()).group_by(Claim.status)).all()
        return collections.Counter({status: count for status, count in rows})

    async def run(self, claims: list[BenchClaim], today: date) -> dict[str, Any]:
        assert self.client is not None and self.engine is not None
        n = len(claims)
        data = make_835(claims, today).encode()
        log(f"post: {n} claims, 835 of {len(data) / 2**20:.2f} MiB")

        # The same bytes parsed alone, in this process: how much of ingest is parsing.
        parse_times = [
            _timed(lambda: parse_835(tokenize(data.decode()).transactions[0]))[0] for _ in range(2)
        ]

        setup = await self.submit_all(claims)
        settled = await self.settle()
        setup["settle_seconds"] = round(settled, 1)
        # Starting a workflow returns once the server has it; its first task runs later.
        setup["with_first_task_claims_per_second"] = round(n / (setup["seconds"] + settled), 1)

        expected = collections.Counter(c.expected for c in claims)
        settings = Settings(
            DENIALFLOW_TASK_QUEUE=TASK_QUEUE,
            DENIALFLOW_VAR_DIR=str(self.tmp / "var"),
            DATABASE_URL=self.db_url,
            TEMPORAL_ADDRESS=self.address,
        )
        ctx = IngestContext(self.client, self.engine, settings)
        log("post: ingest_bytes (timed)")
        cpu0 = self.cpu()
        t0 = time.perf_counter()
        report = await ingest_bytes(data, "bench.835", ctx)
        ingest_seconds = time.perf_counter() - t0
        cpu_ingest = self.cpu()
        if not report.ok or report.remittances_posted != n or report.unmatched:
            raise BenchError(f"ingest did not post every claim: {report.describe()[:2000]}")
        log(f"post: ingest returned after {ingest_seconds:.1f}s; waiting for the workflows")

        await self.wait_for_statuses(expected, t0, "workflows applied", every=15.0, poll=0.25)
        e2e_seconds = time.perf_counter() - t0
        cpu_e2e = self.cpu()
        log(f"post: all {n} workflows applied their remittance {e2e_seconds:.1f}s after the start")
        baseline = await self.signal_baseline(n)
        parse_best = min(parse_times)
        return {
            "claims": n,
            "bytes": len(data),
            "expected_statuses": dict(expected),
            "ingest": {
                "seconds": round(ingest_seconds, 2),
                "claims_per_second": round(n / ingest_seconds, 1),
                "what": "ingest_bytes: tokenize + parse + match + database writes + "
                "one signal per claim (returns once every signal is accepted)",
                "cpu_seconds": _cpu_delta(cpu0, cpu_ingest),
            },
            "end_to_end": {
                "seconds": round(e2e_seconds, 2),
                "claims_per_second": round(n / e2e_seconds, 1),
                "what": "from the ingest call until every claim's status in the database "
                "is the one its payment leads to (workflow applied it, projection wrote it)",
                "cpu_seconds": _cpu_delta(cpu0, cpu_e2e),
            },
            "baselines": {
                "signal": baseline,
                "parse_same_file": {
                    "seconds": round(parse_best, 3),
                    "claims_per_second": round(n / parse_best),
                    "what": "tokenize + parse_835 of the same bytes in this process (best of 2)",
                },
                "setup": {
                    **setup,
                    "what": "record the claim and start its workflow (operations.submit_claim) "
                    "on the same server and worker, before the timed part; "
                    "with_first_task: until the worker has also run every workflow's first "
                    "task (the queue is empty)",
                },
            },
        }

    async def wait_for_statuses(
        self,
        expected: collections.Counter[str],
        t0: float,
        what: str,
        every: float = 10.0,
        poll: float = 0.5,
    ) -> None:
        """Until the claims' statuses in the database are `expected` (every workflow has
        applied its remittance); fails after `--stall` seconds without a change."""
        applied, seen, last_change = 0, -1, time.perf_counter()
        total = sum(expected.values())
        watcher = asyncio.create_task(self.progress(what, lambda: applied, total, t0, every))
        try:
            while True:
                counts = self.statuses()
                applied = sum(min(counts[s], k) for s, k in expected.items())
                if counts == expected:
                    return
                now = time.perf_counter()
                if applied != seen:
                    seen, last_change = applied, now
                elif now - last_change > self.args.stall:
                    raise BenchError(
                        f"no claim changed status for {self.args.stall:.0f}s: {dict(counts)}, "
                        f"expected {dict(expected)} (logs in {self.tmp})"
                    )
                await asyncio.sleep(poll)
        finally:
            watcher.cancel()

    async def completed(self, workflow_type: str) -> int:
        assert self.client is not None
        return (
            await self.client.count_workflows(
                f'WorkflowType = "{workflow_type}" AND ExecutionStatus = "Completed"'
            )
        ).count

    async def signal_baseline(self, n: int) -> dict[str, Any]:
        """The least a workflow can do with a payment, on the same server and worker: n
        SignalBaseline workflows started and settled, then one signal each, sent with
        posting's own concurrency, timed until every one has recorded it and finished."""
        assert self.client is not None
        client = self.client
        ids = [f"baseline-{i}" for i in range(n)]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for workflow_id in ids:
            queue.put_nowait(workflow_id)

        async def start_lane() -> None:
            while not queue.empty():
                await client.start_workflow(
                    SIGNAL_BASELINE, id=queue.get_nowait(), task_queue=TASK_QUEUE
                )

        log(f"baseline: starting {n} {SIGNAL_BASELINE} workflows")
        await asyncio.gather(*(start_lane() for _ in range(self.args.concurrency)))
        await self.settle()
        for workflow_id in ids:
            queue.put_nowait(workflow_id)

        async def signal_lane() -> None:
            while not queue.empty():
                handle = client.get_workflow_handle(queue.get_nowait())
                await handle.signal(SIGNAL_NAME, "paid")

        log("baseline: one signal each (timed)")
        cpu0 = self.cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(signal_lane() for _ in range(DELIVERY_CONCURRENCY)))
        sent_seconds = time.perf_counter() - t0
        done, last_change, seen = 0, time.perf_counter(), -1
        while done < n:
            await asyncio.sleep(0.25)
            done = await self.completed(SIGNAL_BASELINE)
            now = time.perf_counter()
            if done != seen:
                seen, last_change = done, now
            elif now - last_change > self.args.stall:
                raise BenchError(f"baseline stalled at {done}/{n} (logs in {self.tmp})")
        seconds = time.perf_counter() - t0
        log(f"baseline: {n} signals handled in {seconds:.1f}s ({n / seconds:.1f}/s)")
        return {
            "seconds": round(seconds, 2),
            "signals_per_second": round(n / seconds, 1),
            "sent_seconds": round(sent_seconds, 2),
            "cpu_seconds": _cpu_delta(cpu0, self.cpu()),
            "what": f"{SIGNAL_BASELINE}: wait for one signal, record it with one no-op local "
            "activity, finish; signalled with posting's concurrency on the same server and "
            "worker, timed until all had finished",
        }


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 1) for name in before}


async def bench_post(args: argparse.Namespace, tmp: Path, children: Children) -> dict[str, Any]:
    post = Post(args, tmp, children)
    await post.start()
    today = datetime.now(UTC).date()
    return await post.run(make_claims(args.claims, today, seed=SEED + 1), today)


# --- output ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_mib": round(psutil.virtual_memory().total / 2**20),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def summary_table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    p = result.get("parse")
    if p:
        rows += [
            (
                f"parse {p['claims']} claims ({p['bytes'] / 2**20:.1f} MiB)",
                f"{p['parse']['claims_per_second']:,} claims/s ({p['parse']['best_ms']:.0f} ms)",
                f"str.split {p['split']['claims_per_second']:,} claims/s "
                f"({p['split']['best_ms']:.0f} ms)",
            ),
            (
                "  parse / split",
                f"{p['ratio']:.2f}x (cpu {p['cpu_ratio']:.2f}x)",
                f"target <= {p['target_ratio']}x: {'met' if p['meets_target'] else 'NOT met'}",
            ),
            (
                "  of which tokenize",
                f"{p['tokenize']['best_ms']:.0f} ms",
                f"{p['tokenize']['best_ms'] / p['split']['best_ms']:.2f}x split",
            ),
        ]
    q = result.get("post")
    if q:
        b = q["baselines"]
        rows += [
            (
                f"post {q['claims']} claims: ingest_bytes",
                f"{q['ingest']['claims_per_second']:,.1f} claims/s "
                f"({q['ingest']['seconds']:.1f} s)",
                f"parse alone {b['parse_same_file']['claims_per_second']:,} claims/s",
            ),
            (
                "  end to end (workflows applied)",
                f"{q['end_to_end']['claims_per_second']:,.1f} claims/s "
                f"({q['end_to_end']['seconds']:.1f} s)",
                f"set-up (record + start) {b['setup']['claims_per_second']:,.1f} claims/s",
            ),
            (
                "",
                "",
                "  with first workflow task run "
                f"{b['setup']['with_first_task_claims_per_second']:,.1f} claims/s",
            ),
            (
                "  end to end / ingest",
                f"{q['end_to_end']['claims_per_second'] / q['ingest']['claims_per_second']:.2f}",
                "target >= 0.7",
            ),
            (
                "  end to end / signal baseline",
                f"{q['end_to_end']['claims_per_second'] / b['signal']['signals_per_second']:.2f}",
                f"baseline {b['signal']['signals_per_second']:,.1f} signals/s "
                f"({b['signal']['seconds']:.1f} s); target >= 0.7",
            ),
            (
                "  cpu s: ingest process/worker/server",
                "{bench_process} / {worker} / {server}".format(**q["end_to_end"]["cpu_seconds"]),
                f"over {q['end_to_end']['seconds']:.0f} s on {result['machine']['cpus']} cpus",
            ),
            (
                "  baseline cpu s: bench/worker/server",
                "{bench_process} / {worker} / {server}".format(**b["signal"]["cpu_seconds"]),
                "",
            ),
        ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    head = ("figure", "measured", "baseline (same run)")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# --- command line ------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.edi",
        description="835 parse speed against str.split, and posting an 835 end to end "
        "(ingest, signals, workflows applying it) on a fresh dev server and worker.",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 claims to post")
    parser.add_argument("--claims", type=int, help="claims to record and post (10000)")
    parser.add_argument(
        "--parse-claims", type=int, default=10_000, help="claims in the parse file (10000)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="parse runs, best of (5)")
    parser.add_argument("--concurrency", type=int, default=50, help="set-up in flight (50)")
    parser.add_argument(
        "--stall", type=float, default=180.0, help="give up after so long without progress"
    )
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=MAX_CACHED_WORKFLOWS,
        help=f"worker cache ({MAX_CACHED_WORKFLOWS}, as shipped)",
    )
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--parse-only", action="store_true", help="skip the posting part")
    parts.add_argument("--post-only", action="store_true", help="skip the parse part")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.claims is None:
        args.claims = 1000 if args.quick else 10_000
    if min(args.claims, args.parse_claims, args.repeats, args.concurrency) < 1:
        parser.error("counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "benchmark": "edi",
        "command": "python -m bench.edi " + " ".join(sys.argv[1:] if argv is None else argv),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"quick": args.quick, "claims": args.claims},
    }
    try:
        if not args.post_only:
            result["parse"] = bench_parse(args.parse_claims, args.repeats, started.date())
    except KeyboardInterrupt:
        return 130
    if not args.parse_only:
        post = run_with_children(
            "denialflow-bench-edi-", args.keep, lambda tmp, ch: bench_post(args, tmp, ch)
        )
        if post is None:
            return 130
        result["post"] = post
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    result["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(summary_table(result))
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
