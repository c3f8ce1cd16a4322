"""`python -m bench reports [--claims N] [--backend sqlite|postgresql|both]`: the report
pages' server time at 1,000,000 claims, on SQLite and on PostgreSQL.

Data: bench/report_data.py makes the claims with the real claim machine (about 10% of
first answers denied across eleven reasons, then appealed, corrected, written off or
left open; underpayments, patient balances, silent payers, front-door rejections,
reversals; five payers; three years of submissions up to today) and bulk-loads them,
then rebuilds the report summaries from the rows and proves them equal with
`denialflow.store.summaries.check`. A generated database is kept (SQLite under
var/bench/reports/, PostgreSQL as a database on the server) and reused while its size,
seed and generator version match; `--fresh` makes it again.

Also, at `--production-claims` (2,000) claims: the same claims written the way
production writes them, intake and then every workflow step's projection through
`apply_projection` (the ORM hook keeps the summaries as it goes), per claim.

Timed (in process, httpx over ASGI, signed in as the demo supervisor, so the figure is
the server's time without a network): every report page that exists, `--requests`
(30) times after `--warmups` (3), cycling through four filters (the default range;
one payer; the last 90 days; three years and one payer), and one drill-down list
each (the first claim list the page links to). p50 and p95 per page and backend;
a p95 over the 500 ms target is flagged.

Queries: the summary reads behind the pages (A/R by payer, A/R by age, answers by
payer and outcome over a year, write-offs by reason) timed against the baseline in the
same run, the same totals as a plain full-scan aggregate over the raw rows; each as
rows per second (raw rows accounted for / seconds), and both answers compared.

PostgreSQL: `--postgres-url`, else DATABASE_URL or TEST_DATABASE_URL when they name a
PostgreSQL server, else a private server started with scripts/postgres.sh in its own
directory (PGTEST_DIR, default below) and stopped again at the end; its data stays, so
the next run reuses the generated database.

Results go to var/bench/reports.json; the table is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import and_, case, cast, func, literal, select, text
from sqlalchemy.engine import Engine

from bench import report_data
from bench.web import session_cookie
from denialflow.models.db import engine_for
from denialflow.models.migrate import upgrade
from denialflow.models.tables import (
    Claim,
    ClaimEvent,
    ClaimSummary,
    Remittance,
    RemittanceSummary,
    WriteOffSummary,
)
from denialflow.settings import Settings
from denialflow.store.accounts import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "var" / "bench" / "reports"
TARGET_MS = 500.0
VIEWER = "casey"  # the demo supervisor: sees every report
PAGES = [
    ("dashboard", "/reports"),
    ("denials", "/reports/denials"),
    ("aging", "/reports/aging"),
    ("payers", "/reports/payers"),
    ("productivity", "/reports/productivity"),
]
PG_DIR = Path(
    os.environ.get("PGTEST_DIR")
    or (
        "/tmp/denialflow-bench-reports-pg"
        if os.geteuid() == 0
        else str(ROOT / "var" / "bench" / "reports-pg")
    )
)
PG_PORT = "56500"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the data ----------------------------------------------------------------------------


def _name(args: argparse.Namespace) -> str:
    return f"reports_{args.claims}_s{args.seed}_v{report_data.VERSION}"


def _meta_path(backend: str, args: argparse.Namespace) -> Path:
    return DATA_DIR / f"{backend}-{_name(args)}.json"


def _count_claims(url: str) -> int | None:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Claim.__table__)).scalar()
    except Exception:  # noqa: BLE001 - a missing database or table: not there yet
        return None
    finally:
        engine.dispose()


def _pg_database(base: str, name: str, *, fresh: bool) -> str:
    """The URL of database `name` on the server of `base`, created (again if fresh)."""
    admin = engine_for(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or fresh:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def ensure_data(urls: dict[str, str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each backend's generated data (reused when its size, seed and version match, else
    made now, every missing backend in one pass); what was generated, per backend."""
    metas: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for backend, url in urls.items():
        meta_file = _meta_path(backend, args)
        if not args.fresh and meta_file.exists() and _count_claims(url) == args.claims:
            # The schema may have moved on since: migrate the stored data to the head.
            engine = engine_for(url)
            try:
                upgrade(engine)
            except Exception as err:  # noqa: BLE001 - e.g. migrations renumbered since
                log(f"{backend}: the stored data could not be migrated ({err}); used as it is")
            engine.dispose()
            metas[backend] = json.loads(meta_file.read_text())
            log(
                f"{backend}: reusing {args.claims:,} claims generated on "
                f"{metas[backend]['today']} ({meta_file.name})"
            )
        else:
            missing[backend] = url
    if not missing:
        return metas
    today = date.today()
    for backend, url in missing.items():
        if backend == "sqlite":
            path = Path(url.split("///", 1)[1])
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    log(
        f"generating {args.claims:,} claims (seed {args.seed}) into {', '.join(missing)}; "
        "progress every 15 s"
    )
    engines = [report_data.loader(url) for url in missing.values()]
    made = report_data.generate(engines, args.claims, today, args.seed)
    log(
        f"generated {made.claims:,} claims, {made.rows:,} rows in {made.seconds:.0f}s "
        f"({made.claims / made.seconds:,.0f} claims/s; {made.templates:,} machine runs "
        f"in {made.template_seconds:.0f}s)"
    )
    if made.differences:
        raise SystemExit(f"the rebuilt summaries differ from the rows in {made.differences} cells")
    for backend, engine in zip(missing, engines, strict=True):
        t0 = time.perf_counter()
        _analyze(engine)
        log(f"{backend}: analyzed in {time.perf_counter() - t0:.0f}s")
        engine.dispose()
        meta = {
            "claims": args.claims,
            "seed": args.seed,
            "version": report_data.VERSION,
            "today": today.isoformat(),
            "generated": asdict(made),
            "summaries_check": "equal" if not made.differences else made.differences,
        }
        _meta_path(backend, args).write_text(json.dumps(meta, indent=2))
        metas[backend] = meta
    return metas


