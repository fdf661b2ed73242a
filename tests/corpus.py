"""The footer corpus in ``tests/data/footers``: its labels, read into frozen dataclasses.

``labels.tsv`` is written by people for people: the operator column carries role notes in
parentheses and the registration column prefixes non-Chinese numbers with their kind.  This
module is the one place that turns those conventions into expectations, so the tests, the
accuracy report and the benchmark all read the labels the same way.  A label whose shape it
does not know raises ``ValueError`` rather than being guessed at.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from monitor.facts import Facts, Registration, RegistrationKind, Role

CORPUS_DIR = Path(__file__).parent / "data" / "footers"
LABELS_TSV = CORPUS_DIR / "labels.tsv"
SOURCES_TSV = CORPUS_DIR / "sources.tsv"
WAYBACK_TOOLBAR = CORPUS_DIR / "wayback-toolbar.html"

BLOCK_SEPARATOR = " ⏎ "
LIST_SEPARATOR = " ; "

# Markers of an ownership line in the label's visible text (case-insensitive).
COPYRIGHT_MARKERS = ("©", "(c)", "copyright", "版权所有", "derechos reservados")

# A year or a range of years (-, – or ~ between), not part of a longer number such as a
# company number or a postcode.
_YEARS = re.compile(r"(?<!\d)((?:19|20)\d\d)(?:\s*[-–~]\s*((?:19|20)\d\d))?(?!\d)")

# Role notes known to carry no alternative spelling of the name.  A parenthesis with Latin
# letters that matches none of these is an unknown convention and is refused.
_NOTE_WORDS = ("operator", "copyright holder", "sponsor", "json-ld", "sole trader")
_SOLE_TRADER = re.compile(r"sole trader (?P<person>.+)", re.IGNORECASE)
_UNNAMED = re.compile(r"^\(unnamed subsidiary of (?P<parent>[^()]+)\)$", re.IGNORECASE)
_NAME_AND_NOTE = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<note>.+)\)$")
_LATIN = re.compile(r"[A-Za-z]")

# Prefixes labels.tsv puts before non-Chinese numbers, and the kind each one means.
_PREFIXED_KINDS = (
    ("UK company no.", RegistrationKind.UK_COMPANY),
    ("DE VAT", RegistrationKind.DE_VAT),
)
# Chinese numbers carry their kind in their own spelling (facts.py documents each kind); the
# first marker found wins, so the generic 许可证 comes last.
_CHINESE_KINDS = (
    ("公网安备", RegistrationKind.PSB_FILING),
    ("ICP备", RegistrationKind.ICP_FILING),
    ("ICP证", RegistrationKind.ICP_LICENSE),
    ("B2-", RegistrationKind.TELECOM_LICENSE),
    ("许可证", RegistrationKind.CN_LICENSE),
)


def fold_name(name: str) -> str:
    """Return the comparison key of a name: NFKC, whitespace runs folded to one space, casefold.

    No fuzzy matching: "WebMD, LLC" and "WebMD LLC" stay different names.
    """
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def fold_number(number: str) -> str:
    """Return the comparison key of a registration number: NFKC with all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", number).split())


@dataclass(frozen=True, slots=True)
class ExpectedOperator:
    """What ``operating_entity_label`` asks of the extractor.

    ``names`` are the acceptable spellings of the operator (any one is right); empty means the
    page does not name its operator, so the extractor must report none.  ``parents`` must be
    among the entities with role ``parent``; ``also_named`` among the entities in any role.
    ``persons`` are people named in notes (a sole trader), which are not legal entities.
    ``notes`` keeps every parenthesis as written, so a reader can see what was interpreted.
    """

    names: tuple[str, ...]
    parents: tuple[str, ...] = ()
    also_named: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExpectedRegistration:
    """One number of ``cn_registration_numbers``: folded, with the kind its spelling implies."""

    number: str
    kind: RegistrationKind | None


