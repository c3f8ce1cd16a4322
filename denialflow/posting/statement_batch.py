"""The statement batch: every statement the accounts' cycles marked due, rendered as PDFs
into one folder for review and printing, then recorded as sent and reported to each
account's workflow (its next reminder counts from that day).

`denialflow statements run [--out DIR] [--dry-run]` and the statements page's "Run
batch" both call `run_batch`. A Statement row moves due -> rendering (claimed by this
batch, its file named) -> sent. A run that stops half-way (a crash, Temporal away) leaves
rows in rendering: the next run finishes them in their own batch's file, rendering only
those whose file is missing, so no statement lands in two batches. `--dry-run` renders
the due statements for review and records nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, PatientAccount, Statement
from denialflow.outbound.statements import (
    ChargeLine,
    ClaimCharges,
    Practice,
    StatementDoc,
    statement_pdf,
    write_statement,
)
from denialflow.settings import Settings
from denialflow.store import statements as store
from denialflow.workflows.account_client import tell_account
from denialflow.workflows.account_contract import AccountEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def practice_of(settings: Settings) -> Practice:
    zip_code = settings.practice_zip
    if len(zip_code) == 9:
        zip_code = f"{zip_code[:5]}-{zip_code[5:]}"
    city = f"{settings.practice_city}, {settings.practice_state} {zip_code}".strip(", ")
    return Practice(
        name=settings.practice_name,
        address_lines=[line for line in (settings.practice_address, city) if line],
        phone=settings.practice_phone,
    )


def _address_lines(address: dict) -> list[str]:
    line1 = " ".join(str(address.get(k) or "") for k in ("line1", "line2")).strip()
    city = str(address.get("city") or "")
    state = str(address.get("state") or "")
    zip_code = str(address.get("zip") or "")
    last = f"{city}, {state} {zip_code}".strip(", ").strip()
    return [line for line in (line1, last) if line]


def statement_doc(
    session: Session, settings: Settings, account_id: str, kind: str, on: date
) -> StatementDoc | None:
    """The statement of `kind` for the account as of `on`, from the claims as they are
    now; None when nothing is billable (paid meanwhile: its cycle takes it back)."""
    account = session.get(PatientAccount, account_id)
    if account is None:
        return None
    claims = store.billable_claims(session, account_id)
    if not claims:
        return None
    lines = store.claim_lines(session, [c.id for c in claims])
    charges = [
        ClaimCharges(
            claim_id=c.id,
            service_date=c.service_date,
            patient_name=c.patient_name,
            charge=c.charge,
            insurance_paid=c.paid,
            insurance_adjusted=c.contractual + c.written_off,
            patient_paid=c.patient_paid,
            owes=store.patient_owes(c),
            lines=[
                ChargeLine(
                    description=f"Procedure {line.procedure_code}"
                    + (f"-{'-'.join(line.modifiers)}" if line.modifiers else "")
                    + (f" x {line.units.normalize():f}" if line.units != 1 else ""),
                    charge=line.charge,
                )
                for line in lines.get(c.id, [])
            ],
        )
        for c in claims
    ]
    return StatementDoc(
        account_id=account_id,
        kind=kind,
        statement_date=on,
        pay_by=on + timedelta(days=settings.statement_pay_within_days),
        guarantor_name=account.guarantor_name,
        guarantor_address_lines=_address_lines(account.guarantor_address or {}),
        practice=practice_of(settings),
        claims=charges,
    )


def preview_pdf(
    engine: Engine, settings: Settings, statement_id: int, on: date, actor: str
) -> bytes | None:
    """A due statement's PDF as the batch would render it today (audited: it shows PHI);
    None for a statement that is not pending or has nothing to bill."""
    with session_scope(engine) as session:
        row = session.get(Statement, statement_id)
        if row is None or row.state not in store.PENDING:
            return None
        doc = statement_doc(session, settings, row.account_id, row.kind, on)
        if doc is None:
            return None
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor,
                action="statement_previewed",
                detail={"account": row.account_id, "statement": row.id, "kind": row.kind},
            )
        )
    return statement_pdf(doc)


@dataclass
class BatchReport:
    batch: str
    folder: Path
    dry_run: bool = False
    rendered: list[Path] = field(default_factory=list)
    sent: int = 0
    # Due, but nothing is billable any more (paid meanwhile): left for the cycle to
    # take back.
    nothing_owed: int = 0
    # Rendered, but the account's workflow could not be told: the next run tells it.
    unreported: int = 0

    def describe(self) -> str:
        if self.dry_run:
            if not self.rendered:
                return "no statements are due: nothing rendered"
            return (
                f"dry run: {len(self.rendered)} statements rendered into {self.folder} for "
                "review; nothing recorded"
            )
        if not self.rendered and not self.sent and not self.unreported:
            return "no statements are due: nothing rendered"
        parts = [f"batch {self.batch}: {len(self.rendered)} statements rendered into {self.folder}"]
        parts.append(f"{self.sent} recorded as sent")
        if self.unreported:
            parts.append(
                f"{self.unreported} not recorded (Temporal did not answer): the next run "
                "records them, without rendering them again"
            )
        if self.nothing_owed:
            parts.append(f"{self.nothing_owed} skipped: nothing is owed on them any more")
        return "; ".join(parts)


def new_batch_id(on: date) -> str:
    return f"{on:%Y%m%d}-{secrets.token_hex(3)}"


def _file_for(folder: Path, row: Statement) -> Path:
    return folder / f"{row.account_id}-{row.kind}-{row.id}.pdf"


async def run_batch(
    client: Client | None,
    engine: Engine,
    settings: Settings,
    on: date,
    out: Path | None = None,
    dry_run: bool = False,
    actor: str = "cli",
    progress: Progress | None = None,
    task_queue: str | None = None,
) -> BatchReport:
    """Render every due statement into one folder (default var/statements/<batch id>/),
    then record each as sent and tell its account's workflow. `on` is the statement date
    (the practice's today)."""
    batch = new_batch_id(on)
    if dry_run:
        folder = out or settings.var_dir / "statements" / f"dry-run-{batch}"
        return _dry_run(engine, settings, on, folder, batch, actor, progress)
    if client is None:
        raise ValueError("recording a batch needs Temporal; use --dry-run to only render")
    folder = (out or settings.var_dir / "statements" / batch).resolve()
    report = BatchReport(batch=batch, folder=folder)
    with session_scope(engine) as session:
        for row in store.due_statements(session):
            assert row.id is not None
            if store.billable_balance(session, row.account_id) <= 0:
                report.nothing_owed += 1
                continue
            path = str(_file_for(folder, row))
            if len(path) > 255:
                raise ValueError(f"the folder {folder} is too long a path for a statement file")
            store.claim_for_batch(session, row.id, batch, path)
    with Session(engine) as session:
        work = [
            (r.id, r.account_id, r.kind, Path(r.file_name), r.amount)
            for r in store.unfinished_statements(session)
        ]
    done = 0
    ready: list[tuple[int, str, str, Decimal]] = []
    for statement_id, account_id, kind, path, amount in work:
        if not path.exists():
            with session_scope(engine) as session:
                doc = statement_doc(session, settings, account_id, kind, on)
                row = session.get(Statement, statement_id)
                if doc is None or row is None:
                    # Paid meanwhile: back to due, for its cycle to take back.
                    if row is not None:
                        row.state, row.batch, row.file_name = store.DUE, "", ""
                    report.nothing_owed += 1
                    continue
                write_statement(doc, path)
                row.amount = amount = doc.total_owes
            report.rendered.append(path)
        done += 1
        if progress:
            progress(done, len(work))
        ready.append((statement_id, account_id, kind, amount))
    for statement_id, account_id, kind, amount in ready:
        try:
            await tell_account(
                client,
                account_id,
                AccountEvent(kind="statement_sent", why=kind, on=on),
                settings,
                task_queue=task_queue,
            )
        except (RPCError, RuntimeError) as err:
            log.warning("statement %s: account %s not told: %s", statement_id, account_id, err)
            report.unreported += 1
            continue
        with session_scope(engine) as session:
            if store.record_sent(session, statement_id, on, amount, actor):
                report.sent += 1
    return report


def _dry_run(
    engine: Engine,
    settings: Settings,
    on: date,
    folder: Path,
    batch: str,
    actor: str,
    progress: Progress | None,
) -> BatchReport:
    report = BatchReport(batch=batch, folder=folder, dry_run=True)
    with Session(engine) as session:
        rows = store.due_statements(session) + store.unfinished_statements(session)
        docs = [(r, statement_doc(session, settings, r.account_id, r.kind, on)) for r in rows]
    for n, (row, doc) in enumerate(docs, start=1):
        if doc is None:
            report.nothing_owed += 1
        else:
            report.rendered.append(write_statement(doc, _file_for(folder, row)))
        if progress:
            progress(n, len(docs))
    if report.rendered:
        with session_scope(engine) as session:
            session.add(
                AuditEvent(
                    at=datetime.now(UTC),
                    actor=actor,
                    action="statements_rendered_for_review",
                    detail={"statements": len(report.rendered), "folder": folder.name},
                )
            )
    return report
