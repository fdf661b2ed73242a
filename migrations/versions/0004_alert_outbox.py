"""The alert outbox: changes queued for the alert targets, and every delivery round.

Until now an alert lived only in the memory of the process that found the change: a daemon
stopped between recording a change and sending its alert (Save Page Now can take minutes)
never sent it.  A change is now announced in the transaction that records it, and each round
of sending it to a target is kept, so a restarted daemon sends what is still owed and the
store can show that, and when, the analysts were told.  Both tables are append-only, like the
evidence: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), through the
``monitor_refuse()`` function of revision 0001.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDED_EVENTS = ("UPDATE", "DELETE")
TABLES = ("announcements", "alert_deliveries")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"], ["changes.id"], name=op.f("fk_announcements_change_id_changes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
        sa.UniqueConstraint("change_id", name=op.f("uq_announcements_change_id")),
    )
    op.create_index("ix_announcements_queued_at", "announcements", ["queued_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["changes.id"], name=op.f("fk_alert_deliveries_change_id_changes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    op.create_index("ix_alert_deliveries_change_id", "alert_deliveries", ["change_id"])
    for table in TABLES:
        _guard(table)


def _guard(table: str) -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    for event in GUARDED_EVENTS:
        name = f"{table}_no_{event.lower()}"
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION monitor_refuse()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table}: append-only evidence, {event} refused'); END"
            )
    if postgresql:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION monitor_refuse()"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)  # drops its triggers and indexes with it
