"""The evidence store: sites, captures and their raw bytes, extracted facts, changes, reviews.

The store is evidence, not a cache: every fact traces back to the exact bytes it came from, and
rows are append-only (database triggers refuse updates and deletes; only a change's review
status and note, audited in ``review_events``, its archive copy, and the kind of a change
recorded before kinds existed, set once by :func:`fill_kinds`, change after insertion).

Open it with :func:`open_store`; a new database is migrated to the newest schema on first use.
The caller owns the transaction: every function takes a :class:`~sqlalchemy.orm.Session` from
``Store.session()`` and returns frozen dataclasses, never ORM rows.  Raw bodies and ``verify``
live in :mod:`monitor.blobs`, the tables and migrations in :mod:`monitor.models`, the
screening lists (reference data) in :mod:`monitor.liststore`, from which a change read here
takes its listing note.  The module runs past 500 lines because ORM rows must not leave it:
each public dataclass sits beside the queries that fill it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Engine, Table, bindparam, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from monitor import blobs
from monitor.consistency import PageReading
from monitor.errors import StoreError
from monitor.facts import Facts
from monitor.kinds import meaning
from monitor.liststore import ChangeScreening, change_screenings, chunked
from monitor.models import (
    BEGIN_OPTION,
    Base,
    BlobRow,
    CaptureRow,
    CaptureSource,
    ChangeField,
    ChangeRow,
    ExtractionRow,
    ReviewEventRow,
    ReviewStatus,
    SiteRow,
    UrlRow,
    error_reason,
    make_engine,
    migrate,
    safe_url,
)

REEXTRACT_BATCH = 100  # captures re-extracted per transaction


# --------------------------------------------------------------------------- opening


class Store:
    """An open evidence store: ``.engine`` and ``.session()``; close it when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        Pass ``write=False`` for long reads (``verify``, exports) so they do not hold SQLite's
        write lock.  Database errors come out as :class:`StoreError`.
        """
        with Session(self.engine if write else self._reader, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(f"{safe_url(str(self.engine.url))}: {error_reason(exc)}") from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(db_url: str, *, create: bool = True) -> Store:
    """Open the store at ``db_url`` (a SQLAlchemy URL), migrating a new database to the head.

    With ``create=False`` (commands that only read) a SQLite file that does not exist is not
    created: :class:`StoreError` says there is no store there.  Also raises
    :class:`StoreError` when the database cannot be opened, is not a monitor database, or is
    at an older schema (run ``monitor db upgrade``) or a newer one (upgrade monitor).
    """
    engine = make_engine(db_url)
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    # "sqlite://" and ":memory:" are no file; with uri=true the database is a URI, not a path.
    if path in (None, "", ":memory:") or "uri" in engine.url.query:
        path = None
    if not create and path is not None and not Path(path).exists():
        engine.dispose()
        raise StoreError(
            f"no evidence store at {path} (run monitor check, monitor backfill or "
            "monitor demo first, or pass --db)"
        )
    try:
        with engine.begin() as conn:
            migrate(conn, only_if_new=True)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{safe_url(db_url)}: {error_reason(exc)}") from exc
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)


# --------------------------------------------------------------------------- sites


class WatchedSite(Protocol):
    """What :func:`sync_sites` needs of a watchlist entry."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def urls(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class SyncResult:
    """What a sync changed: sites and URLs added, and those made inactive."""

    added_sites: tuple[str, ...]
    deactivated_sites: tuple[str, ...]
    added_urls: tuple[str, ...]
    deactivated_urls: tuple[str, ...]


