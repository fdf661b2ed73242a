"""Screening lists in the store: import a publisher's file, download it, screen every name.

- :func:`import_list` reads a Consolidated Screening List (CSV or JSON) or OpenSanctions
  simplified CSV file (``screening.load_list``) and loads it into the store under its name
  (``csl``, ``opensanctions`` or the one given), replacing an older copy of that list.  The
  list's date is the file's own (OpenSanctions' newest ``last_seen``; for the CSL, which
  carries none, the download's ``Last-Modified`` or the file's modification day).  A file
  dated before the loaded copy is refused unless forced; the same bytes again change nothing.
- :func:`fetch_lists` downloads the publishers' files (:data:`PUBLISHERS`, or the mirror of
  the ``lists_url`` setting) and imports them.
- :func:`screen` matches every recorded entity name against every loaded list
  (``screening.Matcher``), stores the matches, reports those not found before, and gives
  every change recorded before issue 7 its ``kind``.
- :class:`Screener` matches the names of each new change as it is recorded, for the live
  checks and the daemon.
- :func:`lists_table` and :func:`matches_table` show the loaded lists (``monitor lists``) and
  a screen's new matches (``monitor screen``).

Lists and matches are reference data: replacing them touches no evidence.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.errors import FetchError, ScreeningListError
from monitor.fetch import build_client
from monitor.kinds import names_in
from monitor.liststore import (
    MatchUpdate,
    StoredList,
    StoredMatch,
    add_matches,
    find_list,
    list_entries,
    put_list,
    recorded_names,
    store_matches,
    stored_lists,
)
from monitor.screening import ListEntry, Match, Matcher, load_list
from monitor.store import Store, fill_kinds, get_change

__all__ = [
    "CSL_URL",
    "MAX_LIST_BYTES",
    "OPENSANCTIONS_URL",
    "PUBLISHERS",
    "ImportReport",
    "Publisher",
    "ScreenReport",
    "Screener",
    "fetch_lists",
    "import_list",
    "lists_table",
    "matches_table",
    "screen",
]

# Where the publishers keep the files (keyless downloads, refreshed daily).
CSL_URL = "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
# OpenSanctions' "sanctions" collection: every sanctions list it covers, the CSL included.
# Its data are licensed CC BY-NC 4.0: fetched only when asked for by name.
OPENSANCTIONS_URL = "https://data.opensanctions.org/datasets/latest/sanctions/targets.simple.csv"
# A download larger than this is not a list (the CSL is about 17 MB, the OpenSanctions
# sanctions collection about 60 MB); the cap keeps a wrong URL from filling the disk.
MAX_LIST_BYTES = 512 * 1024 * 1024
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Publisher:
    """A list that ``monitor lists fetch`` downloads: its name in the store, URL and file."""

    name: str
    url: str
    filename: str


PUBLISHERS: Mapping[str, Publisher] = MappingProxyType(
    {
        "csl": Publisher("csl", CSL_URL, "consolidated.csv"),
        "opensanctions": Publisher("opensanctions", OPENSANCTIONS_URL, "targets.simple.csv"),
    }
)
DEFAULT_FETCHED = ("csl",)


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the list as loaded, the copy it replaced, and the file's warnings.

    ``unchanged`` is True when the same file was loaded already (nothing was written).
    """

    loaded: StoredList
    previous: StoredList | None
    unchanged: bool
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the terminal."""
        loaded = self.loaded
        dated = f"dated {loaded.published.isoformat()}" if loaded.published else "undated"
        if self.unchanged:
            return f"{loaded.name}: {loaded.source} is loaded already ({dated}); nothing to do"
        replaced = ""
        if self.previous is not None:
            was = self.previous.published
            replaced = f", replacing the copy dated {was.isoformat() if was else '(none)'}"
        return (
            f"{loaded.name}: loaded {loaded.entry_count} entries from {loaded.source} "
            f"({dated}; {loaded.skipped_count} skipped{replaced})"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as ``--json`` shows it."""
        return {
            "list": self.loaded.to_json(),
            "replaced": None if self.previous is None else self.previous.to_json(),
            "unchanged": self.unchanged,
            "warnings": list(self.warnings),
        }


