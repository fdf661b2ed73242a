"""``monitor run``: the daemon that checks every watched site on its own interval.

Wiring only: the checks are :mod:`monitor.check`'s (the same function as ``monitor check``),
the archive sweeps :mod:`monitor.backfill`'s, the schedule APScheduler 3's
``AsyncIOScheduler`` on the daemon's event loop.  Per enabled site, two jobs:

``check:<site>``
    every ``interval`` (the site's, else ``[settings]``), plus up to a tenth of it as jitter
    so that a thousand sites do not fire at once.  A restarted daemon resumes each site's
    rhythm from the check log; runs missed while it was down (or while the loop was busy)
    are coalesced into one.  A run never overlaps the one before (``max_instances=1``).
``sweep:<site>``
    every ``archive_interval`` (default daily): an incremental backfill of each URL from the
    newest readable Wayback Machine capture in the store (the whole history when there is
    none), through the process's one archive limiter.  The changes an incremental sweep
    records are alerted like those of a check.

And one job for the process, ``alerts``, at start and every :data:`ALERT_ROUNDS` seconds:
the alerts still owed (:mod:`monitor.outbox`), those of a daemon stopped before it sent them
and those a target refused.

The watchlist is read again when its modification time changes (looked at every
:data:`WATCH_POLL` seconds) or on SIGHUP: jobs are added, removed or rescheduled; a watchlist
that no longer loads is logged and the one before kept.  Each check writes one JSON line to
the ``monitor.checks`` logger; each sweep one to ``monitor.sweeps``.

SIGTERM or SIGINT stops the scheduling; checks in flight get ``shutdown_grace`` seconds to
finish and are then abandoned.  Nothing half-written is left behind: each capture is stored
in its own transaction (by a worker thread that finishes the one it is in), and a Save Page
Now request cut short is recorded on its changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import backfill, watchlist
from monitor.archive import WaybackClient, open_wayback
from monitor.check import Checker, open_checker
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.models import CaptureSource
from monitor.ratelimit import ArchiveLimiter
from monitor.spn import SpnLimiter
from monitor.status import url_states
from monitor.store import Store, latest_readable, sync_sites
from monitor.watchlist import Site, Watchlist

logger = logging.getLogger(__name__)
CHECK_LOG = logging.getLogger("monitor.checks")
SWEEP_LOG = logging.getLogger("monitor.sweeps")

WATCH_POLL = 5.0  # seconds between looks at the watchlist's modification time
JITTER_FRACTION = 0.1  # each run is delayed by up to this share of the interval
# Sites never checked (or overdue) start within this many seconds of the daemon, spread out;
# the Docker HEALTHCHECK's start period (2 minutes) covers it.
FIRST_RUN_SPREAD = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Seconds between rounds of the alerts still owed (monitor.outbox): those of a daemon stopped
# before it sent them (the first round runs at start) and those a target refused.
ALERT_ROUNDS = 600.0

Settle = Callable[[Watchlist], Settings]


def first_run(
    last_check: datetime | None, interval: float, now: datetime, spread: float
) -> datetime:
    """When a site's first check in this process runs (pure).

    One interval after its last check (``None``: one of its URLs was never checked); when
    that is past, ``spread`` seconds from now (at most one interval): missed runs coalesce
    into this one, and the callers' random spreads keep sites from starting all at once.
    """
    if last_check is not None:
        due = last_check + timedelta(seconds=interval)
        if due > now:
            return due
    return now + timedelta(seconds=min(spread, interval))


def trigger(interval: float) -> IntervalTrigger:
    """Every ``interval`` seconds, each run delayed by up to a tenth of it."""
    return IntervalTrigger(seconds=interval, jitter=interval * JITTER_FRACTION)


class Daemon:
    """The scheduler, the jobs of the watched sites, and the work in flight.

    ``settle`` turns a loaded watchlist into settings (flags, environment, its
    ``[settings]``); the process-wide ones (store, fetch bounds, rates) are those of the first
    watchlist, the intervals those of the newest.  ``transport`` and ``archive_transport``
    replace the network, ``spn_limiter`` Save Page Now's pacing (tests).
    """

    def __init__(
        self,
        store: Store,
        watchlist_path: Path,
        settle: Settle,
        *,
        watch_poll: float = WATCH_POLL,
        handle_signals: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        archive_transport: httpx.AsyncBaseTransport | None = None,
        spn_limiter: SpnLimiter | None = None,
    ) -> None:
        self.store = store
        self.path = watchlist_path
        self._settle = settle
        self._watch_poll = watch_poll
        self._handle_signals = handle_signals
        self._transport = transport
        self._archive_transport = archive_transport
        self._spn_limiter = spn_limiter
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[None]] = set()
        self._sites: dict[str, Site] = {}
        self._stopping = False
        self._mtime: int | None = None
        self._checker: Checker
        self._wayback: WaybackClient
        self._watchlist: Watchlist
        self._settings: Settings

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or a stop signal arrives; then shut down cleanly.

        Raises :class:`~monitor.errors.WatchlistError` when the watchlist does not load at
        start (later, a bad watchlist is logged and the old one kept).
        """
        stop = stop or asyncio.Event()
        self._mtime = self._modified()
        self._watchlist = watchlist.load(self.path)
        self._settings = self._settle(self._watchlist)
        with self.store.session() as session:
            sync_sites(session, self._watchlist.sites)
        async with AsyncExitStack() as stack:
            self._checker = await stack.enter_async_context(self._open_checker())
            self._wayback = await stack.enter_async_context(self._open_wayback())
            stack.callback(self._remove_signal_handlers)
            self._install_signal_handlers(stop)
            self._start()
            await stop.wait()
            await self._shut_down()

    # --- starting and stopping -----------------------------------------------------------------

    def _open_checker(self) -> Any:
        return open_checker(
            self.store, self._settings, transport=self._transport, spn_limiter=self._spn_limiter
        )

    def _open_wayback(self) -> Any:
        limiter = ArchiveLimiter.from_settings(self._settings)
        return open_wayback(self._settings, limiter, transport=self._archive_transport)

    def _start(self) -> None:
        self._scheduler.start()
        self._apply(self._watchlist)
        self._scheduler.add_job(
            self._poll_watchlist, trigger=IntervalTrigger(seconds=self._watch_poll), id="watch"
        )
        self._scheduler.add_job(
            self._job,
            trigger=IntervalTrigger(seconds=ALERT_ROUNDS),
            args=[self._send_owed, "*"],
            id="alerts",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
        )
        logger.info(
            "monitoring %d sites (%d URLs); watchlist %s",
            len(self._sites),
            sum(len(site.urls) for site in self._sites.values()),
            self.path,
        )

    async def _shut_down(self) -> None:
        """Stop scheduling, give work in flight its grace period, abandon the rest."""
        self._stopping = True
        self._scheduler.pause()
        await asyncio.sleep(0)  # jobs already handed to the loop start (and see _stopping)
        grace = self._settings.shutdown_grace
        pending = set(self._inflight)
        if pending:
            logger.info("stopping: %d jobs in flight get %g s to finish", len(pending), grace)
            _done, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            logger.warning("stopped: %d jobs abandoned after %g s", len(pending), grace)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # the scheduler shuts down on the loop
        logger.info("stopped")

    def _install_signal_handlers(self, stop: asyncio.Event) -> None:
        if not self._handle_signals:
            return
        loop = asyncio.get_running_loop()
        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, self._on_stop_signal, stop, stop_signal)
        loop.add_signal_handler(signal.SIGHUP, self._reload, "SIGHUP")

    def _remove_signal_handlers(self) -> None:
        if not self._handle_signals:
            return
        loop = asyncio.get_running_loop()
        for handled in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(handled)

    def _on_stop_signal(self, stop: asyncio.Event, received: signal.Signals) -> None:
        logger.info("%s received: stopping", received.name)
        stop.set()

    # --- the watchlist -------------------------------------------------------------------------

    def _modified(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    async def _poll_watchlist(self) -> None:
        modified = self._modified()
        if modified != self._mtime:
            self._mtime = modified
            self._reload("the file changed")

    def _reload(self, why: str) -> None:
        """Load the watchlist again and bring the jobs in line; keep the old one on error."""
        try:
            loaded = watchlist.load(self.path)
            settings = self._settle(loaded)
            with self.store.session() as session:
                sync_sites(session, loaded.sites)
        except MonitorError as exc:
            logger.error("watchlist not reloaded (%s), keeping the previous one: %s", why, exc)
            return
        self._watchlist, self._settings = loaded, settings
        added, removed, rescheduled = self._apply(loaded)
        logger.info(
            "watchlist reloaded (%s): %d sites added, %d removed, %d rescheduled",
            why,
            len(added),
            len(removed),
            len(rescheduled),
        )

    def _apply(self, loaded: Watchlist) -> tuple[list[str], list[str], list[str]]:
        """Add, remove and reschedule jobs so that they match the enabled sites of ``loaded``."""
        wanted = {site.id: site for site in watchlist.find_sites(loaded, [])}
        removed = [site_id for site_id in self._sites if site_id not in wanted]
        for site_id in removed:
            for job_id in (f"check:{site_id}", f"sweep:{site_id}"):
                self._scheduler.remove_job(job_id)
        added = [site_id for site_id in wanted if site_id not in self._sites]
        self._schedule([wanted[site_id] for site_id in added])
        rescheduled = [
            site_id
            for site_id, site in wanted.items()
            if site_id in self._sites and self._reschedule(self._sites[site_id], site)
        ]
        self._sites = wanted
        return added, removed, rescheduled

    def _schedule(self, sites: list[Site]) -> None:
        if not sites:
            return
        with self.store.session(write=False) as session:
            states = url_states(session)
        now = datetime.now(UTC)
        for site in sites:
            checks = [states[url].last_check if url in states else None for url in site.urls]
            last = None if None in checks else min(c for c in checks if c is not None)
            interval = site.check_interval(self._settings)
            start = first_run(last, interval, now, random.uniform(0, FIRST_RUN_SPREAD))
            self._add_job(f"check:{site.id}", self._check_site, site.id, interval, start)
            # Sweeps are not logged, so a restarted daemon cannot resume their rhythm: the
            # first one falls anywhere in the first interval, which keeps restarts from
            # sending every site's sweep to the archive at once.
            sweep = site.sweep_interval(self._settings)
            start = now + timedelta(seconds=random.uniform(0, sweep))
            self._add_job(f"sweep:{site.id}", self._sweep_site, site.id, sweep, start)

    def _add_job(
        self,
        job_id: str,
        work: Callable[[str], Coroutine[Any, Any, None]],
        site_id: str,
        interval: float,
        start: datetime,
    ) -> None:
        self._scheduler.add_job(
            self._job,
            trigger=trigger(interval),
            args=[work, site_id],
            id=job_id,
            next_run_time=start,
            coalesce=True,
            max_instances=1,
            # A run later than this (the loop busy, the machine asleep) is skipped: the next
            # one is due by then anyway.
            misfire_grace_time=max(1, int(interval)),
        )

    def _reschedule(self, old: Site, new: Site) -> bool:
        changed = False
        for prefix, interval_of in (("check", Site.check_interval), ("sweep", Site.sweep_interval)):
            interval = interval_of(new, self._settings)
            if interval != interval_of(old, self._settings):
                self._scheduler.reschedule_job(f"{prefix}:{new.id}", trigger=trigger(interval))
                changed = True
        return changed

    # --- the jobs ------------------------------------------------------------------------------

    async def _job(self, work: Callable[[str], Coroutine[Any, Any, None]], site_id: str) -> None:
        """Run ``work`` as a task of the daemon's own, so that the scheduler's shutdown cannot
        cancel it: only :meth:`_shut_down` decides when work in flight is abandoned."""
        if self._stopping:
            return
        task = asyncio.create_task(work(site_id), name=f"{work.__name__}:{site_id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # the job itself was cancelled, not the work: let the scheduler know

    async def _check_site(self, site_id: str) -> None:
        site = self._sites.get(site_id)
        if site is None:
            return
        try:
            checks = await self._checker.check_site(site, self._watchlist.alerts)
        except Exception:  # a bug in one site's check must not stop the daemon
            logger.exception("check of %s failed", site_id)
            return
        for checked in checks:
            CHECK_LOG.info(json.dumps({"kind": "check", **checked.to_json()}, ensure_ascii=False))

    async def _sweep_site(self, site_id: str) -> None:
        site = self._sites.get(site_id)
        if site is None:
            return
        for url in site.urls:
            since = self._last_archived(url)
            options = backfill.BackfillOptions(
                since=since,
                spacing=timedelta(seconds=self._settings.sample_spacing),
                # A URL's first sweep reads its whole history: news to nobody.
                announce=since is not None and bool(self._watchlist.alerts),
            )
            # One URL at a time, each from its own newest capture.
            one_url = replace(site, urls=(url,))
            (report,) = await backfill.backfill(self.store, self._wayback, [one_url], options)
            SWEEP_LOG.info(json.dumps(_sweep_line(report, url, options), ensure_ascii=False))
            recorded = report.recorded_ids
            if recorded:
                self._checker.screen(recorded)
            if options.announce and recorded:
                await self._send_owed(site_id)

    async def _send_owed(self, _site_id: str) -> None:
        """Send the alerts still owed (:mod:`monitor.outbox`), but those of checks under way."""
        await self._checker.send_owed(list(self._sites.values()), self._watchlist.alerts)

    def _last_archived(self, url: str) -> datetime | None:
        with self.store.session(write=False) as session:
            found = latest_readable(session, url, CaptureSource.WAYBACK)
        return None if found is None else found.capture.captured_at


def _sweep_line(
    report: backfill.SiteReport, url: str, options: backfill.BackfillOptions
) -> Mapping[str, Any]:
    since = options.since
    return {
        "kind": "sweep",
        "ts": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "site": report.site_id,
        "url": url,
        "since": since.isoformat() if isinstance(since, datetime) else since,
        "listed": report.total("listed"),
        "fetched": report.total("fetched"),
        "changes": report.total("changes"),
        "recorded": report.total("recorded"),
        "error": report.error,
    }


def run_daemon(store: Store, watchlist_path: Path, settle: Settle) -> None:
    """``monitor run``: the daemon in this process, until SIGTERM or SIGINT."""
    asyncio.run(Daemon(store, watchlist_path, settle).run())


def configure_logging(debug: bool = False) -> None:
    """The daemon's output: the check and sweep lines (JSON) on standard output, one per
    line; everything else (start, reloads, warnings) on standard error with a timestamp."""
    lines = logging.StreamHandler(sys.stdout)
    lines.setFormatter(logging.Formatter("%(message)s"))
    for structured in (CHECK_LOG, SWEEP_LOG):
        structured.addHandler(lines)
        structured.setLevel(logging.INFO)
        structured.propagate = False
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # APScheduler logs every run of every job at INFO: the check lines already say it.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.WARNING)
    for chatty in ("httpx", "alembic"):  # a line per request; the schema check at start
        logging.getLogger(chatty).setLevel(logging.WARNING)
