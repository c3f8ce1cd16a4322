"""Engine and sessions. SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def normalize_url(url: str) -> str:
    # People paste postgres:// URLs from other tools; psycopg 3 is the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # The web app's async handlers use sessions on the event loop and hold a
            # connection across awaits (a workflow update); a bounded pool would make the
            # next request wait for a connection *on the loop*, which no holder can then
            # release: past 15 concurrent requests the app stalled. Connections are cheap
            # file handles here, so take a new one rather than wait; 5 stay pooled.
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # WAL lets the web read while the worker writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Map the file into memory: the queue page reads index ranges of a database
            # far larger than SQLite's default 2 MB page cache.
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        return engine
    # Unbounded overflow for the same reason as SQLite: waiting for a pooled connection
    # blocks the web app's event loop. Past PostgreSQL's max_connections a connect fails
    # at once, and the person gets "the database is busy" (web/db_unavailable.py) instead
    # of a stall.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=-1)


def refresh_planner_statistics(engine: Engine) -> bool:
    """ANALYZE a SQLite database; True if it did. SQLite keeps no planner statistics
    unless told, and without them it can take an index that reads far more rows than the
    one a query needs; the benchmarks measure with them. A full ANALYZE: about a second
    at 200,000 claims. PostgreSQL's autovacuum keeps its own."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return True


def get_engine(url: str | None = None) -> Engine:
    if url is None:
        from denialflow.settings import get_settings

        url = get_settings().effective_database_url
    return engine_for(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
