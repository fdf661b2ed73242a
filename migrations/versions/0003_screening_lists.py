"""Screening lists: loaded lists, their entries, and the recorded names found on them.

Reference data, not evidence: a list is replaced whole when a newer file is imported and the
matches are recomputed by ``monitor screen``, so these tables get no append-only triggers.
The evidence tables are left as they are (a change's reserved ``kind`` column was created by
0001 and is filled by the code).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "screening_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("imported_at", _utc(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("screened_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_screening_lists_name")),
    )
    op.create_table(
        "screening_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["screening_lists.id"],
            name=op.f("fk_screening_entries_list_id_screening_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_entries")),
        sa.UniqueConstraint(
            "list_id", "entry_id", name=op.f("uq_screening_entries_list_id_entry_id")
        ),
    )
    op.create_table(
        "screening_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_name", sa.Text(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("entry_name", sa.Text(), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("matched_alias", sa.Text(), nullable=False),
        sa.Column("matched_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["screening_lists.id"],
            name=op.f("fk_screening_matches_list_id_screening_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_matches")),
        sa.UniqueConstraint(
            "entity_name",
            "list_id",
            "entry_id",
            name=op.f("uq_screening_matches_entity_name_list_id_entry_id"),
        ),
    )


def downgrade() -> None:
    for table in ("screening_matches", "screening_entries", "screening_lists"):
        op.drop_table(table)
