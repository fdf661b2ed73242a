"""Screening lists: read the files their publishers distribute, and match names against them.

Two formats are read, as published (the headers are checked, see docs/matching.md):

* The US Consolidated Screening List of trade.gov, ``consolidated.csv`` (one row per listed
  party; several values in a cell separated by ``; ``) and ``consolidated.json`` (an object
  whose ``results`` hold the same fields, lists as JSON arrays).  It merges the Commerce
  (Entity List, Denied Persons, Unverified, MEU), State and Treasury lists; ``source`` names
  the list a row comes from.
* OpenSanctions' simplified CSV, ``targets.simple.csv`` (one row per target; several values
  in a cell written as a ``;``-separated CSV record).

Vessels, aircraft, crypto wallets and securities are skipped: they run no website.

``Matcher`` matches a name against every name and alias of the loaded entries: a normalised
exact match first (``names.compare_key``: case, punctuation and legal-form spelling folded),
then a fuzzy one (``FUZZY_THRESHOLD``) that refuses a different place prefix, a different
legal form and different numbers whatever the score, so "Beijing SenseTime" never matches
"Shanghai SenseTime".  Chinese names are compared with Chinese aliases only.  Pure: text in,
frozen dataclasses out (``load_list`` only reads the file it is given).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from rigour.text import remove_bracketed_text

from monitor.classify import (
    NameShape,
    distinctive_similarity,
    forms_compatible,
    same_place,
    shape,
    similarity,
)
from monitor.errors import ScreeningListError
from monitor.names import compare_key, fold

__all__ = [
    "CSL_COLUMNS",
    "FUZZY_THRESHOLD",
    "OPENSANCTIONS_COLUMNS",
    "ListEntry",
    "ListFormat",
    "Match",
    "MatchMethod",
    "Matcher",
    "ScreeningList",
    "listing_note",
    "load_list",
    "parse_list",
]

# The columns of trade.gov's consolidated.csv, in its order.
CSL_COLUMNS = (
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
    "federal_register_notice", "start_date", "end_date", "standard_order",
    "license_requirement", "license_policy", "call_sign", "vessel_type", "gross_tonnage",
    "gross_registered_tonnage", "vessel_flag", "vessel_owner", "remarks", "source_list_url",
    "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth",
    "source_information_url", "ids",
)  # fmt: skip
# The columns of OpenSanctions' targets.simple.csv, in its order.
OPENSANCTIONS_COLUMNS = (
    "id", "schema", "name", "aliases", "birth_date", "countries", "addresses", "identifiers",
    "sanctions", "phones", "emails", "dataset", "first_seen", "last_seen", "last_change",
)  # fmt: skip
# What the importer reads; other columns may come and go (publishers add some over time).
_CSL_NEEDED = ("source", "programs", "name", "start_date", "alt_names")
_OPENSANCTIONS_NEEDED = ("id", "schema", "name", "aliases", "countries", "sanctions", "dataset")
# The list a file replaces when imported without a name of its own.
CSL_LIST_NAME = "csl"
OPENSANCTIONS_LIST_NAME = "opensanctions"
# Kinds of listed party that run no website (CSL ``type``; OpenSanctions ``schema``).
_NOT_SCREENED = frozenset({"vessel", "aircraft", "airplane", "cryptowallet", "security"})

# A fuzzy match needs this 0-100 rapidfuzz score on the names without place and legal form
# (``classify.similarity``, the better of a word-order-blind and a space-blind comparison),
# and on their distinctive words alone (``classify.distinctive_similarity``).
# 90 accepts spelling variants (Sense Time / SenseTime: 100; Technologies / Technology after
# plural folding: 100; Hikvison / Hikvision: 94) and refuses sibling companies, whose cores
# differ by a word (Huawei Technologies / Huawei Device: 57; SenseTime Technology
# Development / SenseTime Intelligent Technology: 81).  The distinctive words refuse names
# alike only in generic words (Kake / Keti Energy International: 92 whole, 50 distinctive).
FUZZY_THRESHOLD = 90.0
# Taken off the score when only one of the two names states a place or a legal form: the
# names may still be one company ("SenseTime Technology Development Co., Ltd." for the
# Beijing one), but a name that states both matches better.
PLACE_MISSING_PENALTY = 5.0
FORM_MISSING_PENALTY = 5.0
# Fuzzy candidates are the names sharing one of the query's rarest tokens (words, first and
# last three letters; character pairs for Chinese).  Tokens are taken rarest first while the
# candidates stay within this budget (the rarest always): a name scoring 90 shares nearly
# all its tokens, so its rare ones, and common words ("technology", 科技) add thousands of
# candidates and no match.  A misspelt token is simply absent from the index.
BLOCK_BUDGET = 256
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")


class ListFormat(StrEnum):
    """The file formats ``load_list`` reads."""

    CSL_CSV = "csl_csv"
    CSL_JSON = "csl_json"
    OPENSANCTIONS_CSV = "opensanctions_csv"


class MatchMethod(StrEnum):
    """How a name matched a list entry."""

    EXACT = "exact"  # equal after normalisation (case, punctuation, legal-form spelling)
    FUZZY = "fuzzy"  # similar enough, same place and compatible legal form


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed party, as its list gives it.

    ``list_name`` is the list as imported (``csl``, ``opensanctions`` or the name given);
    ``source`` the list the entry comes from inside it (CSL: "Entity List (EL) - Bureau of
    Industry and Security"; OpenSanctions: the dataset titles); ``programs`` the CSL
    programmes or OpenSanctions' sanction lines; ``listed_on`` the CSL ``start_date`` or the
    earliest date in OpenSanctions' sanctions; ``country`` the first ISO code the file gives.
    """

    list_name: str
    entry_id: str
    name: str
    aliases: tuple[str, ...]
    programs: tuple[str, ...]
    listed_on: date | None
    source: str
    country: str | None

    @property
    def label(self) -> str:
        """The list and date for a sentence: "Entity List, since 2019-10-09"."""
        short = self.source.split(";")[0].split(" (")[0].strip() or self.list_name
        return f"{short}, since {self.listed_on.isoformat()}" if self.listed_on else short


