"""Tell the analysts: one notification per new change to every ``[[alert]]`` target.

Two kinds of target (:class:`~monitor.watchlist.AlertType`):

- ``webhook``: a JSON POST of the change as ``monitor changes --json`` shows it, plus a
  plain-text ``message``; retried on 5xx, 429 and timeouts; signed with an HMAC-SHA256 of
  the body in ``X-Monitor-Signature`` when the target has a ``secret``.
- ``apprise``: any service the Apprise library reaches (mail, Slack, Telegram, ...), sent
  with ``body_format=text`` so that page-derived text is never read as Markdown or HTML.
  Apprise is synchronous, so it runs in a worker thread.

A failing target never stops the others: :func:`send_alerts` returns one :class:`Delivery`
per target, saying whether it went through and why not.  Target URLs hold tokens, so a
delivery names its target by kind and host only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apprise
import httpx

from monitor import outbox, store
from monitor.errors import MonitorError
from monitor.kinds import describe
from monitor.outbox import SILENT_KINDS, Delivery
from monitor.store import StoredCapture, StoredChange
from monitor.watchlist import AlertTarget, AlertType

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Monitor-Signature"
# Tries per webhook delivery: a receiver restarting or briefly overloaded gets two more
# chances, BACKOFF_BASE * 2**n seconds apart; a 4xx is the receiver's final word.
WEBHOOK_ATTEMPTS = 3
BACKOFF_BASE = 2.0
RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))
# A value in a message is cut to this many characters: a whole entity list can be long, and
# chat services truncate or refuse long messages (the webhook's JSON keeps everything).
MAX_VALUE_CHARS = 500
ELLIPSIS = "…"
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# Raw mementos (``/web/<ts>id_/``) are what was hashed; people read the archive's own view.
_RAW_MEMENTO = re.compile(r"/web/(\d{14})id_/")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class AlertMessage:
    """A change in words: a one-line title and a plain-text body."""

    title: str
    body: str


def build_message(change: StoredChange, site_name: str | None = None) -> AlertMessage:
    """The notification text: the site, old and new values, and the evidence links.

    Values come from web pages: they are flattened to one line without control characters
    and cut to :data:`MAX_VALUE_CHARS`, and sent as plain text.
    """
    site = f"{site_name} ({change.site_id})" if site_name else change.site_id
    field = change.field.value
    lines = [f"{site}: the {field} changed on {change.url}"]
    if change.kind is not None:
        lines.append(f"Meaning: {_one_line(_meaning(change))}")
    lines += [
        f"Old: {_value(change.old)}",
        f"New: {_value(change.new)}",
        f"Before: {_evidence(change.before)}",
        f"After: {_evidence(change.after)}",
    ]
    if change.archive_copy_url:
        lines.append(f"Saved now: {change.archive_copy_url}")
    elif change.archive_copy_error:
        lines.append(f"Saved now: failed ({_one_line(change.archive_copy_error)})")
    lines.append(f"Evidence item #{change.id}, detected {_iso(change.detected_at)}.")
    kind = f" ({change.kind})" if change.kind else ""
    return AlertMessage(title=f"{site}: {field} changed{kind}", body="\n".join(lines))


def webhook_payload(change: StoredChange, message: AlertMessage) -> bytes:
    """The webhook body: ``monitor changes --json``'s object plus the ``message`` text."""
    payload = change.to_json() | {"message": message.body}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """The ``X-Monitor-Signature`` value: ``sha256=`` and the hex HMAC of the body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def send_alerts(
    http: httpx.AsyncClient,
    change: StoredChange,
    targets: Sequence[AlertTarget],
    *,
    site_name: str | None = None,
    sleep: Sleep = asyncio.sleep,
) -> tuple[Delivery, ...]:
    """Notify every target of ``change`` at once; one :class:`Delivery` each, in order.

    Never raises for a target's failure: it is in the returned deliveries, and logged.  A
    change whose kind is never alerted (``cosmetic``) goes to no target: no deliveries.
    """
    if change.kind in SILENT_KINDS:
        return ()
    message = build_message(change, site_name)
    deliveries = await asyncio.gather(
        *(_deliver(http, change, target, message, sleep) for target in targets)
    )
    for delivery in deliveries:
        if not delivery.ok:
            logger.warning(
                "alert for change #%d to %s failed: %s",
                change.id,
                delivery.label,
                delivery.error,
            )
    return tuple(deliveries)


async def deliver_owed(
    store_: store.Store,
    http: httpx.AsyncClient,
    targets: Sequence[AlertTarget],
    site_names: Mapping[str, str],
    change_ids: Iterable[int] | None = None,
    *,
    skip: Collection[int] = frozenset(),
    sleep: Sleep = asyncio.sleep,
) -> tuple[Delivery, ...]:
    """Send what :mod:`monitor.outbox` owes the ``targets`` (only for ``change_ids``, when
    given) and keep each round; the rounds made.

    ``site_names`` gives the sites' names by id, for the messages; ``skip``, changes whose
    check is still under way (it sends their alerts itself, after Save Page Now).  A round
    that went out but could not be kept is logged, and sent again next time (delivery is at
    least once).
    """
    with store_.session(write=False) as session:
        owed = outbox.owed(session, targets, change_ids)
        changes = [
            store.get_change(session, change_id) for change_id in owed if change_id not in skip
        ]
    made: list[Delivery] = []
    for change in changes:
        name = site_names.get(change.site_id)
        rounds = await send_alerts(http, change, owed[change.id], site_name=name, sleep=sleep)
        try:
            with store_.session() as session:
                outbox.record_deliveries(session, rounds)
        except MonitorError as exc:
            logger.error("alerts for change #%d are not recorded: %s", change.id, exc)
        made.extend(rounds)
    return tuple(made)


async def _deliver(
    http: httpx.AsyncClient,
    change: StoredChange,
    target: AlertTarget,
    message: AlertMessage,
    sleep: Sleep,
) -> Delivery:
    if target.type is AlertType.WEBHOOK:
        body = webhook_payload(change, message)
        attempts, error = await _post_webhook(http, target, body, sleep)
        return Delivery(change.id, target, error is None, attempts, error)
    error = await asyncio.to_thread(_notify_apprise, target.url, message)
    return Delivery(change.id, target, error is None, 1, error)


async def _post_webhook(
    http: httpx.AsyncClient, target: AlertTarget, body: bytes, sleep: Sleep
) -> tuple[int, str | None]:
    """POST ``body`` until it is taken or the tries run out: (tries made, last error)."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if target.secret:
        headers[SIGNATURE_HEADER] = signature(target.secret, body)
    error: str | None = None
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        if attempt > 1:
            await sleep(BACKOFF_BASE * 2.0 ** (attempt - 2))
        error, retry = await _post_once(http, target.url, body, headers)
        if error is None or not retry:
            return attempt, error
    return WEBHOOK_ATTEMPTS, error