def import_list(
    store: Store,
    path: str | Path,
    name: str | None = None,
    *,
    published: date | None = None,
    source: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Load the list file at ``path`` into ``store``, replacing an older copy of the list.

    ``published`` is the list's date when the file does not carry one (a download's
    ``Last-Modified``); ``source`` what to record as its origin (default: the path).
    Raises :class:`ScreeningListError` for an unreadable file and for one dated before the
    loaded copy, unless ``force``.
    """
    loaded = load_list(path, name)
    digest = _sha256(Path(path))
    meta = StoredList(
        name=loaded.name,
        format=loaded.format.value,
        source=source or str(path),
        sha256=digest,
        published=loaded.published or published or _modified_day(Path(path)),
        imported_at=now or datetime.now(UTC),
        entry_count=len(loaded.entries),
        skipped_count=loaded.skipped,
        screened_at=None,
    )
    with store.session() as session:
        previous = find_list(session, loaded.name)
        if previous is not None and previous.sha256 == digest:
            return ImportReport(previous, previous, unchanged=True)
        _refuse_older(str(path), meta, previous, force)
        stored = put_list(session, loaded, meta)
    return ImportReport(stored, previous, unchanged=False, warnings=loaded.warnings)


def _refuse_older(path: str, meta: StoredList, previous: StoredList | None, force: bool) -> None:
    if force or previous is None or previous.published is None or meta.published is None:
        return
    if meta.published < previous.published:
        why = (
            f"dated {meta.published.isoformat()}, older than the loaded list {meta.name} "
            f"({previous.published.isoformat()}); give --force to load it anyway"
        )
        raise ScreeningListError(path, why)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ScreeningListError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _modified_day(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def lists_table(loaded: Iterable[StoredList]) -> Table:
    """``monitor lists``: one row a loaded list, with its date, entries, when it was imported
    and last screened, and its file with the file's SHA-256."""
    table = Table("list", "format", "dated", "entries", "imported", "screened", "file")
    for column in table.columns:
        column.overflow = "fold"
    for item in loaded:
        shown = item.to_json()
        table.add_row(
            item.name,
            item.format,
            shown["published"] or "",
            str(item.entry_count),
            shown["imported_at"],
            shown["screened_at"] or "never",
            f"{item.source}\nSHA-256 {item.sha256}",
        )
    return table


# --------------------------------------------------------------------------- downloading