@dataclass(frozen=True, slots=True)
class Label:
    """One row of labels.tsv, split into its parts."""

    file: str
    source: str
    copyright_blocks: tuple[str, ...]
    entities: tuple[str, ...]
    registrations: tuple[str, ...]
    operator_label: str
    notes: str
    structured_signals: str

    @property
    def path(self) -> Path:
        """The saved page."""
        return CORPUS_DIR / self.file

    @property
    def operator(self) -> ExpectedOperator:
        """The operator column, interpreted by :func:`parse_operator_label`."""
        return parse_operator_label(self.operator_label)

    @property
    def expected_registrations(self) -> tuple[ExpectedRegistration, ...]:
        """The registration column, interpreted by :func:`parse_registration`."""
        return tuple(parse_registration(r) for r in self.registrations)

    @property
    def has_copyright_line(self) -> bool:
        """Whether the visible ownership text has a ©, (C), Copyright or similar marker."""
        text = " ".join(self.copyright_blocks).casefold()
        return any(marker in text for marker in COPYRIGHT_MARKERS)

    @property
    def first_block_years(self) -> tuple[int, int] | None:
        """The first year or range of the first ownership block, as (first, last)."""
        return parse_years(self.copyright_blocks[0]) if self.copyright_blocks else None

    @property
    def distractors(self) -> tuple[str, ...]:
        """Names the notes quote as distractors: entities that are never the operator."""
        _, _, after = self.notes.partition("DISTRACTOR")
        return tuple(re.findall(r"'([^']+)'", after))


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses (a note may itself hold a ``;``)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _read_note(note: str) -> tuple[str | None, str | None]:
    """Classify one parenthesised note: (alternative name, person named), either may be None.

    "= X" spells the same entity another way; a note without Latin letters is the name in
    another script (株式会社マイナビ for Mynavi Corporation); a known role or source note
    ("operator", "JSON-LD only", "sole trader X") adds no name; anything else is refused.
    """
    if note.startswith("="):
        return note[1:].strip(), None
    if not _LATIN.search(note):
        return note.strip(), None
    if not any(word in note.casefold() for word in _NOTE_WORDS):
        raise ValueError(f"unknown note in operator label: ({note})")
    person = _SOLE_TRADER.search(note)
    return None, (person["person"].strip() if person else None)


def parse_operator_label(label: str) -> ExpectedOperator:
    """Read ``operating_entity_label`` into what the extractor must report.

    The forms in labels.tsv, and how each is read:

    - ``Name``: the operator is Name.
    - ``Name (= Other)`` or ``Name (株式会社…)``: either spelling is right.
    - ``Name (JSON-LD only)``, ``Name (operator)``, ``Name (承办/operator; 主办 = X)``: a role or
      source note; the operator is Name (a 主办 sponsor in a note is not required anywhere).
    - ``Name (sole trader Person)``: the operator is Name; Person is a person, not an entity.
    - ``(unnamed subsidiary of Parent)``: no operator is named, so none must be reported, and
      Parent must be among the entities as ``parent``.
    - ``First (note); Second (note)``: First is the operator; Second must be among the entities.
    """
    label = label.strip()
    if unnamed := _UNNAMED.match(label):
        return ExpectedOperator(names=(), parents=(unnamed["parent"].strip(),), notes=(label,))
    first, *others = [_name_and_notes(part) for part in _split_top_level(label, ";")]
    names, persons, notes = first
    also_named = tuple(other_names[0] for other_names, _, _ in others)
    return ExpectedOperator(
        names=names,
        also_named=also_named,
        persons=persons + tuple(p for _, ps, _ in others for p in ps),
        notes=notes + tuple(n for _, _, ns in others for n in ns),
    )


