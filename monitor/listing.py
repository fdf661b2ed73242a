"""The rows of ``monitor changes``: the recorded changes and the days of inconsistent pages.

:func:`listed_changes` reads both from the store as :class:`Listed` rows, in one order: by
site, then by the time of the capture showing the new value.  :func:`select` keeps the rows
asked for by kind and review status, hiding the cosmetic kinds unless asked, and
:func:`changes_table` shows them.  Only :func:`listed_changes` reads the store; the rest is
pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from monitor import consistency, pipeline, store
from monitor.classify import ChangeKind
from monitor.kinds import describe
from monitor.report import shown_value
from monitor.store import StoredCapture, StoredChange

__all__ = [
    "HIDDEN_KINDS",
    "Listed",
    "as_listed",
    "changes_table",
    "listed_changes",
    "select",
    "unclassified",
]

# Stored, never alerted, listed only when asked for (--all, or --kind cosmetic).
HIDDEN_KINDS = frozenset(kind.value for kind in ChangeKind if not kind.alerts)
_KINDS = frozenset(kind.value for kind in ChangeKind)


@dataclass(frozen=True)
class Listed:
    """A row of ``monitor changes``: a recorded change, or days of inconsistent pages."""

    kind: str | None  # None: recorded before kinds existed, until `monitor screen` gives one
    site_id: str
    sort_key: tuple[str, datetime, int]  # site, time of the new value's capture, change id
    heading: str  # "#1 sensetime", the field and the review status
    meaning: str  # the one line that says what it means
    values: str  # old → new
    captures: tuple[StoredCapture, StoredCapture]  # the last with the old, the first with the new
    json: dict[str, Any]
    status: str | None = None  # review status; None for inconsistencies, which are not recorded

    def to_json(self) -> dict[str, Any]:
        """The row as ``monitor changes --json`` prints it."""
        return self.json


def listed_changes(session: Session, site_ids: Sequence[str] | None = None) -> list[Listed]:
    """The recorded changes and the inconsistencies of ``site_ids`` (None: every site), by
    site and then by the time of the capture showing the new value."""
    rows = [as_listed(change) for change in store.list_changes(session, site_ids)]
    readings = store.operator_readings(session, pipeline.READABLE_STATUSES, site_ids)
    found = consistency.find_inconsistencies(readings)
    captures = store.captures_by_id(
        session, [page.capture_id for item in found for page in (item.before, item.after)]
    )
    rows.extend(_inconsistent(item, captures) for item in found)
    return sorted(rows, key=lambda row: row.sort_key)


def as_listed(change: StoredChange) -> Listed:
    """A recorded change as a row, with the one line that says what it means."""
    note = change.screening.note if change.screening else None
    field = change.field.value
    return Listed(
        kind=change.kind,
        site_id=change.site_id,
        sort_key=(change.site_id, change.after.captured_at, change.id),
        heading=f"#{change.id} {change.site_id}\n{field}\n[{change.status.value}]",
        meaning=describe(field, change.old, change.new, change.kind, note),
        values=f"{shown_value(change.old)}\n→ {shown_value(change.new)}",
        captures=(change.before, change.after),
        json=change.to_json(),
        status=change.status.value,
    )


def _inconsistent(item: consistency.Inconsistency, captures: Mapping[int, StoredCapture]) -> Listed:
    """Days of inconsistent pages as a row; ``captures`` holds the two disagreeing ones."""
    before, after = captures[item.before.capture_id], captures[item.after.capture_id]
    return Listed(
        kind=ChangeKind.INCONSISTENT.value,
        site_id=item.site_id,
        sort_key=(item.site_id, after.captured_at, 0),
        heading=f"{item.site_id}\noperator",
        meaning=item.explanation,
        values=f"{item.before.operator} ({item.before.url})\n"
        f"≠ {item.after.operator} ({item.after.url})",
        captures=(before, after),
        json=item.to_json({capture.id: capture.to_json() for capture in (before, after)}),
    )


def select(
    rows: Iterable[Listed],
    kinds: Collection[str] = (),
    *,
    show_all: bool = False,
    statuses: Collection[str] = (),
) -> list[Listed]:
    """The rows to show, in their order: those of ``kinds`` (none given: every kind but
    :data:`HIDDEN_KINDS`, which ``show_all`` adds) and, when ``statuses`` are given, with one
    of those review statuses.  A row without a kind passes the kind filter, so that the
    changes recorded before kinds existed are still listed (see :func:`unclassified`)."""
    shown = set(kinds) or (_KINDS if show_all else _KINDS - HIDDEN_KINDS)
    return [
        row
        for row in rows
        if (row.kind is None or row.kind in shown) and (not statuses or row.status in statuses)
    ]


def unclassified(rows: Iterable[Listed]) -> int:
    """How many rows have no kind: changes recorded before kinds existed, which
    ``monitor screen`` classifies."""
    return sum(row.kind is None for row in rows)


def changes_table(rows: Iterable[Listed]) -> Table:
    """The rows of ``monitor changes`` (and of ``monitor demo``) as a table: heading and
    kind, what it means with the old and new value, and the two bracketing captures."""
    table = Table(
        "change", "what it means; old → new", "last capture with the old, first with the new"
    )
    for column in table.columns:
        column.overflow = "fold"  # evidence is shown whole, never cut with an ellipsis
    for change in rows:
        values = Text(change.meaning + "\n", style="bold")
        values.append(change.values)
        table.add_row(
            Text(change.heading + (f"\n{change.kind}" if change.kind else "")),
            values,
            Text(
                "\n".join(_capture_lines(change.captures[0]) + _capture_lines(change.captures[1]))
            ),
        )
    return table


def _capture_lines(capture: StoredCapture) -> list[str]:
    return [capture.to_json()["captured_at"], capture.archive_url or capture.source.value]
