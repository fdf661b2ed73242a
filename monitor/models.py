"""The evidence store's tables, and the database that holds them.

The tables are SQLAlchemy 2 typed mappings; below them, the engine (SQLite's settings) and the
Alembic migrations that build the schema.  Only :mod:`monitor.store`, :mod:`monitor.blobs`,
:mod:`monitor.status` (the check log), :mod:`monitor.outbox` (the alert outbox) and the
migrations use these classes; every other module gets frozen dataclasses from them.
A change to a model needs a migration in ``migrations/versions``; ``tests/test_migrations.py``
fails until the migrations and these models agree.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import monitor
from monitor.errors import StoreError

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLUG_LENGTH = 64  # site ids from the watchlist
SHA256_HEX_LENGTH = 64
VERSION_LENGTH = 64  # extractor versions
KIND_LENGTH = 32  # change kinds (issue 7)

# SQLite: how long a writer waits for another (the daemon and a backfill share one file).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Tries of the switch to WAL mode when another process makes it at the same moment, and the
# pause before the n-th retry (n times this many seconds: 5.5 s in all at most).
WAL_ATTEMPTS = 11
WAL_PAUSE = 0.1
# FULL syncs the WAL on every commit: a power cut cannot take back a capture already reported.
SQLITE_SYNCHRONOUS = "FULL"
# Writers take SQLite's lock when they begin, so two writers queue on the busy timeout instead
# of one failing with SQLITE_BUSY when it upgrades a read to a write; readers begin DEFERRED.
BEGIN_OPTION = "monitor_sqlite_begin"
# A constant key for pg_advisory_xact_lock: two processes opening a new database migrate it once.
PG_MIGRATION_LOCK = 0x6D6F6E69  # "moni"


class CaptureSource(StrEnum):
    """Where a capture's bytes came from."""

    LIVE = "live"
    WAYBACK = "wayback"


class ChangeField(StrEnum):
    """Which fact a change is about."""

    OPERATOR = "operator"
    ENTITIES = "entities"
    REGISTRATION = "registration"
    COPYRIGHT = "copyright"


class ReviewStatus(StrEnum):
    """An analyst's verdict on a change."""

    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class CheckOutcome(StrEnum):
    """What one live check of a URL found (``monitor check``, the daemon)."""

    BASELINE = "baseline"  # the URL's first readable capture: nothing to compare with yet
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    UNREADABLE = "unreadable"  # a page was stored, but it cannot be compared
    HTTP_ERROR = "http_error"  # the server answered 4xx or 5xx; the answer was stored
    FAILED = "failed"  # no answer to store: network error, timeout, too large


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps it as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # Stored as text with a CHECK constraint: readable in sqlite3 and Datasette, and a new
    # value needs no ALTER TYPE on PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base whose metadata names constraints by :data:`NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteRow(Base):
    """A watched company, synced from the watchlist; never deleted, only made inactive."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(SLUG_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UrlRow(Base):
    """A watched URL of a site; a URL dropped from the watchlist becomes inactive."""

    __tablename__ = "urls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BlobRow(Base):
    """A raw body, named by its SHA-256 and stored once (see :mod:`monitor.blobs`)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    encoding: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CaptureRow(Base):
    """One observation of a URL: when, from where, what came back, and the hash of its bytes."""

    __tablename__ = "captures"
    # One observation is one (URL, source, moment, bytes): storing it again is a no-op, while two
    # different bodies the archive holds for the same second (a redirect and a page) stay apart.
    __table_args__ = (
        UniqueConstraint("url_id", "source", "captured_at", "sha256"),
        Index("ix_captures_url_id_captured_at", "url_id", "captured_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id"))
    source: Mapped[CaptureSource] = mapped_column(_enum(CaptureSource, "capture_source"))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    archive_url: Mapped[str | None] = mapped_column(Text)
    # The CDX digest (base32 SHA-1 of the archived payload) tells the backfill which later
    # captures are byte-identical without fetching them.
    digest: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExtractionRow(Base):
    """The facts one extractor version read from one capture; a newer version adds a row."""

    __tablename__ = "extractions"
    __table_args__ = (UniqueConstraint("capture_id", "extractor_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    extractor_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    readable: Mapped[bool] = mapped_column(Boolean)
    operator: Mapped[str | None] = mapped_column(Text)
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChangeRow(Base):
    """An evidence item: a fact's old and new value, bracketed by two captures.

    Only ``status`` and ``note`` change after insertion (each change audited in
    ``review_events``), and ``archive_copy_url``/``archive_copy_error`` are filled in once.
    """

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id"), index=True)
    field: Mapped[ChangeField] = mapped_column(_enum(ChangeField, "change_field"))
    old: Mapped[Any] = mapped_column(JSON)
    new: Mapped[Any] = mapped_column(JSON)
    before_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    after_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus, "review_status"), default=ReviewStatus.NEW
    )
    note: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of (url, field, old, new, before, after): JSON columns cannot carry a unique
    # index on PostgreSQL, a hash of them can.
    fingerprint: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True)
    # Room for later issues: the change's kind (issue 7) and a Save Page Now copy (issue 5).
    kind: Mapped[str | None] = mapped_column(String(KIND_LENGTH))
    archive_copy_url: Mapped[str | None] = mapped_column(Text)
    archive_copy_error: Mapped[str | None] = mapped_column(Text)