def _analyze(engine: Engine) -> None:
    """Planner statistics, as a live database has them (and on PostgreSQL the visibility
    map, without which no count is answered from an index alone)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


# --- PostgreSQL ----------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL server to use: given, or the bench's private one (started here if it
    is not running, and then stopped at the end; its data stays for the next run)."""

    def __init__(self, given: str | None) -> None:
        self.base = given
        self.started = False
        self.env = {**os.environ, "PGTEST_DIR": str(PG_DIR), "PGTEST_PORT": PG_PORT}
        self.script = str(ROOT / "scripts" / "postgres.sh")

    def url(self) -> str:
        if self.base:
            return self.base
        running = self._script("url")
        if running.returncode == 0 and _count_or_none(running.stdout.strip()):
            self.base = running.stdout.strip()
            log(f"PostgreSQL: the private server already running ({PG_DIR})")
            return self.base
        if (PG_DIR / "data" / "PG_VERSION").exists():
            self._start_existing()
        else:
            started = self._script("start")
            if started.returncode != 0:
                raise SystemExit(f"PostgreSQL did not start: {started.stderr.strip()}")
        self.started = True
        self.base = self._script("url").stdout.strip()
        log(f"PostgreSQL: private server {self.base} (data in {PG_DIR})")
        return self.base

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.script, *args], env=self.env, capture_output=True, text=True, check=False
        )

    def _start_existing(self) -> None:
        """Start the cluster an earlier run left (scripts/postgres.sh start would wipe it
        and the generated database with it)."""
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        pg_ctl = str(bins[-1]) if bins else "pg_ctl"
        command = [pg_ctl, "-D", str(PG_DIR / "data"), "-l", str(PG_DIR / "postgres.log")]
        command += ["-w", "-t", "120", "start"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, cwd="/", check=True, capture_output=True)
        conf = (PG_DIR / "data" / "postgresql.conf").read_text()
        port = re.findall(r"^port = (\d+)", conf, re.MULTILINE)[-1]
        (PG_DIR / "port").write_text(port + "\n")

    def stop(self) -> None:
        if self.started:
            self._script("stop")
            log("PostgreSQL: private server stopped (its data stays for the next run)")