def sync_sites(session: Session, sites: Iterable[WatchedSite]) -> SyncResult:
    """Make the store's sites and URLs match the watchlist; nothing is ever deleted.

    A site or URL missing from ``sites`` is marked inactive; one that comes back is active again.
    """
    wanted = {site.id: site for site in sites}
    owner = _url_owners(wanted.values())
    known_sites = {row.id: row for row in session.scalars(select(SiteRow))}
    for site in wanted.values():
        _insert_ignore(session, SiteRow, {"id": site.id, "name": site.name})
    for row in known_sites.values():
        if row.id in wanted:
            row.name, row.active = wanted[row.id].name, True
        else:
            row.active = False
    known_urls = {row.url: row for row in session.scalars(select(UrlRow))}
    for url, site_id in owner.items():
        _insert_ignore(session, UrlRow, {"url": url, "site_id": site_id})
    for url_row in known_urls.values():
        url_row.active = url_row.url in owner
        url_row.site_id = owner.get(url_row.url, url_row.site_id)
    session.flush()
    return SyncResult(
        added_sites=tuple(sorted(wanted.keys() - known_sites.keys())),
        deactivated_sites=tuple(sorted(known_sites.keys() - wanted.keys())),
        added_urls=tuple(sorted(owner.keys() - known_urls.keys())),
        deactivated_urls=tuple(sorted(known_urls.keys() - owner.keys())),
    )


def _url_owners(sites: Iterable[WatchedSite]) -> dict[str, str]:
    owner: dict[str, str] = {}
    for site in sites:
        for url in site.urls:
            if owner.setdefault(url, site.id) != site.id:
                raise StoreError(f"{url} is listed under both {owner[url]} and {site.id}")
    return owner


