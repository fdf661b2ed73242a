"""Save Page Now 2: preserve a changed page in the Wayback Machine before it can be denied.

The API, as the Internet Archive's "Save Page Now 2 Public API Docs" (Vangelis Banos,
updated 2025-10-22) states it:

- ``POST {base}/save`` with ``Authorization: LOW accesskey:secret``, ``Accept:
  application/json`` and form fields: ``url`` and options, which are on only when ``1``
  ("01" or "True" mean off).  The answer is ``{"url", "job_id"}``, or ``{"status": "error",
  "status_ext": "error:...", "message"}`` when the capture is refused.
- ``GET {base}/save/status/<job_id>`` answers ``{"status": "pending"}`` until ``"success"``
  (with ``timestamp`` and ``original_url``, the URL after redirects) or ``"error"`` (with
  ``status_ext`` and ``message``).  Status is kept for about an hour.
- The capture is then at ``{base}/web/<timestamp>/<original_url>``.
- Limits: 7 captures a minute and 30,000 a day for an authenticated account, a cap on its
  concurrent capture sessions (``error:user-session-limit``), 5 captures a day of one URL
  (``error:too-many-daily-captures``), and at most 2 minutes per capture.

Every capture of the process goes through one :class:`SpnLimiter`, which keeps those limits
with a margin and pauses everything after a 429.  :meth:`SavePageNow.capture` never raises
for what the archive or the network does: it returns an :class:`SpnCapture` or an
:class:`SpnFailure`, which the caller records on the evidence item.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from monitor.archive import retry_after_seconds
from monitor.cdx import parse_timestamp
from monitor.config import DEFAULT_SPN_URL, Settings

logger = logging.getLogger(__name__)

SAVE_PATH = "/save"
STATUS_PATH = "/save/status/"
# capture_all: after a change a page may answer 4xx or 5xx, and that answer is evidence too
# (SPN keeps only 200s without it).  skip_first_archive: we never need to know whether the
# capture is the URL's first, and skipping the check makes captures faster (SPN's own tip).
CAPTURE_OPTIONS = (("capture_all", "1"), ("skip_first_archive", "1"))
# Smallest reuse window sent as if_not_archived_within; see _reuse_window.
MIN_REUSE_WINDOW = 1

# The documented limit is 7 captures a minute per account; one less leaves room for other
# tools the same account may run.
CAPTURES_PER_MINUTE = 6
# SPN caps an account's concurrent capture sessions (about a dozen); a capture holds its
# session until it ends, so a few at a time keep us well under the cap.
MAX_CONCURRENT_CAPTURES = 4
# The documented daily cap is 30,000 captures per account; stop short of it so a runaway
# loop cannot spend the account's whole allowance.
DAILY_CAPTURE_BUDGET = 25_000
# After a 429 from SPN itself, no SPN request starts for this long (or Retry-After if longer).
PAUSE_AFTER_429 = 60.0
# error:user-session-limit means our own earlier captures still hold the sessions: wait for
# one of them to end, then ask again.
SESSION_LIMIT_WAIT = 30.0
# Submissions tried per capture when the answer says "later" (429, 5xx, timeouts, the
# session limit); each failed try waits BACKOFF_BASE * 2**n seconds, capped at BACKOFF_MAX.
SUBMIT_ATTEMPTS = 4
BACKOFF_BASE = 5.0
BACKOFF_MAX = 60.0
RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))
# Status polling: the documented example polls every 5 s; slower captures are polled less
# often, and one still pending after the deadline (a capture may take 2 minutes, plus
# queueing) is given up and reported.
POLL_FIRST = 5.0
POLL_FACTOR = 1.5
POLL_MAX_INTERVAL = 30.0
POLL_DEADLINE = 300.0

SESSION_LIMIT = "error:user-session-limit"
# status_ext codes that are about when the capture was asked for or about SPN's own state,
# not about the page: a later attempt may succeed, so the caller may submit again.
RETRYABLE_ERRORS = frozenset(
    {
        SESSION_LIMIT,
        "error:too-many-daily-captures",
        "error:too-many-requests",
        "error:bad-gateway",
        "error:browsing-timeout",
        "error:cannot-fetch",
        "error:capture-location-error",
        "error:celery",
        "error:gateway-timeout",
        "error:internal-server-error",
        "error:job-failed",
        "error:no-browsers-available",
        "error:proxy-error",
        "error:read-timeout",
        "error:service-unavailable",
        "error:soft-time-limit-exceeded",
    }
)
# Codes for failures this module finds itself (SPN's own start with "error:").
DAILY_BUDGET_SPENT = "monitor:daily-budget"
PENDING_TIMEOUT = "monitor:pending-timeout"
NETWORK_ERROR = "monitor:network"
UNREADABLE_ANSWER = "monitor:unreadable-answer"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Today = Callable[[], date]


def _utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class SpnCredentials:
    """An archive.org account's S3-style keys; the secret stays out of ``repr``."""

    access_key: str
    secret_key: str = field(repr=False)

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value SPN2 expects."""
        return f"LOW {self.access_key}:{self.secret_key}"


@dataclass(frozen=True)
class SpnCapture:
    """A page SPN captured: where the archive now holds it."""

    url: str  # as submitted
    original_url: str  # as SPN fetched it, after redirects
    timestamp: str  # 14 digits, UTC
    captured_at: datetime
    archive_url: str  # {base}/web/<timestamp>/<original_url>
    job_id: str


@dataclass(frozen=True)
class SpnFailure:
    """A capture that did not happen, and why; ``retryable`` says a later attempt may work.

    ``code`` is SPN's ``status_ext`` (``error:not-found``), ``http-<status>`` for an HTTP
    answer, or ``monitor:...`` for what this module decided (a spent budget, a timeout).
    """

    url: str
    code: str
    message: str
    retryable: bool
    job_id: str | None = None

    def describe(self) -> str:
        """One line for the evidence item's ``archive_copy_error``."""
        return f"{self.code}: {self.message}"


