"""The alert outbox on SQLite and PostgreSQL: which changes are announced, what is still owed
to each target after rounds that went through or failed, and that both tables keep history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.errors import StoreError
from monitor.models import CaptureSource, ChangeField
from monitor.outbox import (
    MAX_ROUNDS,
    OWED_WINDOW,
    Delivery,
    announce,
    owed,
    record_deliveries,
    target_key,
)
from monitor.store import NewCapture, NewChange, Store, add_capture, record_change
from monitor.watchlist import AlertTarget, AlertType

T0 = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"
HOOK = AlertTarget(AlertType.WEBHOOK, "https://hooks.example.org/T0KEN")
CHAT = AlertTarget(AlertType.APPRISE, "tgram://bot-token/chat")


def capture(store: Store, url: str, day: int, source: CaptureSource = CaptureSource.LIVE) -> int:
    """A capture of ``url`` on day ``day`` after T0 (its body only has to be distinct)."""
    at = T0 + timedelta(days=day)
    new = NewCapture(url=url, source=source, captured_at=at, status=200)
    with store.session() as session:
        return add_capture(session, new, f"{source} {day}".encode()).id


def change(store: Store, url: str, old: str, new: str, before: int, after: int) -> int:
    """A change of the operator between captures ``before`` and ``after``, announced."""
    recorded = NewChange(
        url=url,
        field=ChangeField.OPERATOR,
        old=old,
        new=new,
        before_capture_id=before,
        after_capture_id=after,
    )
    with store.session() as session:
        ref = record_change(session, recorded)
        assert ref is not None
        return ref.id


def beijing_to_shanghai(store: Store, url: str) -> int:
    """The operator moving from Beijing to Shanghai between days 0 and 1."""
    return change(store, url, BEIJING, SHANGHAI, capture(store, url, 0), capture(store, url, 1))


def announced(store: Store, *change_ids: int, now: datetime = T0) -> list[int]:
    with store.session() as session:
        return announce(session, change_ids, now=now)


def owed_now(
    store: Store, *targets: AlertTarget, now: datetime = T0
) -> dict[int, tuple[AlertTarget, ...]]:
    with store.session(write=False) as session:
        return owed(session, targets, now=now)


def rounds(store: Store, *made: Delivery) -> None:
    with store.session() as session:
        record_deliveries(session, made, now=T0)


def test_a_recorded_change_is_owed_to_every_target_until_each_takes_it(
    store: Store, watched_url: str
) -> None:
    moved = beijing_to_shanghai(store, watched_url)
    assert announced(store, moved) == [moved]
    assert owed_now(store, HOOK, CHAT) == {moved: (HOOK, CHAT)}

    rounds(
        store, Delivery(moved, HOOK, ok=True, attempts=1), Delivery(moved, CHAT, False, 1, "down")
    )
    assert owed_now(store, HOOK, CHAT) == {moved: (CHAT,)}

    rounds(store, Delivery(moved, CHAT, ok=True, attempts=1))
    assert owed_now(store, HOOK, CHAT) == {}


def test_a_target_that_keeps_failing_is_given_up_after_max_rounds(
    store: Store, watched_url: str
) -> None:
    moved = beijing_to_shanghai(store, watched_url)
    announced(store, moved)
    for left in range(MAX_ROUNDS, 0, -1):
        assert owed_now(store, HOOK) == {moved: (HOOK,)}, f"{left} rounds left"
        rounds(store, Delivery(moved, HOOK, ok=False, attempts=3, error="HTTP 503"))
    assert owed_now(store, HOOK) == {}


def test_an_alert_is_owed_only_within_the_window(store: Store, watched_url: str) -> None:
    moved = beijing_to_shanghai(store, watched_url)
    announced(store, moved, now=T0)
    assert owed_now(store, HOOK, now=T0 + OWED_WINDOW - timedelta(minutes=1)) == {moved: (HOOK,)}
    assert owed_now(store, HOOK, now=T0 + OWED_WINDOW + timedelta(minutes=1)) == {}


def test_the_archived_bracket_of_a_change_seen_live_is_not_announced_again(
    store: Store, watched_url: str
) -> None:
    live = change(
        store,
        watched_url,
        BEIJING,
        SHANGHAI,
        capture(store, watched_url, 2),
        capture(store, watched_url, 4),
    )
    wayback = CaptureSource.WAYBACK
    archived = change(
        store,
        watched_url,
        BEIJING,
        SHANGHAI,
        capture(store, watched_url, 1, wayback),
        capture(store, watched_url, 3, wayback),
    )
    assert announced(store, live, archived) == [live]


def test_a_value_that_moves_back_and_again_is_announced_each_time(
    store: Store, watched_url: str
) -> None:
    days = [capture(store, watched_url, day) for day in range(4)]
    there = change(store, watched_url, BEIJING, SHANGHAI, days[0], days[1])
    back = change(store, watched_url, SHANGHAI, BEIJING, days[1], days[2])
    again = change(store, watched_url, BEIJING, SHANGHAI, days[2], days[3])
    assert announced(store, there, back, again) == [there, back, again]


def test_a_cosmetic_change_is_never_announced(store: Store, watched_url: str) -> None:
    cosmetic = change(
        store,
        watched_url,
        "Acme Widgets Co., Ltd.",
        "ACME WIDGETS CO., LTD.",
        capture(store, watched_url, 0),
        capture(store, watched_url, 1),
    )
    assert announced(store, cosmetic) == []
    assert owed_now(store, HOOK) == {}


def test_targets_are_kept_by_a_hash_never_by_their_tokens(store: Store, watched_url: str) -> None:
    moved = beijing_to_shanghai(store, watched_url)
    announced(store, moved)
    rounds(store, Delivery(moved, HOOK, ok=True, attempts=1))
    with store.session(write=False) as session:
        kept = session.execute(text("SELECT target, label FROM alert_deliveries")).one()
    assert tuple(kept) == (target_key(HOOK), "webhook hooks.example.org")
    assert "T0KEN" not in target_key(HOOK)


@pytest.mark.parametrize("table", ["announcements", "alert_deliveries"])
def test_the_outbox_keeps_its_history(store: Store, watched_url: str, table: str) -> None:
    moved = beijing_to_shanghai(store, watched_url)
    announced(store, moved)
    rounds(store, Delivery(moved, HOOK, ok=False, attempts=3, error="timed out"))
    for statement in (f"UPDATE {table} SET change_id = change_id", f"DELETE FROM {table}"):
        with pytest.raises(StoreError, match="append-only"), store.session() as session:
            session.execute(text(statement))
