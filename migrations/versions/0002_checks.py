"""The check log: one row per live check of a URL (``monitor check``, ``monitor run``).

A failed check (the site down, too slow, too large) leaves no capture, so without this table
the store could not say that a page was looked at, nor ``monitor status`` which sites fail
again and again.  Append-only like the evidence: triggers refuse UPDATE and DELETE (and
TRUNCATE on PostgreSQL), through the ``monitor_refuse()`` function of revision 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the model's choices: a migration must not change when the code does.
OUTCOMES = ("baseline", "unchanged", "changed", "unreadable", "http_error", "failed")
GUARDED_EVENTS = ("UPDATE", "DELETE")


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", _choice("check_outcome", OUTCOMES), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("redirects", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_checks_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name=op.f("fk_checks_url_id_urls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checks")),
    )
    op.create_index("ix_checks_url_id_started_at", "checks", ["url_id", "started_at"])
    postgresql = op.get_context().dialect.name == "postgresql"
    for event in GUARDED_EVENTS:
        name = f"checks_no_{event.lower()}"
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON checks "
                "FOR EACH ROW EXECUTE FUNCTION monitor_refuse()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON checks "
                f"BEGIN SELECT RAISE(ABORT, 'checks: append-only evidence, {event} refused'); END"
            )
    if postgresql:
        op.execute(
            "CREATE TRIGGER checks_no_truncate BEFORE TRUNCATE ON checks "
            "FOR EACH STATEMENT EXECUTE FUNCTION monitor_refuse()"
        )


def downgrade() -> None:
    op.drop_table("checks")  # drops its triggers and index with it
