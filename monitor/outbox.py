"""The alert outbox: which changes the analysts are owed an alert for, and what was sent.

A change is *announced* (:func:`announce`) in the transaction that records it, by the live
checks and by the daemon's incremental archive sweeps.  Sending happens after the commit,
and each round of sending one change to one target is kept (:func:`record_deliveries`).
:func:`owed` reads back what is still to send: announced changes with a target that has
taken no round, or only failed ones, fewer than :data:`MAX_ROUNDS`, within
:data:`OWED_WINDOW`.  So a daemon stopped between the change and its alert (Save Page Now
can take minutes) sends it when it starts again, and a target that was down gets it later.

Delivery is at least once: a process killed after a target took the alert and before the
round was stored sends it again.  Not announced: a change whose kind is never alerted
(``cosmetic``), and one that repeats a change already recorded for the URL (the same field,
old and new value, brackets that overlap): the live check and a later archive sweep often
bracket the same change, and the analysts need to hear of it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from monitor.classify import ChangeKind
from monitor.models import AnnouncementRow, CaptureRow, ChangeRow, DeliveryRow
from monitor.watchlist import AlertTarget, AlertType

# Rounds of sending one change to one target (each round a webhook tries three times) before
# the outbox gives up on it; and how long an announced change is owed at all: past a week
# the alert is news no longer, and ``monitor changes`` has it.
MAX_ROUNDS = 5
OWED_WINDOW = timedelta(days=7)
# Kinds stored for completeness and never alerted (issue 7: case, spacing, years only).
SILENT_KINDS = frozenset(kind.value for kind in ChangeKind if not kind.alerts)


@dataclass(frozen=True)
class Delivery:
    """One round of sending a change to one target (:func:`monitor.alerts.send_alerts`), and
    how it went."""

    change_id: int
    target: AlertTarget
    ok: bool
    attempts: int
    error: str | None = None

    @property
    def label(self) -> str:
        """The target as logs may show it: its kind and host, never its tokens."""
        return target_label(self.target)


def target_label(target: AlertTarget) -> str:
    """``webhook hooks.example.org`` or ``apprise tgram://``: no path, user or token."""
    parts = urlsplit(target.url)
    if target.type is AlertType.WEBHOOK:
        return f"webhook {parts.hostname or '?'}"
    return f"apprise {parts.scheme}://"


def target_key(target: AlertTarget) -> str:
    """A target's identity in the store: the SHA-256 of its URL, which holds its tokens."""
    return hashlib.sha256(target.url.encode("utf-8")).hexdigest()


def announce(session: Session, change_ids: Iterable[int], now: datetime | None = None) -> list[int]:
    """Queue the changes for the alert targets; the ids queued (see the module docstring)."""
    queued = []
    at = now or datetime.now(UTC)
    for change_id in change_ids:
        change = session.get(ChangeRow, change_id)
        if change is None or change.kind in SILENT_KINDS or _repeats(session, change):
            continue
        session.add(AnnouncementRow(change_id=change_id, queued_at=at))
        queued.append(change_id)
    session.flush()
    return queued


def _repeats(session: Session, change: ChangeRow) -> bool:
    """Whether an earlier change of the URL moved the same field between the same values
    within an overlapping bracket: the same event seen twice (live and archived).  A value
    that moves back and then again is bracketed apart, and announced each time."""
    before, after = aliased(CaptureRow), aliased(CaptureRow)
    bracketed = (
        select(ChangeRow.old, ChangeRow.new, before.captured_at, after.captured_at)
        .join(before, before.id == ChangeRow.before_capture_id)
        .join(after, after.id == ChangeRow.after_capture_id)
    )
    _old, _new, start, end = session.execute(bracketed.where(ChangeRow.id == change.id)).one()
    earlier = bracketed.where(
        ChangeRow.url_id == change.url_id,
        ChangeRow.field == change.field,
        ChangeRow.id < change.id,
        before.captured_at < end,
        after.captured_at > start,
    )
    return any((row.old, row.new) == (change.old, change.new) for row in session.execute(earlier))


def owed(
    session: Session,
    targets: Sequence[AlertTarget],
    change_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> dict[int, tuple[AlertTarget, ...]]:
    """The targets each announced change is still owed to, by change id, oldest first.

    ``change_ids``: only these changes (a check sends its own); None: every change announced
    within :data:`OWED_WINDOW`.
    """
    if not targets:
        return {}
    stmt = select(AnnouncementRow.change_id).order_by(AnnouncementRow.id)
    if change_ids is None:
        stmt = stmt.where(AnnouncementRow.queued_at >= (now or datetime.now(UTC)) - OWED_WINDOW)
    else:
        stmt = stmt.where(AnnouncementRow.change_id.in_(list(change_ids)))
    announced = list(session.scalars(stmt))
    rounds = _rounds(session, announced)
    keyed = [(target, target_key(target)) for target in targets]
    found = {}
    for change_id in announced:
        left = tuple(target for target, key in keyed if _owed(rounds.get((change_id, key))))
        if left:
            found[change_id] = left
    return found


def _rounds(session: Session, change_ids: Sequence[int]) -> dict[tuple[int, str], list[bool]]:
    """Each (change, target)'s rounds so far: whether each went through."""
    rounds: dict[tuple[int, str], list[bool]] = {}
    stmt = select(DeliveryRow.change_id, DeliveryRow.target, DeliveryRow.ok).where(
        DeliveryRow.change_id.in_(change_ids)
    )
    for change_id, target, ok in session.execute(stmt):
        rounds.setdefault((change_id, target), []).append(ok)
    return rounds


def _owed(rounds: list[bool] | None) -> bool:
    return rounds is None or (not any(rounds) and len(rounds) < MAX_ROUNDS)


def record_deliveries(
    session: Session, rounds: Iterable[Delivery], now: datetime | None = None
) -> None:
    """Keep the rounds just made: the record that, and when, each target was told."""
    at = now or datetime.now(UTC)
    session.add_all(
        DeliveryRow(
            change_id=sent.change_id,
            target=target_key(sent.target),
            label=sent.label,
            at=at,
            ok=sent.ok,
            attempts=sent.attempts,
            error=sent.error,
        )
        for sent in rounds
    )
    session.flush()
