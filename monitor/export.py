"""Exports an investigator can attach: JSON, CSV, Markdown, an HTML report, WARC and a bundle.

The flow: :func:`collect` reads the selected changes from the store with the copyright lines
their two captures showed (from the stored extractions) and, for the HTML report, the timeline
of each URL (each value a fact took, with the first and last capture showing it); a pure
renderer then turns that :class:`Export` into bytes: JSON and CSV here, Markdown, HTML and the
terminal timeline in :mod:`monitor.report`, WARC in :mod:`monitor.warc`.  A bundle zips the
report, JSON, CSV and WARC with a manifest of their SHA-256, which :func:`check_bundle` checks.

Nothing is rewritten on the way out: values are the store's, times are UTC, and every body put
in a WARC is read through :func:`monitor.blobs.read_body`, which refuses bytes that no longer
match their hash.  The choices behind the formats are in docs/exports.md.

The module runs past 500 lines because what an export holds (the dataclasses every renderer
reads and the queries that fill them), the flat formats and the bundle's check of those same
files are one contract; the renderers with concerns of their own (HTML and Markdown escaping,
WARC records) live apart.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from monitor import PROJECT_URL, __version__, blobs, report, warc
from monitor.errors import MonitorError, UsageError
from monitor.facts import Facts, Role
from monitor.models import ReviewStatus
from monitor.names import compare_key, fold
from monitor.store import (
    Store,
    StoredCapture,
    StoredChange,
    captures_for_url,
    latest_extraction,
    list_changes,
)

TOOL_NAME = "monitor"
NOT_NAMED = "(not named)"
# Excel opens a CSV file in the system's ANSI code page unless the file starts with a BOM, which
# turns 北京市商汤科技开发有限公司 into mojibake; the csv module and pandas skip the BOM.
CSV_ENCODING = "utf-8-sig"
# A cell starting with one of these is a formula to a spreadsheet ("CSV injection", OWASP), and
# page text is attacker-controlled: such cells get a leading apostrophe; changes.json keeps the
# exact text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MANIFEST = "manifest.json"
# The roles that say who owns or runs a site (as compare.py compares them); a web vendor or an
# entity merely mentioned changes with redesigns, not with ownership.
TIMELINE_ROLES = frozenset({Role.OPERATOR, Role.COPYRIGHT_HOLDER, Role.PARENT, Role.LICENSOR})
CAPTURE_COLUMNS = ("id", "captured_at", "source", "status", "archive_url", "sha256", "copyright")
CSV_COLUMNS = (
    *("id", "site", "url", "field", "kind", "old", "new", "status", "note", "detected_at"),
    *(f"before_{name}" for name in CAPTURE_COLUMNS),
    *(f"after_{name}" for name in CAPTURE_COLUMNS),
    *("archive_copy_url", "archive_copy_error", "screening_note"),
)


class ExportFormat(StrEnum):
    """The formats of ``monitor export --format``."""

    CSV = "csv"
    JSON = "json"
    MD = "md"
    HTML = "html"
    WARC = "warc"
    BUNDLE = "bundle"

    @property
    def binary(self) -> bool:
        """Whether the output is not text (refused on a terminal)."""
        return self in {ExportFormat.WARC, ExportFormat.BUNDLE}


# The bundle's files, in the order they are zipped.
BUNDLE_FILES = {
    "report.html": ExportFormat.HTML,
    "changes.json": ExportFormat.JSON,
    "changes.csv": ExportFormat.CSV,
    "captures.warc.gz": ExportFormat.WARC,
}


# --------------------------------------------------------------------------- what is exported


@dataclass(frozen=True)
class Selection:
    """Which changes an export holds: of these sites (all when empty), whose ``after``
    capture is at or after ``since``, with this review status (any when None)."""

    site_ids: tuple[str, ...] = ()
    since: datetime | None = None
    status: ReviewStatus | None = None

    def admits(self, change: StoredChange) -> bool:
        """Whether ``change`` passes the time bound (sites and status are filtered in SQL)."""
        return self.since is None or change.after.captured_at >= self.since

    def to_json(self) -> dict[str, Any]:
        return {
            "sites": list(self.site_ids) or None,
            "since": None if self.since is None else iso(self.since),
            "status": None if self.status is None else self.status.value,
        }


def parse_since(text: str) -> datetime:
    """``--since``: a date (2021-08-01) or an ISO 8601 time; UTC unless it names a zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(f"--since {text!r}: give a date such as 2021-08-01") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class ExportedChange:
    """A change with the copyright lines its two captures showed; None for a capture that was
    never extracted."""

    change: StoredChange
    before_copyright: tuple[str, ...] | None
    after_copyright: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        """The change as ``monitor changes --json`` shows it, each capture with its lines."""
        data = self.change.to_json()
        data["before"]["copyright"] = _maybe_list(self.before_copyright)
        data["after"]["copyright"] = _maybe_list(self.after_copyright)
        return data