def _insert_ignore(
    session: Session, entity: type[Base], values: dict[str, Any], returning: Any = None
) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL share it); the new row's
    ``returning`` column, or None when the row was already there."""
    conn = session.connection()
    name = None if returning is None else returning.key
    stmt = _insert_ignore_statement(conn.dialect.name, _table(entity), name)
    if name is None:
        conn.execute(stmt, values)
        return None
    return conn.execute(stmt, values).scalar_one_or_none()


@cache
def _insert_ignore_statement(dialect_name: str, table: Table, returning: str | None) -> Any:
    # Built once per table: a Core statement, executed on the session's connection, skips the
    # ORM's bulk-insert machinery, which costs more than the insert on the daemon's hot path.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt: Any = dialect.insert(table).on_conflict_do_nothing()
    return stmt if returning is None else stmt.returning(table.c[returning])


def _table(entity: type[Base]) -> Table:
    return cast(Table, entity.__table__)


_URLS, _BLOBS, _CAPTURES = _table(UrlRow), _table(BlobRow), _table(CaptureRow)
_EXTRACTIONS = _table(ExtractionRow)


# --------------------------------------------------------------------------- captures


@dataclass(frozen=True)
class NewCapture:
    """A page observation to store; its body is passed beside it to :func:`add_capture`.

    ``captured_at`` is the archive's timestamp for wayback captures and the fetch time for live
    ones, timezone-aware.  ``digest`` is the CDX digest of a wayback capture.
    """

    url: str
    source: CaptureSource
    captured_at: datetime
    status: int
    final_url: str | None = None
    content_type: str | None = None
    archive_url: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.captured_at, "captured_at")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}={moment.isoformat()} is naive; give a timezone-aware datetime")


@dataclass(frozen=True)
class CaptureRef:
    """A stored capture: its id and the SHA-256 of its body; ``created`` is False for a repeat."""

    id: int
    sha256: str
    created: bool


@dataclass(frozen=True)
class StoredCapture:
    """A capture as the store holds it (the body is fetched apart with :func:`read_body`)."""

    id: int
    url: str
    source: CaptureSource
    captured_at: datetime
    status: int
    final_url: str | None
    content_type: str | None
    archive_url: str | None
    digest: str | None
    sha256: str
    size: int
    stored_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The capture as ``monitor changes --json`` shows it (times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "url": self.url,
            "source": self.source.value,
            "captured_at": _iso(self.captured_at),
            "status": self.status,
            "final_url": self.final_url,
            "content_type": self.content_type,
            "archive_url": self.archive_url,
            "digest": self.digest,
            "sha256": self.sha256,
            "size": self.size,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def add_capture(session: Session, capture: NewCapture, body: bytes) -> CaptureRef:
    """Store a capture and its body; storing the same capture again returns the first one.

    The same capture means the same URL, source, time and body.  The body is kept once however
    many captures share it.  Raises :class:`StoreError` when the URL is not in the store.
    """
    url_id = _url_id(session, capture.url)
    sha256 = _put_blob(session, body)
    key = {
        "url_id": url_id,
        "source": capture.source,
        "captured_at": capture.captured_at,
        "sha256": sha256,
    }
    values = key | {
        "status": capture.status,
        "final_url": capture.final_url,
        "content_type": capture.content_type,
        "archive_url": capture.archive_url,
        "digest": capture.digest,
        "size": len(body),
        "stored_at": datetime.now(UTC),
    }
    new_id = _insert_ignore(session, CaptureRow, values, returning=CaptureRow.id)
    if new_id is not None:
        return CaptureRef(new_id, sha256, created=True)
    found = session.connection().execute(_SAME_CAPTURE, key).scalar_one()
    return CaptureRef(found, sha256, created=False)


_SAME_CAPTURE = select(_CAPTURES.c.id).where(
    *(
        _CAPTURES.c[name] == bindparam(name)
        for name in ("url_id", "source", "captured_at", "sha256")
    )
)
_URL = select(_URLS.c.id, _URLS.c.site_id).where(_URLS.c.url == bindparam("url"))
_BLOB_KNOWN = select(_BLOBS.c.sha256).where(_BLOBS.c.sha256 == bindparam("sha256"))


def _url_id(session: Session, url: str) -> int:
    return _url_row(session.connection(), url)[0]


def _url_row(conn: Connection, url: str) -> tuple[int, str]:
    """The URL's id and its site's."""
    row = conn.execute(_URL, {"url": url}).one_or_none()
    if row is None:
        raise StoreError(f"{url}: not a watched URL in the store; sync the watchlist first")
    return row.id, row.site_id


def _put_blob(session: Session, body: bytes) -> str:
    sha256 = blobs.sha256_hex(body)
    if session.connection().execute(_BLOB_KNOWN, {"sha256": sha256}).first() is not None:
        return sha256  # stored already: skip compressing it again
    encoded = blobs.encode(body)
    values = {"sha256": sha256, "size": encoded.size, "encoding": encoded.encoding.value}
    _insert_ignore(session, BlobRow, values | {"data": encoded.data})
    return sha256


def captures_for_url(
    session: Session,
    url: str,
    source: CaptureSource | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[StoredCapture]:
    """The captures of ``url``, oldest first, optionally of one source and within [since, until]."""
    captures = _CAPTURES.c
    stmt = _capture_query().where(_URLS.c.url == url)
    if source is not None:
        stmt = stmt.where(captures.source == source)
    if since is not None:
        stmt = stmt.where(captures.captured_at >= since)
    if until is not None:
        stmt = stmt.where(captures.captured_at <= until)
    rows = session.connection().execute(stmt.order_by(captures.captured_at, captures.id))
    return [_capture(row, row.url) for row in rows]


def captures_by_id(session: Session, ids: Iterable[int]) -> dict[int, StoredCapture]:
    """The stored captures with these ids."""
    found: dict[int, StoredCapture] = {}
    for chunk in chunked(sorted(set(ids))):
        for row in session.connection().execute(_capture_query().where(_CAPTURES.c.id.in_(chunk))):
            found[row.id] = _capture(row, row.url)
    return found


def _capture_query() -> Any:
    """Core: a capture's columns and its URL (rows read by :func:`_capture`)."""
    return select(_CAPTURES, _URLS.c.url).join(_URLS, _URLS.c.id == _CAPTURES.c.url_id)


def _capture(row: Any, url: str) -> StoredCapture:
    """A capture from a row with the ``captures`` columns: an ORM row or a Core one."""
    return StoredCapture(
        id=row.id,
        url=url,
        source=CaptureSource(row.source),
        captured_at=row.captured_at,
        status=row.status,
        final_url=row.final_url,
        content_type=row.content_type,
        archive_url=row.archive_url,
        digest=row.digest,
        sha256=row.sha256,
        size=row.size,
        stored_at=row.stored_at,
    )