@dataclass(frozen=True, slots=True)
class ScreeningList:
    """A loaded list: its entries, the rows skipped and the rows read with a warning.

    ``published`` is the newest ``last_seen`` of an OpenSanctions file; CSL files carry no
    date, so the importer records the file's own.
    """

    name: str
    format: ListFormat
    entries: tuple[ListEntry, ...]
    published: date | None = None
    skipped: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A name found on a list: the entry, a 0-100 score, how, and which of its names matched
    (``matched_alias``, the entry's name or alias as the list spells it)."""

    entry: ListEntry
    score: float
    method: MatchMethod
    matched_alias: str


# An entry read from a row (None for a skipped row) and the row's warnings.
_Read = tuple[ListEntry | None, tuple[str, ...]]


def load_list(path: str | Path, name: str | None = None) -> ScreeningList:
    """Read a CSL (``.csv``/``.json``) or OpenSanctions (``targets.simple.csv``) file."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScreeningListError(source, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScreeningListError(source, f"not UTF-8 text (byte {exc.start})") from exc
    return parse_list(text, source, name)


def parse_list(text: str, source: str, name: str | None = None) -> ScreeningList:
    """Parse a list file's text; ``source`` names it in errors and warnings."""
    text = text.lstrip("\ufeff").rstrip("\x1a\r\n ")
    if text.startswith(("{", "[")):
        return _parse_csl_json(text, source, name or CSL_LIST_NAME)
    rows = _csv_rows(text, source)
    header = set(next(rows)[1])
    if header >= set(_CSL_NEEDED):
        return _parse_csl_rows(rows, source, name or CSL_LIST_NAME)
    if header >= set(_OPENSANCTIONS_NEEDED):
        return _parse_opensanctions_rows(rows, source, name or OPENSANCTIONS_LIST_NAME)
    missing = ", ".join(column for column in _CSL_NEEDED if column not in header)
    why = f"not a Consolidated Screening List or OpenSanctions file (no column {missing})"
    raise ScreeningListError(source, why, row="line 1")


@dataclass(frozen=True, slots=True)
class _Spelling:
    """One name or alias of an entry (by its index), with its shape for fuzzy matching."""

    entry: int
    spelling: str
    shape: NameShape


class Matcher:
    """Matches names against list entries: exact on normalised names first, then fuzzy.

    Building indexes every name and alias once (exact keys, and tokens for the fuzzy
    candidates); ``match`` then costs a dictionary lookup and a few score computations.
    """

    def __init__(self, entries: Iterable[ListEntry]) -> None:
        self._entries = tuple(entries)
        self._names: list[_Spelling] = []
        self._exact: defaultdict[str, list[int]] = defaultdict(list)
        self._blocks: defaultdict[str, list[int]] = defaultdict(list)
        for index, entry in enumerate(self._entries):
            for spelling in _spellings(entry):
                name = _Spelling(index, spelling, shape(spelling))
                self._exact[compare_key(spelling)].append(len(self._names))
                for token in _block_tokens(name.shape):
                    self._blocks[token].append(len(self._names))
                self._names.append(name)

    def match(self, name: str) -> tuple[Match, ...]:
        """Every entry ``name`` matches, best first: exact matches, then fuzzy ones by score."""
        found: dict[int, Match] = {}
        for number in self._exact.get(compare_key(name), ()):
            listed = self._names[number]
            exact = Match(self._entries[listed.entry], 100.0, MatchMethod.EXACT, listed.spelling)
            found.setdefault(listed.entry, exact)
        query = shape(name)
        for number in self._candidates(query):
            listed = self._names[number]
            best = found.get(listed.entry)
            if best is not None and best.method is MatchMethod.EXACT:
                continue
            score = _fuzzy_score(query, listed.shape)
            if score is None or score < FUZZY_THRESHOLD or (best and best.score >= score):
                continue
            entry = self._entries[listed.entry]
            found[listed.entry] = Match(entry, score, MatchMethod.FUZZY, listed.spelling)
        order = sorted(found.values(), key=lambda m: (m.method is not MatchMethod.EXACT, -m.score))
        return tuple(order)

    def _candidates(self, query: NameShape) -> set[int]:
        postings = sorted(
            (self._blocks[token] for token in _block_tokens(query) if token in self._blocks),
            key=len,
        )
        chosen: set[int] = set()
        for posting in postings:
            if chosen and len(chosen) + len(posting) > BLOCK_BUDGET:
                break
            chosen.update(posting)
        return chosen


def listing_note(field: str, old: Sequence[Match], new: Sequence[Match]) -> str | None:
    """One sentence on the listing status of a change's two sides, or None if neither is listed:
    "operator moved from a listed entity (Entity List, since 2019-10-09) to an unlisted one"."""
    if not old and not new:
        return None
    if old and not new:
        return f"{field} moved from a listed entity ({_labels(old)}) to an unlisted one"
    if new and not old:
        return f"{field} moved from an unlisted entity to a listed one ({_labels(new)})"
    return f"{field} moved between listed entities ({_labels(old)} → {_labels(new)})"


def _labels(matches: Sequence[Match]) -> str:
    return "; ".join(dict.fromkeys(match.entry.label for match in matches))


def _fuzzy_score(query: NameShape, candidate: NameShape) -> float | None:
    """The score of a candidate, or None where a rule forbids the match whatever the score."""
    if query.cjk != candidate.cjk or query.digits != candidate.digits:
        return None
    if query.place and candidate.place and not same_place(query.place, candidate.place):
        return None
    if not forms_compatible(query.form, candidate.form) or not query.words:
        return None
    penalty = 0.0
    if (query.place is None) != (candidate.place is None):
        penalty += PLACE_MISSING_PENALTY
    if (query.form is None) != (candidate.form is None):
        penalty += FORM_MISSING_PENALTY
    cutoff = FUZZY_THRESHOLD + penalty
    # Both the whole core and its distinctive words must be alike: long generic words make
    # "Kake Energy International" 92 like "Keti Energy International" on the whole core.
    whole = similarity(query, candidate, cutoff=cutoff)
    return min(whole, distinctive_similarity(query, candidate)) - penalty if whole else None


def _spellings(entry: ListEntry) -> list[str]:
    """The entry's name and aliases, each also without bracketed text ("... (BIT)")."""
    spellings: dict[str, None] = {}
    for written in (entry.name, *entry.aliases):
        spellings[fold(written)] = None
        bare = fold(remove_bracketed_text(written))
        if bare:
            spellings[bare] = None
    return [spelling for spelling in spellings if spelling]


def _block_tokens(name: NameShape) -> set[str]:
    """A Latin core's words and its first and last three letters (one typo leaves one of
    them whole); a Chinese core's character pairs."""
    key = name.key
    if name.cjk:
        return {key[i : i + 2] for i in range(len(key) - 1)} or {key}
    return {*name.words, "^" + key[:3], key[-3:] + "$"} if key else set()


# --- CSV and JSON ----------------------------------------------------------------------------


def _csv_rows(text: str, source: str) -> Iterator[tuple[str, dict[str, str]]]:
    """("line N", row) pairs; the first item is the header, as ("line 1", {column: column})."""
    # strict: an unclosed quote (a truncated download) is an error, not one huge last field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise ScreeningListError(source, "empty file") from None
    yield "line 1", dict(zip(header, header, strict=True))
    start = reader.line_num + 1
    try:
        for cells in reader:
            where = f"line {start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                why = f"{len(cells)} fields where the header has {len(header)}"
                raise ScreeningListError(source, why, row=where)
            yield where, dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise ScreeningListError(source, f"bad CSV: {exc}", row=f"line {start}") from exc


def _parse_csl_rows(
    rows: Iterator[tuple[str, dict[str, str]]], source: str, name: str
) -> ScreeningList:
    return _build(ListFormat.CSL_CSV, name, (_csl_entry(r, w, source, name) for w, r in rows))


def _parse_csl_json(text: str, source: str, name: str) -> ScreeningList:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        why = f"bad JSON: {exc.msg}"
        raise ScreeningListError(source, why, row=f"line {exc.lineno}") from exc
    results = data.get("results") if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise ScreeningListError(source, "no 'results' list: not a consolidated.json file")
    rows = ((f"results[{i}]", _json_row(row, i, source)) for i, row in enumerate(results))
    return _build(ListFormat.CSL_JSON, name, (_csl_entry(r, w, source, name) for w, r in rows))


def _json_row(row: object, index: int, source: str) -> Mapping[str, Any]:
    if not isinstance(row, dict):
        raise ScreeningListError(source, "not an object", row=f"results[{index}]")
    return row


def _parse_opensanctions_rows(
    rows: Iterator[tuple[str, dict[str, str]]], source: str, name: str
) -> ScreeningList:
    last_seen: list[date] = []
    entries: list[_Read] = []
    for where, row in rows:
        entries.append(_opensanctions_entry(row, where, source, name))
        seen = _date(row.get("last_seen", ""))
        if seen is not None:
            last_seen.append(seen)
    built = _build(ListFormat.OPENSANCTIONS_CSV, name, entries)
    return replace(built, published=max(last_seen, default=None))


def _build(fmt: ListFormat, name: str, read: Iterable[_Read]) -> ScreeningList:
    entries: list[ListEntry] = []
    warnings: list[str] = []
    skipped = 0
    for entry, notes in read:
        warnings.extend(notes)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ScreeningList(name, fmt, tuple(entries), None, skipped, tuple(warnings))


def _csl_entry(row: Mapping[str, Any], where: str, source: str, list_name: str) -> _Read:
    if _text(row.get("type")).casefold() in _NOT_SCREENED:
        return None, ()
    entry_id = _text(row.get("_id") or row.get("id"))
    name = _required(row, "name", where, source)
    if not entry_id:
        raise ScreeningListError(source, "no _id", row=where)
    start = _text(row.get("start_date"))
    listed_on = _date(start)
    notes: tuple[str, ...] = ()
    if start and listed_on is None:
        notes = (f"{source}: {where}: start_date {start!r} is not a date; kept without it",)
    entry = ListEntry(
        list_name=list_name,
        entry_id=entry_id,
        name=name,
        aliases=_values(row.get("alt_names")),
        programs=_values(row.get("programs")),
        listed_on=listed_on,
        source=_text(row.get("source")),
        country=_csl_country(row.get("addresses")),
    )
    return entry, notes


def _opensanctions_entry(row: Mapping[str, str], where: str, source: str, list_name: str) -> _Read:
    if row["schema"].strip().casefold() in _NOT_SCREENED:
        return None, ()
    entry_id = _required(row, "id", where, source)
    sanctions = _cell_values(row["sanctions"])
    dates = sorted(_ISO_DATE.findall(" ".join(sanctions)))
    countries = _cell_values(row["countries"])
    entry = ListEntry(
        list_name=list_name,
        entry_id=entry_id,
        name=_required(row, "name", where, source),
        aliases=_cell_values(row["aliases"]),
        programs=sanctions,
        listed_on=_date(dates[0]) if dates else None,
        source="; ".join(_cell_values(row["dataset"])),
        country=countries[0].upper() if countries else None,
    )
    return entry, ()


def _required(row: Mapping[str, Any], column: str, where: str, source: str) -> str:
    value = fold(_text(row.get(column)))
    if not value:
        raise ScreeningListError(source, f"empty {column}", row=where)
    return value


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _values(value: object) -> tuple[str, ...]:
    """A CSL cell's values: a JSON list, or text separated by "; " (inside list items too)."""
    items = value if isinstance(value, list) else [value]
    parts = (part for item in items if isinstance(item, str) for part in item.split(";"))
    return tuple(dict.fromkeys(fold(part) for part in parts if part.strip()))


def _cell_values(cell: str) -> tuple[str, ...]:
    """An OpenSanctions cell: one CSV record with ";" between values (quoted when needed)."""
    if not cell.strip():
        return ()
    record = next(csv.reader([cell], delimiter=";"), [])
    return tuple(dict.fromkeys(fold(value) for value in record if value.strip()))


def _csl_country(addresses: object) -> str | None:
    """The first address's country: a JSON ``country`` field, or a CSV address's last part."""
    if isinstance(addresses, list):
        for address in addresses:
            if isinstance(address, dict) and _text(address.get("country")):
                return _text(address.get("country")).upper()
        return None
    for address in _values(addresses):
        last = address.rsplit(",", 1)[-1].strip()
        if _COUNTRY_CODE.fullmatch(last):
            return last.upper()
    return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None