class Fact(StrEnum):
    """The facts a timeline follows."""

    OPERATOR = "operator"
    ENTITY = "entity"
    REGISTRATION = "registration"


@dataclass(frozen=True)
class Interval:
    """A run of readable captures that all showed ``value``: the first and last of them."""

    fact: Fact
    value: str
    first: StoredCapture
    last: StoredCapture
    captures: int


@dataclass(frozen=True)
class UrlTimeline:
    """Every value the stored captures of one URL showed, in runs; ``skipped`` counts the
    captures that were unreadable or never extracted."""

    site_id: str
    url: str
    intervals: tuple[Interval, ...]
    readable: int
    skipped: int


@dataclass(frozen=True)
class Export:
    """Everything a renderer needs; times are UTC."""

    generated_at: datetime
    selection: Selection
    changes: tuple[ExportedChange, ...]
    timelines: tuple[UrlTimeline, ...] = ()

    def site_ids(self) -> list[str]:
        """The sites with exported changes, in order."""
        return list(dict.fromkeys(item.change.site_id for item in self.changes))

    def captures(self) -> list[StoredCapture]:
        """The distinct captures bracketing the changes, by URL and time."""
        by_id = {c.id: c for item in self.changes for c in (item.change.before, item.change.after)}
        return sorted(by_id.values(), key=lambda c: (c.url, c.captured_at, c.id))


def tool_json() -> dict[str, str]:
    """The ``tool`` object of the JSON export and the bundle's manifest."""
    return {"name": TOOL_NAME, "version": __version__, "url": PROJECT_URL}


def iso(moment: datetime) -> str:
    """A time as the exports write it: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _maybe_list(lines: tuple[str, ...] | None) -> list[str] | None:
    return None if lines is None else list(lines)


# --------------------------------------------------------------------------- reading the store


def collect(
    store: Store, selection: Selection, *, timelines: bool, now: datetime | None = None
) -> Export:
    """The selected changes with their captures' copyright lines and, if ``timelines``, the
    timeline of every URL they are about."""
    with store.session(write=False) as session:
        site_ids = list(selection.site_ids) or None
        changes = [
            change
            for change in list_changes(session, site_ids, selection.status)
            if selection.admits(change)
        ]
        facts = _FactsReader(session)
        exported = tuple(
            ExportedChange(c, facts.copyright(c.before.id), facts.copyright(c.after.id))
            for c in changes
        )
        urls = dict.fromkeys((c.site_id, c.url) for c in changes) if timelines else {}
        lines = tuple(_timeline(session, facts, site, url) for site, url in urls)
    return Export(now or datetime.now(UTC), selection, exported, lines)


def site_timelines(store: Store, site_id: str, watched: Iterable[str] = ()) -> list[UrlTimeline]:
    """The timeline of each URL of a site: those ``watched`` and those with recorded changes."""
    with store.session(write=False) as session:
        changed = [change.url for change in list_changes(session, [site_id])]
        facts = _FactsReader(session)
        urls = dict.fromkeys([*watched, *changed])
        return [_timeline(session, facts, site_id, url) for url in urls]


def read_bodies(store: Store, captures: Iterable[StoredCapture]) -> dict[str, bytes]:
    """The raw bodies of ``captures`` by SHA-256, each checked against its hash."""
    with store.session(write=False) as session:
        wanted = sorted({capture.sha256 for capture in captures})
        return {sha256: blobs.read_body(session, sha256) for sha256 in wanted}


class _FactsReader:
    """Each capture's latest extraction, read once however many changes and timelines ask."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._facts: dict[int, Facts | None] = {}

    def get(self, capture_id: int) -> Facts | None:
        if capture_id not in self._facts:
            extraction = latest_extraction(self._session, capture_id)
            self._facts[capture_id] = None if extraction is None else extraction.facts
        return self._facts[capture_id]

    def copyright(self, capture_id: int) -> tuple[str, ...] | None:
        facts = self.get(capture_id)
        return None if facts is None else tuple(line.text for line in facts.copyright)


def _timeline(session: Session, facts: _FactsReader, site_id: str, url: str) -> UrlTimeline:
    captures = captures_for_url(session, url)
    return build_timeline(site_id, url, [(c, facts.get(c.id)) for c in captures])


# --------------------------------------------------------------------------- timelines


