"""The fake Wayback Machine's CDX index: the query language and the pages it answers.

:mod:`monitor.fakearchive` serves ``/cdx/search/cdx`` with these pure functions, in the real
archive's semantics (compared with recorded real traffic in ``tests/data/fakearchive/``):

- captures are filed under their SURT key (:func:`urlkey`), so every spelling of a page
  finds the same captures;
- ``from``/``to`` are 1 to 14 digit prefixes (``to=2021`` keeps every 2021 capture);
  ``filter=[!]field:regex`` must match the whole field, repeated filters all apply;
  ``collapse=field[:N]`` drops adjacent duplicates only; ``fl`` selects and orders fields;
- ``limit`` cuts a page, and with ``showResumeKey=true`` a full page ends with the key that
  ``resumeKey`` takes to continue after its last row; ``page=`` paging is refused (the real
  paged index lags by days);
- pages are text (``urlkey timestamp original mimetype statuscode digest length``, one capture
  a line) or ``output=json`` (a header row, then one array of strings per capture).

Stdlib only, like the fake it serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote_plus, unquote_plus, urlsplit

CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
TIMESTAMP_DIGITS = 14

_WWW = re.compile(r"^www\d*\.")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class IndexedCapture(Protocol):
    """What the index reads of a capture (a :class:`monitor.fakearchive.FakeCapture` fits)."""

    @property
    def urlkey(self) -> str: ...

    @property
    def timestamp(self) -> str: ...

    def cdx_row(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class _CdxFilter:
    field: str
    pattern: re.Pattern[str]
    negate: bool

    def accepts(self, row: dict[str, str]) -> bool:
        return (self.pattern.fullmatch(row[self.field]) is not None) != self.negate


@dataclass(frozen=True)
class CdxQuery:
    """One CDX search, its parameters read and checked."""

    url: str  # as given, ``*`` suffix and all
    key: str
    prefix: bool
    start: str
    end: str
    filters: tuple[_CdxFilter, ...]
    collapse: tuple[str, int | None] | None
    fields: tuple[str, ...]
    limit: int | None
    show_resume_key: bool
    resume_after: tuple[str, str] | None
    json: bool


def urlkey(url: str) -> str:
    """The archive's SURT key: ``https://www.SenseTime.com:443/a?b=1`` -> ``com,sensetime)/a?b=1``.

    Scheme, ``www``, default ports and letter case are dropped, so every spelling of one page
    finds the same captures, as on the real archive.
    """
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = _WWW.sub("", (parts.hostname or "").lower())
    port = parts.port
    if port is not None and str(port) != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    surt_host = ",".join(reversed(host.split(".")))
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    key = f"{surt_host})" + (parts.path or "/").lower()
    return f"{key}?{query.lower()}" if query else key


def parse_cdx_query(params: Mapping[str, list[str]]) -> CdxQuery:
    """The search a parsed query string asks for; ``ValueError`` says what is wrong with it."""
    url = _param(params, "url")
    if url is None:
        raise ValueError("the url parameter is required")
    if _param(params, "page") is not None:
        raise ValueError("page= is not supported by the fake archive: page with resumeKey")
    match_type = _param(params, "matchType") or ("prefix" if url.endswith("*") else "exact")
    if match_type not in ("exact", "prefix"):
        raise ValueError(f"matchType={match_type} is not supported by the fake archive")
    limit = _param(params, "limit")
    fields = _param(params, "fl")
    return CdxQuery(
        url=url,
        key=urlkey(url.removesuffix("*")),
        prefix=match_type == "prefix",
        start=_parse_bound(_param(params, "from"), "0"),
        end=_parse_bound(_param(params, "to"), "9"),
        filters=tuple(_parse_filter(f) for f in params.get("filter", []) if f),
        collapse=_parse_collapse(_param(params, "collapse")),
        fields=tuple(_cdx_field(f) for f in fields.split(",")) if fields else CDX_FIELDS,
        limit=int(limit) if limit is not None else None,
        show_resume_key=_param(params, "showResumeKey") == "true",
        resume_after=_parse_resume_key(_param(params, "resumeKey")),
        json=_param(params, "output") == "json",
    )


def cdx_page(candidates: Iterable[IndexedCapture], query: CdxQuery) -> bytes:
    """The page ``query`` answers from ``candidates`` (the captures under its key, in order)."""
    rows = _select_rows(candidates, query)
    full = query.limit is not None and len(rows) >= query.limit
    # Like the real archive, a full page carries a key even when nothing follows: the client
    # then gets one last, empty page.
    resume = _resume_key(rows[-1]) if full and query.show_resume_key else None
    return _format_cdx(rows, query, resume)


def _param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = [v for v in params.get(name, []) if v != ""]
    return values[-1] if values else None


def _cdx_field(name: str) -> str:
    if name not in CDX_FIELDS:
        raise ValueError(f"unknown CDX field {name!r}")
    return name


def _parse_filter(text: str) -> _CdxFilter:
    negate = text.startswith("!")
    name, sep, regex = text.removeprefix("!").partition(":")
    if not sep:
        raise ValueError(f"bad filter {text!r}: expected [!]field:regex")
    try:
        return _CdxFilter(_cdx_field(name), re.compile(regex), negate)
    except re.error as exc:
        raise ValueError(f"bad filter {text!r}: {exc}") from exc


def _parse_collapse(text: str | None) -> tuple[str, int | None] | None:
    if text is None:
        return None
    name, _, width = text.partition(":")
    return _cdx_field(name), int(width) if width else None


def _parse_bound(text: str | None, fill: str) -> str:
    if text is None:
        return fill * TIMESTAMP_DIGITS
    if not text.isdigit() or len(text) > TIMESTAMP_DIGITS:
        raise ValueError(f"bad from/to {text!r}: expected 1 to 14 digits")
    # Prefix semantics by string comparison: to=2021 keeps every 2021 capture.
    return text.ljust(TIMESTAMP_DIGITS, fill)


def _parse_resume_key(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    key, sep, bound = unquote_plus(text).rpartition(" ")
    if not sep:
        raise ValueError(f"bad resumeKey {text!r}")
    return key, bound


def _select_rows(candidates: Iterable[IndexedCapture], query: CdxQuery) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    last_collapse: str | None = None
    for capture in candidates:
        if not query.start <= capture.timestamp <= query.end:
            continue
        if query.resume_after and (capture.urlkey, capture.timestamp) < query.resume_after:
            continue
        row = capture.cdx_row()
        if not all(f.accepts(row) for f in query.filters):
            continue
        if query.collapse is not None:
            name, width = query.collapse
            value = row[name][:width]
            # Only ADJACENT duplicates collapse, as on the real archive.
            if value == last_collapse:
                continue
            last_collapse = value
        rows.append(row)
        if query.limit is not None and len(rows) >= query.limit:
            break
    return rows


def _resume_key(row: dict[str, str]) -> str:
    # The real archive's key: the last row's urlkey and timestamp with its final character
    # bumped by one (20010414005939 -> 2001041400593:), so the next page starts after it.
    ts = row["timestamp"]
    return quote_plus(f"{row['urlkey']} {ts[:-1]}{chr(ord(ts[-1]) + 1)}")


def _format_cdx(rows: list[dict[str, str]], query: CdxQuery, resume: str | None) -> bytes:
    lines = [[row[f] for f in query.fields] for row in rows]
    if query.json:
        if not lines:
            return b"[]\n"
        table: list[list[str]] = [list(query.fields), *lines]
        if resume is not None:
            table += [[], [resume]]
        encoded = ",\n".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in table
        )
        return f"[{encoded}]\n".encode()
    text = "".join(" ".join(line) + "\n" for line in lines)
    if resume is not None:
        text += f"\n{resume}\n"
    return text.encode()
