"""The CDX index's formats: the query a search sends, the pages it answers, the timestamps.

Pure functions, no I/O: :class:`monitor.archive.WaybackClient` sends the requests, counts
and logs what is skipped here.  The formats, as the archive's recordings show them (see
``tests/data/wayback/README.md``):

- The default text output is one capture a line, its fields space-separated in
  :data:`CDX_FIELDS` order; ``output=json`` is a list of rows, the first naming the columns.
  A page with more after it ends with its ``resumeKey``: after a blank line in text, as a
  one-field row after an empty row in JSON.
- Timestamps are 14 digits, UTC; a ``from``/``to`` bound may be 1-14 of them (the archive
  pads a short ``to`` to the end of its period).
- ``statuscode`` and ``length`` are ``-`` on revisit records; ``length`` is the compressed
  record size, and ``digest`` is not the SHA-1 of the raw body, so it serves only to tell
  identical captures apart.
- ``collapse=`` removes adjacent duplicates only, and per page: :func:`is_duplicate` lets the
  client collapse again across page boundaries.
- The archive ANDs repeated ``filter=`` parameters, so alternatives share one regex.
- Crawlers index link targets glued to a page URL (``http://mailto:x@epa.gov/``): such rows,
  and rows with the wrong number of fields, an impossible date or a non-numeric status, are
  skipped and returned with the reason, never fatal to a search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from monitor.errors import ArchiveError, UsageError

# The default text output's columns, in order; JSON output names them in its first row.
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
# Crawlers index link targets glued to a page URL ("http://mailto:x@epa.gov/"); such rows
# have no memento to fetch.
NOT_A_PAGE = re.compile(r"(?i)(mailto|data|javascript|tel):")
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_BOUND = re.compile(r"^\d{1,14}$")

When = datetime | date | str


@dataclass(frozen=True)
class CdxRow:
    """One capture listed by the CDX index."""

    urlkey: str
    timestamp: str  # 14 digits, UTC
    captured_at: datetime  # the same instant, timezone-aware UTC
    original: str
    mimetype: str
    statuscode: int | None  # None for "-" (revisit records)
    digest: str
    length: int | None  # compressed WARC record size, None for "-"


@dataclass(frozen=True)
class SkippedRow:
    """A row of a CDX page that names no fetchable capture, and why."""

    text: str  # the row's fields, space-joined
    why: str


@dataclass(frozen=True)
class CdxPage:
    """One CDX answer: its rows in order, the rows skipped, and the key of the next page."""

    rows: tuple[CdxRow, ...]
    skipped: tuple[SkippedRow, ...]
    resume_key: str | None


@dataclass
class _PageParser:
    rows: list[CdxRow] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    def add(self, values: Sequence[object], names: Sequence[str]) -> None:
        row, why = _parse_row(values, names)
        if row is None:
            self.skipped.append(SkippedRow(" ".join(map(str, values)), why))
        else:
            self.rows.append(row)

    def page(self, resume_key: str | None) -> CdxPage:
        return CdxPage(tuple(self.rows), tuple(self.skipped), resume_key)


def search_params(
    url: str,
    *,
    from_: When | None,
    to: When | None,
    statuses: Sequence[str] | None,
    mimetypes: Sequence[str] | None,
    collapse: str | None,
    match_type: str | None,
) -> list[tuple[str, str]]:
    """The query parameters of a JSON CDX search paged by resumeKey (without ``limit``)."""
    params = [("url", url), ("output", "json"), ("showResumeKey", "true")]
    if from_ is not None:
        params.append(("from", cdx_bound(from_)))
    if to is not None:
        params.append(("to", cdx_bound(to)))
    if statuses:
        params.append(("filter", "statuscode:" + _alternation(statuses)))
    if mimetypes:
        params.append(("filter", "mimetype:" + _alternation(mimetypes)))
    if collapse:
        params.append(("collapse", collapse))
    if match_type:
        params.append(("matchType", match_type))
    return params


def parse_page(url: str, body: bytes) -> CdxPage:
    """A CDX answer for ``url``, JSON or text; :class:`ArchiveError` for unreadable JSON."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("["):
        return _parse_json_page(url, text)
    return _parse_text_page(text)


def is_duplicate(previous: CdxRow, row: CdxRow, collapse: str | None) -> bool:
    """Whether ``row`` repeats ``previous``: the same row, or the same ``collapse`` field.

    ``collapse`` is as the archive takes it, ``field`` or ``field:N`` (the first N characters).
    """
    if previous == row:
        return True
    if not collapse:
        return False
    name, _, width = collapse.partition(":")
    if name not in CDX_FIELDS:
        return False
    size = int(width) if width.isdigit() else None
    return str(getattr(previous, name))[:size] == str(getattr(row, name))[:size]


def cdx_bound(value: When) -> str:
    """A CDX ``from``/``to`` value: 1-14 digits from a datetime (UTC), date or digits."""
    if isinstance(value, datetime):
        return as_utc(value).strftime(TIMESTAMP_FORMAT)
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    text = str(value).strip()
    if not _BOUND.match(text):
        raise UsageError(f"not a date or 1-14 digit timestamp: {value!r}")
    return text


def memento_timestamp(at: datetime | str) -> str:
    """The 14 digits of a memento request: a datetime (UTC if naive) or 14 digits."""
    if isinstance(at, datetime):
        return as_utc(at).strftime(TIMESTAMP_FORMAT)
    if parse_timestamp(at) is None:
        raise UsageError(f"not a 14-digit timestamp: {at!r}")
    return at


def parse_timestamp(timestamp: str) -> datetime | None:
    """The UTC instant of a 14-digit archive timestamp, or None if it is not one."""
    if len(timestamp) != 14 or not timestamp.isdigit():
        return None
    try:
        return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _alternation(values: Sequence[str]) -> str:
    # The archive ANDs repeated filters, so alternatives go into one regex.
    escaped = [re.escape(value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _parse_json_page(url: str, text: str) -> CdxPage:
    """``output=json``: a header row, rows, then ``[]`` and ``[resumeKey]`` if more."""
    try:
        table = json.loads(text)
    except ValueError as exc:
        raise ArchiveError(url, f"CDX search answered unreadable JSON: {exc}") from exc
    if not isinstance(table, list):
        raise ArchiveError(url, "CDX search answered JSON that is not a list of rows")
    names: Sequence[str] = CDX_FIELDS
    if table and isinstance(table[0], list) and table[0][:1] == ["urlkey"]:
        names = [str(name) for name in table.pop(0)]
    resume_key = None
    if len(table) >= 2 and table[-2] == [] and isinstance(table[-1], list) and len(table[-1]) == 1:
        resume_key = str(table.pop()[0])
        table.pop()
    parser = _PageParser()
    for values in table:
        parser.add(values if isinstance(values, list) else [values], names)
    return parser.page(resume_key)


def _parse_text_page(text: str) -> CdxPage:
    """The default text output: space-separated rows, then a blank line and the resumeKey."""
    lines = text.rstrip().split("\n")
    resume_key = None
    if len(lines) >= 2 and not lines[-2].strip() and len(lines[-1].split()) == 1:
        resume_key = lines[-1].strip()
        lines = lines[:-2]
    parser = _PageParser()
    for line in lines:
        if line.strip():
            parser.add(line.split(), CDX_FIELDS)
    return parser.page(resume_key)


def _parse_row(values: Sequence[object], names: Sequence[str]) -> tuple[CdxRow | None, str]:
    """The row, or None and why it was skipped."""
    if len(values) != len(names) or not all(isinstance(value, str) for value in values):
        return None, f"{len(values)} fields where {len(names)} were expected"
    fields = dict(zip(names, (str(value) for value in values), strict=True))
    if any(name not in fields for name in CDX_FIELDS):
        return None, "missing columns"
    captured_at = parse_timestamp(fields["timestamp"])
    if captured_at is None:
        return None, f"bad timestamp {fields['timestamp']!r}"
    original = fields["original"]
    if not original.startswith(("http://", "https://")) or NOT_A_PAGE.search(original):
        return None, "not a page URL"
    try:
        statuscode, length = _optional_int(fields["statuscode"]), _optional_int(fields["length"])
    except ValueError:
        return None, "non-numeric status or length"
    row = CdxRow(
        urlkey=fields["urlkey"],
        timestamp=fields["timestamp"],
        captured_at=captured_at,
        original=original,
        mimetype=fields["mimetype"],
        statuscode=statuscode,
        digest=fields["digest"],
        length=length,
    )
    return row, ""


def _optional_int(text: str) -> int | None:
    """The number, or None for the archive's "-"; ValueError for anything else."""
    if text == "-":
        return None
    if not text.isdigit():
        raise ValueError(text)
    return int(text)
