"""The screening lists in the store: loaded lists, their entries, the names found on them.

Reference data (issue 7), kept apart from the evidence of :mod:`monitor.store`: a list is
replaced whole by a newer file (:func:`put_list`); its matches are recomputed by ``monitor
screen`` (:func:`store_matches`) or added for the names of a new change
(:func:`add_matches`).  The evidence tables are only read here (:func:`recorded_names`).
As in the store, the caller owns the transaction and gets frozen dataclasses, never rows.

:mod:`monitor.store` imports this module, never the reverse.  A change read from the store
carries its listing note (:class:`ChangeScreening`, from :func:`change_screenings`), so that
every reader of changes (``monitor changes``, the exports, the alerts, ``monitor review``)
has it without asking; having each of them attach it instead would couple all of them to
the lists.  This module sees a change only as what it means (``kinds.ChangeMeaning``: the
names it moved), so it needs nothing of the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, true, update
from sqlalchemy.orm import Session

from monitor.compare import COMPARED_ROLES
from monitor.kinds import ChangeMeaning, names_in
from monitor.models import (
    ChangeField,
    ChangeRow,
    ExtractionRow,
    ScreeningEntryRow,
    ScreeningListRow,
    ScreeningMatchRow,
)
from monitor.screening import ListEntry, Match, MatchMethod, ScreeningList, listing_note

# Names or ids looked up per query: well under SQLite's and PostgreSQL's limits on parameters.
NAME_CHUNK = 500


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class StoredList:
    """A loaded screening list: its file, its date and when it was imported and screened."""

    name: str
    format: str
    source: str
    sha256: str
    published: date | None
    imported_at: datetime
    entry_count: int
    skipped_count: int
    screened_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The list as ``monitor lists --json`` shows it."""
        return {
            "name": self.name,
            "format": self.format,
            "source": self.source,
            "sha256": self.sha256,
            "published": None if self.published is None else self.published.isoformat(),
            "imported_at": _iso(self.imported_at),
            "entries": self.entry_count,
            "skipped": self.skipped_count,
            "screened_at": None if self.screened_at is None else _iso(self.screened_at),
        }


def find_list(session: Session, name: str) -> StoredList | None:
    """The loaded list called ``name``, or None."""
    row = session.scalars(select(ScreeningListRow).where(ScreeningListRow.name == name)).first()
    return None if row is None else _stored_list(row)


def stored_lists(session: Session) -> list[StoredList]:
    """Every loaded list, by name."""
    rows = session.scalars(select(ScreeningListRow).order_by(ScreeningListRow.name))
    return [_stored_list(row) for row in rows]


def put_list(session: Session, loaded: ScreeningList, meta: StoredList) -> StoredList:
    """Load ``loaded`` under ``meta.name``, replacing the entries of a list of that name.

    An entry id given twice in one file keeps its first row; ``meta.entry_count`` is set
    from the entries kept.
    """
    entries: dict[str, ListEntry] = {}
    for entry in loaded.entries:
        entries.setdefault(entry.entry_id, entry)
    values = {
        "name": meta.name,
        "format": meta.format,
        "source": meta.source,
        "sha256": meta.sha256,
        "published": meta.published,
        "imported_at": meta.imported_at,
        "entry_count": len(entries),
        "skipped_count": meta.skipped_count,
        "screened_at": None,
    }
    row = session.scalars(
        select(ScreeningListRow).where(ScreeningListRow.name == meta.name).with_for_update()
    ).first()
    if row is None:
        row = ScreeningListRow(**values)
        session.add(row)
    else:
        for column, value in values.items():
            setattr(row, column, value)
        session.execute(delete(ScreeningEntryRow).where(ScreeningEntryRow.list_id == row.id))
    session.flush()
    if entries:
        rows = [_entry_values(row.id, entry) for entry in entries.values()]
        session.execute(insert(ScreeningEntryRow), rows)
    return _stored_list(row)


def list_entries(session: Session) -> list[ListEntry]:
    """Every entry of every loaded list, as ``screening.Matcher`` takes them."""
    stmt = (
        select(ScreeningEntryRow, ScreeningListRow.name)
        .join(ScreeningListRow, ScreeningListRow.id == ScreeningEntryRow.list_id)
        .order_by(ScreeningEntryRow.id)
    )
    return [
        ListEntry(
            list_name=list_name,
            entry_id=entry.entry_id,
            name=entry.name,
            aliases=tuple(entry.aliases),
            programs=tuple(entry.programs),
            listed_on=entry.listed_on,
            source=entry.source,
            country=entry.country,
        )
        for entry, list_name in session.execute(stmt)
    ]


