"""Alerts: webhooks and Apprise targets against a local HTTP server (127.0.0.1, no network)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from monitor.alerts import (
    MAX_VALUE_CHARS,
    SIGNATURE_HEADER,
    WEBHOOK_ATTEMPTS,
    build_message,
    send_alerts,
)
from monitor.fetch import build_client
from monitor.models import CaptureSource, ChangeField, ReviewStatus
from monitor.outbox import Delivery, target_label
from monitor.store import StoredCapture, StoredChange
from monitor.watchlist import AlertTarget, AlertType

PAGE = "https://www.sensetime.com/"
BEFORE_ARCHIVE = f"https://web.archive.org/web/20210701000000id_/{PAGE}"
BEFORE_PLAYBACK = f"https://web.archive.org/web/20210701000000/{PAGE}"
SAVED = f"https://web.archive.org/web/20210820093000/{PAGE}"
BEIJING = "Beijing SenseTime Technology Development Co., Ltd."
SHANGHAI = "Shanghai SenseTime Intelligent Technology Co., Ltd."
SECRET = "0123456789abcdef-webhook-secret"
# Short enough that a test waiting out one timeout stays fast, long enough for loopback on
# a loaded machine (three test runs sharing two cores).
CLIENT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records every POST and answers from a script, then 200.

    ``statuses`` are popped per request; ``delays`` (seconds) too, to make a client time out.
    A path in ``broken`` always answers 500.
    """

    port: int = 0
    statuses: list[int] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    delays: list[float] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.delays:
            time.sleep(self.delays.pop(0))
        self.received.append(Received(path, headers, body))
        if path in self.broken:
            return 500
        return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.answer(self.path, dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output clean."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_port
    # A short poll interval: shutdown() waits for one, after every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _capture(number: int, captured_at: datetime, archive_url: str | None) -> StoredCapture:
    source = CaptureSource.WAYBACK if archive_url else CaptureSource.LIVE
    return StoredCapture(
        id=number,
        url=PAGE,
        source=source,
        captured_at=captured_at,
        status=200,
        final_url=PAGE,
        content_type="text/html",
        archive_url=archive_url,
        digest=None,
        sha256=f"{number:064x}",
        size=5120,
        stored_at=captured_at,
    )


CHANGE = StoredChange(
    id=7,
    site_id="sensetime",
    url=PAGE,
    field=ChangeField.OPERATOR,
    old=BEIJING,
    new=SHANGHAI,
    before=_capture(1, datetime(2021, 7, 1, tzinfo=UTC), BEFORE_ARCHIVE),
    after=_capture(2, datetime(2021, 8, 20, 9, 29, tzinfo=UTC), None),
    detected_at=datetime(2021, 8, 20, 9, 29, 30, tzinfo=UTC),
    status=ReviewStatus.NEW,
    note=None,
    kind=None,
    archive_copy_url=SAVED,
    archive_copy_error=None,
)


def _send(
    change: StoredChange, targets: list[AlertTarget], sleeps: list[float] | None = None
) -> tuple[Delivery, ...]:
    async def record_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    async def run() -> tuple[Delivery, ...]:
        async with build_client(timeout=CLIENT_TIMEOUT) as http:
            return await send_alerts(
                http, change, targets, site_name="SenseTime", sleep=record_sleep
            )

    return asyncio.run(run())


def _webhook(receiver: Receiver, path: str = "/hook", secret: str | None = None) -> AlertTarget:
    return AlertTarget(AlertType.WEBHOOK, receiver.url(path), secret=secret)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- webhooks --------------------------------------------------------------------------------


def test_each_change_reaches_each_webhook_once_as_its_json_with_the_message(
    receiver: Receiver,
) -> None:
    second = replace(CHANGE, id=8, field=ChangeField.REGISTRATION, old=None, new="沪ICP备1号")
    targets = [_webhook(receiver, "/a"), _webhook(receiver, "/b")]

    for change in (CHANGE, second):
        assert all(delivery.ok for delivery in _send(change, targets))

    got = sorted((item.path, item.json()["id"]) for item in receiver.received)
    assert got == [("/a", 7), ("/a", 8), ("/b", 7), ("/b", 8)]
    for item in receiver.received:
        change = CHANGE if item.json()["id"] == 7 else second
        message = build_message(change, "SenseTime").body
        assert item.json() == change.to_json() | {"message": message}
        assert item.headers["Content-Type"] == "application/json; charset=utf-8"
        assert SIGNATURE_HEADER not in item.headers


def test_webhook_with_a_secret_is_signed_over_the_exact_body(receiver: Receiver) -> None:
    _send(CHANGE, [_webhook(receiver, secret=SECRET)])

    (item,) = receiver.received
    expected = hmac.new(SECRET.encode(), item.body, hashlib.sha256).hexdigest()
    assert item.headers[SIGNATURE_HEADER] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("statuses", "delays"),
    [([500], []), ([503, 502], []), ([429], []), ([], [CLIENT_TIMEOUT * 2])],
    ids=["500-once", "5xx-twice", "429", "timeout"],
)
def test_webhook_retries_server_errors_and_timeouts_then_delivers(
    receiver: Receiver, statuses: list[int], delays: list[float]
) -> None:
    receiver.statuses, receiver.delays = list(statuses), list(delays)
    sleeps: list[float] = []

    (delivery,) = _send(CHANGE, [_webhook(receiver)], sleeps)

    tries = len(statuses) + len(delays) + 1
    assert (delivery.ok, delivery.attempts, delivery.error) == (True, tries, None)
    assert sleeps == [2.0, 4.0][: tries - 1]


