"""The `denialflow` command: one entry point for every process and tool."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

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
        "ingest", help="post X12 files (835, 277CA/277, 999, 837P) through the running worker"
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

    p = sub.add_parser(
        "check",
        help="compare open claims' workflows with the database; exit 1 on a finding",
        description="Report open claims without a running workflow, open work items their "
        "workflow no longer wants, money posted to a claim that differs from its "
        "remittances, 835 files not fully posted and payer-rule changes some claims did "
        "not get. Exit 0 when clean, 1 on a finding, 2 when Temporal or the database "
        "cannot be reached.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="start cancelled, terminated or missing claim workflows again from the database "
        "and re-send undelivered payer-rule changes (safe to repeat); exit 0 when every "
        "finding was repaired",
    )
    p.add_argument("--concurrency", type=int, default=16, help="workflows asked about at once (16)")
    p.add_argument(
        "--query-timeout", type=float, default=5.0, help="seconds a workflow may take to answer"
    )
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to reach Temporal")
    p.set_defaults(func=_cmd_check)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser(
        "verify", help="check the audit log's hash chain; exit 1 naming any entry tampered with"
    )
    p.set_defaults(func=_cmd_audit_verify)
    return parser


# Commands that create or open the local data files under var/.
_MAKE_VAR_PRIVATE = {"up", "migrate", "worker", "web"}


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


if __name__ == "__main__":
    sys.exit(main())