# --------------------------------------------------------------------------- extractions


@dataclass(frozen=True)
class StoredExtraction:
    """A capture with the facts its latest extraction found."""

    capture: StoredCapture
    facts: Facts
    extractor_version: str
    extracted_at: datetime


def add_extraction(session: Session, capture_id: int, facts: Facts, extractor_version: str) -> bool:
    """Keep the facts ``extractor_version`` read from a capture; False if it had done so already."""
    values = {
        "capture_id": capture_id,
        "extractor_version": extractor_version,
        "facts": facts.to_json(),
        "readable": facts.readable,
        "operator": facts.operator,
        "extracted_at": datetime.now(UTC),
    }
    return _insert_ignore(session, ExtractionRow, values, returning=ExtractionRow.id) is not None


def latest_extraction(session: Session, capture_id: int) -> StoredExtraction | None:
    """The facts of a capture by its most recent extraction, or None if never extracted."""
    row = session.connection().execute(_LATEST_EXTRACTION, {"capture_id": capture_id}).first()
    return None if row is None else _extraction(row)


def latest_readable(
    session: Session, url: str, source: CaptureSource | None = None
) -> StoredExtraction | None:
    """The newest capture of ``url`` whose latest extraction is readable, with its facts."""
    stmt, params = _LATEST_READABLE, {"url": url}
    if source is not None:
        stmt, params = _LATEST_READABLE_OF_SOURCE, params | {"source": source}
    row = session.connection().execute(stmt, params).first()
    return None if row is None else _extraction(row)


def operator_readings(
    session: Session, statuses: Collection[int], site_ids: Sequence[str] | None = None
) -> list[PageReading]:
    """The operator each readable capture names (latest extraction, a status in
    ``statuses``), for the sites that watch more than one URL: what
    ``consistency.find_inconsistencies`` reads."""
    several = select(UrlRow.site_id).group_by(UrlRow.site_id).having(func.count() > 1)
    stmt = (
        select(UrlRow.site_id, UrlRow.url, CaptureRow.id, CaptureRow.captured_at)
        .add_columns(ExtractionRow.operator)
        .join(CaptureRow, CaptureRow.url_id == UrlRow.id)
        .join(ExtractionRow, ExtractionRow.capture_id == CaptureRow.id)
        .where(ExtractionRow.id == _newest_extraction(), ExtractionRow.readable.is_(True))
        .where(ExtractionRow.operator.is_not(None), CaptureRow.status.in_(statuses))
        .where(UrlRow.site_id.in_(several))
    )
    if site_ids is not None:
        stmt = stmt.where(UrlRow.site_id.in_(site_ids))
    return [PageReading(*row) for row in session.execute(stmt)]


def _newest_extraction() -> Any:
    """The id of a capture's latest extraction, correlated with the capture in the query."""
    return (
        select(func.max(ExtractionRow.id))
        .where(ExtractionRow.capture_id == CaptureRow.id)
        .correlate(CaptureRow)
        .scalar_subquery()
    )


def _extraction_query() -> Any:
    """Core: a capture, its URL and its latest extraction (rows read by :func:`_extraction`)."""
    extractions = _EXTRACTIONS.c
    return (
        _capture_query()
        .add_columns(
            extractions.extractor_version,
            extractions.facts,
            extractions.extracted_at,
        )
        .join(_EXTRACTIONS, extractions.capture_id == _CAPTURES.c.id)
        .where(extractions.id == _newest_extraction())
    )


# Built once: these run for every page the daemon checks.
_LATEST_EXTRACTION = _extraction_query().where(_CAPTURES.c.id == bindparam("capture_id"))
_READABLE = _extraction_query().where(
    _URLS.c.url == bindparam("url"), _EXTRACTIONS.c.readable.is_(True)
)
_NEWEST_FIRST = (_CAPTURES.c.captured_at.desc(), _CAPTURES.c.id.desc())
_LATEST_READABLE = _READABLE.order_by(*_NEWEST_FIRST).limit(1)
_LATEST_READABLE_OF_SOURCE = (
    _READABLE.where(_CAPTURES.c.source == bindparam("source")).order_by(*_NEWEST_FIRST).limit(1)
)