SpnResult = SpnCapture | SpnFailure


@dataclass
class _Notice:
    given: bool = False


# Said once per process: a daemon without keys would otherwise repeat it on every change.
_MISSING_CREDENTIALS = _Notice()


def credentials(settings: Settings) -> SpnCredentials | None:
    """The SPN keys from the settings, or None (with one warning per process) when unset."""
    if settings.spn_access_key and settings.spn_secret_key:
        return SpnCredentials(settings.spn_access_key, settings.spn_secret_key)
    if not _MISSING_CREDENTIALS.given:
        _MISSING_CREDENTIALS.given = True
        missing = [
            variable
            for variable, value in (
                ("MONITOR_SPN_ACCESS_KEY", settings.spn_access_key),
                ("MONITOR_SPN_SECRET_KEY", settings.spn_secret_key),
            )
            if not value
        ]
        logger.warning(
            "Save Page Now is off: %s not set; changed pages will not be preserved in the "
            "Wayback Machine (keys: https://archive.org/account/s3.php)",
            " and ".join(missing),
        )
    return None


def missing_credentials_reported() -> bool:
    """True once :func:`credentials` has warned that SPN is off in this process."""
    return _MISSING_CREDENTIALS.given


class SpnLimiter:
    """SPN's per-account limits for the whole process: create one, share it.

    It holds a capture session for each capture (at most ``concurrent`` at once), spaces
    submissions ``60 / per_minute`` seconds apart, counts them against a daily budget (UTC
    days), and after a 429 holds every SPN request for the pause.  Clock, sleep and date are
    injected so tests check the spacing without waiting.
    """

    def __init__(
        self,
        *,
        per_minute: float = CAPTURES_PER_MINUTE,
        concurrent: int = MAX_CONCURRENT_CAPTURES,
        daily_budget: int = DAILY_CAPTURE_BUDGET,
        pause_after_429: float = PAUSE_AFTER_429,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        today: Today = _utc_today,
    ) -> None:
        if per_minute <= 0 or concurrent <= 0 or daily_budget < 0 or pause_after_429 < 0:
            raise ValueError("SPN limits must be positive")
        self.interval = 60.0 / per_minute
        self.daily_budget = daily_budget
        self.pause_after_429 = pause_after_429
        self._sessions = asyncio.Semaphore(concurrent)
        self._clock = clock
        self._sleep = sleep
        self._today = today
        self._next_submit = float("-inf")
        self._paused_until = float("-inf")
        self._day: date | None = None
        self._submitted_today = 0

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Hold one of the account's capture sessions for a whole capture."""
        async with self._sessions:
            yield

    async def submission(self) -> bool:
        """Wait for the next submission slot; False when today's budget is spent."""
        if self._today() != self._day:
            self._day, self._submitted_today = self._today(), 0
        if self._submitted_today >= self.daily_budget:
            return False
        while (start := max(self._next_submit, self._paused_until)) > self._clock():
            await self._sleep(start - self._clock())
        self._next_submit = self._clock() + self.interval
        self._submitted_today += 1
        return True

    async def request(self) -> None:
        """Wait out a 429 pause before any other SPN request (status polls)."""
        while self._paused_until > self._clock():
            await self._sleep(self._paused_until - self._clock())

    def pause(self, retry_after: float | None = None) -> float:
        """Hold every SPN request after a 429; return the pause applied."""
        seconds = max(self.pause_after_429, retry_after or 0.0)
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        return seconds

    def now(self) -> float:
        """The limiter's clock."""
        return self._clock()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the injected sleep (backoff and polling)."""
        await self._sleep(seconds)


@dataclass(frozen=True)
class _Retry:
    """A submission to try again: after ``wait`` seconds, or the backoff when None.

    A wait of 0 follows a 429, after which the limiter's pause is the wait.
    """

    failure: SpnFailure
    wait: float | None = None


class SavePageNow:
    """Submits pages to SPN2 and waits for their captures; build one per process."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: SpnCredentials,
        limiter: SpnLimiter,
        *,
        base_url: str = DEFAULT_SPN_URL,
    ) -> None:
        self._http = http
        self._limiter = limiter
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": credentials.authorization,
            "Accept": "application/json",
        }

    @classmethod
    def from_settings(
        cls, http: httpx.AsyncClient, limiter: SpnLimiter, settings: Settings
    ) -> SavePageNow | None:
        """The client the settings ask for, or None when SPN keys are not configured."""
        keys = credentials(settings)
        return None if keys is None else cls(http, keys, limiter, base_url=settings.spn_url)

    async def capture(self, url: str, *, observed_at: datetime | None = None) -> SpnResult:
        """Capture ``url`` now and wait for the result.

        ``observed_at`` is when we saw the page change: an archive capture made since then
        is reused instead of spending another (SPN allows 5 a day per URL); one made before
        it may show the old page, so it is never reused.
        """
        async with self._limiter.session():
            submitted = await self._submit(url, _reuse_window(observed_at))
            if isinstance(submitted, SpnFailure):
                return submitted
            return await self._wait(url, submitted)

    def archive_url(self, timestamp: str, original_url: str) -> str:
        """Where the archive plays a capture back."""
        return f"{self.base_url}/web/{timestamp}/{original_url}"

    async def _submit(self, url: str, reuse_window: int) -> str | SpnFailure:
        """The job id of an accepted submission, or why SPN would not take it."""
        form = {"url": url, **dict(CAPTURE_OPTIONS), "if_not_archived_within": str(reuse_window)}
        attempt = 0
        while True:
            if not await self._limiter.submission():
                why = f"the daily budget of {self._limiter.daily_budget} captures is spent"
                return SpnFailure(url, DAILY_BUDGET_SPENT, why, retryable=True)
            outcome = await self._submit_once(url, form)
            if not isinstance(outcome, _Retry):
                return outcome
            attempt += 1
            logger.info("SPN refused %s (try %d): %s", url, attempt, outcome.failure.describe())
            if attempt >= SUBMIT_ATTEMPTS:
                return outcome.failure
            await self._limiter.sleep(_backoff(attempt) if outcome.wait is None else outcome.wait)

    async def _submit_once(self, url: str, form: dict[str, str]) -> str | SpnFailure | _Retry:
        try:
            response = await self._http.post(
                self.base_url + SAVE_PATH, data=form, headers=self._headers
            )
        except httpx.HTTPError as exc:
            return _Retry(SpnFailure(url, NETWORK_ERROR, _network_why(exc), retryable=True))
        http_failure = self._http_failure(url, response)
        if http_failure is not None:
            return http_failure
        answer = _json_object(response)
        if answer is None:
            return SpnFailure(url, UNREADABLE_ANSWER, "the answer to /save is not JSON", True)
        job_id = answer.get("job_id")
        if isinstance(job_id, str) and job_id:
            return job_id
        failure = _spn_error(url, answer, job_id=None)
        return _Retry(failure, SESSION_LIMIT_WAIT) if failure.code == SESSION_LIMIT else failure

    def _http_failure(self, url: str, response: httpx.Response) -> SpnFailure | _Retry | None:
        """What an HTTP status other than 200 means for a submission."""
        status = response.status_code
        if status == 200:
            return None
        failure = SpnFailure(url, f"http-{status}", _status_why(response), retryable=True)
        if status == 429:
            seconds = self._limiter.pause(retry_after_seconds(response.headers))
            logger.warning("SPN answered 429: pausing all SPN requests %.0f s", seconds)
            return _Retry(failure, 0.0)
        if status in RETRYABLE_STATUSES:
            return _Retry(failure)
        return SpnFailure(url, failure.code, failure.message, retryable=False)

    async def _wait(self, url: str, job_id: str) -> SpnResult:
        """Poll the job until it succeeds, fails, or outlasts the deadline."""
        started = self._limiter.now()
        interval = POLL_FIRST
        last_problem = ""
        while self._limiter.now() - started < POLL_DEADLINE:
            await self._limiter.sleep(interval)
            interval = min(interval * POLL_FACTOR, POLL_MAX_INTERVAL)
            state = await self._status(url, job_id)
            if isinstance(state, SpnFailure):
                last_problem = f"; last status request: {state.describe()}"
                continue
            if state.get("status") == "success":
                return self._captured(url, job_id, state)
            if state.get("status") == "error":
                return _spn_error(url, state, job_id=job_id)
        why = f"still pending after {POLL_DEADLINE:.0f} s{last_problem}"
        return SpnFailure(url, PENDING_TIMEOUT, why, retryable=True, job_id=job_id)

    async def _status(self, url: str, job_id: str) -> dict[str, Any] | SpnFailure:
        """The job's status object, or why this one poll failed (the next may work)."""
        await self._limiter.request()
        try:
            response = await self._http.get(
                self.base_url + STATUS_PATH + job_id, headers=self._headers
            )
        except httpx.HTTPError as exc:
            return SpnFailure(url, NETWORK_ERROR, _network_why(exc), True, job_id)
        if response.status_code == 429:
            self._limiter.pause(retry_after_seconds(response.headers))
        if response.status_code != 200:
            code = f"http-{response.status_code}"
            return SpnFailure(url, code, _status_why(response), True, job_id)
        answer = _json_object(response)
        if answer is None:
            return SpnFailure(url, UNREADABLE_ANSWER, "status answer is not JSON", True, job_id)
        return answer

    def _captured(self, url: str, job_id: str, state: dict[str, Any]) -> SpnResult:
        timestamp = state.get("timestamp")
        original = state.get("original_url")
        original_url = original if isinstance(original, str) and original else url
        captured_at = parse_timestamp(timestamp) if isinstance(timestamp, str) else None
        if captured_at is None or not isinstance(timestamp, str):
            why = f"success without a 14-digit timestamp: {timestamp!r}"
            return SpnFailure(url, UNREADABLE_ANSWER, why, retryable=True, job_id=job_id)
        return SpnCapture(
            url=url,
            original_url=original_url,
            timestamp=timestamp,
            captured_at=captured_at,
            archive_url=self.archive_url(timestamp, original_url),
            job_id=job_id,
        )


