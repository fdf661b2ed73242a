"""What a recorded change means: the pair of names or numbers that moved, and its kind.

``classify.classify`` reads one pair of values.  A change records a field's whole value
(``compare.py``), so this module finds the pair that moved first:

``operator``
    A name or None: the pair is the change's own old and new value.
``entities``, ``copyright``
    Sorted lists (``"name (role)"`` for entities, holders for copyright).  Only the names on
    one side alone move (by ``names.compare_key``).  Every removed name is classified against
    every added one and they are paired off closest first (cosmetic, legal form, relocation,
    rename, switch; the same role before another role; then the higher similarity).  A name
    left without a partner was added or removed: a ``switch`` from or to nothing.  The pair
    that speaks for the change is the most telling one (:data:`TELLING_ORDER`: relocation,
    then switch, rename, legal form, cosmetic; an operator before other roles).  Entities
    whose names stay and only their roles move make a ``cosmetic`` change: the named
    entities are the same, and an operator that changes is its own ``operator`` change.
``registration``
    ``{kind: [numbers]}``: numbers are paired the same way, and a pair whose provinces differ
    speaks before one within a province.

The names that moved are also what screening looks up for a change (``removed`` and
``added``).  Pure: values in, frozen dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.classify import REGISTRATION_FIELDS, ChangeKind, Classification, classify
from monitor.names import compare_key

__all__ = [
    "TELLING_ORDER",
    "ChangeMeaning",
    "MovedPair",
    "describe",
    "meaning",
    "names_in",
]

# Pairing: the closest pairs are taken first, so that a name is set against the name that
# most plausibly is the same entity moved (北京市商汤… against 上海商汤…, never against the
# English spelling of the same company, which another pair takes).
_CLOSENESS = {
    ChangeKind.COSMETIC: 0,
    ChangeKind.LEGAL_FORM: 1,
    ChangeKind.RELOCATION: 2,
    ChangeKind.RENAME: 3,
    ChangeKind.REGISTRATION: 3,
    ChangeKind.INCONSISTENT: 4,
    ChangeKind.SWITCH: 5,
}
TELLING_ORDER = (
    ChangeKind.RELOCATION,
    ChangeKind.SWITCH,
    ChangeKind.REGISTRATION,
    ChangeKind.RENAME,
    ChangeKind.LEGAL_FORM,
    ChangeKind.INCONSISTENT,
    ChangeKind.COSMETIC,
)
"""Which pair speaks for a change when several moved: the first kind in this order."""
OPERATOR_ROLE = "operator"
_ENTITY = re.compile(r"^(?P<name>.*) \((?P<role>[a-z_]+)\)$")


@dataclass(frozen=True, slots=True)
class MovedPair:
    """One old value set against one new value (either None for an addition or removal),
    with its role (entities), registration kind (registrations) or field, and its kind."""

    old: str | None
    new: str | None
    role: str
    classification: Classification


@dataclass(frozen=True, slots=True)
class ChangeMeaning:
    """What a change means: the pair that speaks for it, every pair, and the names that moved.

    ``removed`` and ``added`` are the names (or numbers) on one side only; ``subject`` says
    whose names they are in a sentence ("operator", "copyright holder").
    """

    classification: Classification
    pairs: tuple[MovedPair, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    subject: str
    names: bool  # False for registration numbers, which no screening list holds

    @property
    def kind(self) -> ChangeKind:
        """The change's kind: that of the pair that speaks for it."""
        return self.classification.kind

    @property
    def explanation(self) -> str:
        """One line: the speaking pair's explanation, and how many other pairs moved."""
        others = len(self.pairs) - 1
        more = f" (+{others} more)" if others > 0 else ""
        return self.classification.explanation + more


def meaning(field: str, old: Any, new: Any) -> ChangeMeaning:
    """The meaning of a change of ``field`` from ``old`` to ``new`` (values as recorded)."""
    if field in REGISTRATION_FIELDS:
        return _numbers(_as_numbers(old), _as_numbers(new))
    if field == "entities":
        return _names(_as_entities(old), _as_entities(new), field)
    if field == "copyright":
        holders = "copyright_holder"
        return _names(_as_holders(old, holders), _as_holders(new, holders), field)
    was, now = _as_name(old), _as_name(new)
    pair = MovedPair(was, now, field, classify(field, was, now))
    removed, added = _present(was), _present(now)
    return ChangeMeaning(pair.classification, (pair,), removed, added, field, True)


def names_in(field: str, value: Any) -> tuple[str, ...]:
    """The entity names a recorded value holds (none for registrations), each once."""
    if field == "entities":
        return _distinct(name for _, name in _as_entities(value))
    if field == "copyright":
        return _distinct(name for _, name in _as_holders(value, field))
    if field in REGISTRATION_FIELDS:
        return ()
    return _present(_as_name(value))