def _extraction(row: Any) -> StoredExtraction:
    return StoredExtraction(
        capture=_capture(row, row.url),
        facts=Facts.from_json(row.facts),
        extractor_version=row.extractor_version,
        extracted_at=row.extracted_at,
    )


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class NewChange:
    """A change to record: ``old`` and ``new`` are JSON values, ``before`` the id of the last
    capture showing the old value and ``after`` that of the first showing the new one."""

    url: str
    field: ChangeField
    old: Any
    new: Any
    before_capture_id: int
    after_capture_id: int
    detected_at: datetime | None = None  # now, when not given
    kind: str | None = None  # None: classified by record_change (monitor.kinds)

    def __post_init__(self) -> None:
        if self.detected_at is not None:
            _require_aware(self.detected_at, "detected_at")

    def fingerprint(self, url_id: int) -> str:
        """The SHA-256 that makes a change recorded twice recognisable."""
        identity = [
            url_id,
            self.field.value,
            self.old,
            self.new,
            self.before_capture_id,
            self.after_capture_id,
        ]
        canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChangeRef:
    """A newly recorded change."""

    id: int


@dataclass(frozen=True)
class StoredChange:
    """An evidence item with its two bracketing captures and its review state."""

    id: int
    site_id: str
    url: str
    field: ChangeField
    old: Any
    new: Any
    before: StoredCapture
    after: StoredCapture
    detected_at: datetime
    status: ReviewStatus
    note: str | None
    kind: str | None
    archive_copy_url: str | None
    archive_copy_error: str | None
    # The listed entities among the names that moved, from the last ``monitor screen``;
    # None when neither side is listed (or nothing was screened).
    screening: ChangeScreening | None = None

    def to_json(self) -> dict[str, Any]:
        """The change as ``monitor changes --json`` and the exports show it."""
        return {
            "id": self.id,
            "site": self.site_id,
            "url": self.url,
            "field": self.field.value,
            "old": self.old,
            "new": self.new,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "detected_at": _iso(self.detected_at),
            "status": self.status.value,
            "note": self.note,
            "kind": self.kind,
            "archive_copy_url": self.archive_copy_url,
            "archive_copy_error": self.archive_copy_error,
            "screening": None if self.screening is None else self.screening.to_json(),
        }


def record_change(session: Session, change: NewChange) -> ChangeRef | None:
    """Record an evidence item; None when the same change was recorded before.

    Raises :class:`StoreError` when the two captures are not of the change's URL or ``before``
    is not earlier than ``after``.
    """
    conn = session.connection()
    url_id, site_id = _url_row(conn, change.url)
    ids = {"before": change.before_capture_id, "after": change.after_capture_id}
    found = {row.id: row for row in conn.execute(_BRACKET, ids)}
    before, after = found.get(change.before_capture_id), found.get(change.after_capture_id)
    if before is None or after is None or before.url_id != url_id or after.url_id != url_id:
        raise StoreError(f"{change.url}: change bracketed by captures of another URL or none")
    if before.captured_at >= after.captured_at:
        raise StoreError(f"{change.url}: capture {before.id} is not earlier than {after.id}")
    values = {
        "site_id": site_id,
        "url_id": url_id,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "before_capture_id": before.id,
        "after_capture_id": after.id,
        "detected_at": change.detected_at or datetime.now(UTC),
        "status": ReviewStatus.NEW,
        "fingerprint": change.fingerprint(url_id),
        # The one place every recorder passes (backfill, live checks), so no change is
        # stored without its kind.
        "kind": change.kind or meaning(change.field.value, change.old, change.new).kind.value,
    }
    new_id = _insert_ignore(session, ChangeRow, values, returning=ChangeRow.id)
    return None if new_id is None else ChangeRef(new_id)


