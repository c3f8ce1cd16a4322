"""Fee schedules: contracted allowed amounts per payer, procedure and modifier, from an
effective date. A rate change is a new row; it applies to services on or after its date.

Importing is two steps, so a person can see a change before it counts: `plan_fee_import`
says what a set of rows would add and change (the old rate beside the new one) without
writing anything, and `apply_fee_import` writes that plan. `import_fee_schedule` (the
CLI's) does both. A file with any bad row is refused whole, every problem listed with
the file, line and column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, delete, select

from denialflow.domain.types import CENT
from denialflow.models.tables import FeeChangePreview, FeeSchedule, Payer
from denialflow.scrub.codes import is_modifier, is_procedure_code

REQUIRED = ("procedure_code", "allowed", "effective_from")
# No payer's fee schedule pays anywhere near this for one unit of one service (the
# Medicare physician fee schedule's largest national amounts are a few thousand dollars;
# the costliest HCPCS drug and device codes stay in the tens of thousands). A rate above
# it is a misplaced decimal point or a column slipped sideways, so the file is refused.
MAX_ALLOWED = Decimal("100000.00")
# Dates a contract rate can sensibly carry: a year typed as 2206 or 1926 is a typo.
EARLIEST = date(1990, 1, 1)
LATEST = date(2099, 12, 31)
# A file with hundreds of bad rows says so without listing every one.
MAX_PROBLEMS = 50
SHAPE = (
    "a CPT or HCPCS code is five characters: five digits (99213), four digits and "
    "F, T or U (0001F, 0042T, 0001U), or a letter A to V and four digits (J1100)"
)


class FeeScheduleError(ValueError):
    """Fee rows that cannot be imported; each problem names the file, line and column."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class FeeRow:
    procedure_code: str
    modifier: str
    allowed: Decimal
    effective_from: date
    effective_to: date | None

    @property
    def key(self) -> tuple[str, str, date]:
        return (self.procedure_code, self.modifier, self.effective_from)

    @property
    def label(self) -> str:
        return self.procedure_code + (f"-{self.modifier}" if self.modifier else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "procedure_code": self.procedure_code,
            "modifier": self.modifier,
            "allowed": str(self.allowed),
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeeRow:
        end = data.get("effective_to")
        return cls(
            procedure_code=data["procedure_code"],
            modifier=data["modifier"],
            allowed=Decimal(data["allowed"]),
            effective_from=date.fromisoformat(data["effective_from"]),
            effective_to=date.fromisoformat(end) if end else None,
        )


@dataclass(frozen=True)
class RateChange:
    """One line of a preview: a rate that is new, or the rate it replaces."""

    row: FeeRow
    # The amount and end date on file for the same code, modifier and effective date
    # (a correction), or else the rate in force the day before (a rate change from a
    # later date); None for a code with no rate yet.
    old_allowed: Decimal | None
    old_to: date | None
    # "new code", "new rate from this date", or "changed" (same effective date).
    kind: str

    @property
    def ends_changed(self) -> bool:
        return self.kind == "changed" and self.old_to != self.row.effective_to


@dataclass
class ImportReport:
    added: list[FeeRow] = field(default_factory=list)
    changed: list[tuple[FeeRow, Decimal]] = field(default_factory=list)  # row, old amount
    unchanged: int = 0
    # For each added row with an earlier rate on file: that rate (what the new row
    # replaces from its date). For each changed row: its end date on file.
    prior: dict[tuple[str, str, date], Decimal] = field(default_factory=dict)
    prior_to: dict[tuple[str, str, date], date | None] = field(default_factory=dict)

    @property
    def changes(self) -> list[RateChange]:
        """Every row that would change something, rate changes first, then new codes."""
        out = [
            RateChange(row, old, self.prior_to.get(row.key), "changed") for row, old in self.changed
        ]
        for row in self.added:
            before = self.prior.get(row.key)
            kind = "new code" if before is None else "new rate from this date"
            out.append(RateChange(row, before, None, kind))
        out.sort(key=lambda c: (c.kind == "new code", c.row.key))
        return out

    @property
    def rate_changes(self) -> list[RateChange]:
        return [c for c in self.changes if c.kind != "new code"]

    @property
    def new_codes(self) -> list[RateChange]:
        return [c for c in self.changes if c.kind == "new code"]

    @property
    def nothing_to_do(self) -> bool:
        return not self.added and not self.changed

    def digest(self, payer_id: str) -> str:
        """What this plan would write, as a fingerprint: a confirmation applies a plan
        only while it is still exactly the one that was shown."""
        state = [[c.kind, c.row.to_json(), str(c.old_allowed), str(c.old_to)] for c in self.changes]
        text = json.dumps([payer_id, state], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {self.unchanged} unchanged"
        ]
        for row, old in self.changed:
            lines.append(f"  {row.label} from {row.effective_from}: {old} -> {row.allowed}")
        return "\n".join(lines)


def _at(where: str, text: str) -> str:
    return f"{where}: {text}" if where else text[0].upper() + text[1:]


def check_date(value: str, where: str, column: str) -> tuple[date | None, str]:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None, _at(where, f"{column}: {value!r} is not a date (YYYY-MM-DD)")
    if not EARLIEST <= day <= LATEST:
        return None, _at(
            where, f"{column}: {day} is outside {EARLIEST} to {LATEST}; is the year a typo?"
        )
    return day, ""


def check_allowed(raw: str, where: str) -> tuple[Decimal | None, str]:
    """An allowed amount in dollars and cents, from 0.00 up to MAX_ALLOWED."""
    text = raw.strip().lstrip("$").replace(",", "")
    try:
        amount = Decimal(text)
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return None, _at(where, f"allowed {raw!r} is not an amount")
    if amount < 0:
        return None, _at(where, f"allowed {text} is negative")
    if amount > MAX_ALLOWED:
        return None, _at(
            where,
            f"allowed {text} is above {MAX_ALLOWED:,}, more than any fee schedule pays "
            "for one service (a misplaced decimal point?)",
        )
    if amount != amount.quantize(CENT):
        return None, _at(where, f"allowed {text} has fractions of a cent")
    return amount.quantize(CENT), ""


def check_fee_row(values: dict[str, str], where: str = "") -> tuple[FeeRow | None, dict[str, str]]:
    """One rate from text fields (a CSV line, or a form when `where` is empty): the row,
    or what is wrong with it by column. Each message names the column (and `where`)."""
    problems: dict[str, str] = {}
    code = (values.get("procedure_code") or "").strip().upper()
    if not code:
        problems["procedure_code"] = _at(where, "procedure_code is empty")
    elif not is_procedure_code(code):
        problems["procedure_code"] = _at(
            where, f"procedure_code {code!r} is not a CPT or HCPCS code; {SHAPE}"
        )
    modifier = (values.get("modifier") or "").strip().upper()
    if modifier and len(modifier) != 2:
        problems["modifier"] = _at(where, f"modifier {modifier!r} is not two characters")
    elif modifier and not is_modifier(modifier):
        problems["modifier"] = _at(where, f"modifier {modifier!r} is not two letters or digits")
    allowed, problem = check_allowed(values.get("allowed") or "", where)
    if problem:
        problems["allowed"] = problem
    start, problem = check_date(values.get("effective_from") or "", where, "effective_from")
    if problem:
        problems["effective_from"] = problem
    end_text = (values.get("effective_to") or "").strip()
    end: date | None = None
    if end_text:
        end, problem = check_date(end_text, where, "effective_to")
        if problem:
            problems["effective_to"] = problem
        elif start is not None and end is not None and end < start:
            problems["effective_to"] = _at(
                where, f"effective_to {end} is before effective_from {start}"
            )
    if problems or allowed is None or start is None:
        return None, problems
    return FeeRow(code, modifier, allowed, start, end), {}


def read_fee_csv(text: str, file: str) -> list[FeeRow]:
    """Rows of a fee schedule CSV: procedure_code, modifier (optional), allowed,
    effective_from, effective_to (optional). Nothing is returned unless every row is good;
    otherwise FeeScheduleError lists every problem (up to MAX_PROBLEMS)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FeeScheduleError(f"{file}: line 1: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[FeeRow] = []
    problems: list[str] = []
    bad_rows = 0
    seen: dict[tuple[str, str, date], int] = {}
    for raw in reader:
        line_no = reader.line_num
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue
        where = f"{file}: line {line_no}"
        row, row_problems = check_fee_row(raw, where)
        if row is not None and row.key in seen:
            row_problems = {
                "procedure_code": f"{where}: {row.label} from {row.effective_from} "
                f"already appears on line {seen[row.key]}"
            }
        if row_problems:
            bad_rows += 1
            problems.extend(row_problems.values())
            continue
        assert row is not None
        seen[row.key] = line_no
        rows.append(row)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"{file}: and {len(problems) - MAX_PROBLEMS} more problems")
        if bad_rows > 1:
            shown.insert(0, f"{file}: {bad_rows} rows have problems")
        raise FeeScheduleError(shown)
    if not rows:
        raise FeeScheduleError(f"{file}: no fee rows")
    return rows


def plan_fee_import(session: Session, payer_id: str, rows: list[FeeRow]) -> ImportReport:
    """What importing `rows` would add and change for the payer; writes nothing."""
    existing: dict[tuple[str, str, date], FeeSchedule] = {}
    by_code: dict[tuple[str, str], list[FeeSchedule]] = {}
    for rate in session.exec(select(FeeSchedule).where(FeeSchedule.payer_id == payer_id)):
        existing[(rate.procedure_code, rate.modifier, rate.effective_from)] = rate
        by_code.setdefault((rate.procedure_code, rate.modifier), []).append(rate)
    report = ImportReport()
    for row in rows:
        current = existing.get(row.key)
        if current is None:
            report.added.append(row)
            earlier = [
                r
                for r in by_code.get((row.procedure_code, row.modifier), [])
                if r.effective_from < row.effective_from
            ]
            if earlier:
                report.prior[row.key] = max(earlier, key=lambda r: r.effective_from).allowed
        elif current.allowed != row.allowed or current.effective_to != row.effective_to:
            report.changed.append((row, current.allowed))
            report.prior_to[row.key] = current.effective_to
        else:
            report.unchanged += 1
    return report


def apply_fee_import(
    session: Session, payer_id: str, report: ImportReport, source: str
) -> ImportReport:
    """Write a plan made by `plan_fee_import` (the caller commits)."""
    now = datetime.now(UTC)
    for row in report.added:
        session.add(
            FeeSchedule(
                payer_id=payer_id,
                procedure_code=row.procedure_code,
                modifier=row.modifier,
                allowed=row.allowed,
                effective_from=row.effective_from,
                effective_to=row.effective_to,
                source=source[:255],
                imported_at=now,
            )
        )
    for row, _old in report.changed:
        rate = session.exec(
            select(FeeSchedule).where(
                FeeSchedule.payer_id == payer_id,
                FeeSchedule.procedure_code == row.procedure_code,
                FeeSchedule.modifier == row.modifier,
                FeeSchedule.effective_from == row.effective_from,
            )
        ).one()
        rate.allowed = row.allowed
        rate.effective_to = row.effective_to
        rate.source = source[:255]
        rate.imported_at = now
        session.add(rate)
    return report


def read_fee_file(path: Path) -> list[FeeRow]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FeeScheduleError(f"{path.name}: cannot read: {err}") from None
    return read_fee_csv(text, path.name)


def import_fee_schedule(session: Session, payer_id: str, path: Path) -> ImportReport:
    """Import a payer's fee schedule CSV; re-importing the same file changes nothing."""
    if session.get(Payer, payer_id) is None:
        raise FeeScheduleError(f"{path.name}: unknown payer {payer_id!r}")
    rows = read_fee_file(path)
    return apply_fee_import(session, payer_id, plan_fee_import(session, payer_id, rows), path.name)


# --- previews: a change shown, then confirmed ----------------------------------------

PREVIEW_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class Preview:
    """A saved plan awaiting confirmation, as shown to the admin."""

    id: str
    payer_id: str
    source: str
    created_by: str
    report: ImportReport
    digest: str


def _plan_preview(session: Session, row: FeeChangePreview) -> Preview:
    rows = [FeeRow.from_json(r) for r in row.rows]
    report = plan_fee_import(session, row.payer_id, rows)
    return Preview(row.id, row.payer_id, row.source, row.created_by, report, row.digest)


def preview_fee_change(
    session: Session, payer_id: str, rows: list[FeeRow], source: str, by: str
) -> Preview:
    """Save `rows` as a change to confirm later and say what it would do; writes no rate.
    A plan that changes nothing is returned unsaved (its id is empty)."""
    now = datetime.now(UTC)
    session.exec(  # type: ignore[call-overload]
        delete(FeeChangePreview).where(col(FeeChangePreview.created_at) < now - PREVIEW_LIFETIME)
    )
    report = plan_fee_import(session, payer_id, rows)
    digest = report.digest(payer_id)
    if report.nothing_to_do:
        return Preview("", payer_id, source, by, report, digest)
    saved = FeeChangePreview(
        id=secrets.token_urlsafe(24),
        payer_id=payer_id,
        created_by=by,
        created_at=now,
        source=source[:255],
        rows=[r.to_json() for r in rows],
        digest=digest,
    )
    session.add(saved)
    return Preview(saved.id, payer_id, saved.source, by, report, digest)


class PreviewGone(LookupError):
    """The preview was confirmed, cancelled or expired already."""


class PreviewStale(Exception):
    """The rates changed since the preview was shown; `preview` is what it would do now."""

    def __init__(self, preview: Preview) -> None:
        super().__init__("the rates changed since this preview was shown")
        self.preview = preview


def load_preview(session: Session, payer_id: str, preview_id: str) -> FeeChangePreview:
    row = session.get(FeeChangePreview, preview_id)
    if (
        row is None
        or row.payer_id != payer_id
        or row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC)
        < datetime.now(UTC) - PREVIEW_LIFETIME
    ):
        raise PreviewGone(preview_id)
    return row


def confirm_fee_change(
    session: Session, payer_id: str, preview_id: str, shown_digest: str
) -> Preview:
    """Apply a saved preview if it would still do exactly what was shown (the caller
    commits). Raises PreviewGone, or PreviewStale with the plan as it stands now (saved
    under the same id, so it can be confirmed in turn)."""
    row = load_preview(session, payer_id, preview_id)
    preview = _plan_preview(session, row)
    now_digest = preview.report.digest(payer_id)
    if now_digest != shown_digest or now_digest != row.digest:
        row.digest = now_digest
        session.add(row)
        raise PreviewStale(
            Preview(row.id, payer_id, row.source, row.created_by, preview.report, now_digest)
        )
    apply_fee_import(session, payer_id, preview.report, row.source)
    session.delete(row)
    return preview


def cancel_fee_change(session: Session, payer_id: str, preview_id: str) -> None:
    session.delete(load_preview(session, payer_id, preview_id))


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
