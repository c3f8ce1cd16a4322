"""A payment processor's deposits as CSV: every row a patient payment, posted all or
nothing, once per transaction id.

The header (any order, any case; spaces or underscores; a UTF-8 BOM as Excel writes it
is fine):

    transaction_id,date,amount,account_id,claim_id,method,reference

- transaction_id: the processor's id; a row whose id was posted before is skipped, so a
  file posted twice posts nothing new.
- date: the day the money was received, YYYY-MM-DD or MM/DD/YYYY.
- amount: dollars and cents ($ and thousands commas allowed).
- account_id, or claim_id (either, or both when they agree): whose payment it is. With a
  claim id the payment goes to that claim first, the rest oldest first.
- method: cash, card, check or ach; reference: required for card and check.

Every row is checked first; one bad row refuses the file with a message per problem
naming the row (as a spreadsheet numbers it, the header being row 1) and the column,
and nothing is posted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from denialflow.domain.types import ZERO
from denialflow.models.tables import Claim
from denialflow.posting.patient_payments import (
    PaymentIn,
    PaymentRefused,
    PostingOutcome,
    apply_payment,
    check_payment,
    existing,
    practice_today,
    record_payment,
)
from denialflow.store.patient_accounts import account_for_claim, owes

COLUMNS = ("transaction_id", "date", "amount", "account_id", "claim_id", "method", "reference")
REQUIRED = ("transaction_id", "date", "amount", "method")
MAX_ROWS = 10_000
KEY_PREFIX = "txn:"
# Which column a refusal's field is about.
FIELD_COLUMN = {
    "account_id": "account_id",
    "amount": "amount",
    "method": "method",
    "reference": "reference",
    "received_on": "date",
    "key": "transaction_id",
    "allocation": "amount",
}


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    posted: list[PostingOutcome] = field(default_factory=list)
    already_posted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def applying(self) -> list[PostingOutcome]:
        return [o for o in self.posted if not o.posted]

    def summary(self) -> str:
        if self.errors:
            return f"{self.file}: refused, nothing posted ({len(self.errors)} problems)"
        if not self.posted:
            return (
                f"{self.file}: nothing new: all {len(self.already_posted)} transactions "
                "were posted before"
            )
        parts = [f"{self.file}: {len(self.posted)} payments posted"]
        if self.already_posted:
            parts.append(f"{len(self.already_posted)} posted before were skipped")
        if self.applying:
            parts.append(f"{len(self.applying)} recorded but waiting for Temporal")
        return "; ".join(parts)


def _header_name(raw: str) -> str:
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV" on Windows is the ANSI code page.
        return data.decode("cp1252", errors="replace")


def read_rows(data: bytes, report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    """The data rows with their spreadsheet row numbers, or errors in `report`."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        report.errors.append("the file is empty: expected a header row " + ",".join(COLUMNS))
        return []
    names = [_header_name(h) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n and n not in COLUMNS]
    missing = [c for c in REQUIRED if c not in names]
    if "account_id" not in names and "claim_id" not in names:
        missing.append("account_id or claim_id")
    if unknown:
        report.errors.append(
            f"row 1: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}"
        )
    if missing:
        report.errors.append(f"row 1: missing column(s) {', '.join(missing)}")
    if report.errors:
        return []
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(names):
            report.errors.append(
                f"row {number}: {len(values)} values but the header has {len(names)} columns"
            )
            continue
        rows.append((number, {n: v for n, v in zip(names, values, strict=False) if n}))
        if len(rows) > MAX_ROWS:
            report.errors.append(f"more than {MAX_ROWS} rows: split the file")
            return []
    return rows


def _account_of_row(
    session: Session, number: int, row: dict[str, str], errors: list[str]
) -> tuple[str, dict[str, str]]:
    """The row's account id and chosen amounts (its claim first, when it names one)."""
    account_id = row.get("account_id", "").strip().upper()
    claim_id = row.get("claim_id", "").strip()
    if not claim_id:
        if not account_id:
            errors.append(f"row {number}, column account_id: give an account id or a claim id")
        return account_id, {}
    claim = session.get(Claim, claim_id)
    if claim is None:
        errors.append(f"row {number}, column claim_id: there is no claim {claim_id!r}")
        return account_id, {}
    account = account_for_claim(session, claim)
    if account_id and account_id != account.id:
        errors.append(
            f"row {number}, column claim_id: claim {claim_id} is on account {account.id}, "
            f"not {account_id}"
        )
        return account_id, {}
    try:
        amount = Decimal(row.get("amount", "").strip().replace("$", "").replace(",", ""))
    except ArithmeticError:
        return account.id, {}  # the amount's own check says what is wrong with it
    due = owes(claim)
    if due <= ZERO or not amount.is_finite() or amount <= ZERO:
        return account.id, {}
    return account.id, {claim_id: str(min(amount, due))}


async def import_payments(
    client: Client | None,
    engine: Engine,
    data: bytes,
    file_name: str,
    actor: str,
    task_queue: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Check every row, record them all in one transaction (or none), then apply each."""
    report = ImportReport(file=file_name)
    rows = read_rows(data, report)
    report.rows = len(rows)
    if report.errors:
        return report
    today = today or practice_today()
    seen: dict[str, int] = {}
    recorded: list[int] = []
    with Session(engine, expire_on_commit=False) as session:
        try:
            for number, row in rows:
                txn = row.get("transaction_id", "").strip()
                if not txn:
                    report.errors.append(f"row {number}, column transaction_id: required")
                    continue
                if txn in seen:
                    report.errors.append(
                        f"row {number}, column transaction_id: {txn} is also on row {seen[txn]}"
                    )
                    continue
                seen[txn] = number
                key = f"{KEY_PREFIX}{txn}"
                if existing(session, key) is not None:
                    report.already_posted.append(txn)
                    continue
                account_id, chosen = _account_of_row(session, number, row, report.errors)
                if not account_id:
                    continue
                payment = PaymentIn(
                    key=key,
                    account_id=account_id,
                    amount=row.get("amount", ""),
                    method=row.get("method", ""),
                    received_on=row.get("date", ""),
                    reference=row.get("reference", ""),
                    chosen=chosen,
                    source=f"csv:{file_name}"[:255],
                )
                try:
                    checked = check_payment(session, payment, today)
                except PaymentRefused as err:
                    for name, message in err.errors.items():
                        column = FIELD_COLUMN.get(name, name)
                        report.errors.append(f"row {number}, column {column}: {message}")
                    continue
                recorded_row = record_payment(session, checked, actor)
                assert recorded_row.id is not None
                recorded.append(recorded_row.id)
            if report.errors:
                session.rollback()
                return report
            session.commit()
        except BaseException:
            session.rollback()
            raise
    for payment_id in recorded:
        report.posted.append(await apply_payment(client, engine, payment_id, task_queue))
    return report
