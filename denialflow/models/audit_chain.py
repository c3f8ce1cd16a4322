"""The audit log as a hash chain: every entry carries the hash of the one before it.

Entries are chained centrally, when a session flushes new AuditEvent rows, so no call site
has to know. Editing, deleting or slipping in a row breaks the chain, and `verify` names
where. The database also refuses UPDATE and DELETE on the table (migration 0011).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

# Before the first entry there is nothing to point at.
GENESIS = "0" * 64
# One key for every process that appends (the bytes of "audit" as an integer).
ADVISORY_LOCK_KEY = 0x6175646974
CHUNK = 10_000


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    claim_id: str | None,
    detail: Any,
    idempotency_key: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 of a canonical JSON of the entry's content and its predecessor's hash.

    The id is left out: the database assigns it after the hash is made; seq is the
    entry's place in the chain.
    """
    # The database keeps UTC; naive values are refused on write, so read them as UTC.
    at_utc = at.replace(tzinfo=UTC) if at.utcoffset() is None else at.astimezone(UTC)
    # Through JSON once so the value hashed is the value stored (tuples, int keys).
    stored_detail = json.loads(json.dumps(detail))
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at_utc.isoformat(),
            "actor": actor,
            "action": action,
            "claim_id": claim_id,
            "detail": stored_detail,
            "idempotency_key": idempotency_key,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_head(connection: Connection) -> None:
    """Make this transaction the only one appending until it ends, before the head is read."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        # pysqlite opens a transaction only at the first write, so a head read before it
        # would be outside any transaction and another process could append in between.
        # BEGIN IMMEDIATE takes the write lock now; a transaction that has written holds it.
        dbapi = connection.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _head(connection: Connection, table: Any) -> tuple[int, str]:
    row = connection.execute(
        select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (row[0], row[1])


def _chain_new_entries(session: Session, _flush_context: Any, _instances: Any) -> None:
    from denialflow.models.tables import AuditEvent

    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not new:
        return
    # The order the unit of work inserts them, so ids follow seq.
    new.sort(key=lambda obj: obj._sa_instance_state.insert_order)
    connection = session.connection(bind_arguments={"mapper": AuditEvent.__mapper__})
    _lock_head(connection)
    seq, prev = _head(connection, AuditEvent.__table__)
    for obj in new:
        seq += 1
        obj.seq = seq
        obj.prev_hash = prev
        obj.hash = prev = entry_hash(
            seq=seq,
            at=obj.at,
            actor=obj.actor,
            action=obj.action,
            claim_id=obj.claim_id,
            detail=obj.detail if obj.detail is not None else {},
            idempotency_key=obj.idempotency_key,
            prev_hash=obj.prev_hash,
        )


class AuditIsAppendOnly(Exception):
    """An audit entry was changed or removed through the ORM."""


def _refuse(_mapper: Any, _connection: Any, target: Any) -> None:
    raise AuditIsAppendOnly(
        f"audit entry {target.seq} (id {target.id}) cannot be changed or deleted: "
        "the audit log is append-only; record a new entry instead"
    )


_installed = False


def install(audit_event: type) -> None:
    """Chain every AuditEvent flushed by any session (called once, when mappers configure)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _chain_new_entries)
    event.listen(audit_event, "before_update", _refuse)
    event.listen(audit_event, "before_delete", _refuse)
    _installed = True


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    seq: int
    id: int | None
    problem: str

    def __str__(self) -> str:
        return f"entry seq {self.seq} (id {self.id}): {self.problem}"


@dataclass
class Verdict:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    findings: list[Finding] | None = None

    @property
    def intact(self) -> bool:
        return not self.findings


def _rows(engine: Engine, table: Any, chunk: int) -> Iterator[Any]:
    """Every entry in seq order, one short query per chunk (keyset on the unique seq)."""
    after: int | None = None
    cols = [
        table.c.id,
        table.c.seq,
        table.c.at,
        table.c.actor,
        table.c.action,
        table.c.claim_id,
        table.c.detail,
        table.c.idempotency_key,
        table.c.prev_hash,
        table.c.hash,
    ]
    with engine.connect() as conn:
        while True:
            query = select(*cols).order_by(table.c.seq).limit(chunk)
            if after is not None:
                query = query.where(table.c.seq > after)
            rows = conn.execute(query).all()
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1].seq


def verify(engine: Engine, chunk: int = CHUNK, max_findings: int = 100) -> Verdict:
    """Walk the chain and report every entry edited, missing or not linked to its predecessor.

    After a finding the walk continues from the entry as stored, so one tampered entry is
    reported once, not as the ruin of everything after it.
    """
    from denialflow.models.tables import AuditEvent

    table = AuditEvent.__table__
    verdict = Verdict(findings=[])
    findings = verdict.findings
    assert findings is not None
    prev_seq, prev_hash, prev_id = 0, GENESIS, None
    for row in _rows(engine, table, chunk):
        verdict.entries += 1
        expected = entry_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            claim_id=row.claim_id,
            detail=row.detail,
            idempotency_key=row.idempotency_key,
            prev_hash=row.prev_hash or "",
        )
        problem = None
        if row.seq != prev_seq + 1:
            first, last = prev_seq + 1, row.seq - 1
            missing = f"seq {first}" if first == last else f"seq {first} to {last}"
            problem = f"{missing} missing before it (deleted)"
        elif row.hash != expected:
            problem = "its content does not match its hash (edited)"
        elif row.prev_hash != prev_hash:
            after = f"seq {prev_seq} (id {prev_id})" if prev_seq else "the start of the log"
            problem = f"does not link to {after} (inserted or replaced)"
        elif prev_id is not None and row.id <= prev_id:
            problem = (
                f"was written before seq {prev_seq} (id {prev_id}), which comes first in "
                f"the chain: seq {prev_seq} was inserted later"
            )
        if problem is not None and len(findings) < max_findings:
            findings.append(Finding(row.seq, row.id, problem))
        prev_seq, prev_hash, prev_id = row.seq, row.hash, row.id
    verdict.head_seq, verdict.head_hash = prev_seq, prev_hash
    return verdict


def cli_verify(engine: Engine) -> int:
    """`denialflow audit verify`: 0 and a summary when intact, 1 and each finding if not."""
    import sys

    verdict = verify(engine)
    if verdict.intact:
        print(
            f"audit log intact: {verdict.entries} entries, "
            f"head seq {verdict.head_seq} hash {verdict.head_hash}"
        )
        return 0
    findings = verdict.findings or []
    print(f"audit log TAMPERED: {len(findings)} finding(s)", file=sys.stderr)
    for finding in findings:
        print(f"  {finding}", file=sys.stderr)
    return 1
