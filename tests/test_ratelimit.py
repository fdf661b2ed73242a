"""The process-wide archive limiter: spacing per kind, the shared pause after a 429."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from monitor.config import Settings
from monitor.ratelimit import ArchiveLimiter, RequestKind

pytestmark = pytest.mark.anyio

CDX, MEMENTO = RequestKind.CDX, RequestKind.MEMENTO


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class GatedClock(FakeClock):
    """A fake clock whose sleepers wake only when the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.sleeping = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        started = self.now
        self.sleeping.set()
        await self.gate.wait()
        self.now = max(self.now, started + seconds)


def make_limiter(clock: FakeClock, pause: float = 60.0) -> ArchiveLimiter:
    return ArchiveLimiter(
        cdx_rate=0.4, memento_rate=8.0, pause_after_429=pause, clock=clock.time, sleep=clock.sleep
    )


async def start_times(
    limiter: ArchiveLimiter, clock: FakeClock, kinds: list[RequestKind]
) -> list[float]:
    times = []
    for kind in kinds:
        await limiter.acquire(kind)
        times.append(clock.now)
    return times


async def test_requests_of_one_kind_start_one_interval_apart() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    times = await start_times(limiter, clock, [CDX] * 4)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == [pytest.approx(1 / 0.4)] * 3
    assert times[0] == 0.0


async def test_memento_requests_do_not_wait_for_the_cdx_interval() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    await limiter.acquire(CDX)
    times = await start_times(limiter, clock, [MEMENTO] * 3)
    assert times == pytest.approx([0.0, 1 / 8, 2 / 8])


@pytest.mark.parametrize(
    ("retry_after", "expected_pause"),
    [(None, 60.0), (5.0, 60.0), (120.0, 120.0)],
    ids=["no-retry-after", "shorter-retry-after-ignored", "longer-retry-after-honoured"],
)
async def test_pause_holds_every_kind(retry_after: float | None, expected_pause: float) -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    await limiter.acquire(CDX)
    assert limiter.pause(retry_after) == expected_pause
    times = await start_times(limiter, clock, [MEMENTO, CDX])
    assert times[0] == pytest.approx(expected_pause)
    assert min(times) >= expected_pause


async def test_a_later_shorter_pause_does_not_shorten_a_running_one() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    limiter.pause(300.0)
    limiter.pause(None)
    assert limiter.paused_until == pytest.approx(300.0)


async def test_waiters_resume_one_interval_apart_after_a_pause() -> None:
    clock = FakeClock()
    limiter = make_limiter(clock)
    limiter.pause()
    times = await start_times(limiter, clock, [MEMENTO] * 3)
    assert times == pytest.approx([60.0, 60.0 + 1 / 8, 60.0 + 2 / 8])


async def test_a_request_already_waiting_is_held_by_a_pause_that_starts_meanwhile() -> None:
    clock = GatedClock()
    limiter = make_limiter(clock)
    await limiter.acquire(MEMENTO)
    waiter = asyncio.create_task(limiter.acquire(MEMENTO))
    await clock.sleeping.wait()  # the waiter sleeps out the memento interval...
    limiter.pause()  # ...when another task's request meets a 429
    clock.gate.set()
    waited = await waiter
    assert clock.now >= 60.0
    assert waited == pytest.approx(60.0)


async def test_from_settings_uses_the_configured_rates() -> None:
    settings = Settings(archive_cdx_rate=2.0, archive_memento_rate=4.0, archive_pause_after_429=7)
    limiter = ArchiveLimiter.from_settings(settings)
    assert limiter.intervals == {CDX: 0.5, MEMENTO: 0.25}
    assert limiter.pause_after_429 == 7


@pytest.mark.parametrize(
    ("cdx_rate", "memento_rate", "pause"),
    [(0.0, 8.0, 60.0), (0.4, -1.0, 60.0), (0.4, 8.0, -1.0)],
    ids=["zero-cdx-rate", "negative-memento-rate", "negative-pause"],
)
def test_rejects_impossible_limits(cdx_rate: float, memento_rate: float, pause: float) -> None:
    with pytest.raises(ValueError, match="must"):
        ArchiveLimiter(cdx_rate=cdx_rate, memento_rate=memento_rate, pause_after_429=pause)


async def test_real_time_spacing_holds_with_tiny_rates() -> None:
    limiter = ArchiveLimiter(cdx_rate=50.0, memento_rate=100.0, pause_after_429=0.05)
    starts = []
    for _ in range(4):
        await limiter.acquire(CDX)
        starts.append(time.monotonic())
    limiter.pause()
    paused_at = time.monotonic()
    await limiter.acquire(MEMENTO)
    resumed_at = time.monotonic()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 50
    assert resumed_at - paused_at >= 0.05