def _name_and_notes(part: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Split ``Name (note)`` into (spellings of the name, persons named, notes as written)."""
    match = _NAME_AND_NOTE.match(part)
    if match is None:
        if "(" in part or ")" in part:
            raise ValueError(f"unbalanced or misplaced parenthesis in operator label: {part}")
        return (part,), (), ()
    alternative, person = _read_note(match["note"])
    names = (match["name"],) + ((alternative,) if alternative else ())
    return names, ((person,) if person else ()), (match["note"],)


def parse_registration(text: str) -> ExpectedRegistration:
    """Read one number of ``cn_registration_numbers``: strip a kind prefix, fold the rest.

    ``UK company no. 01176085`` is a UK company number ``01176085``; ``DE VAT DE246292916`` a
    German VAT ID.  Chinese numbers keep their whole spelling (the prefix 京ICP备 is part of the
    number) and get the kind their spelling names, or None if it names none.
    """
    for prefix, kind in _PREFIXED_KINDS:
        if text.startswith(prefix):
            return ExpectedRegistration(fold_number(text[len(prefix) :]), kind)
    number = fold_number(text)
    return ExpectedRegistration(number, next((k for m, k in _CHINESE_KINDS if m in number), None))


def parse_years(text: str) -> tuple[int, int] | None:
    """Return the first year or year range in ``text`` as (first, last), or None."""
    match = _YEARS.search(text)
    if match is None:
        return None
    first = int(match[1])
    return first, int(match[2]) if match[2] else first


def _split_list(cell: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip())


def load_labels(path: Path = LABELS_TSV) -> tuple[Label, ...]:
    """Read labels.tsv into one :class:`Label` per page, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return tuple(
        Label(
            file=row["file"],
            source=row["source"],
            copyright_blocks=tuple(
                b.strip() for b in row["copyright_text_visible"].split(BLOCK_SEPARATOR)
            ),
            entities=_split_list(row["legal_entities_named"]),
            registrations=_split_list(row["cn_registration_numbers"]),
            operator_label=row["operating_entity_label"],
            notes=row["notes"],
            structured_signals=row["structured_signals_auto"],
        )
        for row in rows
    )


def unlabelled_pages(path: Path = SOURCES_TSV) -> tuple[Path, ...]:
    """Return the unlabelled pages listed in sources.tsv, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return tuple(CORPUS_DIR / row["file"] for row in rows)


def all_pages() -> tuple[Path, ...]:
    """Every corpus page, labelled first, each once."""
    return tuple(label.path for label in load_labels()) + unlabelled_pages()


# --- comparing extracted facts with a label ---------------------------------------------------


def entity_names(facts: Facts, role: Role | None = None) -> set[str]:
    """The folded names of the entities found, optionally only those in one role."""
    return {fold_name(e.name) for e in facts.entities if role is None or e.role == role}


def operator_problems(label: Label, facts: Facts) -> list[str]:
    """What is wrong with the extracted operator against the label; empty when it is right.

    Right means: the operator is one of the label's spellings (or None when the page names
    none), a parent the label names is among the entities as ``parent``, and every further
    entity the operator label names is among the entities.
    """
    expected = label.operator
    got = fold_name(facts.operator) if facts.operator is not None else None
    wanted = {fold_name(n) for n in expected.names}
    problems = []
    if (got is None) != (not wanted) or (got is not None and got not in wanted):
        problems.append(f"operator {facts.operator!r}, expected {' | '.join(expected.names)!r}")
    for parent in expected.parents:
        if fold_name(parent) not in entity_names(facts, Role.PARENT):
            problems.append(f"parent {parent!r} not among entities with role parent")
    for name in expected.also_named:
        if fold_name(name) not in entity_names(facts):
            problems.append(f"{name!r} not among entities")
    return problems


def wanted_entities(label: Label) -> set[str]:
    """The folded entity names the label requires, without the persons its notes name.

    A sole trader's own name (Anika Schön behind Agentur MARKE ICH) is a person, not a legal
    entity, and the extractor reports legal entities only.
    """
    persons = {fold_name(p) for p in label.operator.persons}
    return {fold_name(name) for name in label.entities} - persons


def registration_keys(registration: Registration) -> set[str]:
    """The spellings a found registration may be compared under.

    A licence may be stored as its own name (``label``) and its number apart, while labels.tsv
    writes them together, with or without a colon: 互联网新闻信息服务许可证：1012014004.
    """
    number, name = registration.number, registration.label
    if not name:
        return {fold_number(number)}
    return {fold_number(number), fold_number(name + number), fold_number(f"{name}:{number}")}


def registration_problem(expected: ExpectedRegistration, facts: Facts) -> str | None:
    """Why ``expected`` is not among the registrations found (missing, wrong kind), or None."""
    found = [r for r in facts.registrations if expected.number in registration_keys(r)]
    if not found:
        return f"{expected.number} not found"
    if expected.kind is not None and expected.kind not in {r.kind for r in found}:
        kinds = sorted(r.kind.value for r in found)
        return f"{expected.number} found as {kinds}, expected {expected.kind.value}"
    return None


def describe(facts: Facts) -> str:
    """The parts of the facts a failing check should show."""
    entities = [(e.name, e.role.value, e.source.value) for e in facts.entities]
    registrations = [(r.kind.value, r.number, r.label) for r in facts.registrations]
    return (
        f"operator={facts.operator!r} entities={entities} registrations={registrations} "
        f"readable={facts.readable}"
    )
