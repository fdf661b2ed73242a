"""Save Page Now 2 against a scripted fake of its API (an httpx transport, no network).

The fake answers ``POST /save`` and ``GET /save/status/<job>`` as the SPN2 docs describe;
time is a fake clock, so waits and spacing are checked exactly without sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from test_ratelimit import FakeClock  # the archive limiter's fake clock serves SPN's too

from monitor import spn
from monitor.config import Settings
from monitor.fetch import build_client
from monitor.spn import (
    CAPTURES_PER_MINUTE,
    PAUSE_AFTER_429,
    POLL_DEADLINE,
    POLL_FIRST,
    SESSION_LIMIT_WAIT,
    SUBMIT_ATTEMPTS,
    SavePageNow,
    SpnCapture,
    SpnCredentials,
    SpnFailure,
    SpnLimiter,
)

BASE = "http://spn.test"
PAGE = "https://www.sensetime.com/"
REDIRECTED = "https://www.sensetime.com/en/"
TIMESTAMP = "20210820093000"
KEYS = SpnCredentials("access", "s3cr3t")

Answer = httpx.Response | dict[str, Any] | Exception


@dataclass
class FakeSpn:
    """SPN2 as its docs describe it; scripted answers first, then acceptance and success.

    ``submits`` answer ``POST /save`` in turn, ``polls`` answer status requests in turn
    (a dict is a 200 JSON answer, an exception a network failure).  Afterwards a
    submission gets a job id and a status request reports the capture done.
    """

    time: FakeClock
    submits: list[Answer] = field(default_factory=list)
    polls: list[Answer] = field(default_factory=list)
    original_url: str | None = None
    saves: list[tuple[float, httpx.Request]] = field(default_factory=list)
    status_requests: list[tuple[float, httpx.Request]] = field(default_factory=list)
    active: set[str] = field(default_factory=set)
    most_active: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/save":
            self.saves.append((self.time.now, request))
            return self._answer(self.submits, request) or self._accept(request)
        job_id = request.url.path.removeprefix("/save/status/")
        self.status_requests.append((self.time.now, request))
        return self._answer(self.polls, request) or self._done(job_id)

    def form(self, number: int = 0) -> dict[str, str]:
        body = parse_qs(self.saves[number][1].content.decode("ascii"), keep_blank_values=True)
        return {key: values[0] for key, values in body.items()}

    def _answer(self, script: list[Answer], request: httpx.Request) -> httpx.Response | None:
        if not script:
            return None
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def _accept(self, request: httpx.Request) -> httpx.Response:
        job_id = f"spn2-{len(self.saves):040d}"
        self.active.add(job_id)
        self.most_active = max(self.most_active, len(self.active))
        url = self.form(len(self.saves) - 1)["url"]
        return httpx.Response(200, json={"url": url, "job_id": job_id})

    def _done(self, job_id: str) -> httpx.Response:
        self.active.discard(job_id)
        number = int(job_id.removeprefix("spn2-")) - 1
        url = self.original_url or self.form(number)["url"]
        state = {"status": "success", "job_id": job_id, "original_url": url}
        return httpx.Response(200, json=state | {"timestamp": TIMESTAMP, "duration_sec": 6.2})


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(fake_time: FakeClock) -> FakeSpn:
    return FakeSpn(fake_time)


def _limiter(fake_time: FakeClock, **limits: Any) -> SpnLimiter:
    return SpnLimiter(clock=fake_time.time, sleep=fake_time.sleep, **limits)


def _capture(
    fake: FakeSpn, url: str = PAGE, limiter: SpnLimiter | None = None, **kwargs: Any
) -> spn.SpnResult:
    async def run() -> spn.SpnResult:
        transport = httpx.MockTransport(fake)
        async with build_client(timeout=5, transport=transport) as http:
            client = SavePageNow(http, KEYS, limiter or _limiter(fake.time), base_url=BASE)
            return await client.capture(url, **kwargs)

    return asyncio.run(run())


def _error(code: str, message: str = "it failed") -> dict[str, Any]:
    return {"status": "error", "status_ext": code, "message": message}


# --- the request and the result --------------------------------------------------------------


def test_capture_posts_the_documented_request_and_returns_the_archive_url(fake: FakeSpn) -> None:
    fake.original_url = REDIRECTED

    result = _capture(fake)

    assert result == SpnCapture(
        url=PAGE,
        original_url=REDIRECTED,
        timestamp=TIMESTAMP,
        captured_at=datetime(2021, 8, 20, 9, 30, tzinfo=UTC),
        archive_url=f"{BASE}/web/{TIMESTAMP}/{REDIRECTED}",
        job_id=f"spn2-{1:040d}",
    )
    (_, save), (_, status) = fake.saves[0], fake.status_requests[0]
    assert (save.method, save.url) == ("POST", httpx.URL(f"{BASE}/save"))
    for request in (save, status):
        assert request.headers["authorization"] == "LOW access:s3cr3t"
        assert request.headers["accept"] == "application/json"
    assert save.headers["content-type"] == "application/x-www-form-urlencoded"
    assert fake.form() == {
        "url": PAGE,
        "capture_all": "1",
        "skip_first_archive": "1",
        "if_not_archived_within": "1",
    }
    assert status.url == httpx.URL(f"{BASE}/save/status/spn2-{1:040d}")


@pytest.mark.parametrize(
    ("seen_ago", "window"),
    [(None, 1), (timedelta(0), 1), (timedelta(minutes=90), 5400)],
    ids=["not-given", "just-now", "90-minutes-ago"],
)
def test_reuse_window_reaches_back_only_to_when_the_change_was_seen(
    fake: FakeSpn, seen_ago: timedelta | None, window: int
) -> None:
    observed_at = None if seen_ago is None else datetime.now(UTC) - seen_ago

    _capture(fake, observed_at=observed_at)

    assert window <= int(fake.form()["if_not_archived_within"]) <= window + 5


def test_pending_capture_is_polled_at_growing_intervals_until_done(fake: FakeSpn) -> None:
    fake.polls = [{"status": "pending", "job_id": "x", "resources": []}] * 3

    assert isinstance(_capture(fake), SpnCapture)

    assert len(fake.status_requests) == 4
    assert fake.time.sleeps == [POLL_FIRST, POLL_FIRST * 1.5, POLL_FIRST * 2.25, POLL_FIRST * 3.375]


def test_failed_status_polls_are_tolerated_until_the_capture_is_done(fake: FakeSpn) -> None:
    fake.polls = [httpx.Response(502), httpx.ConnectError("reset"), httpx.Response(200, text="<")]

    assert isinstance(_capture(fake), SpnCapture)


# --- failures are values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("error:not-found", False),
        ("error:blocked-url", False),
        ("error:no-browsers-available", True),
        ("error:soft-time-limit-exceeded", True),
        ("error:something-new", False),
    ],
    ids=["not-found", "blocked-url", "no-browsers", "time-limit", "unknown-code"],
)
def test_capture_error_is_returned_with_its_code_message_and_job(
    fake: FakeSpn, code: str, retryable: bool
) -> None:
    fake.polls = [_error(code, "Target URL not found")]

    result = _capture(fake)

    job_id = f"spn2-{1:040d}"
    assert result == SpnFailure(PAGE, code, "Target URL not found", retryable, job_id)
    assert result.describe() == f"{code}: Target URL not found"


def test_refused_submission_is_returned_without_polling(fake: FakeSpn) -> None:
    fake.submits = [_error("error:too-many-daily-captures", "captured 5 times today")]

    result = _capture(fake)

    code = "error:too-many-daily-captures"
    assert result == SpnFailure(PAGE, code, "captured 5 times today", retryable=True)
    assert (len(fake.saves), fake.status_requests) == (1, [])


def test_session_limit_waits_for_a_session_then_submits_again(fake: FakeSpn) -> None:
    fake.submits = [_error("error:user-session-limit")]

    assert isinstance(_capture(fake), SpnCapture)

    (first, _), (second, _) = fake.saves
    assert second - first == SESSION_LIMIT_WAIT


def test_429_pauses_every_spn_request_for_the_longer_of_pause_and_retry_after(
    fake: FakeSpn,
) -> None:
    fake.submits = [httpx.Response(429, headers={"Retry-After": "600"})]

    assert isinstance(_capture(fake), SpnCapture)

    (first, _), (second, _) = fake.saves
    assert second - first == 600
    assert PAUSE_AFTER_429 < 600


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (httpx.Response(429), "http-429"),
        (httpx.Response(503), "http-503"),
        (httpx.ConnectError("refused"), "monitor:network"),
        (httpx.ReadTimeout("slow"), "monitor:network"),
        (_error("error:user-session-limit"), "error:user-session-limit"),
    ],
    ids=["429", "503", "refused", "timeout", "session-limit"],
)
def test_refusals_that_persist_end_as_a_retryable_failure(
    fake: FakeSpn, answer: Answer, code: str
) -> None:
    fake.submits = [answer] * SUBMIT_ATTEMPTS

    result = _capture(fake)

    assert isinstance(result, SpnFailure)
    assert (result.code, result.retryable, result.job_id) == (code, True, None)
    assert len(fake.saves) == SUBMIT_ATTEMPTS


def test_rejected_keys_fail_at_once_with_spns_message(fake: FakeSpn) -> None:
    message = "You need to be logged in to use Save Page Now."
    fake.submits = [httpx.Response(401, json={"message": message})]

    result = _capture(fake)

    assert result == SpnFailure(PAGE, "http-401", f"HTTP 401 Unauthorized: {message}", False)
    assert len(fake.saves) == 1


def test_capture_still_pending_at_the_deadline_is_reported_with_its_job(fake: FakeSpn) -> None:
    fake.polls = [{"status": "pending"}] * 100

    result = _capture(fake)

    assert isinstance(result, SpnFailure)
    assert (result.code, result.retryable) == ("monitor:pending-timeout", True)
    assert result.job_id == f"spn2-{1:040d}"
    assert POLL_DEADLINE <= sum(fake.time.sleeps) < POLL_DEADLINE + 30


@pytest.mark.parametrize(
    ("submits", "polls"),
    [
        ([httpx.Response(200, text="<html>Save Page Now</html>")], []),
        ([{"url": PAGE}], []),
        ([], [{"status": "success", "job_id": "x", "timestamp": "2021"}]),
    ],
    ids=["html-answer", "no-job-id", "success-without-timestamp"],
)
def test_unexpected_answers_are_failures_not_exceptions(
    fake: FakeSpn, submits: list[Answer], polls: list[Answer]
) -> None:
    fake.submits, fake.polls = submits, polls

    assert isinstance(_capture(fake), SpnFailure)


# --- the limits ------------------------------------------------------------------------------


def test_submissions_are_spaced_by_the_per_minute_limit(fake: FakeSpn) -> None:
    limiter = _limiter(fake.time)
    for _ in range(3):
        _capture(fake, limiter=limiter)

    times = [moment for moment, _ in fake.saves]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == [60 / CAPTURES_PER_MINUTE] * 2


def test_concurrent_captures_never_hold_more_sessions_than_allowed(fake: FakeSpn) -> None:
    limiter = _limiter(fake.time, concurrent=2, per_minute=600)

    async def run() -> list[spn.SpnResult]:
        async with build_client(timeout=5, transport=httpx.MockTransport(fake)) as http:
            client = SavePageNow(http, KEYS, limiter, base_url=BASE)
            urls = [f"https://site{n}.example/" for n in range(6)]
            return list(await asyncio.gather(*(client.capture(url) for url in urls)))

    results = asyncio.run(run())

    assert all(isinstance(result, SpnCapture) for result in results)
    assert fake.most_active == 2


def test_daily_budget_stops_submissions_until_the_next_utc_day(fake: FakeSpn) -> None:
    day = [date(2024, 1, 1)]
    limiter = _limiter(fake.time, daily_budget=2, today=lambda: day[0])

    results = [_capture(fake, limiter=limiter) for _ in range(3)]
    day[0] = date(2024, 1, 2)
    results.append(_capture(fake, limiter=limiter))

    assert [type(result) for result in results] == [SpnCapture, SpnCapture, SpnFailure, SpnCapture]
    assert isinstance(results[2], SpnFailure)
    assert results[2].code == "monitor:daily-budget"
    assert len(fake.saves) == 3


# --- credentials -----------------------------------------------------------------------------


@pytest.fixture
def fresh_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not yet said SPN is off."""
    monkeypatch.setattr(spn, "_MISSING_CREDENTIALS", spn._Notice())


