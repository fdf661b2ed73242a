"""The one rate limiter every archive request of the process goes through.

The Internet Archive counts requests per IP, not per client object, so a single
:class:`ArchiveLimiter` is created once per process and handed to every
:class:`monitor.archive.WaybackClient`.  It keeps two spacings (CDX searches are rationed
far more tightly than mementos) and one shared pause: after any live 429, from either
endpoint, no archive request starts until the pause is over, because a client that keeps
going after a 429 gets its IP refused for an hour, doubling on repeat.

The clock and the sleep are injected so tests can check the spacing exactly without
waiting; production uses :func:`time.monotonic` and :func:`asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable

from monitor.config import (
    DEFAULT_CDX_RATE,
    DEFAULT_MEMENTO_RATE,
    DEFAULT_PAUSE_AFTER_429,
    Settings,
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RequestKind(enum.Enum):
    """Which of the archive's rations a request draws on."""

    CDX = "cdx"
    MEMENTO = "memento"


class ArchiveLimiter:
    """Spaces archive requests per kind and pauses all of them after a live 429.

    Waiters re-check after every sleep instead of reserving a slot in advance: a 429 that
    arrives while they sleep must hold them too, and after a pause they start one interval
    apart again rather than all at once.
    """

    def __init__(
        self,
        *,
        cdx_rate: float = DEFAULT_CDX_RATE,
        memento_rate: float = DEFAULT_MEMENTO_RATE,
        pause_after_429: float = DEFAULT_PAUSE_AFTER_429,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if cdx_rate <= 0 or memento_rate <= 0:
            raise ValueError("archive request rates must be greater than 0")
        if pause_after_429 < 0:
            raise ValueError("the pause after a 429 must not be negative")
        self.intervals = {RequestKind.CDX: 1 / cdx_rate, RequestKind.MEMENTO: 1 / memento_rate}
        self.pause_after_429 = pause_after_429
        self._clock = clock
        self._sleep = sleep
        self._next_start = {kind: float("-inf") for kind in RequestKind}
        self._paused_until = float("-inf")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> ArchiveLimiter:
        """The limiter the settings ask for; build it once per process."""
        return cls(
            cdx_rate=settings.archive_cdx_rate,
            memento_rate=settings.archive_memento_rate,
            pause_after_429=settings.archive_pause_after_429,
            clock=clock,
            sleep=sleep,
        )

    @property
    def paused_until(self) -> float:
        """Clock time before which no archive request starts (``-inf`` if never paused)."""
        return self._paused_until

    def now(self) -> float:
        """The limiter's clock, for callers that log or measure against it."""
        return self._clock()

    async def acquire(self, kind: RequestKind) -> float:
        """Wait until a request of ``kind`` may start; return the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            start = max(self._next_start[kind], self._paused_until)
            if start <= now:
                self._next_start[kind] = now + self.intervals[kind]
                return waited
            await self._sleep(start - now)
            waited += start - now

    def pause(self, retry_after: float | None = None) -> float:
        """Hold every archive request after a live 429; return the pause applied.

        The pause is at least ``pause_after_429`` seconds, longer if the archive's
        ``Retry-After`` asks for more, and never shortens a pause already running.
        """
        seconds = max(self.pause_after_429, retry_after or 0.0)
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        return seconds

    async def sleep(self, seconds: float) -> None:
        """Sleep on the limiter's injected sleep (used for retry backoff)."""
        await self._sleep(seconds)
