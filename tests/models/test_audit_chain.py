"""The audit log is a hash chain the database will not let anyone rewrite.

Every entry carries the hash of the one before it; `denialflow audit verify` walks the
chain and names the entry that was edited, deleted or slipped in. Both backends refuse
UPDATE and DELETE outright, so the tampering here first has to switch that refusal off,
as someone with the database owner's password could.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlmodel import select

from denialflow.cli import main
from denialflow.models.audit_chain import AuditIsAppendOnly, entry_hash, verify
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.tables import AuditEvent


def _record(engine: Engine, count: int, actor: str = "casey") -> None:
    for i in range(count):
        with session_scope(engine) as session:
            session.add(
                AuditEvent(
                    at=datetime.now(UTC),
                    actor=actor,
                    action="claim_viewed",
                    claim_id=f"C{i:04d}",
                    detail={"queue": "denials", "n": i},
                )
            )


def _tamper(engine: Engine, sql: str) -> None:
    """Run `sql` with the append-only guard switched off, as a database owner could."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
            conn.exec_driver_sql(sql)
            conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
            conn.exec_driver_sql(sql)


def _problems(engine: Engine) -> list[str]:
    return [str(f) for f in verify(engine).findings or []]


def test_entries_are_chained_and_verify_intact(any_engine: Engine) -> None:
    _record(any_engine, 5)
    verdict = verify(any_engine)
    assert verdict.intact
    with session_scope(any_engine) as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert all(r.prev_hash == p.hash for p, r in zip(rows, rows[1:], strict=False))
    assert verdict.head_hash == rows[-1].hash


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3",
            "entry seq 3 (id 3): its content does not match its hash (edited)",
        ),
        (
            "DELETE FROM audit_event WHERE seq = 2",
            "entry seq 3 (id 3): seq 2 missing before it (deleted)",
        ),
    ],
    ids=["edited", "deleted"],
)
def test_verify_names_the_entry_tampered_with(any_engine: Engine, sql: str, expected: str) -> None:
    _record(any_engine, 5)
    _tamper(any_engine, sql)
    assert _problems(any_engine) == [expected]


def test_verify_finds_an_entry_slipped_in(any_engine: Engine) -> None:
    """A forged row, hashed correctly, that cannot know the real predecessor's hash."""
    _record(any_engine, 3)
    forged = {
        "at": datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
        "actor": "mallory",
        "action": "claim_viewed",
        "claim_id": "C0001",
        "detail": {},
        "idempotency_key": None,
        "seq": 4,
        "prev_hash": "a" * 64,
    }
    with any_engine.begin() as conn:
        conn.execute(AuditEvent.__table__.insert().values(**forged, hash=entry_hash(**forged)))
    assert _problems(any_engine) == [
        "entry seq 4 (id 4): does not link to seq 3 (id 3) (inserted or replaced)"
    ]


def test_the_database_refuses_update_and_delete(any_engine: Engine) -> None:
    _record(any_engine, 2)
    for sql in (
        "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
    ):
        with pytest.raises(DatabaseError, match="append-only"), any_engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert verify(any_engine).intact


def test_the_orm_refuses_to_change_an_entry(engine: Engine) -> None:
    _record(engine, 1)
    with pytest.raises(AuditIsAppendOnly), session_scope(engine) as session:
        row = session.exec(select(AuditEvent)).one()
        row.actor = "mallory"
        session.add(row)
    with session_scope(engine) as session:
        assert session.exec(select(AuditEvent)).one().actor == "casey"


def test_concurrent_writers_make_one_unbroken_chain(any_engine: Engine) -> None:
    """Web processes and workers append at once; each entry still links to the one before."""
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            _record(any_engine, 15, actor=name)
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    verdict = verify(any_engine)
    assert verdict.intact, verdict.findings
    assert verdict.entries == 60


def test_entries_written_before_the_chain_existed_are_chained_by_the_migration(
    tmp_path: Path,
) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0010")
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_event (at, actor, action, claim_id, detail) "
                    "VALUES (:at, 'sam', 'claim_viewed', :claim, :detail)"
                ),
                {"at": datetime(2026, 3, i + 1, 9, 30), "claim": f"C{i}", "detail": "{}"},
            )
    upgrade(engine)
    _record(engine, 2)
    verdict = verify(engine)
    assert verdict.intact and verdict.entries == 5
    engine.dispose()


def test_audit_verify_command(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    from denialflow.settings import get_settings

    get_settings.cache_clear()
    try:
        _record(engine, 4)
        assert main(["audit", "verify"]) == 0
        assert "audit log intact: 4 entries" in capsys.readouterr().out

        _tamper(engine, 'UPDATE audit_event SET detail = \'{"queue": "paid"}\' WHERE seq = 2')
        assert main(["audit", "verify"]) == 1
        err = capsys.readouterr().err
        assert "audit log TAMPERED: 1 finding" in err
        assert "entry seq 2 (id 2): its content does not match its hash (edited)" in err
    finally:
        get_settings.cache_clear()
