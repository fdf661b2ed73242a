"""Initial schema: sites, urls, blobs, captures, extractions, changes, review_events.

Evidence is append-only, and the database itself holds to it: triggers refuse UPDATE and
DELETE on blobs, captures, extractions and review_events, DELETE on sites, urls and changes,
and any UPDATE of a change other than its review status, note, kind and archive copy.  A later
migration that must rewrite such rows drops the trigger and says why.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's choices: a migration must not change when the code does.
SOURCES = ("live", "wayback")
FIELDS = ("operator", "entities", "registration", "copyright")
STATUSES = ("new", "confirmed", "dismissed")

APPEND_ONLY = ("blobs", "captures", "extractions", "review_events")
NO_DELETE = ("sites", "urls", "changes")
# What identifies a change; only the review state and what later issues fill in may change.
CHANGE_IDENTITY = (
    "site_id",
    "url_id",
    "field",
    "old",
    "new",
    "before_capture_id",
    "after_capture_id",
    "detected_at",
    "fingerprint",
)


def _choice(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_tables()
    if op.get_context().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _create_tables() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_urls_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urls")),
        sa.UniqueConstraint("url", name=op.f("uq_urls_url")),
    )
    op.create_index(op.f("ix_urls_site_id"), "urls", ["site_id"])
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_id", sa.Integer(), nullable=False),
        sa.Column("source", _choice("capture_source", SOURCES), nullable=False),
        sa.Column("captured_at", _utc(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("archive_url", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_captures_sha256_blobs")
        ),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name=op.f("fk_captures_url_id_urls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint(
            "url_id",
            "source",
            "captured_at",
            "sha256",
            name=op.f("uq_captures_url_id_source_captured_at_sha256"),
        ),
    )
    op.create_index(op.f("ix_captures_sha256"), "captures", ["sha256"])
    op.create_index("ix_captures_url_id_captured_at", "captures", ["url_id", "captured_at"])
    op.create_table(
        "extractions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("extractor_version", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("readable", sa.Boolean(), nullable=False),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("extracted_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_extractions_capture_id_captures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extractions")),
        sa.UniqueConstraint(
            "capture_id",
            "extractor_version",
            name=op.f("uq_extractions_capture_id_extractor_version"),
        ),
    )
    _create_changes()


def _create_changes() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("url_id", sa.Integer(), nullable=False),
        sa.Column("field", _choice("change_field", FIELDS), nullable=False),
        sa.Column("old", sa.JSON(), nullable=False),
        sa.Column("new", sa.JSON(), nullable=False),
        sa.Column("before_capture_id", sa.Integer(), nullable=False),
        sa.Column("after_capture_id", sa.Integer(), nullable=False),
        sa.Column("detected_at", _utc(), nullable=False),
        sa.Column("status", _choice("review_status", STATUSES), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("archive_copy_url", sa.Text(), nullable=True),
        sa.Column("archive_copy_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["after_capture_id"],
            ["captures.id"],
            name=op.f("fk_changes_after_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["before_capture_id"],
            ["captures.id"],
            name=op.f("fk_changes_before_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_changes_site_id_sites")),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name=op.f("fk_changes_url_id_urls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_changes_fingerprint")),
    )
    op.create_index(op.f("ix_changes_site_id"), "changes", ["site_id"])
    op.create_index(op.f("ix_changes_url_id"), "changes", ["url_id"])
    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("old_status", _choice("old_review_status", STATUSES), nullable=False),
        sa.Column("new_status", _choice("new_review_status", STATUSES), nullable=False),
        sa.Column("old_note", sa.Text(), nullable=True),
        sa.Column("new_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["changes.id"], name=op.f("fk_review_events_change_id_changes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
    )
    op.create_index(op.f("ix_review_events_change_id"), "review_events", ["change_id"])


def _sqlite_guards() -> None:
    def refuse(name: str, event: str, table: str, why: str) -> None:
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table}: {why}'); END"
        )

    for table in APPEND_ONLY:
        refuse(f"{table}_no_update", "UPDATE", table, "append-only evidence, UPDATE refused")
    for table in (*APPEND_ONLY, *NO_DELETE):
        refuse(f"{table}_no_delete", "DELETE", table, "append-only evidence, DELETE refused")
    identity = ", ".join(CHANGE_IDENTITY)
    why = "append-only evidence, only status and note change"
    refuse("changes_no_update", f"UPDATE OF {identity}", "changes", why)


def _postgresql_guards() -> None:
    op.execute(
        "CREATE FUNCTION monitor_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '%: append-only evidence, % refused', TG_TABLE_NAME, TG_OP; "
        "END $$"
    )

    def refuse(name: str, event: str, table: str, each: str = "ROW") -> None:
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            f"FOR EACH {each} EXECUTE FUNCTION monitor_refuse()"
        )

    for table in APPEND_ONLY:
        refuse(f"{table}_no_update", "UPDATE", table)
    for table in (*APPEND_ONLY, *NO_DELETE):
        refuse(f"{table}_no_delete", "DELETE", table)
        refuse(f"{table}_no_truncate", "TRUNCATE", table, each="STATEMENT")
    refuse("changes_no_update", f"UPDATE OF {', '.join(CHANGE_IDENTITY)}", "changes")


def downgrade() -> None:
    for table in ("review_events", "changes", "extractions", "captures", "blobs", "urls", "sites"):
        op.drop_table(table)  # drops the table's triggers and indexes with it
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION monitor_refuse()")
