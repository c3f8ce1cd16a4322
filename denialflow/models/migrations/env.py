"""Alembic environment: runs against the engine that `denialflow.models.migrate` hands over."""

from alembic import context
from sqlmodel import SQLModel

import denialflow.models.tables  # noqa: F401  (registers the tables on the metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from denialflow.models.db import get_engine

        with get_engine().connect() as conn:
            _run(conn)
            conn.commit()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        _rebuild_reports_if_asked(connection)


def _rebuild_reports_if_asked(connection) -> None:  # type: ignore[no-untyped-def]
    """A migration that changes what the reports keep asks for this (migrate.py
    `rebuild_reports_after`): the facts and the summaries are found again from the rows
    once, at the head, with the code that matches the head's schema (an older migration
    running today's queries would name columns its schema does not have yet)."""
    from denialflow.models.migrate import REBUILD_REPORTS

    at = context.get_context().get_current_revision()
    if not connection.info.get(REBUILD_REPORTS) or at != context.get_head_revision():
        return
    from denialflow.settings import get_settings
    from denialflow.store import report_facts, summaries, work_summaries

    tz = get_settings().tz
    report_facts.derive(connection, tz)
    work_summaries.derive(connection, tz)
    summaries.rebuild(connection)
    connection.info.pop(REBUILD_REPORTS)


run_migrations_online()