_BRACKET = select(_CAPTURES.c.id, _CAPTURES.c.url_id, _CAPTURES.c.captured_at).where(
    _CAPTURES.c.id.in_([bindparam("before"), bindparam("after")])
)


def fill_kinds(session: Session) -> int:
    """Give every change recorded without a kind (before issue 7) its kind; how many."""
    rows = session.scalars(select(ChangeRow).where(ChangeRow.kind.is_(None)).order_by(ChangeRow.id))
    filled = 0
    for row in rows:
        row.kind = meaning(ChangeField(row.field).value, row.old, row.new).kind.value
        filled += 1
    session.flush()
    return filled


def list_changes(
    session: Session,
    site_ids: Sequence[str] | None = None,
    status: ReviewStatus | None = None,
) -> list[StoredChange]:
    """Recorded changes, by site and then by the time of the ``after`` capture."""
    stmt, after = _change_query()
    if site_ids is not None:
        stmt = stmt.where(ChangeRow.site_id.in_(site_ids))
    if status is not None:
        stmt = stmt.where(ChangeRow.status == status)
    stmt = stmt.order_by(ChangeRow.site_id, after.captured_at, ChangeRow.id)
    return _screened(session, [_change(row) for row in session.execute(stmt)])


def get_change(session: Session, change_id: int) -> StoredChange:
    """One recorded change; :class:`StoreError` when there is none with this id."""
    stmt, _after = _change_query()
    row = session.execute(stmt.where(ChangeRow.id == change_id)).one_or_none()
    if row is None:
        raise StoreError(f"no change with id {change_id}")
    return _screened(session, [_change(row)])[0]


def _screened(session: Session, changes: list[StoredChange]) -> list[StoredChange]:
    """The changes with their listing notes (:func:`liststore.change_screenings`)."""
    meanings = [meaning(change.field.value, change.old, change.new) for change in changes]
    notes = change_screenings(session, meanings)
    return [
        change if screening is None else replace(change, screening=screening)
        for change, screening in zip(changes, notes, strict=True)
    ]


def set_archive_copy(
    session: Session, change_id: int, *, url: str | None = None, error: str | None = None
) -> bool:
    """Record Save Page Now's answer on a change: its copy's archive URL, or why none was made.

    Give one of ``url`` and ``error``.  A copy once recorded is kept: a later call changes
    nothing and returns False.  An error may give way to a later error or to a copy (the
    error then stays beside the copy).  Raises :class:`StoreError` for an unknown change.
    """
    if (url is None) == (error is None):
        raise ValueError("give the copy's archive URL or the error, not both or neither")
    stmt = select(ChangeRow).where(ChangeRow.id == change_id).with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise StoreError(f"no change with id {change_id}")
    if row.archive_copy_url is not None:
        return False
    if url is not None:
        row.archive_copy_url = url
    else:
        row.archive_copy_error = error
    session.flush()
    return True


def _change_query() -> tuple[Any, Any]:
    before, after = aliased(CaptureRow, name="before"), aliased(CaptureRow, name="after")
    stmt = (
        select(ChangeRow, UrlRow.url, before, after)
        .join(UrlRow, UrlRow.id == ChangeRow.url_id)
        .join(before, before.id == ChangeRow.before_capture_id)
        .join(after, after.id == ChangeRow.after_capture_id)
    )
    return stmt, after


def _change(row: Any) -> StoredChange:
    change: ChangeRow = row.ChangeRow
    return StoredChange(
        id=change.id,
        site_id=change.site_id,
        url=row.url,
        field=ChangeField(change.field),
        old=change.old,
        new=change.new,
        before=_capture(row.before, row.url),
        after=_capture(row.after, row.url),
        detected_at=change.detected_at,
        status=ReviewStatus(change.status),
        note=change.note,
        kind=change.kind,
        archive_copy_url=change.archive_copy_url,
        archive_copy_error=change.archive_copy_error,
    )