def _count_or_none(url: str) -> bool:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - not running
        return False
    finally:
        engine.dispose()


def _given_postgres(args: argparse.Namespace) -> str | None:
    if args.postgres_url:
        return str(args.postgres_url)
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        value = os.environ.get(name, "")
        if value.startswith("postgresql"):
            return value
    return None


# --- timing pages --------------------------------------------------------------------------


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def filters(today: date) -> list[dict[str, str]]:
    three_years = today.replace(year=today.year - 3) + timedelta(days=1)
    return [
        {},
        {"payer": "medicare"},
        {"from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat()},
        {"from": three_years.isoformat(), "to": today.isoformat(), "payer": "commercial-uhc"},
    ]


_HREF = re.compile(r'href="([^"]+)"')


def drill_down(page: str, path: str) -> str | None:
    """The first claim list a page links to: a link under /reports (or to the team page,
    where productivity's people lead) with a query that is not a CSV, not another
    report's front page and not this page's own filter form."""
    for raw in _HREF.findall(page):
        href = unescape(raw)
        parts = urlsplit(href)
        if not (parts.path.startswith("/reports") or parts.path == "/team") or not parts.query:
            continue
        if parts.path.endswith(".csv") or "csv" in parts.query.split("&")[0]:
            continue
        keys = {kv.split("=", 1)[0] for kv in parts.query.split("&")}
        if parts.path == path and keys <= {"from", "to", "payer"}:
            continue
        if any(parts.path == p and keys <= {"from", "to", "payer"} for _n, p in PAGES):
            continue
        return href
    return None


class Statements:
    """The SQL one request runs (every engine in process), each statement then run again
    on its own with its parameters and all its rows fetched, to time it: SQLite does
    most of a query's work while its rows are fetched, after the execute returns."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.on = False
        self.installed = False

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine as AnyEngine

        if self.installed:
            return
        self.installed = True
        event.listen(AnyEngine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if self.on:
            self.seen.append((sql, params))

    async def profile(self, http: httpx.AsyncClient, url: str, engine: Engine) -> dict[str, Any]:
        """One more request, recorded: its time, its statements' time and the slowest."""
        self.seen, self.on = [], True
        try:
            seconds, _response = await _get(http, url)
        finally:
            self.on = False
        timed = []
        with engine.connect() as conn:
            for sql, params in self.seen:
                t0 = time.perf_counter()
                conn.exec_driver_sql(sql, params).fetchall()
                timed.append((time.perf_counter() - t0, sql))
        slowest = sorted(timed, reverse=True)[:3]
        return {
            "total_ms": round(seconds * 1000, 1),
            "sql_ms": round(sum(t for t, _ in timed) * 1000, 1),
            "statements": len(timed),
            "slowest": [
                {"ms": round(t * 1000, 1), "sql": " ".join(sql.split())[:800]} for t, sql in slowest
            ],
        }


STATEMENTS = Statements()


async def _get(http: httpx.AsyncClient, url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await http.get(url)
    return time.perf_counter() - started, response


def _with(path: str, params: dict[str, str]) -> str:
    if not params:
        return path
    return path + ("&" if "?" in path else "?") + urlencode(params)


async def time_pages(
    url: str, engine: Engine, today: date, requests: int, warmups: int
) -> dict[str, Any]:
    from denialflow.web.app import create_app

    cookie = session_cookie(engine, VIEWER)
    out: dict[str, Any] = {}
    STATEMENTS.install()
    with tempfile.TemporaryDirectory(prefix="denialflow-reportbench-") as tmp:
        app = create_app(Settings(DATABASE_URL=url, DENIALFLOW_VAR_DIR=tmp))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as http:
            http.cookies.set(SESSION_COOKIE, cookie)
            for name, path in PAGES:
                seconds, first = await _get(http, path)
                if first.status_code == 404:
                    log(f"  {name}: {path} is not there (404): skipped")
                    out[name] = {"path": path, "missing": True}
                    continue
                if first.status_code != 200:
                    raise RuntimeError(f"GET {path}: {first.status_code} {first.text[:300]}")
                log(f"  {name}: first request {seconds * 1000:.0f} ms")
                out[name] = {
                    "path": path,
                    **await _time(http, engine, path, today, requests, warmups),
                }
                drill = drill_down(first.text, path)
                if drill is None:
                    log(f"  {name}: no drill-down link found")
                    continue
                out[name + " drill-down"] = {
                    "path": drill,
                    **await _time(http, engine, drill, today, requests, warmups, filtered=False),
                }
                log(f"  {name}: {out[name]}; drill-down {out[name + ' drill-down']}")
    return out


async def _time(
    http: httpx.AsyncClient,
    engine: Engine,
    path: str,
    today: date,
    requests: int,
    warmups: int,
    filtered: bool = True,
) -> dict[str, Any]:
    choices = filters(today) if filtered else [{}]
    for i in range(warmups):
        await http.get(_with(path, choices[i % len(choices)]))
    samples: list[float] = []
    by_filter: dict[int, list[float]] = {}
    for i in range(requests):
        k = i % len(choices)
        seconds, response = await _get(http, _with(path, choices[k]))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {choices[k]}: {response.status_code}")
        samples.append(seconds)
        by_filter.setdefault(k, []).append(seconds)
    figures: dict[str, Any] = stats_ms(samples)
    worst = max(by_filter, key=lambda k: statistics.median(by_filter[k]))
    if filtered:
        figures["slowest_filter"] = choices[worst] or "default"
        figures["slowest_filter_p50_ms"] = round(statistics.median(by_filter[worst]) * 1000, 1)
    figures["profile"] = await STATEMENTS.profile(http, _with(path, choices[worst]), engine)
    return figures


# --- timing queries -------------------------------------------------------------------------


def _queries(today: date) -> list[tuple[str, Any, Any, Any]]:
    """(what, summary query, the same over the raw rows, raw rows it accounts for)."""
    cs, c = ClaimSummary.__table__.c, Claim.__table__.c
    rs, r = RemittanceSummary.__table__.c, Remittance.__table__.c
    ws = WriteOffSummary.__table__.c
    e = ClaimEvent.__table__.c
    year_ago = today - timedelta(days=365)
    over = c.balance - c.patient_responsibility
    age_s = _age_bucket(cs.service_date, today)
    age_r = _age_bucket(c.service_date, today)
    counted = and_(
        r.claim_id.is_not(None),
        r.payer_id.is_not(None),
        r.outcome != "",
        r.decision_date >= year_ago,
    )
    write_off = e.event.in_(("written_off", "write_off_reversed"))
    reason = func.coalesce(e.data["reason_code"].as_string(), "")
    sign = case((e.event == "write_off_reversed", -1), else_=1)
    amount = cast(e.data["amount"].as_string(), cs.charge.type)
    return [
        (
            "A/R by payer",
            select(
                cs.payer_id, func.sum(cs.claims), func.sum(cs.balance), func.sum(cs.insurance_ar)
            )
            .group_by(cs.payer_id)
            .order_by(cs.payer_id),
            select(
                c.payer_id,
                func.count(),
                func.sum(c.balance),
                func.sum(case((over > 0, over), else_=0)),
            )
            .group_by(c.payer_id)
            .order_by(c.payer_id),
            select(func.count()).select_from(Claim.__table__),
        ),
        (
            "A/R by age of service",
            select(age_s, func.sum(cs.open_claims), func.sum(cs.balance))
            .group_by(age_s)
            .order_by(age_s),
            select(age_r, func.sum(case((c.balance != 0, 1), else_=0)), func.sum(c.balance))
            .group_by(age_r)
            .order_by(age_r),
            select(func.count()).select_from(Claim.__table__),
        ),
        (
            "answers by payer, stage, outcome (1 year)",
            select(
                rs.payer_id,
                rs.stage,
                rs.outcome,
                func.sum(rs.remittances),
                func.sum(rs.denied_amount),
            )
            .where(rs.decision_date >= year_ago)
            .group_by(rs.payer_id, rs.stage, rs.outcome)
            .order_by(rs.payer_id, rs.stage, rs.outcome),
            select(r.payer_id, r.stage, r.outcome, func.count(), func.sum(r.denied_amount))
            .where(counted)
            .group_by(r.payer_id, r.stage, r.outcome)
            .order_by(r.payer_id, r.stage, r.outcome),
            select(func.count()).select_from(Remittance.__table__).where(counted),
        ),
        (
            "write-offs by reason",
            select(ws.reason_code, func.sum(ws.write_offs), func.sum(ws.amount))
            .group_by(ws.reason_code)
            .having(func.sum(ws.write_offs) != 0)
            .order_by(ws.reason_code),
            select(
                case((e.event == "write_off_reversed", literal("reversed")), else_=reason).label(
                    "reason"
                ),
                func.sum(sign),
                func.sum(sign * amount),
            )
            .where(write_off)
            .group_by(text("reason"))
            .order_by(text("reason")),
            select(func.count()).select_from(ClaimEvent.__table__).where(write_off),
        ),
    ]


def _age_bucket(column: Any, today: date) -> Any:
    return case(
        (column >= today - timedelta(days=30), literal("0-30")),
        (column >= today - timedelta(days=60), literal("31-60")),
        (column >= today - timedelta(days=90), literal("61-90")),
        (column >= today - timedelta(days=120), literal("91-120")),
        else_=literal("over 120"),
    ).label("age")


def _normal(rows: list[Any]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        out.append(
            tuple(
                Decimal(str(v)).quantize(Decimal("0.01")) if isinstance(v, float | Decimal) else v
                for v in row
            )
        )
    return out


def time_queries(engine: Engine, today: date, repeats: int) -> list[dict[str, Any]]:
    results = []
    with engine.connect() as conn:
        for what, summary, raw, accounted in _queries(today):
            rows = conn.execute(accounted).scalar() or 0
            figures: dict[str, Any] = {"query": what, "raw_rows": rows}
            answers = {}
            for label, query, n in (("summary", summary, repeats), ("baseline", raw, 3)):
                samples = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    answers[label] = conn.execute(query).all()
                    samples.append(time.perf_counter() - t0)
                median = statistics.median(samples)
                figures[label] = {
                    "p50_ms": round(median * 1000, 2),
                    "rows_per_second": round(rows / median) if median else None,
                }
            figures["speedup"] = round(
                figures["baseline"]["p50_ms"] / max(figures["summary"]["p50_ms"], 0.001), 1
            )
            figures["same_answer"] = _normal(answers["summary"]) == _normal(answers["baseline"])
            results.append(figures)
            log(f"  {what}: {figures}")
    return results


# --- the production write path --------------------------------------------------------------


def production_path(url: str, n: int, today: date, seed: int) -> dict[str, Any]:
    engine = engine_for(url)
    done = report_data.write_through_production(engine, n, today, seed)
    with engine.connect() as conn:
        from denialflow.store import summaries

        differences = list(summaries.check(conn))
    # The facts each step kept, against the same facts found again from the timelines.
    facts = _fact_check(engine)["differ"]
    engine.dispose()
    return {
        "claims": done.claims,
        "projections": done.projections,
        "seconds": round(done.seconds, 1),
        "ms_per_claim": round(done.seconds / done.claims * 1000, 2),
        "ms_per_projection": round(done.seconds / max(done.projections, 1) * 1000, 2),
        "machine_ms_per_claim": round(done.machine_seconds / done.claims * 1000, 2),
        "summaries_check": "equal" if not differences else f"{len(differences)} differ",
        "facts_check": "equal" if not facts else f"{len(facts)} columns differ: {facts}",
    }


def _fact_check(engine: Engine) -> dict[str, Any]:
    """`denialflow check --facts`'s work: every report fact found again from the rows in
    one transaction, compared with the facts as kept, then rolled back."""
    from denialflow.settings import get_settings
    from denialflow.store import fact_check

    with engine.connect() as conn:
        t0 = time.perf_counter()
        found = fact_check.rederive(conn, get_settings().tz)
        seconds = time.perf_counter() - t0
        conn.rollback()
    return {"seconds": round(seconds, 1), "differ": [str(d) for d in found]}


def production_baseline(url: str, n: int, today: date, seed: int) -> dict[str, Any]:
    """The same claims through the same path with the summary hook switched off: what the
    summaries cost on the write path is the difference."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from denialflow.models import summaries as kept

    event.remove(Session, "after_flush", kept._after_flush)
    try:
        return production_path(url, n, today, seed)
    finally:
        event.listen(Session, "after_flush", kept._after_flush)


# --- the run -------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "report pages",
        "claims": args.claims,
        "seed": args.seed,
        "requests": args.requests,
        "warmups": args.warmups,
        "target_p95_ms": TARGET_MS,
        "cpus": os.cpu_count(),
        "backends": {},
    }
    postgres = Postgres(_given_postgres(args))
    try:
        urls: dict[str, str] = {}
        if args.backend in ("sqlite", "both"):
            urls["sqlite"] = f"sqlite:///{DATA_DIR / (_name(args) + '.db')}"
        if args.backend in ("postgresql", "both"):
            urls["postgresql"] = _pg_database(
                postgres.url(), f"bench_{_name(args)}", fresh=args.fresh
            )
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        metas = ensure_data(urls, args)
        if args.generate_only:
            result["generated"] = metas
            return result
        for backend, url in urls.items():
            today = date.today()
            engine = engine_for(url)
            log(f"{backend}: timing (load average {os.getloadavg()[0]:.1f})")
            figures: dict[str, Any] = {"data": metas[backend]}
            figures["load_average_before"] = round(os.getloadavg()[0], 2)
            figures["queries"] = time_queries(engine, today, args.query_repeats)
            figures["pages"] = await time_pages(url, engine, today, args.requests, args.warmups)
            figures["load_average_after"] = round(os.getloadavg()[0], 2)
            figures["fact_check"] = _fact_check(engine)
            log(f"  check --facts: {figures['fact_check']['seconds']} s")
            engine.dispose()
            if args.production_claims:
                if backend == "sqlite":
                    with tempfile.TemporaryDirectory(prefix="denialflow-reportbench-") as tmp:
                        hooked = f"sqlite:///{Path(tmp) / 'production.db'}"
                        plain = f"sqlite:///{Path(tmp) / 'baseline.db'}"
                        figures["production_write"] = _production(args, hooked, plain, today)
                else:
                    base = postgres.url()
                    stamp = int(time.time())
                    hooked = _pg_database(base, f"bench_reports_prod_{stamp}", fresh=True)
                    plain = _pg_database(base, f"bench_reports_base_{stamp}", fresh=True)
                    figures["production_write"] = _production(args, hooked, plain, today)
                    _drop(base, f"bench_reports_prod_{stamp}", f"bench_reports_base_{stamp}")
            result["backends"][backend] = figures
            _save(result)  # what is measured so far survives a later failure
    finally:
        postgres.stop()
    return result


def _production(args: argparse.Namespace, hooked: str, plain: str, today: date) -> dict[str, Any]:
    n = args.production_claims
    log(f"  production path: {n:,} claims through intake and apply_projection")
    with_summaries = production_path(hooked, n, today, args.seed)
    log(f"    with the summaries: {with_summaries}")
    without = production_baseline(plain, n, today, args.seed)
    log(f"    summary hook off (baseline): {without}")
    return {"with_summaries": with_summaries, "baseline_without_summaries": without}


def _drop(base: str, *names: str) -> None:
    admin = engine_for(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _save(result: dict[str, Any]) -> None:
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reports.json").write_text(json.dumps(result, indent=2, default=str))


def table(result: dict[str, Any]) -> str:
    target = result["target_p95_ms"]
    lines = [
        f"report pages at {result['claims']:,} claims; {result['requests']} requests per page "
        f"after {result['warmups']} warm-ups, four filters in turn; target p95 < {target:.0f} ms",
    ]
    for backend, figures in result["backends"].items():
        data = figures["data"]["generated"]
        lines.append("")
        lines.append(
            f"{backend}: {data['rows']:,} rows; summaries.check after the bulk load: "
            f"{figures['data']['summaries_check']}; load average "
            f"{figures['load_average_before']} before, {figures['load_average_after']} after"
        )
        lines.append(f"  {'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, page in figures["pages"].items():
            if page.get("missing"):
                lines.append(f"  {name:<26} {'not built':>8}")
                continue
            flag = "  OVER TARGET" if page["p95_ms"] > target else ""
            lines.append(
                f"  {name:<26} {page['p50_ms']:>8.1f} {page['p95_ms']:>8.1f} "
                f"{page['max_ms']:>8.1f}{flag}"
            )
            if flag:
                prof = page["profile"]
                lines.append(
                    f"    one request with {page.get('slowest_filter', 'its link')}: "
                    f"{prof['total_ms']} ms; its {prof['statements']} statements run alone "
                    f"(rows fetched) {prof['sql_ms']} ms; the slowest:"
                )
                for statement in prof["slowest"][:2]:
                    lines.append(f"      {statement['ms']} ms: {statement['sql'][:300]}")
        lines.append(
            f"  {'query':<44} {'raw rows':>10} {'summary ms':>11} {'rows/s':>13} "
            f"{'full scan ms':>13} {'rows/s':>12} {'same':>5}"
        )
        for q in figures["queries"]:
            lines.append(
                f"  {q['query']:<44} {q['raw_rows']:>10,} {q['summary']['p50_ms']:>11.2f} "
                f"{q['summary']['rows_per_second']:>13,} {q['baseline']['p50_ms']:>13.2f} "
                f"{q['baseline']['rows_per_second']:>12,} {'yes' if q['same_answer'] else 'NO':>5}"
            )
        facts = figures.get("fact_check")
        if facts:
            lines.append(
                f"  denialflow check --facts (every report fact found again, rolled back): "
                f"{facts['seconds']} s, "
                + (
                    "all as kept"
                    if not facts["differ"]
                    else f"{len(facts['differ'])} columns differ"
                )
            )
        prod = figures.get("production_write")
        if prod:
            w, b = prod["with_summaries"], prod["baseline_without_summaries"]
            lines.append(
                f"  production write path ({w['claims']:,} claims, {w['projections']:,} "
                f"projections): {w['ms_per_claim']} ms per claim with the summaries kept "
                f"(check: {w['summaries_check']}; facts: {w['facts_check']}), "
                f"{b['ms_per_claim']} ms without the hook "
                f"(baseline); the machine itself {w['machine_ms_per_claim']} ms"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench reports", description=__doc__)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=report_data.SEED)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--query-repeats", type=int, default=10)
    parser.add_argument("--production-claims", type=int, default=2_000)
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create the database on")
    parser.add_argument("--fresh", action="store_true", help="generate again even if stored")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="20,000 claims, 10 requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.claims, args.requests, args.production_claims = 20_000, 10, 200
    result = asyncio.run(run(args))
    _save(result)
    if result["backends"]:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