# --------------------------------------------------------------------------- matches


@dataclass(frozen=True)
class StoredMatch:
    """A recorded entity name found on a loaded list, and when it was first found there."""

    entity_name: str
    match: Match
    matched_at: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a match the same one again: the name, the list and the entry."""
        return self.entity_name, self.match.entry.list_name, self.match.entry.entry_id

    def to_json(self) -> dict[str, Any]:
        """The match as ``monitor screen --json`` and a change's ``screening`` show it."""
        entry = self.match.entry
        return {
            "name": self.entity_name,
            "list": entry.list_name,
            "entry_id": entry.entry_id,
            "entry_name": entry.name,
            "source": entry.source,
            "programs": list(entry.programs),
            "listed_on": None if entry.listed_on is None else entry.listed_on.isoformat(),
            "score": round(self.match.score, 1),
            "method": self.match.method.value,
            "matched_alias": self.match.matched_alias,
            "matched_at": _iso(self.matched_at),
        }


@dataclass(frozen=True)
class MatchUpdate:
    """What storing a screen's matches changed: matches not stored before, matches no longer
    found (delisted, or the list replaced), and how many were found again."""

    new: tuple[StoredMatch, ...]
    dropped: tuple[StoredMatch, ...]
    kept: int


def recorded_names(session: Session) -> set[str]:
    """Every entity name the store holds: the operators and entities of recorded changes
    and of readable extractions (the roles changes compare: operator, copyright holder,
    parent, licensor)."""
    names: set[str] = set()
    fields = [ChangeField.OPERATOR, ChangeField.ENTITIES, ChangeField.COPYRIGHT]
    changes = select(ChangeRow.field, ChangeRow.old, ChangeRow.new)
    for field, old, new in session.execute(changes.where(ChangeRow.field.in_(fields))):
        field_name = ChangeField(field).value
        names.update(names_in(field_name, old), names_in(field_name, new))
    facts = select(ExtractionRow.operator, ExtractionRow.facts)
    for operator, found in session.execute(facts.where(ExtractionRow.readable.is_(True))):
        names.update(_present(operator))
        for entity in found.get("entities", ()):
            if entity.get("role") in _SCREENED_ROLES and entity.get("name"):
                names.add(entity["name"])
    return names


_SCREENED_ROLES = frozenset(role.value for role in COMPARED_ROLES)


def _present(name: str | None) -> tuple[str, ...]:
    return () if not name else (name,)


def store_matches(
    session: Session, found: Iterable[tuple[str, Match]], at: datetime
) -> MatchUpdate:
    """Make the stored matches those of a screen of every recorded name: matches found again
    keep their first ``matched_at`` and take the new score, new ones are added with ``at``,
    and those not found again are removed.  Marks every list screened at ``at``."""
    list_ids = dict(session.execute(select(ScreeningListRow.name, ScreeningListRow.id)).all())
    stored = {match.key: (row, match) for row, match in _match_rows(session, None)}
    new: list[StoredMatch] = []
    kept = 0
    for name, match in found:
        fresh = StoredMatch(name, match, at)
        row, _ = stored.pop(fresh.key, (None, None))
        if row is None:
            row = ScreeningMatchRow(entity_name=name, matched_at=at)
            session.add(row)
            new.append(fresh)
        else:
            kept += 1
        _set_match(row, list_ids[match.entry.list_name], match)
    for row, _ in stored.values():
        session.delete(row)
    session.execute(update(ScreeningListRow).values(screened_at=at))
    session.flush()
    return MatchUpdate(tuple(new), tuple(match for _, match in stored.values()), kept)


def add_matches(
    session: Session, found: Sequence[tuple[str, Match]], at: datetime
) -> tuple[StoredMatch, ...]:
    """Add the matches of a screen of some names (the names of a new change) that are not
    stored yet, found at ``at``; those stored are kept as they are.  The new ones."""
    list_ids = dict(session.execute(select(ScreeningListRow.name, ScreeningListRow.id)).all())
    names = sorted({name for name, _ in found})
    known = {match.key for _, match in _match_rows(session, names)}
    new: list[StoredMatch] = []
    for name, match in found:
        fresh = StoredMatch(name, match, at)
        if fresh.key in known:
            continue
        row = ScreeningMatchRow(entity_name=name, matched_at=at)
        _set_match(row, list_ids[match.entry.list_name], match)
        session.add(row)
        known.add(fresh.key)
        new.append(fresh)
    session.flush()
    return tuple(new)