def fetch_lists(
    store: Store,
    settings: Settings,
    names: Sequence[str] = DEFAULT_FETCHED,
    directory: Path = Path(),
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[ImportReport, ...]:
    """Download the lists ``names`` (keys of :data:`PUBLISHERS`) into ``directory`` and
    import each; :class:`FetchError` in one line when a download fails.

    With the ``lists_url`` setting, the files come from that mirror (``{lists_url}/{file}``)
    instead of their publishers.
    """
    publishers = [PUBLISHERS[name] for name in names]

    async def download_all() -> list[tuple[Publisher, str, Path, date | None]]:
        done = []
        async with build_client(
            timeout=settings.fetch_timeout, transport=transport, follow_redirects=True
        ) as client:
            for publisher in publishers:
                url = _url_of(publisher, settings)
                target = directory / publisher.filename
                done.append((publisher, url, target, await _download(client, url, target)))
        return done

    directory.mkdir(parents=True, exist_ok=True)
    fetched = asyncio.run(download_all())
    return tuple(
        import_list(store, target, publisher.name, published=modified, source=url)
        for publisher, url, target, modified in fetched
    )


def _url_of(publisher: Publisher, settings: Settings) -> str:
    if settings.lists_url:
        return f"{settings.lists_url.rstrip('/')}/{publisher.filename}"
    return publisher.url


async def _download(client: httpx.AsyncClient, url: str, target: Path) -> date | None:
    """Save ``url`` to ``target`` (whole, or not at all); the day it was last modified."""
    partial = target.with_name(target.name + ".part")
    hint = "download it by other means and run `monitor lists import FILE`"
    try:
        async with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code}; {hint}")
            await _save(response, url, partial)
            modified = response.headers.get("last-modified")
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise FetchError(url, f"cannot download ({type(exc).__name__}: {exc}); {hint}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return _http_day(modified)


async def _save(response: httpx.Response, url: str, partial: Path) -> None:
    size = 0
    with partial.open("wb") as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_LIST_BYTES:
                raise FetchError(url, f"larger than {MAX_LIST_BYTES} bytes: not a list file")
            out.write(chunk)


def _http_day(header: str | None) -> date | None:
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(UTC).date()
    except (TypeError, ValueError):
        return None  # an unreadable date: the file's own day stands in


# --------------------------------------------------------------------------- screening


@dataclass(frozen=True)
class ScreenReport:
    """What a screen did: names and lists screened, matches new and gone, kinds filled."""

    names: int
    lists: tuple[StoredList, ...]
    entries: int
    update: MatchUpdate
    kinds_filled: int

    def summary(self) -> str:
        """One line for the terminal."""
        if not self.lists:
            head = f"no lists loaded (run `monitor lists import FILE`); {self.names} names"
        else:
            names = ", ".join(stored.name for stored in self.lists)
            head = (
                f"screened {self.names} names against {len(self.lists)} lists ({names}; "
                f"{self.entries} entries): {len(self.update.new)} new matches, "
                f"{self.update.kept} known, {len(self.update.dropped)} gone"
            )
        if self.kinds_filled:
            head += f"; gave {self.kinds_filled} earlier changes their kind"
        return head

    def to_json(self) -> dict[str, Any]:
        """The report as ``monitor screen --json`` shows it."""
        return {
            "names": self.names,
            "lists": [stored.to_json() for stored in self.lists],
            "entries": self.entries,
            "new": [match.to_json() for match in self.update.new],
            "known": self.update.kept,
            "gone": [match.to_json() for match in self.update.dropped],
            "kinds_filled": self.kinds_filled,
        }


def screen(store: Store, now: datetime | None = None) -> ScreenReport:
    """Match every recorded entity name against every loaded list and store the matches.

    The matching runs outside any write transaction (building the index of a large list
    takes seconds), so a daemon writing the same SQLite file is not held up.
    """
    at = now or datetime.now(UTC)
    with store.session(write=False) as session:
        lists = stored_lists(session)
        entries = list_entries(session)
        names = recorded_names(session)
    found = list(_matches(entries, names))
    with store.session() as session:
        update = store_matches(session, found, at)
        filled = fill_kinds(session)
        lists = stored_lists(session)
    return ScreenReport(len(names), tuple(lists), len(entries), update, filled)


def matches_table(matches: Iterable[StoredMatch]) -> Table:
    """``monitor screen``'s new matches: the recorded name, the entry and alias it matched,
    the list and programs, the listing date, and the score and method."""
    table = Table("name", "listed as", "list", "since", "score", title="New matches")
    for column in table.columns:
        column.overflow = "fold"
    for match in matches:
        shown = match.to_json()
        source = shown["source"] or shown["list"]
        table.add_row(
            match.entity_name,
            f"{shown['entry_name']} ({shown['list']} {shown['entry_id']})\n"
            f"as {shown['matched_alias']}",
            f"{source}\n{'; '.join(shown['programs'])}".rstrip(),
            shown["listed_on"] or "",
            f"{shown['score']:.0f} {shown['method']}",
        )
    return table


def _matches(entries: Sequence[ListEntry], names: Iterable[str]) -> Iterator[tuple[str, Match]]:
    if not entries:
        return
    matcher = Matcher(entries)
    for name in sorted(names):
        for match in matcher.match(name):
            yield name, match


class Screener:
    """Screens the names each new change moves, as it is recorded (``monitor check``,
    ``monitor backfill``, the daemon), so that its listing note is in its alert and in
    ``monitor changes`` without waiting for the next ``monitor screen``.

    The lists' index is built on first use (a pass without changes never pays for it) and
    again when the loaded lists change (an import while the daemon runs).  Matches are only
    added here; ``monitor screen`` remains what drops those a newer list no longer gives.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lists: tuple[tuple[str, str], ...] = ()
        self._matcher: Matcher | None = None

    def screen_changes(
        self, change_ids: Iterable[int], now: datetime | None = None
    ) -> tuple[StoredMatch, ...]:
        """Match the entity names of these changes, old and new; the matches added."""
        with self._store.session(write=False) as session:
            lists = tuple((stored.name, stored.sha256) for stored in stored_lists(session))
            if not lists:
                return ()
            names = sorted(
                {name for change_id in change_ids for name in _moved(session, change_id)}
            )
            if lists != self._lists:
                self._matcher, self._lists = Matcher(list_entries(session)), lists
        assert self._matcher is not None
        found = [(name, match) for name in names for match in self._matcher.match(name)]
        if not found:
            return ()
        with self._store.session() as session:
            return add_matches(session, found, now or datetime.now(UTC))


def _moved(session: Session, change_id: int) -> tuple[str, ...]:
    change = get_change(session, change_id)
    field = change.field.value
    return (*names_in(field, change.old), *names_in(field, change.new))