@pytest.mark.usefixtures("fresh_notice")
def test_missing_keys_are_reported_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    http = httpx.AsyncClient()
    with caplog.at_level(logging.WARNING, logger="monitor.spn"):
        clients = [SavePageNow.from_settings(http, SpnLimiter(), Settings()) for _ in range(3)]

    assert clients == [None, None, None]
    assert spn.missing_credentials_reported()
    assert len(caplog.records) == 1
    assert "MONITOR_SPN_ACCESS_KEY and MONITOR_SPN_SECRET_KEY not set" in caplog.text


@pytest.mark.usefixtures("fresh_notice")
@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (Settings(spn_access_key="access"), "MONITOR_SPN_SECRET_KEY not set"),
        (Settings(spn_secret_key="s3cr3t"), "MONITOR_SPN_ACCESS_KEY not set"),
    ],
    ids=["secret-missing", "access-missing"],
)
def test_a_single_missing_key_is_named(
    caplog: pytest.LogCaptureFixture, settings: Settings, named: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.spn"):
        assert spn.credentials(settings) is None

    assert named in caplog.text
    assert "s3cr3t" not in caplog.text


@pytest.mark.usefixtures("fresh_notice")
def test_configured_keys_make_a_client_on_the_configured_base_without_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(spn_access_key="access", spn_secret_key="s3cr3t", spn_url=BASE + "/")

    client = SavePageNow.from_settings(httpx.AsyncClient(), SpnLimiter(), settings)

    assert client is not None
    assert client.base_url == BASE
    assert not spn.missing_credentials_reported()
    assert caplog.records == []
    assert "s3cr3t" not in repr(spn.credentials(settings))
