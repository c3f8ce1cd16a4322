"""Fee schedules: contracted allowed amounts per payer, procedure and modifier, from an
effective date. A rate change is a new row; it applies to services on or after its date."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlmodel import Session, select

from denialflow.domain.types import to_money
from denialflow.models.tables import FeeSchedule, Payer

REQUIRED = ("procedure_code", "allowed", "effective_from")


class FeeScheduleError(ValueError):
    """A fee schedule file that cannot be imported; says which file, line and column."""


@dataclass
class FeeRow:
    procedure_code: str
    modifier: str
    allowed: Decimal
    effective_from: date
    effective_to: date | None


@dataclass
class ImportReport:
    added: list[FeeRow] = field(default_factory=list)
    changed: list[tuple[FeeRow, Decimal]] = field(default_factory=list)  # row, old amount
    unchanged: int = 0

    def describe(self) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {self.unchanged} unchanged"
        ]
        for row, old in self.changed:
            mod = f"-{row.modifier}" if row.modifier else ""
            lines.append(
                f"  {row.procedure_code}{mod} from {row.effective_from}: {old} -> {row.allowed}"
            )
        return "\n".join(lines)


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise FeeScheduleError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def read_fee_csv(text: str, file: str) -> list[FeeRow]:
    """Rows of a fee schedule CSV: procedure_code, modifier (optional), allowed,
    effective_from, effective_to (optional). Nothing is returned unless every row is good."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FeeScheduleError(f"{file}: line 1: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[FeeRow] = []
    seen: dict[tuple[str, str, date], int] = {}
    for line_no, raw in enumerate(reader, start=2):
        if not any((v or "").strip() for v in raw.values()):
            continue
        where = f"{file}: line {line_no}"
        code = (raw.get("procedure_code") or "").strip().upper()
        if not code:
            raise FeeScheduleError(f"{where}: procedure_code is empty")
        modifier = (raw.get("modifier") or "").strip().upper()
        if modifier and len(modifier) != 2:
            raise FeeScheduleError(f"{where}: modifier {modifier!r} is not two characters")
        try:
            allowed = to_money((raw.get("allowed") or "").strip().lstrip("$"))
        except (InvalidOperation, ValueError):
            raise FeeScheduleError(
                f"{where}: allowed {raw.get('allowed')!r} is not an amount"
            ) from None
        if allowed < 0:
            raise FeeScheduleError(f"{where}: allowed {allowed} is negative")
        start = _date(raw.get("effective_from") or "", f"{where}: effective_from")
        end_text = (raw.get("effective_to") or "").strip()
        end = _date(end_text, f"{where}: effective_to") if end_text else None
        if end is not None and end < start:
            raise FeeScheduleError(f"{where}: effective_to {end} is before effective_from {start}")
        key = (code, modifier, start)
        if key in seen:
            raise FeeScheduleError(
                f"{where}: {code}{'-' + modifier if modifier else ''} from {start} "
                f"already appears on line {seen[key]}"
            )
        seen[key] = line_no
        rows.append(FeeRow(code, modifier, allowed, start, end))
    if not rows:
        raise FeeScheduleError(f"{file}: no fee rows")
    return rows


def import_fee_schedule(session: Session, payer_id: str, path: Path) -> ImportReport:
    """Import a payer's fee schedule CSV; re-importing the same file changes nothing."""
    if session.get(Payer, payer_id) is None:
        raise FeeScheduleError(f"{path.name}: unknown payer {payer_id!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FeeScheduleError(f"{path.name}: cannot read: {err}") from None
    rows = read_fee_csv(text, path.name)
    report = ImportReport()
    now = datetime.now(UTC)
    for row in rows:
        existing = session.exec(
            select(FeeSchedule).where(
                FeeSchedule.payer_id == payer_id,
                FeeSchedule.procedure_code == row.procedure_code,
                FeeSchedule.modifier == row.modifier,
                FeeSchedule.effective_from == row.effective_from,
            )
        ).first()
        if existing is None:
            session.add(
                FeeSchedule(
                    payer_id=payer_id,
                    procedure_code=row.procedure_code,
                    modifier=row.modifier,
                    allowed=row.allowed,
                    effective_from=row.effective_from,
                    effective_to=row.effective_to,
                    source=path.name,
                    imported_at=now,
                )
            )
            report.added.append(row)
        elif existing.allowed != row.allowed or existing.effective_to != row.effective_to:
            report.changed.append((row, existing.allowed))
            existing.allowed = row.allowed
            existing.effective_to = row.effective_to
            existing.source = path.name
            existing.imported_at = now
            session.add(existing)
        else:
            report.unchanged += 1
    return report


class FeeLookup:
    """A payer's rates in memory for one posting run: one query, then dictionary lookups."""

    def __init__(self, session: Session, payer_id: str) -> None:
        rows = session.exec(
            select(FeeSchedule)
            .where(FeeSchedule.payer_id == payer_id)
            .order_by(FeeSchedule.effective_from.desc())  # type: ignore[attr-defined]
        ).all()
        self._rates: dict[tuple[str, str], list[FeeSchedule]] = {}
        for row in rows:
            self._rates.setdefault((row.procedure_code, row.modifier), []).append(row)

    def rate(self, code: str, modifiers: list[str], service_date: date) -> Decimal | None:
        """The allowed amount in force on the service date; a modifier-specific rate wins
        over the plain code's."""
        for key in [(code, m) for m in modifiers] + [(code, "")]:
            for row in self._rates.get(key, []):
                if row.effective_from <= service_date and (
                    row.effective_to is None or service_date <= row.effective_to
                ):
                    return row.allowed
        return None