def _reuse_window(observed_at: datetime | None) -> int:
    """Seconds sent as ``if_not_archived_within``: the time since the change was seen.

    SPN reuses a capture younger than the window instead of making one.  SPN's default
    window is an hour, which could hand back a capture of the page before it changed; a
    window no longer than the time since our own observation only reuses captures made
    after it, which show the changed page too.
    """
    if observed_at is None:
        return MIN_REUSE_WINDOW
    elapsed = (datetime.now(UTC) - observed_at.astimezone(UTC)).total_seconds()
    return max(MIN_REUSE_WINDOW, int(elapsed))


def _spn_error(url: str, answer: dict[str, Any], job_id: str | None) -> SpnFailure:
    code = str(answer.get("status_ext") or "error:unknown")
    message = str(answer.get("message") or answer.get("exception") or "no message")
    return SpnFailure(url, code, message, retryable=code in RETRYABLE_ERRORS, job_id=job_id)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _status_why(response: httpx.Response) -> str:
    """``HTTP 401 Unauthorized``, with SPN's own message when its answer carries one."""
    why = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    answer = _json_object(response)
    message = answer.get("message") if answer else None
    return f"{why}: {message}" if isinstance(message, str) and message else why


def _network_why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _backoff(retries: int) -> float:
    """Seconds before the next submission after ``retries`` failed ones (1, 2, ...)."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (retries - 1))