@pytest.mark.parametrize(
    ("statuses", "attempts", "error"),
    [
        ([500] * WEBHOOK_ATTEMPTS, WEBHOOK_ATTEMPTS, "HTTP 500 Internal Server Error"),
        ([404], 1, "HTTP 404 Not Found"),
        ([401], 1, "HTTP 401 Unauthorized"),
    ],
    ids=["5xx-every-time", "404", "401"],
)
def test_webhook_failure_is_reported_after_the_last_try_or_a_client_error(
    receiver: Receiver, statuses: list[int], attempts: int, error: str
) -> None:
    receiver.statuses = list(statuses)

    (delivery,) = _send(CHANGE, [_webhook(receiver)])

    assert (delivery.ok, delivery.attempts, delivery.error) == (False, attempts, error)
    assert len(receiver.received) == attempts


# --- Apprise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["json", "form"], ids=["json", "form"])
def test_apprise_target_gets_the_title_and_the_plain_text_body(
    receiver: Receiver, scheme: str
) -> None:
    (delivery,) = _send(CHANGE, [AlertTarget(AlertType.APPRISE, receiver.url("/n", scheme))])

    assert delivery.ok
    (item,) = receiver.received
    fields = item.json() if scheme == "json" else _form(item.body)
    message = build_message(CHANGE, "SenseTime")
    assert (fields["title"], fields["message"]) == (message.title, message.body)


def _form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body.decode("utf-8")).items()}


# --- one target's failure --------------------------------------------------------------------


def test_failing_targets_are_reported_and_the_others_still_delivered(receiver: Receiver) -> None:
    receiver.broken = {"/broken"}
    targets = [
        AlertTarget(AlertType.WEBHOOK, f"http://127.0.0.1:{_closed_port()}/T0/s3cr3t-token"),
        _webhook(receiver, "/broken"),
        AlertTarget(AlertType.APPRISE, "nosuchservice://s3cr3t-token"),
        _webhook(receiver, "/good"),
        AlertTarget(AlertType.APPRISE, receiver.url("/apprise", "json")),
    ]

    deliveries = _send(CHANGE, targets)

    assert [delivery.ok for delivery in deliveries] == [False, False, False, True, True]
    assert [delivery.target for delivery in deliveries] == targets
    paths = sorted(item.path for item in receiver.received)
    assert paths == ["/apprise", *["/broken"] * WEBHOOK_ATTEMPTS, "/good"]
    assert all("s3cr3t" not in f"{d.error} {d.label} {d!r}" for d in deliveries)


@pytest.mark.parametrize(
    ("target", "label"),
    [
        (
            AlertTarget(AlertType.WEBHOOK, "https://hooks.example/T0/s3cr3t"),
            "webhook hooks.example",
        ),
        (AlertTarget(AlertType.APPRISE, "tgram://123:s3cr3t/987"), "apprise tgram://"),
        (AlertTarget(AlertType.APPRISE, "mailto://me:s3cr3t@example.org"), "apprise mailto://"),
    ],
    ids=["webhook", "telegram", "mail"],
)
def test_target_label_shows_kind_and_host_never_tokens(target: AlertTarget, label: str) -> None:
    assert target_label(target) == label


# --- the message -----------------------------------------------------------------------------


def test_message_names_the_site_old_and_new_values_and_the_evidence_links() -> None:
    message = build_message(CHANGE, "SenseTime")

    assert message.title == "SenseTime (sensetime): operator changed"
    assert message.body.splitlines() == [
        f"SenseTime (sensetime): the operator changed on {PAGE}",
        f"Old: {BEIJING}",
        f"New: {SHANGHAI}",
        f"Before: {BEFORE_PLAYBACK} (captured 2021-07-01T00:00:00Z)",
        f"After: live fetch of {PAGE} at 2021-08-20T09:29:00Z (capture #2)",
        f"Saved now: {SAVED}",
        "Evidence item #7, detected 2021-08-20T09:29:30Z.",
    ]


def test_message_says_why_save_page_now_failed() -> None:
    failed = replace(CHANGE, archive_copy_url=None, archive_copy_error="error:not-found: gone")

    assert "Saved now: failed (error:not-found: gone)" in build_message(failed).body.splitlines()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Acme\n<b>Holdings</b>\x00\tLtd", "Acme <b>Holdings</b> Ltd"),
        ("x" * (MAX_VALUE_CHARS + 50), "x" * (MAX_VALUE_CHARS - 1) + "…"),
        ([{"name": "商汤", "role": "operator"}], '[{"name": "商汤", "role": "operator"}]'),
        (None, "(none)"),
        ([], "(none)"),
    ],
    ids=["control-characters", "too-long", "entity-list", "none", "empty-list"],
)
def test_page_text_in_a_message_is_one_line_cut_to_the_limit(value: object, shown: str) -> None:
    body = build_message(replace(CHANGE, new=value)).body

    assert f"New: {shown}" in body.splitlines()