class ReviewEventRow(Base):
    """One analyst action on a change: who, when, and the status and note before and after."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    who: Mapped[str] = mapped_column(Text)
    old_status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus, "old_review_status"))
    new_status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus, "new_review_status"))
    old_note: Mapped[str | None] = mapped_column(Text)
    new_note: Mapped[str | None] = mapped_column(Text)


class CheckRow(Base):
    """One live check of a URL: when, how long, what came back and what it found.

    The record that a page was looked at even when nothing changed or nothing could be
    fetched (a failed check leaves no capture, only this row); ``monitor status`` reads it.
    Append-only, like the evidence.
    """

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_url_id_started_at", "url_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[CheckOutcome] = mapped_column(_enum(CheckOutcome, "check_outcome"))
    http_status: Mapped[int | None] = mapped_column(Integer)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))
    changes: Mapped[int] = mapped_column(Integer)  # evidence items this check recorded
    redirects: Mapped[list[str]] = mapped_column(JSON)  # the URLs redirected through, in order
    error: Mapped[str | None] = mapped_column(Text)


class AnnouncementRow(Base):
    """A change queued for the alert targets, in the transaction that recorded it.

    The outbox of :mod:`monitor.outbox`: a change is announced once, and delivered to each
    target until one delivery goes through, so an alert survives a daemon stopped before it
    was sent.  Append-only.
    """

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), unique=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DeliveryRow(Base):
    """One round of sending an announced change to one alert target, and how it went.

    ``target`` is the SHA-256 of the target's URL (which holds its tokens), ``label`` its kind
    and host as logs show it.  Append-only: the record that the analysts were told, and when.
    """

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), index=True)
    target: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    label: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------- the database


def migrations_dir() -> Path:
    """The Alembic scripts: shipped in the wheel as ``monitor/_migrations``, else the checkout's."""
    packaged = Path(monitor.__file__).parent / "_migrations"
    return packaged if packaged.is_dir() else Path(monitor.__file__).parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the store's migrations, independent of the working directory."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = connection
    return cfg


def make_engine(db_url: str) -> Engine:
    """An engine for ``db_url``; SQLite gets WAL, a busy timeout, foreign keys and real BEGINs."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise StoreError(f"{db_url}: not a database URL or SQLite path ({exc})") from exc
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"{safe_url(db_url)}: cannot use this database ({exc})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name != "postgresql":
        raise StoreError(f"{safe_url(db_url)}: only SQLite and PostgreSQL are supported")
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python 3.11's sqlite3 neither begins before DDL nor before SELECT; SQLAlchemy's recipe:
    # turn its transaction handling off and emit BEGIN ourselves (_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # first: WAL may wait too
    _enter_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch a new database file to WAL mode (a no-op once it is).

    Two processes opening a new file at once both try the switch, and SQLite can answer the
    loser "database is locked" at once, without waiting on the busy timeout (seen with six
    writers, about one open in two hundred): so the switch is tried again, briefly.
    """
    for attempt in range(1, WAL_ATTEMPTS + 1):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS:
                raise
            time.sleep(WAL_PAUSE * attempt)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(BEGIN_OPTION, 'IMMEDIATE')}")