def describe(field: str, old: Any, new: Any, kind: str | None, note: str | None) -> str:
    """The one line that says what a change means: what moved, then its listing note.

    "relocation: 北京市 → 上海 (same brand 商汤); operator moved from a listed entity
    (Entity List, since 2019-10-09) to an unlisted one".  A stored ``kind`` other than
    the one these rules give (set by hand or by an older rule) is shown as it is.
    """
    found = meaning(field, old, new)
    text = found.explanation if kind in (None, found.kind.value) else kind
    return f"{text}; {note}" if note else text


# A name or number with the role it holds: (role, value).
_Item = tuple[str, str]


def _names(old: Sequence[_Item], new: Sequence[_Item], field: str) -> ChangeMeaning:
    old_keys = {compare_key(name) for _, name in old}
    new_keys = {compare_key(name) for _, name in new}
    removed = [item for item in old if compare_key(item[1]) not in new_keys]
    added = [item for item in new if compare_key(item[1]) not in old_keys]
    subject = "entity" if field == "entities" else "copyright holder"
    if not removed and not added:
        why = "cosmetic: the same entities, only their roles changed"
        if field == "copyright":
            why = "cosmetic: the same holders, spelled otherwise"
        return ChangeMeaning(Classification(ChangeKind.COSMETIC, why), (), (), (), subject, True)
    pairs = _pair_off(removed, added)
    speaker = min(pairs, key=_telling)
    if field == "entities":
        subject = speaker.role.replace("_", " ")
    return ChangeMeaning(
        speaker.classification,
        pairs,
        _distinct(name for _, name in removed),
        _distinct(name for _, name in added),
        subject,
        True,
    )


def _numbers(old: Mapping[str, list[str]], new: Mapping[str, list[str]]) -> ChangeMeaning:
    removed = [
        (kind, n) for kind, numbers in old.items() for n in numbers if n not in new.get(kind, ())
    ]
    added = [
        (kind, n) for kind, numbers in new.items() for n in numbers if n not in old.get(kind, ())
    ]
    pairs = _pair_off(removed, added)
    if not pairs:
        classification = Classification(ChangeKind.COSMETIC, "cosmetic: the same numbers")
        return ChangeMeaning(classification, (), (), (), "registration", False)
    speaker = min(pairs, key=_telling)
    removed_numbers = tuple(n for _, n in removed)
    added_numbers = tuple(n for _, n in added)
    return ChangeMeaning(
        speaker.classification, pairs, removed_numbers, added_numbers, "registration", False
    )


def _pair_off(removed: Sequence[_Item], added: Sequence[_Item]) -> tuple[MovedPair, ...]:
    """Every removed item set against an added one, closest pairs first; the rest alone.

    Unrelated names of different roles are never paired: nothing says one replaced the other.
    """
    candidates: list[tuple[tuple[int, bool, float], int, int, MovedPair]] = []
    for i, (role, old) in enumerate(removed):
        for j, (other_role, new) in enumerate(added):
            pair = MovedPair(old, new, role, classify(role, old, new))
            kind = pair.classification.kind
            if kind is not ChangeKind.SWITCH or role == other_role:
                similarity = pair.classification.similarity or 0.0
                candidates.append(((_CLOSENESS[kind], role != other_role, -similarity), i, j, pair))
    candidates.sort(key=lambda candidate: candidate[:3])
    pairs: list[MovedPair] = []
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    for _, i, j, pair in candidates:
        if i not in taken_old and j not in taken_new:
            taken_old.add(i)
            taken_new.add(j)
            pairs.append(pair)
    pairs += [
        _alone(role, old, None) for i, (role, old) in enumerate(removed) if i not in taken_old
    ]
    pairs += [_alone(role, None, new) for j, (role, new) in enumerate(added) if j not in taken_new]
    return tuple(pairs)


def _alone(role: str, old: str | None, new: str | None) -> MovedPair:
    return MovedPair(old, new, role, classify(role, old, new))


def _telling(pair: MovedPair) -> tuple[int, bool, bool]:
    classification = pair.classification
    same_region = classification.old_region == classification.new_region
    return TELLING_ORDER.index(classification.kind), pair.role != OPERATOR_ROLE, same_region


def _as_name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _present(name: str | None) -> tuple[str, ...]:
    return () if name is None else (name,)


def _as_entities(value: Any) -> list[_Item]:
    """``"name (role)"`` items as (role, name); an item without a role keeps its text whole."""
    items: list[_Item] = []
    for text in value if isinstance(value, list) else []:
        found = _ENTITY.match(str(text))
        items.append((found["role"], found["name"]) if found else ("entity", str(text)))
    return items


def _as_holders(value: Any, role: str) -> list[_Item]:
    return [(role, str(name)) for name in value] if isinstance(value, list) else []


def _as_numbers(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    return {str(kind): [str(n) for n in numbers] for kind, numbers in value.items()}


def _distinct(names: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