# --------------------------------------------------------------------------- listing notes


@dataclass(frozen=True)
class ChangeScreening:
    """The listed names among those a change moved away from (``old``) and to (``new``),
    and one sentence on it: "operator moved from a listed entity (Entity List, since
    2019-10-09) to an unlisted one"."""

    old: tuple[StoredMatch, ...]
    new: tuple[StoredMatch, ...]
    note: str | None

    def to_json(self) -> dict[str, Any]:
        """``{"old": [matches], "new": [matches], "note": "..."}``."""
        return {
            "old": [match.to_json() for match in self.old],
            "new": [match.to_json() for match in self.new],
            "note": self.note,
        }


def change_screenings(
    session: Session, meanings: Sequence[ChangeMeaning]
) -> list[ChangeScreening | None]:
    """The listing note of each change, given as what it means (``kinds.meaning``): the
    stored matches of the names it moved, or None where neither side is listed (or nothing
    was screened)."""
    if not meanings or not session.scalar(select(exists().where(ScreeningMatchRow.id > 0))):
        return [None] * len(meanings)
    names = {name for found in meanings if found.names for name in (*found.removed, *found.added)}
    by_name: dict[str, list[StoredMatch]] = {}
    for _, match in _match_rows(session, sorted(names)):
        by_name.setdefault(match.entity_name, []).append(match)
    return [_screening(found, by_name) for found in meanings]


def _screening(
    found: ChangeMeaning, by_name: dict[str, list[StoredMatch]]
) -> ChangeScreening | None:
    if not found.names:
        return None
    old = tuple(match for name in found.removed for match in by_name.get(name, ()))
    new = tuple(match for name in found.added for match in by_name.get(name, ()))
    if not old and not new:
        return None
    note = listing_note(found.subject, [m.match for m in old], [m.match for m in new])
    return ChangeScreening(old, new, note)


# --------------------------------------------------------------------------- rows


def _match_rows(
    session: Session, names: Sequence[str] | None
) -> list[tuple[ScreeningMatchRow, StoredMatch]]:
    """The stored matches (of ``names``, or all), best first per name."""
    stmt = (
        select(ScreeningMatchRow, ScreeningListRow.name)
        .join(ScreeningListRow, ScreeningListRow.id == ScreeningMatchRow.list_id)
        .order_by(ScreeningMatchRow.entity_name, ScreeningMatchRow.score.desc())
    )
    wheres = (
        [true()]
        if names is None
        else [ScreeningMatchRow.entity_name.in_(chunk) for chunk in chunked(names)]
    )
    found: list[tuple[ScreeningMatchRow, StoredMatch]] = []
    for where in wheres:
        for row, list_name in session.execute(stmt.where(where)):
            found.append((row, _stored_match(row, list_name)))
    return found


def chunked(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``items`` in slices of :data:`NAME_CHUNK`, for ``IN (...)`` lists of bounded size."""
    for start in range(0, len(items), NAME_CHUNK):
        yield items[start : start + NAME_CHUNK]


def _stored_match(row: ScreeningMatchRow, list_name: str) -> StoredMatch:
    entry = ListEntry(
        list_name=list_name,
        entry_id=row.entry_id,
        name=row.entry_name,
        aliases=(),
        programs=tuple(row.programs),
        listed_on=row.listed_on,
        source=row.source,
        country=None,
    )
    match = Match(entry, row.score, MatchMethod(row.method), row.matched_alias)
    return StoredMatch(row.entity_name, match, row.matched_at)


def _set_match(row: ScreeningMatchRow, list_id: int, match: Match) -> None:
    entry = match.entry
    row.list_id, row.entry_id, row.entry_name = list_id, entry.entry_id, entry.name
    row.programs, row.listed_on, row.source = list(entry.programs), entry.listed_on, entry.source
    row.score, row.method, row.matched_alias = match.score, match.method.value, match.matched_alias


def _stored_list(row: ScreeningListRow) -> StoredList:
    return StoredList(
        name=row.name,
        format=row.format,
        source=row.source,
        sha256=row.sha256,
        published=row.published,
        imported_at=row.imported_at,
        entry_count=row.entry_count,
        skipped_count=row.skipped_count,
        screened_at=row.screened_at,
    )


def _entry_values(list_id: int, entry: ListEntry) -> dict[str, Any]:
    return {
        "list_id": list_id,
        "entry_id": entry.entry_id,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "programs": list(entry.programs),
        "listed_on": entry.listed_on,
        "source": entry.source,
        "country": entry.country,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