def safe_url(db_url: str) -> str:
    """``db_url`` with any password hidden, for messages."""
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return db_url


def error_reason(exc: SQLAlchemyError) -> str:
    """The first line of the driver's message: what went wrong, without SQL and parameters."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


@dataclass(frozen=True)
class Upgrade:
    """What ``monitor db upgrade`` did: the schema revision before and after."""

    before: str | None
    after: str


def upgrade(db_url: str) -> Upgrade:
    """Migrate the database at ``db_url`` to the newest schema (``monitor db upgrade``)."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            return migrate(conn, only_if_new=False)
    except SQLAlchemyError as exc:
        raise StoreError(f"{safe_url(db_url)}: {error_reason(exc)}") from exc
    finally:
        engine.dispose()


def migrate(conn: Connection, *, only_if_new: bool) -> Upgrade:
    """Bring the database on ``conn`` to the head revision inside the caller's transaction.

    With ``only_if_new``, only an empty database is migrated; one at an older revision is an
    error asking for ``monitor db upgrade``, so upgrading evidence is always a deliberate act.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
    cfg = alembic_config(conn)
    scripts = ScriptDirectory.from_config(cfg)
    head = scripts.get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    current = MigrationContext.configure(conn).get_current_revision()
    where = safe_url(str(conn.engine.url))
    if current == head:
        return Upgrade(current, head)
    if current is None and set(inspect(conn).get_table_names()) - {"alembic_version"}:
        raise StoreError(f"{where}: not a monitor database (tables, but no alembic_version)")
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        raise StoreError(f"{where}: schema {current} is newer than this monitor; upgrade monitor")
    if current is not None and only_if_new:
        raise StoreError(
            f"{where}: schema {current} is older than {head}; run `monitor db upgrade`"
        )
    command.upgrade(cfg, "head")
    return Upgrade(current, head)


# --------------------------------------------------------------------------- screening lists
# Reference data, not evidence (issue 7): a list is replaced whole when a newer file is
# imported, and the matches are recomputed by ``monitor screen``, so these tables carry no
# append-only triggers.  Matches keep the entry's publisher id and details rather than a key
# to its row, so they survive a re-import and the next screen can tell new matches from old.

LIST_FORMAT_LENGTH = 32  # screening.ListFormat values ("opensanctions_csv")
MATCH_METHOD_LENGTH = 16  # screening.MatchMethod values


class ScreeningListRow(Base):
    """A loaded screening list: where its file came from, its date and when it was screened."""

    __tablename__ = "screening_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(SLUG_LENGTH), unique=True)
    format: Mapped[str] = mapped_column(String(LIST_FORMAT_LENGTH))
    source: Mapped[str] = mapped_column(Text)  # the file or URL it was read from
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    published: Mapped[date | None] = mapped_column(Date)  # the list's date
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_count: Mapped[int] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer)
    screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScreeningEntryRow(Base):
    """One listed party of a loaded list, as ``screening.ListEntry`` reads it."""

    __tablename__ = "screening_entries"
    __table_args__ = (UniqueConstraint("list_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("screening_lists.id"))
    entry_id: Mapped[str] = mapped_column(Text)  # the publisher's id
    name: Mapped[str] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(JSON)
    programs: Mapped[list[str]] = mapped_column(JSON)
    listed_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)


class ScreeningMatchRow(Base):
    """A recorded entity name found on a list by the last ``monitor screen``."""

    __tablename__ = "screening_matches"
    # The name leads the key: changes look their names up here when they are read.
    __table_args__ = (UniqueConstraint("entity_name", "list_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_name: Mapped[str] = mapped_column(Text)
    list_id: Mapped[int] = mapped_column(ForeignKey("screening_lists.id"))
    entry_id: Mapped[str] = mapped_column(Text)
    entry_name: Mapped[str] = mapped_column(Text)
    programs: Mapped[list[str]] = mapped_column(JSON)
    listed_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(MATCH_METHOD_LENGTH))
    matched_alias: Mapped[str] = mapped_column(Text)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first found