def build_timeline(
    site_id: str, url: str, observations: Iterable[tuple[StoredCapture, Facts | None]]
) -> UrlTimeline:
    """Runs of each value over ``observations`` (captures oldest first, with their facts).

    A value returning after an absence opens a new run.  Unreadable and unextracted captures
    are skipped: they neither show a value nor end a run.
    """
    running: dict[tuple[Fact, str], Interval] = {}
    done: list[Interval] = []
    readable = skipped = 0
    for capture, facts in observations:
        if facts is None or not facts.readable:
            skipped += 1
            continue
        readable += 1
        shown = timeline_values(facts)
        done.extend(running.pop(key) for key in [k for k in running if k not in shown])
        for key, value in shown.items():
            run = running.get(key)
            running[key] = (
                Interval(key[0], value, capture, capture, 1)
                if run is None
                else replace(run, last=capture, captures=run.captures + 1)
            )
    done.extend(running.values())
    order = list(Fact)
    done.sort(key=lambda i: (order.index(i.fact), i.first.captured_at, i.value))
    return UrlTimeline(site_id, url, tuple(done), readable, skipped)


def timeline_values(facts: Facts) -> dict[tuple[Fact, str], str]:
    """The values a page shows, keyed so that two spellings of one name are one value."""
    operator = facts.operator
    values = {(Fact.OPERATOR, "" if operator is None else _name_key(operator)): operator}
    for entity in facts.entities:
        if entity.role in TIMELINE_ROLES:
            key = (Fact.ENTITY, f"{_name_key(entity.name)} {entity.role.value}")
            values.setdefault(key, f"{entity.name} ({entity.role.value})")
    for registration in facts.registrations:
        number = fold(registration.number).replace(" ", "").casefold()
        key = (Fact.REGISTRATION, f"{registration.kind.value} {number}")
        values.setdefault(key, f"{registration.kind.value}: {registration.number}")
    return {key: NOT_NAMED if value is None else value for key, value in values.items()}


@lru_cache(maxsize=4096)
def _name_key(name: str) -> str:
    # Names repeat in every capture of a site; rigour's canonicalisation is worth caching.
    return compare_key(name)


# --------------------------------------------------------------------------- JSON and CSV