async def _post_once(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[str | None, bool]:
    """One POST: (None, _) when taken, else (why, whether another try may work)."""
    try:
        response = await http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return "timed out", True
    except httpx.HTTPError as exc:
        # The URL carries the receiver's token: never let it into a message.
        return f"{type(exc).__name__}: {exc}".replace(url, "<url>"), True
    if response.is_success:
        return None, False
    why = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return why, response.status_code in RETRYABLE_STATUSES


def _notify_apprise(url: str, message: AlertMessage) -> str | None:
    """Send through Apprise (blocking; run in a thread): None when sent, else why not."""
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "not a URL any installed Apprise service accepts"
    try:
        sent = notifier.notify(
            body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT
        )
    except Exception as exc:  # a service plugin's bug must not stop the other targets
        return f"Apprise raised {type(exc).__name__}"
    return None if sent else "Apprise could not deliver (its log says why)"


def _evidence(capture: StoredCapture) -> str:
    when = _iso(capture.captured_at)
    if capture.archive_url:
        playback = _RAW_MEMENTO.sub(r"/web/\1/", capture.archive_url, count=1)
        return f"{playback} (captured {when})"
    return f"live fetch of {capture.final_url or capture.url} at {when} (capture #{capture.id})"


def _meaning(change: StoredChange) -> str:
    """The change's kind and its listing note, in one line (``kinds.describe``)."""
    note = change.screening.note if change.screening else None
    return describe(change.field.value, change.old, change.new, change.kind, note)


def _value(value: Any) -> str:
    if value is None or value in ([], {}, ""):
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _one_line(text)


def _one_line(text: str) -> str:
    flat = _CONTROL_OR_SPACE.sub(" ", text).strip()
    if len(flat) <= MAX_VALUE_CHARS:
        return flat
    return flat[: MAX_VALUE_CHARS - len(ELLIPSIS)] + ELLIPSIS


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