@dataclass(frozen=True)
class ReviewEvent:
    """One analyst action on a change, as the audit table keeps it."""

    change_id: int
    at: datetime
    who: str
    old_status: ReviewStatus
    new_status: ReviewStatus
    old_note: str | None
    new_note: str | None


def review(
    session: Session, change_id: int, status: ReviewStatus, note: str | None, who: str
) -> StoredChange:
    """Set a change's review status (and note, unless ``note`` is None), auditing who did it.

    Setting what is already there records nothing.
    """
    stmt = select(ChangeRow).where(ChangeRow.id == change_id).with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise StoreError(f"no change with id {change_id}")
    new_note = row.note if note is None else note
    if (row.status, row.note) != (status, new_note):
        session.add(
            ReviewEventRow(
                change_id=row.id,
                at=datetime.now(UTC),
                who=who,
                old_status=row.status,
                new_status=status,
                old_note=row.note,
                new_note=new_note,
            )
        )
        row.status, row.note = status, new_note
        session.flush()
    return get_change(session, change_id)


def review_history(session: Session, change_id: int) -> list[ReviewEvent]:
    """The review actions on a change, oldest first."""
    stmt = select(ReviewEventRow).where(ReviewEventRow.change_id == change_id)
    return [
        ReviewEvent(
            change_id=row.change_id,
            at=row.at,
            who=row.who,
            old_status=ReviewStatus(row.old_status),
            new_status=ReviewStatus(row.new_status),
            old_note=row.old_note,
            new_note=row.new_note,
        )
        for row in session.scalars(stmt.order_by(ReviewEventRow.id))
    ]


# --------------------------------------------------------------------------- reextract


@dataclass(frozen=True)
class ReextractReport:
    """What :func:`reextract` did: captures re-read with ``extractor_version``."""

    extractor_version: str
    reextracted: int
    already_current: int

    def summary(self) -> str:
        """One line for the terminal."""
        plural = "" if self.reextracted == 1 else "s"
        return (
            f"re-extracted {self.reextracted} capture{plural} with extractor "
            f"{self.extractor_version}; {self.already_current} already current"
        )


def reextract(store: Store, batch_size: int = REEXTRACT_BATCH) -> ReextractReport:
    """Extract again, from the stored bytes, every capture the current extractor has not read.

    Commits every ``batch_size`` captures, so an interrupted run keeps its work and resumes.
    """
    # Imported on use: the extractor pulls in lxml and rigour, which storing never needs.
    from monitor import extract  # noqa: PLC0415

    version = extract.EXTRACTOR_VERSION
    done, last_id = 0, 0
    while True:
        with store.session() as session:
            stale = _stale_captures(session, version, last_id, batch_size)
            for capture_id, sha256, content_type, url in stale:
                body = blobs.read_body(session, sha256)
                facts = extract.extract(body, content_type=content_type, url=url)
                add_extraction(session, capture_id, facts, version)
            if not stale:
                total = session.scalar(select(func.count()).select_from(CaptureRow)) or 0
                return ReextractReport(version, done, total - done)
        done += len(stale)
        last_id = stale[-1][0]


def _stale_captures(
    session: Session, version: str, after_id: int, limit: int
) -> list[tuple[int, str, str | None, str]]:
    current = exists().where(
        ExtractionRow.capture_id == CaptureRow.id, ExtractionRow.extractor_version == version
    )
    stmt = (
        select(CaptureRow.id, CaptureRow.sha256, CaptureRow.content_type, CaptureRow.final_url)
        .add_columns(UrlRow.url)
        .join(UrlRow, UrlRow.id == CaptureRow.url_id)
        .where(CaptureRow.id > after_id, ~current)
        .order_by(CaptureRow.id)
        .limit(limit)
    )
    # The extractor reads links and JSON-LD relative to the page's address: the final one.
    rows = session.execute(stmt)
    return [(row.id, row.sha256, row.content_type, row.final_url or row.url) for row in rows]
