"""The facts the reports keep on the rows, against the same facts found again from the
rows and their timelines (`denialflow check`).

Each fact is written when the step that decides it is written (store/report_facts.py,
models/work_summaries.py), and each module's `derive` finds them all again in bulk.
`rederive` runs both derives in the caller's transaction, beside a copy of the facts
as they were kept, and returns every column that changed: the caller rolls back to only
look, or rebuilds the summaries and commits to repair. A difference means a row was
written around the ORM, a step kept a fact wrongly, or the practice time zone changed
since (a fact's day is the practice day it fell on when it was written).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import JSON, Column, MetaData, Table, cast, func, insert, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from denialflow.domain.rules.calendar import as_utc
from denialflow.models.tables import Claim, Remittance, WorkItem
from denialflow.models.work_summaries import ITEM_FACTS, REMIT_FACTS
from denialflow.store import report_facts, summaries, work_summaries

__all__ = ["FACTS", "FactDifference", "rederive"]

# Each table with a fact and the fact columns on it.
FACTS: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (Claim.__table__, report_facts.CLAIM_FACTS),  # type: ignore[attr-defined]
    (Remittance.__table__, report_facts.REMITTANCE_FACTS + REMIT_FACTS),  # type: ignore[attr-defined]
    (WorkItem.__table__, ITEM_FACTS),  # type: ignore[attr-defined]
)
# Rows named in a difference's message; the count says how many there are in all.
EXAMPLES = 3


@dataclass(frozen=True)
class FactDifference:
    table: str
    column: str
    rows: int
    # (row id, as kept, as found) for the first few rows that differ.
    examples: tuple[tuple[str, Any, Any], ...]

    def __str__(self) -> str:
        shown = "; ".join(
            f"{row} has {_shown(kept)}, its rows say {_shown(found)}"
            for row, kept, found in self.examples
        )
        rows = f"{self.rows} row{'s' if self.rows != 1 else ''}"
        left = self.rows - len(self.examples)
        more = f"; and {left} more" if left else ""
        return f"{self.table}.{self.column} differs on {rows} ({shown}{more})"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def rederive(connection: Connection, tz: tzinfo) -> list[FactDifference]:
    """Every fact found again from the rows, in the caller's transaction and left in
    place, and each fact column whose values changed (nothing: all as kept)."""
    copies = [_copy(connection, table, columns) for table, columns in FACTS]
    try:
        report_facts.derive(connection, tz)
        work_summaries.derive(connection, tz)
        found: list[FactDifference] = []
        for (table, columns), copy in zip(FACTS, copies, strict=True):
            found.extend(_compare(connection, table, copy, columns))
        return found
    finally:
        for copy in copies:
            copy.drop(connection)


def _copy(connection: Connection, table: Table, columns: tuple[str, ...]) -> Table:
    """A temporary table with the row ids and the facts as kept."""
    copy = Table(
        f"df_kept_{table.name}",
        MetaData(),
        Column("id", table.c.id.type, primary_key=True),
        *(Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
    )
    # SQLite runs a CREATE outside the transaction (its driver begins one at the first
    # write), so a look that was rolled back can leave an empty copy on the connection.
    copy.drop(connection, checkfirst=True)
    copy.create(connection)
    connection.execute(
        insert(copy).from_select(
            ["id", *columns], select(table.c.id, *(table.c[name] for name in columns))
        )
    )
    return copy


def _comparable(connection: Connection, column: Any) -> Any:
    """A JSON value as SQL can compare it: PostgreSQL's json has no equality, and SQLite
    keeps the text as written (the ORM's spacing is not SQLite's)."""
    if not isinstance(column.type, JSON):
        return column
    if connection.dialect.name == "postgresql":
        return cast(column, JSONB)
    return func.json(column)


def _compare(
    connection: Connection, table: Table, copy: Table, columns: tuple[str, ...]
) -> Iterable[FactDifference]:
    # SQL narrows to the rows whose stored values differ; Python then compares values, as
    # the same moment or amount can be stored in more than one form.
    differs = or_(
        *(
            _comparable(connection, table.c[name]).is_distinct_from(
                _comparable(connection, copy.c[name])
            )
            for name in columns
        )
    )
    rows = connection.execute(
        select(
            table.c.id,
            *(copy.c[name] for name in columns),
            *(table.c[name] for name in columns),
        )
        .join(copy, copy.c.id == table.c.id)
        .where(differs)
        .order_by(table.c.id)
        .execution_options(yield_per=2000)
    )
    counts = dict.fromkeys(columns, 0)
    examples: dict[str, list[tuple[str, Any, Any]]] = {name: [] for name in columns}
    n = len(columns)
    for row in rows:
        for i, name in enumerate(columns):
            kept, found = _normal(row[1 + i]), _normal(row[1 + n + i])
            if kept == found:
                continue
            counts[name] += 1
            if len(examples[name]) < EXAMPLES:
                examples[name].append((str(row[0]), kept, found))
    for name in columns:
        if counts[name]:
            yield FactDifference(table.name, name, counts[name], tuple(examples[name]))


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, list):
        return tuple(_normal(v) for v in value)
    return summaries.comparable(value)
