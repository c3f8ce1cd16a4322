"""Schema migrations with Alembic; `upgrade` is what `denialflow migrate` and start-up run."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Set on the connection by a migration that needs the report facts and summaries found
# again from the rows (env.py does it once, at the head).
REBUILD_REPORTS = "denialflow.rebuild_reports"


def rebuild_reports_after(connection: Connection) -> None:
    """Called by a migration: rebuild the report facts and summaries once all have run."""
    connection.info[REBUILD_REPORTS] = True


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it; with foreign keys enforced, dropping the
            # old copy fails while other tables point at it. The pragma only takes effect
            # outside a transaction, hence before the migration's own.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        cfg.attributes["connection"] = conn
        with conn.begin():
            command.upgrade(cfg, revision)
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def autogenerate(engine: Engine, message: str) -> None:
    """Developer helper: write a new revision from the difference between tables and database."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
