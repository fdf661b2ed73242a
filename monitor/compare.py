"""Which facts are compared, and when two pages say the same thing: the one definition of a change.

Four fields, as issue 4 names them, each reduced to a canonical value that is both what decides
equality (its *key*) and what a change records (its *shown* value, JSON-able, spelled as on the
newer or older page):

``operator``
    The operator as spelled (``str``) or None.  Keyed by :func:`monitor.names.compare_key`, so
    ``Acme Co., Ltd.`` and ``ACME Co.,Ltd`` are one operator, while ``Beijing SenseTime ...``
    and ``Shanghai SenseTime ...`` are two: a place is part of the name.
``entities``
    A sorted list of ``"name (role)"`` for the roles that say who owns or runs the site:
    operator, copyright holder, parent and licensor.  A web vendor ("Powered by") or an entity
    merely mentioned (``other``) changes with redesigns and news, not with ownership, so they
    are left out.  Where the page names one entity twice (footer and JSON-LD), once is kept.
``registration``
    One value per kind of number, ``{"icp_filing": ["京ICP备...号-1"]}``, so a move from a
    京ICP备 to a 沪ICP备 filing is one change with the old and new numbers, and a new
    public-security filing beside it is another.  Keyed by the number without whitespace,
    NFKC and case folded.
``copyright``
    The sorted holders of the copyright lines.  The text and the years are not compared: a
    yearly bump (© 2020 -> © 2021) is no change.

Unreadable facts (``Facts.readable`` False: an error page, a bot challenge, a truncated body)
are never compared: :func:`diff` refuses them, because an owner does not vanish when the
crawler met a challenge page.  Pure: facts in, frozen dataclasses out.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitor.facts import Facts, Role
from monitor.names import compare_key, fold

# The roles that say who owns or runs a site; see the module docstring for why not the others.
COMPARED_ROLES = frozenset({Role.OPERATOR, Role.COPYRIGHT_HOLDER, Role.PARENT, Role.LICENSOR})
_SPACES = re.compile(r"\s+")


class Field(StrEnum):
    """A compared fact; the values are the store's ``ChangeField`` values."""

    OPERATOR = "operator"
    ENTITIES = "entities"
    REGISTRATION = "registration"
    COPYRIGHT = "copyright"


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs between two readable pages: ``old`` and ``new`` as shown
    (JSON-able), ``kind`` the registration kind for a ``registration`` change, else None."""

    field: Field
    old: Any
    new: Any
    kind: str | None = None


@dataclass(frozen=True)
class _Value:
    key: Hashable  # decides equality
    shown: Any  # what a change records


# A slot is one compared value: the field, and the registration kind for registrations.
_Slot = tuple[Field, str]


def diff(old: Facts, new: Facts) -> tuple[FieldChange, ...]:
    """The compared fields whose values differ from ``old`` to ``new``, in field order.

    Raises ``ValueError`` when either side is unreadable: such pages are skipped, not compared.
    """
    before, after = _values(_readable(old)), _values(_readable(new))
    changes = []
    for slot in sorted(before.keys() | after.keys(), key=_slot_order):
        was, now = before.get(slot) or _absent(slot), after.get(slot) or _absent(slot)
        if was.key != now.key:
            field, kind = slot
            changes.append(FieldChange(field, was.shown, now.shown, kind or None))
    return tuple(changes)


def fingerprint(facts: Facts) -> Hashable:
    """A value equal for two readable pages exactly when :func:`diff` finds no change."""
    return frozenset((slot, value.key) for slot, value in _values(_readable(facts)).items())


def _readable(facts: Facts) -> Facts:
    if not facts.readable:
        raise ValueError("unreadable facts are never compared: skip the capture instead")
    return facts


def _slot_order(slot: _Slot) -> tuple[int, str]:
    return list(Field).index(slot[0]), slot[1]


def _values(facts: Facts) -> dict[_Slot, _Value]:
    values = {
        (Field.OPERATOR, ""): _operator(facts.operator),
        (Field.ENTITIES, ""): _names(
            ((compare_key(e.name), e.role.value), f"{e.name} ({e.role.value})")
            for e in facts.entities
            if e.role in COMPARED_ROLES
        ),
        (Field.COPYRIGHT, ""): _names(
            (compare_key(holder), holder) for line in facts.copyright for holder in line.holders
        ),
    }
    numbers: dict[str, dict[str, str]] = {}
    for registration in facts.registrations:
        by_key = numbers.setdefault(registration.kind.value, {})
        key = _number_key(registration.number)
        by_key[key] = min(by_key.get(key, registration.number), registration.number)
    for kind, by_key in numbers.items():
        values[(Field.REGISTRATION, kind)] = _Value(
            frozenset(by_key), {kind: sorted(by_key.values())}
        )
    return values


def _absent(slot: _Slot) -> _Value:
    """The value of a slot a page does not fill: only registration kinds can be missing."""
    field, kind = slot
    return _Value(frozenset(), {kind: []} if field is Field.REGISTRATION else [])


def _operator(name: str | None) -> _Value:
    return _Value(None if name is None else compare_key(name), name)


def _names(pairs: Iterable[tuple[Hashable, str]]) -> _Value:
    """A set of ``(key, spelling)``; of two spellings with one key, the first sorted is shown."""
    by_key: dict[Hashable, str] = {}
    for key, name in pairs:
        by_key[key] = min(by_key.get(key, name), name)
    return _Value(frozenset(by_key), sorted(by_key.values()))


def _number_key(number: str) -> str:
    return _SPACES.sub("", fold(number)).casefold()
