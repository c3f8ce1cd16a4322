"""The `denialflow` command: one entry point for every process and tool."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from denialflow.settings import get_settings, make_private


def _cmd_up(args: argparse.Namespace) -> int:
    from denialflow.supervisor import up

    return up(seed=not args.no_seed, demo_claims=args.demo_claims)


def _cmd_worker(args: argparse.Namespace) -> int:
    from denialflow.models.db import get_engine
    from denialflow.worker import main_sync

    settings = get_settings()
    with contextlib.suppress(KeyboardInterrupt):
        main_sync(settings, get_engine(settings.effective_database_url))
    return 0


def _cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "denialflow.web.app:create_app",
        factory=True,
        host=args.host or settings.web_host,
        port=args.port or settings.web_port,
        log_level="warning",
    )
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from denialflow.models.db import get_engine, session_scope
    from denialflow.models.migrate import upgrade
    from denialflow.models.reference import install_reference_data

    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        install_reference_data(session)
    print("database is at the latest schema")
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from denialflow.demo import seed_demo

    settings = get_settings()
    created = asyncio.run(seed_demo(settings, claims=args.claims, force=args.force))
    print(f"seeded {created} demo claims" if created else "database already has claims: not seeded")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from denialflow.simulate import simulate_main

    return simulate_main(args.scenario)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from denialflow.models.db import get_engine
    from denialflow.posting.files import ingest_path
    from denialflow.posting.ingest import IngestContext
    from denialflow.workflows.client import connect

    settings = get_settings()

    async def run() -> int:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        ctx = IngestContext(client, get_engine(settings.effective_database_url), settings)
        status = 0
        for name in args.files:
            report = await ingest_path(Path(name), ctx)
            print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
            if not report.ok:
                status = 2
        return status

    return asyncio.run(run())


def _cmd_fees_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from denialflow.models.db import get_engine, session_scope
    from denialflow.posting.fees import FeeScheduleError, import_fee_schedule

    try:
        with session_scope(get_engine()) as session:
            report = import_fee_schedule(session, args.payer, Path(args.file))
    except FeeScheduleError as err:
        print(err, file=sys.stderr)
        return 2
    print(report.describe())
    return 0


def _cmd_payments_import(args: argparse.Namespace) -> int:
    import getpass
    from pathlib import Path

    from denialflow.models.db import get_engine
    from denialflow.posting.patient_payment_import import import_payments
    from denialflow.workflows.client import connect

    settings = get_settings()
    path = Path(args.file)
    if not path.is_file():
        print(f"denialflow payments import: no file {path}", file=sys.stderr)
        return 2

    async def run() -> int:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        engine = get_engine(settings.effective_database_url)
        report = await import_payments(
            client,
            engine,
            path.read_bytes(),
            path.name,
            f"cli:{getpass.getuser()}",
            task_queue=settings.task_queue,
        )
        for problem in report.errors:
            print(f"{path.name}: {problem}", file=sys.stderr)
        for outcome in report.applying:
            print(f"payment {outcome.key}: {outcome.message}", file=sys.stderr)
        print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
        return 0 if report.ok and not report.applying else 2

    return asyncio.run(run())


def _cmd_payments_resume(args: argparse.Namespace) -> int:
    from denialflow.models.db import get_engine
    from denialflow.posting.patient_payments import resume_payments
    from denialflow.workflows.client import connect

    settings = get_settings()

    async def run() -> int:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        outcomes = await resume_payments(
            client, get_engine(settings.effective_database_url), task_queue=settings.task_queue
        )
        waiting = [o for o in outcomes if not o.posted]
        print(f"{len(outcomes) - len(waiting)} patient payments finished posting")
        for o in waiting:
            print(f"payment {o.key}: {o.message}", file=sys.stderr)
        return 2 if waiting else 0

    return asyncio.run(run())


def _cmd_user_create(args: argparse.Namespace) -> int:
    import getpass
    import os
    from datetime import UTC, datetime

    from denialflow.domain.types import Role
    from denialflow.models.db import get_engine, session_scope
    from denialflow.models.tables import AuditEvent, User
    from denialflow.store.accounts import hash_password

    username = args.username.strip().lower()
    password = os.environ.get("DENIALFLOW_NEW_PASSWORD") or getpass.getpass("Password: ")
    if not os.environ.get("DENIALFLOW_NEW_PASSWORD") and password != getpass.getpass("Again: "):
        print("the two passwords differ; nothing was created", file=sys.stderr)
        return 2
    if len(password) < 8:
        print("a password needs at least 8 characters; nothing was created", file=sys.stderr)
        return 2
    with session_scope(get_engine()) as session:
        if session.get(User, username) is not None:
            print(f"user {username} already exists; nothing was created", file=sys.stderr)
            return 2
        session.add(
            User(
                username=username,
                full_name=args.name or username,
                role=Role(args.role).value,
                password_hash=hash_password(password),
            )
        )
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor="cli",
                action="user_created",
                detail={"username": username, "role": args.role},
            )
        )
    print(f"created {args.role} {username}")
    return 0


def _cmd_edi_parse(args: argparse.Namespace) -> int:
    from denialflow.edi.cli import parse_command

    return parse_command(args.file)


def _cmd_eligibility_send(args: argparse.Namespace) -> int:
    from denialflow.models.db import get_engine
    from denialflow.posting.eligibility import held_claim_ids, send_inquiries

    settings = get_settings()
    engine = get_engine(settings.effective_database_url)
    if args.held:
        from sqlmodel import Session

        with Session(engine) as session:
            claim_ids = held_claim_ids(session)
    else:
        claim_ids = [c for c in args.claims.split(",") if c.strip()]
    if not claim_ids:
        print("no claims to ask about: nothing written", file=sys.stderr)
        return 2
    try:
        report = send_inquiries(engine, settings, claim_ids, actor="cli")
    except ValueError as err:
        print(f"denialflow eligibility send: nothing written: {err}", file=sys.stderr)
        return 2
    print(report.describe(), file=sys.stdout if report.file else sys.stderr)
    return 0 if report.file and not report.refused else 1 if report.file else 2


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from denialflow.models.audit_chain import cli_verify
    from denialflow.models.db import get_engine

    return cli_verify(get_engine())


def _cmd_check(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from pathlib import Path

    from denialflow.models.db import get_engine, normalize_url
    from denialflow.reconcile.check import (
        CheckOptions,
        Unreachable,
        exit_status,
        run_check,
        summary_lines,
    )
    from denialflow.workflows.client import connect

    settings = get_settings()
    url = normalize_url(settings.effective_database_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        # Opening it would create an empty file: a check must not.
        print(f"denialflow check: no database at {url}", file=sys.stderr)
        return 2
    options = CheckOptions(
        repair=args.repair,
        facts=args.facts,
        concurrency=args.concurrency,
        query_timeout=timedelta(seconds=args.query_timeout),
    )

    async def run() -> int:
        try:
            async with asyncio.timeout(args.connect_timeout):
                client = await connect(settings.temporal_address, settings.temporal_namespace)
        except (TimeoutError, RuntimeError, OSError) as err:
            print(
                f"denialflow check: cannot reach Temporal at {settings.temporal_address}: "
                f"{str(err).splitlines()[0] if str(err) else type(err).__name__}",
                file=sys.stderr,
            )
            return 2
        try:
            tally = await run_check(client, get_engine(url), settings, options)
        except Unreachable as err:
            print(f"denialflow check: {err}", file=sys.stderr)
            return 2
        for line in summary_lines(tally, args.repair):
            print(line)
        return exit_status(tally)

    return asyncio.run(run())


def _cmd_spikes_check(args: argparse.Namespace) -> int:
    from datetime import UTC, date, datetime

    from denialflow.models.db import get_engine
    from denialflow.reports.spikes import run_spike_check

    settings = get_settings()
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            print(
                f"denialflow spikes check: {args.date!r} is not a date (YYYY-MM-DD)",
                file=sys.stderr,
            )
            return 2
    else:
        day = datetime.now(UTC).astimezone(settings.tz).date()
    run = run_spike_check(get_engine(settings.effective_database_url), day)
    print(run.describe())
    return 0


def _cmd_statements_run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from denialflow.models.db import get_engine
    from denialflow.posting.statement_batch import run_batch
    from denialflow.workflows.client import connect

    settings = get_settings()
    today = datetime.now(UTC).astimezone(settings.tz).date()

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        print(f"\rrendering statements [{bar}] {done}/{total}", end=end, file=sys.stderr)

    async def run() -> int:
        client = None
        if not args.dry_run:
            try:
                async with asyncio.timeout(10):
                    client = await connect(settings.temporal_address, settings.temporal_namespace)
            except (TimeoutError, RuntimeError, OSError) as err:
                print(
                    f"denialflow statements run: cannot reach Temporal at "
                    f"{settings.temporal_address} ({type(err).__name__}): nothing rendered; "
                    "--dry-run renders without it",
                    file=sys.stderr,
                )
                return 2
        try:
            report = await run_batch(
                client,
                get_engine(settings.effective_database_url),
                settings,
                today,
                out=Path(args.out) if args.out else None,
                dry_run=args.dry_run,
                progress=progress,
            )
        except ValueError as err:
            print(f"denialflow statements run: {err}", file=sys.stderr)
            return 2
        print(report.describe())
        return 1 if report.unreported else 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="denialflow", description="Denial and follow-up management on Temporal."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start Temporal dev server, worker and web app (make run)")
    p.add_argument("--no-seed", action="store_true", help="do not seed demo data")
    p.add_argument("--demo-claims", type=int, default=300, help="demo claims on first start")
    p.set_defaults(func=_cmd_up)

    p = sub.add_parser("worker", help="run the Temporal worker (workflows and activities)")
    p.set_defaults(func=_cmd_worker)

    p = sub.add_parser("web", help="run the web app")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=_cmd_web)

    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("seed", help="seed demo claims through the running worker")
    p.add_argument("--claims", type=int, default=300)
    p.add_argument("--force", action="store_true", help="seed even if claims exist")
    p.set_defaults(func=_cmd_seed)

    p = sub.add_parser(
        "simulate", help="run a scenario YAML through real workflows on a time-skipping server"
    )
    p.add_argument("scenario")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "ingest",
        help="post X12 files (835, 277CA/277, 999, 271, 837P) through the running worker",
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_ingest)

    fees = sub.add_parser("fees", help="fee schedules").add_subparsers(
        dest="fees_command", required=True
    )
    p = fees.add_parser("import", help="import a payer's fee schedule CSV")
    p.add_argument("payer")
    p.add_argument("file")
    p.set_defaults(func=_cmd_fees_import)

    payments = sub.add_parser("payments", help="patient payments").add_subparsers(
        dest="payments_command", required=True
    )
    p = payments.add_parser(
        "import",
        help="post a payment processor's deposits (CSV: transaction_id,date,amount,"
        "account_id,claim_id,method,reference); all rows or none, once per transaction id",
    )
    p.add_argument("file")
    p.set_defaults(func=_cmd_payments_import)
    p = payments.add_parser(
        "resume", help="finish posting patient payments left applying while Temporal was down"
    )
    p.set_defaults(func=_cmd_payments_resume)

    users = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = users.add_parser(
        "create", help="create a user (password from a prompt or DENIALFLOW_NEW_PASSWORD)"
    )
    p.add_argument("username")
    p.add_argument("--role", choices=["specialist", "supervisor", "admin"], required=True)
    p.add_argument("--name", default="")
    p.set_defaults(func=_cmd_user_create)

    edi = sub.add_parser("edi", help="X12 tools").add_subparsers(dest="edi_command", required=True)
    p = edi.add_parser("parse", help="print an X12 file as JSON")
    p.add_argument("file")
    p.set_defaults(func=_cmd_edi_parse)

    eligibility = sub.add_parser("eligibility", help="270/271 eligibility").add_subparsers(
        dest="eligibility_command", required=True
    )
    p = eligibility.add_parser(
        "send",
        help="write one 270 asking about claims' patients on their dates of service",
        description="Write a 270 to the outbound folder with one inquiry per claim (its "
        "payer, member and date of service, service type 30) and record each by its trace "
        "number, so the payer's 271 finds its claim. Exit 0 when every claim was asked about, "
        "1 when some could not be (each is named), 2 when nothing was written.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--claims", help="claim ids, separated by commas")
    which.add_argument("--held", action="store_true", help="every claim held before submission")
    p.set_defaults(func=_cmd_eligibility_send)

    p = sub.add_parser(
        "check",
        help="compare open claims' workflows with the database; exit 1 on a finding",
        description="Report open claims without a running workflow, open work items their "
        "workflow no longer wants, money posted to a claim that differs from its "
        "remittances, 835 files not fully posted, payer-rule changes some claims did "
        "not get, and report summaries that differ from the sums over their rows. Exit 0 "
        "when clean, 1 on a finding, 2 when Temporal or the database cannot be reached.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="start cancelled, terminated or missing claim workflows again from the database, "
        "re-send undelivered payer-rule changes, rebuild differing report summaries "
        "(safe to repeat); exit 0 when every finding was repaired",
    )
    p.add_argument(
        "--facts",
        action="store_true",
        help="also find the facts the reports keep on the rows (days to appeal, handling "
        "times...) again from the claims' timelines and report those that differ; with "
        "--repair keep what was found, as after changing DENIALFLOW_TIMEZONE. 14 s at "
        "200,000 claims on SQLite, holding the database's write locks meanwhile: run it "
        "when nobody is working",
    )
    p.add_argument("--concurrency", type=int, default=16, help="workflows asked about at once (16)")
    p.add_argument(
        "--query-timeout", type=float, default=5.0, help="seconds a workflow may take to answer"
    )
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to reach Temporal")
    p.set_defaults(func=_cmd_check)

    spikes = sub.add_parser("spikes", help="denial spike alerts").add_subparsers(
        dest="spikes_command", required=True
    )
    p = spikes.add_parser(
        "check",
        help="run the daily denial spike check once (opens supervisor work items; safe to repeat)",
        description="Compare each payer's denial rate per category over the 7 days before "
        "DATE with the 90 days before those (Fisher's exact test, one-sided; alert when "
        "p < 0.001, at least 5 denials and 1.5 times the baseline rate) and open a work "
        "item in the escalations queue for each new spike. The worker runs the same check "
        "every day at 06:00 practice time.",
    )
    p.add_argument("--date", help="the practice day to check as of (default: today)")
    p.set_defaults(func=_cmd_spikes_check)

    statements = sub.add_parser("statements", help="patient statements").add_subparsers(
        dest="statements_command", required=True
    )
    p = statements.add_parser(
        "run",
        help="render every due patient statement into one folder and record them as sent",
        description="Render every statement the accounts' cycles marked due as a PDF into "
        "one folder (default var/statements/<batch id>/), record each as sent and tell its "
        "account (its next reminder counts from today). Safe to repeat: a statement is "
        "rendered into one batch only; a run that could not record some finishes them next "
        "time. Exit 0 when all were recorded, 1 when some wait for the next run, 2 when "
        "nothing could be done.",
    )
    p.add_argument("--out", help="the folder to render into (default var/statements/<batch>/)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="render the due statements for review only: nothing is recorded or sent",
    )
    p.set_defaults(func=_cmd_statements_run)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser(
        "verify", help="check the audit log's hash chain; exit 1 naming any entry tampered with"
    )
    p.set_defaults(func=_cmd_audit_verify)
    return parser


# Commands that create or open the local data files under var/.
_MAKE_VAR_PRIVATE = {"up", "migrate", "worker", "web", "statements"}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything we and our children (the Temporal dev server) create is readable by the
    # owner only: databases, history, logs and X12 files all hold PHI.
    os.umask(0o077)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The SDK logs workflow and activity arguments at debug level; keep PHI out of logs.
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    if args.command in _MAKE_VAR_PRIVATE:
        make_private(get_settings().var_dir)
    return args.func(args)


def run() -> NoReturn:
    """The `denialflow` command: `main`, then out without the interpreter's teardown. A
    process that used a Temporal client can abort in that teardown, when the SDK's Rust
    threads outlive the interpreter (temporalio/sdk-python#300): a person would see a
    fatal error and a crash status after the command had said all it had to say."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