def to_json(export: Export) -> bytes:
    """``{"generated_at", "tool", "selection", "changes": [...]}`` as indented UTF-8 JSON."""
    document = {
        "generated_at": iso(export.generated_at),
        "tool": tool_json(),
        "selection": export.selection.to_json(),
        "changes": [item.to_json() for item in export.changes],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def to_csv(export: Export) -> bytes:
    """One row per change, captures flattened into ``before_*`` and ``after_*`` columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in export.changes:
        writer.writerow([_cell(value) for value in csv_row(item)])
    return out.getvalue().encode(CSV_ENCODING)


def csv_row(item: ExportedChange) -> list[Any]:
    """A change's CSV cells before formula neutralising, in the order of ``CSV_COLUMNS``."""
    change = item.change
    row: list[Any] = [change.id, change.site_id, change.url, change.field.value, change.kind]
    row += [report.shown_value(change.old), report.shown_value(change.new)]
    row += [change.status.value, change.note, iso(change.detected_at)]
    for capture, lines in (
        (change.before, item.before_copyright),
        (change.after, item.after_copyright),
    ):
        row += [capture.id, iso(capture.captured_at), capture.source.value, capture.status]
        row += [capture.archive_url, capture.sha256, None if lines is None else "\n".join(lines)]
    note = change.screening.note if change.screening else None
    return [*row, change.archive_copy_url, change.archive_copy_error, note]


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


# --------------------------------------------------------------------------- rendering


def render(export: Export, fmt: ExportFormat, bodies: Mapping[str, bytes]) -> bytes:
    """The export in ``fmt``; ``bodies`` (by SHA-256) are needed for ``warc`` and ``bundle``."""
    renderers: dict[ExportFormat, Callable[[], bytes]] = {
        ExportFormat.JSON: lambda: to_json(export),
        ExportFormat.CSV: lambda: to_csv(export),
        ExportFormat.MD: lambda: report.markdown(export).encode(),
        ExportFormat.HTML: lambda: report.html_report(export).encode(),
        ExportFormat.WARC: lambda: to_warc(export, bodies),
        ExportFormat.BUNDLE: lambda: bundle(export, bodies),
    }
    return renderers[fmt]()


def to_warc(export: Export, bodies: Mapping[str, bytes]) -> bytes:
    """The raw captures behind the exported changes as a gzipped WARC."""
    captures = export.captures()
    info = {
        "software": f"{TOOL_NAME}/{__version__} (+{PROJECT_URL})",
        "description": (
            f"The {len(captures)} captures bracketing {len(export.changes)} changes; "
            "HTTP headers rebuilt from the stored status and content type."
        ),
        "selection": json.dumps(export.selection.to_json()),
    }
    return warc.write_warc(
        [(capture, bodies[capture.sha256]) for capture in captures], info, export.generated_at
    )


def needs_bodies(fmt: ExportFormat) -> bool:
    """Whether ``fmt`` carries the raw captures."""
    return fmt in {ExportFormat.WARC, ExportFormat.BUNDLE}


def needs_timelines(fmt: ExportFormat) -> bool:
    """Whether ``fmt`` shows the timeline of each URL."""
    return fmt in {ExportFormat.HTML, ExportFormat.BUNDLE}


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a half-written export is never left
    where a complete one is expected."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise MonitorError(f"{path}: cannot write: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- bundles


def bundle(export: Export, bodies: Mapping[str, bytes]) -> bytes:
    """A zip of the report, JSON, CSV and WARC, with ``manifest.json`` listing their SHA-256."""
    files = {name: render(export, fmt, bodies) for name, fmt in BUNDLE_FILES.items()}
    manifest = {
        "generated_at": iso(export.generated_at),
        "tool": tool_json(),
        "selection": export.selection.to_json(),
        "changes": len(export.changes),
        "captures": len(export.captures()),
        "files": [
            {"name": name, "sha256": blobs.sha256_hex(data), "size": len(data)}
            for name, data in files.items()
        ],
        "verify": "monitor verify-bundle PATH, or sha256sum each file against this list",
    }
    files[MANIFEST] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    out = io.BytesIO()
    stamp = export.generated_at.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


@dataclass(frozen=True)
class BundleCheck:
    """What :func:`check_bundle` found: the files that matched and every problem, each naming
    its file; ``sha256`` is the whole bundle's, to compare with a published figure."""

    sha256: str
    matched: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_bundle(data: bytes) -> BundleCheck:
    """Check a bundle's files against its manifest, and its WARC against the changes.

    Problems: a file missing, extra, duplicated or whose SHA-256 differs from the manifest; a
    WARC payload that does not hash to its digest; a capture named in changes.json without
    its bytes in the WARC.
    """
    digest = blobs.sha256_hex(data)
    try:
        files, duplicates = _unzip(data)
    except zipfile.BadZipFile as exc:
        return BundleCheck(digest, (), (f"not a zip file: {exc}",))
    listed, problems = _manifest(files)
    problems += [f"{name}: in the bundle twice" for name in duplicates]
    problems += [
        f"{name}: listed in {MANIFEST} but missing" for name in listed if name not in files
    ]
    problems += [
        f"{name}: in the bundle but not listed in {MANIFEST}"
        for name in files
        if name not in listed and name != MANIFEST
    ]
    matched = [name for name in listed if name in files and _sha256_matches(files, listed, name)]
    problems += [
        f"{name}: SHA-256 {blobs.sha256_hex(files[name])} differs from {listed[name]} in {MANIFEST}"
        for name in listed
        if name in files and name not in matched
    ]
    if {"captures.warc.gz", "changes.json"} <= set(matched):
        problems += _evidence_problems(files["captures.warc.gz"], files["changes.json"])
    return BundleCheck(digest, tuple(matched), tuple(problems))


def _unzip(data: bytes) -> tuple[dict[str, bytes], list[str]]:
    files: dict[str, bytes] = {}
    duplicates: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename in files:
                duplicates.append(info.filename)
            files[info.filename] = archive.read(info)
    return files, duplicates


def _manifest(files: Mapping[str, bytes]) -> tuple[dict[str, str], list[str]]:
    """The manifest's name -> SHA-256, or the problem that keeps it from being read."""
    if MANIFEST not in files:
        return {}, [f"{MANIFEST}: missing"]
    try:
        entries = json.loads(files[MANIFEST])["files"]
        return {str(entry["name"]): str(entry["sha256"]) for entry in entries}, []
    except (ValueError, KeyError, TypeError) as exc:
        return {}, [f"{MANIFEST}: unreadable: {exc!r}"]


def _sha256_matches(files: Mapping[str, bytes], listed: Mapping[str, str], name: str) -> bool:
    return hashlib.sha256(files[name]).hexdigest() == listed[name].lower()


def _evidence_problems(warc_gz: bytes, changes_json: bytes) -> list[str]:
    """Payloads against their digests, and every capture of changes.json present in the WARC."""
    payloads = warc.read_payloads(warc_gz)
    problems = [
        f"captures.warc.gz: {p.uri} at {p.date}: payload SHA-256 {p.sha256} differs from "
        f"its digest {p.declared}"
        for p in payloads
        if not p.matches
    ]
    held = {p.sha256 for p in payloads if p.matches}
    for change in json.loads(changes_json)["changes"]:
        for side in ("before", "after"):
            if change[side]["sha256"] not in held:
                problems.append(
                    f"changes.json: change #{change['id']} {side} capture "
                    f"{change[side]['sha256']} has no record in captures.warc.gz"
                )
    return problems
