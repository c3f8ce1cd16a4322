"""The audit log becomes a hash chain (audit_event.seq, prev_hash, hash), existing entries
chained in id order, and the database refuses UPDATE and DELETE on it.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from denialflow.models.audit_chain import GENESIS, entry_hash

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
BATCH = 5_000

# The stored values as the application reads them (UTC datetimes, parsed JSON), so the
# hashes made here are the ones `denialflow audit verify` recomputes.
audit = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("idempotency_key", String()),
    sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("actor", String()),
    sa.column("action", String()),
    sa.column("claim_id", String()),
    sa.column("detail", sa.JSON()),
    sa.column("seq", sa.Integer()),
    sa.column("prev_hash", String()),
    sa.column("hash", String()),
)

REFUSED = "audit_event is append-only: UPDATE and DELETE are refused"


def _chain_existing_rows() -> None:
    conn = op.get_bind()
    seq, prev, after = 0, GENESIS, 0
    while True:
        rows = conn.execute(
            sa.select(
                audit.c.id,
                audit.c.idempotency_key,
                audit.c.at,
                audit.c.actor,
                audit.c.action,
                audit.c.claim_id,
                audit.c.detail,
            )
            .where(audit.c.id > after)
            .order_by(audit.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            seq += 1
            digest = entry_hash(
                seq=seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                claim_id=row.claim_id,
                detail=row.detail,
                idempotency_key=row.idempotency_key,
                prev_hash=prev,
            )
            updates.append({"row_id": row.id, "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        conn.execute(
            audit.update()
            .where(audit.c.id == sa.bindparam("row_id"))
            .values(
                seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev_hash"),
                hash=sa.bindparam("hash"),
            ),
            updates,
        )
        after = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("prev_hash", String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("hash", String(length=64), nullable=False, server_default=""))
    _chain_existing_rows()
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=String(length=64), server_default=None)
        batch.alter_column("hash", existing_type=String(length=64), server_default=None)
        batch.create_unique_constraint("uq_audit_event_seq", ["seq"])

    # After the batch: SQLite's batch mode rebuilds the table, which would drop triggers.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSED} (% of seq %)', TG_OP, OLD.seq;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            "CREATE FUNCTION audit_event_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSED} (TRUNCATE)'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION audit_event_no_truncate()")
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("uq_audit_event_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
