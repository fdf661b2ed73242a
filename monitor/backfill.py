"""``monitor backfill``: sweep the Wayback Machine's history of each watched URL and record
every change of the compared facts, each pinned between two adjacent readable captures.

For each URL: list every capture (CDX, not collapsed: the last capture showing an old value is
often a repeat of the ones before it, and a collapsed listing drops it), let the planner
(:mod:`monitor.bracket`) choose the few to read, read each from the store if it is there or
from the archive if not, store every memento received with its facts (:mod:`monitor.pipeline`),
and record each change the planner brackets (:func:`monitor.store.record_change`, idempotent).

- **Resumable.**  Each capture is committed as it is read, and a capture stored before is read
  from the store (its facts reused if the current extractor wrote them).  The plan depends only
  on the listing and the values read, so a second run, or one after a kill, asks for the same
  captures, fetches only those it lacks and records nothing twice.
- **Unreadable captures** (no footer, a status other than 200, an archive page instead of a
  memento, a redirect loop, a capture the archive replaced by another) are skipped by the
  planner, never compared.  A memento received is stored whatever it holds; a failure that
  brought no bytes leaves no row, so the next run asks again.
- **One site's failure** (blocked by the archive, the archive down or rate limiting past the
  retries, a store error) is reported in its :class:`SiteReport`; the other sites go on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from monitor import outbox, pipeline
from monitor.archive import Memento, WaybackClient, open_wayback
from monitor.bracket import Bracket, Planner
from monitor.cdx import CdxRow, When, cdx_bound
from monitor.compare import diff, fingerprint
from monitor.config import Settings
from monitor.demo import DEMO_SITE_ID, DEMO_SITE_NAME, DEMO_URL, demo_archive
from monitor.errors import (
    ArchiveError,
    ArchiveRateLimited,
    ArchiveUnavailable,
    BlockedSite,
    MonitorError,
    UsageError,
)
from monitor.fakearchive import serve
from monitor.models import CaptureSource, ChangeField
from monitor.pipeline import Observation
from monitor.ratelimit import ArchiveLimiter
from monitor.store import (
    NewCapture,
    NewChange,
    Store,
    StoredCapture,
    WatchedSite,
    captures_for_url,
    record_change,
    sync_sites,
)
from monitor.watchlist import Site

logger = logging.getLogger(__name__)

# Archive errors that say the site cannot be swept now; any other archive error concerns one
# capture (not archived, an archive page, a redirect loop, too large), which is skipped.
SITE_ERRORS = (BlockedSite, ArchiveRateLimited, ArchiveUnavailable)
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
# The politeness limits protect the real archive.  The demo's archive is our own fake on
# 127.0.0.1, so the demo raises them (through the same settings and limiter) to finish in
# about a second.
DEMO_CDX_RATE = 50.0
DEMO_MEMENTO_RATE = 200.0
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class BackfillOptions:
    """What to sweep: the CDX ``from``/``to`` bounds, and the sample spacing (None: read every
    distinct capture, ``--dense``)."""

    since: When | None = None
    until: When | None = None
    spacing: timedelta | None = timedelta(days=30)
    # Queue the changes recorded for the alert targets (:mod:`monitor.outbox`): the daemon's
    # incremental sweeps do; a backfill of history does not.
    announce: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        since: When | None = None,
        until: When | None = None,
        dense: bool = False,
    ) -> BackfillOptions:
        """Options with the spacing of ``settings.sample_spacing``, or none when ``dense``."""
        spacing = None if dense else timedelta(seconds=settings.sample_spacing)
        return cls(since=since, until=until, spacing=spacing)


@dataclass(frozen=True)
class UrlReport:
    """What the sweep of one URL did."""

    url: str
    listed: int  # captures the CDX index lists (one per second)
    runs: int  # runs of byte-identical captures among them
    fetched: int  # mementos asked of the archive
    reused: int  # captures read from the store instead
    unreadable: int  # captures read that could not be compared
    changes: int  # field changes bracketed
    recorded: int  # of which recorded by this run (the rest were recorded before)
    recorded_ids: tuple[int, ...] = ()  # the changes this run recorded


@dataclass(frozen=True)
class SiteReport:
    """What the sweep of one site did, and why it stopped if it failed."""

    site_id: str
    urls: tuple[UrlReport, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every URL of the site was swept."""
        return self.error is None

    def total(self, name: str) -> int:
        """The sum of one :class:`UrlReport` count over the site's URLs."""
        return sum(int(getattr(report, name)) for report in self.urls)

    @property
    def recorded_ids(self) -> tuple[int, ...]:
        """The changes this sweep recorded, over the site's URLs."""
        return tuple(change_id for report in self.urls for change_id in report.recorded_ids)


@dataclass
class _Tally:
    """Running counts of one site, pushed to the progress display as they change."""

    site_id: str
    progress: BackfillProgress
    listed: int = 0
    fetched: int = 0
    changes: int = 0

    def add(self, *, listed: int = 0, fetched: int = 0, changes: int = 0) -> None:
        self.listed += listed
        self.fetched += fetched
        self.changes += changes
        self.progress.advanced(self.site_id, self.listed, self.fetched, self.changes)


class BackfillProgress:
    """Receives a sweep's progress; this base class shows nothing (for tests and libraries)."""

    def started(self, site_id: str) -> None:
        """A site's sweep begins."""

    def advanced(self, site_id: str, listed: int, fetched: int, changes: int) -> None:
        """A site's counts so far: captures listed, mementos fetched, changes found."""

    def finished(self, report: SiteReport) -> None:
        """A site's sweep ended, well or not."""


class RichProgress(BackfillProgress):
    """One line per site on a terminal: listed, fetched, changes found; silent otherwise."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def shown(self) -> Iterator[RichProgress]:
        """Display the bars for the duration of the block."""
        with self._bar:
            yield self

    def started(self, site_id: str) -> None:
        self._tasks[site_id] = self._bar.add_task(site_id, total=None, counts="listing")

    def advanced(self, site_id: str, listed: int, fetched: int, changes: int) -> None:
        counts = f"{listed} listed · {fetched} fetched · {changes} changes"
        self._bar.update(self._tasks[site_id], counts=counts)

    def finished(self, report: SiteReport) -> None:
        task = self._tasks[report.site_id]
        if report.error is not None:
            self._bar.update(task, counts=f"failed: {report.error}")
        self._bar.update(task, total=1, completed=1)


def report_table(reports: Iterable[SiteReport]) -> Table:
    """``monitor backfill``'s summary: one row a site, with its URLs' counts summed (captures
    listed, fetched, reused from the store, unreadable; changes found and newly recorded) and
    whether its sweep ended well."""
    table = Table("site", "listed", "fetched", "reused", "unreadable", "changes", "new", "result")
    for report in reports:
        counts = [
            str(report.total(name))
            for name in ("listed", "fetched", "reused", "unreadable", "changes", "recorded")
        ]
        result = Text("ok", style="green") if report.ok else Text("failed", style="red")
        table.add_row(report.site_id, *counts, result)
    return table


def run(
    store: Store,
    settings: Settings,
    sites: Sequence[WatchedSite],
    options: BackfillOptions,
    progress: BackfillProgress | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[SiteReport, ...]:
    """Sweep ``sites`` (already synced into ``store``) with the process's one archive limiter.

    ``transport`` replaces the network, for tests.
    """

    async def sweep() -> tuple[SiteReport, ...]:
        limiter = ArchiveLimiter.from_settings(settings)
        async with open_wayback(settings, limiter, transport=transport) as client:
            return await backfill(store, client, sites, options, progress)

    return asyncio.run(sweep())


async def backfill(
    store: Store,
    client: WaybackClient,
    sites: Sequence[WatchedSite],
    options: BackfillOptions,
    progress: BackfillProgress | None = None,
) -> tuple[SiteReport, ...]:
    """Sweep each site's URLs in turn; a site that fails is reported and the next one goes on."""
    progress = progress or BackfillProgress()
    reports = []
    for site in sites:
        progress.started(site.id)
        report = await _backfill_site(store, client, site, options, _Tally(site.id, progress))
        progress.finished(report)
        reports.append(report)
    return tuple(reports)


async def _backfill_site(
    store: Store, client: WaybackClient, site: WatchedSite, options: BackfillOptions, tally: _Tally
) -> SiteReport:
    done: list[UrlReport] = []
    try:
        for url in site.urls:
            done.append(await _Sweep(store, client, url, tally).run(options))
    except MonitorError as exc:
        logger.warning("backfill of %s stopped: %s", site.id, exc)
        return SiteReport(site.id, tuple(done), error=str(exc))
    return SiteReport(site.id, tuple(done))


@dataclass
class _Sweep:
    """The sweep of one URL: its listing, its plan and what was read."""

    store: Store
    client: WaybackClient
    url: str
    tally: _Tally
    read: dict[int, Observation] = field(default_factory=dict)  # by row index
    fetched: int = 0
    reused: int = 0
    unreadable: int = 0

    async def run(self, options: BackfillOptions) -> UrlReport:
        rows = await self._listing(options)
        self.tally.add(listed=len(rows))
        stored = self._stored()
        planner = Planner(rows, options.spacing)
        while wanted := planner.wanted():
            for index in wanted:
                observation = await self._read(rows[index], stored)
                if observation is not None and observation.readable:
                    self.read[index] = observation
                    planner.observe(index, fingerprint(observation.facts))
                else:
                    self.unreadable += 1
                    planner.observe(index, None)
        changes, recorded = self._record(planner.brackets(), options.announce)
        return UrlReport(
            url=self.url,
            listed=len(rows),
            runs=planner.runs,
            fetched=self.fetched,
            reused=self.reused,
            unreadable=self.unreadable,
            changes=changes,
            recorded=len(recorded),
            recorded_ids=recorded,
        )

    async def _listing(self, options: BackfillOptions) -> list[CdxRow]:
        """Every listed capture, oldest first, one per second (the archive serves one
        memento per timestamp, so a second row at the same second cannot be read apart)."""
        search = self.client.search(self.url, from_=options.since, to=options.until, collapse=None)
        by_second: dict[str, CdxRow] = {}
        async for row in search:
            by_second.setdefault(row.timestamp, row)
        return sorted(by_second.values(), key=lambda row: row.timestamp)

    def _stored(self) -> dict[str, StoredCapture]:
        """The archived captures of the URL already in the store, by 14-digit timestamp."""
        with self.store.session(write=False) as session:
            captures = captures_for_url(session, self.url, CaptureSource.WAYBACK)
        by_second: dict[str, StoredCapture] = {}
        for capture in captures:
            by_second.setdefault(capture.captured_at.strftime(TIMESTAMP_FORMAT), capture)
        return by_second

    async def _read(self, row: CdxRow, stored: dict[str, StoredCapture]) -> Observation | None:
        """The observation of one listed capture, from the store or the archive; None when
        the archive gave nothing that stands for it."""
        if row.timestamp in stored:
            self.reused += 1
            with self.store.session() as session:
                return pipeline.recall(session, stored[row.timestamp])
        self.fetched += 1
        self.tally.add(fetched=1)
        try:
            memento = await self.client.get_capture(row)
        except SITE_ERRORS:
            raise
        except ArchiveError as exc:
            logger.info("capture %s of %s skipped: %s", row.timestamp, self.url, exc)
            return None
        with self.store.session() as session:
            observation = pipeline.observe(
                session, _new_capture(self.url, row, memento), memento.body
            )
        # A capture the archive served in place of this one is stored as what it is, but it
        # does not show what this row showed.
        return observation if memento.exact else None

    def _record(self, brackets: Sequence[Bracket], announce: bool) -> tuple[int, tuple[int, ...]]:
        """Record the changes of every bracket, queueing the new ones for the alert targets
        when ``announce``; (changes, the ids of those new)."""
        changes = 0
        new_ids: list[int] = []
        with self.store.session() as session:
            for bracket in brackets:
                before, after = self.read[bracket.before], self.read[bracket.after]
                for change in diff(before.facts, after.facts):
                    new = NewChange(
                        url=self.url,
                        field=ChangeField(change.field.value),
                        old=change.old,
                        new=change.new,
                        before_capture_id=before.capture_id,
                        after_capture_id=after.capture_id,
                    )
                    changes += 1
                    if (ref := record_change(session, new)) is not None:
                        new_ids.append(ref.id)
            if announce:
                outbox.announce(session, new_ids)
        self.tally.add(changes=changes)
        return changes, tuple(new_ids)


def _new_capture(url: str, row: CdxRow, memento: Memento) -> NewCapture:
    return NewCapture(
        url=url,
        source=CaptureSource.WAYBACK,
        captured_at=memento.captured_at,
        status=memento.status,
        final_url=memento.original_url,
        content_type=memento.content_type,
        archive_url=memento.archive_url,
        digest=row.digest if memento.exact else None,
    )


def parse_bound(text: str | None, option: str) -> When | None:
    """A ``--from``/``--to`` value: ``YYYY-MM-DD`` or 1 to 14 digits of a timestamp."""
    if text is None:
        return None
    try:
        value: When = date.fromisoformat(text) if _ISO_DATE.match(text) else text
        cdx_bound(value)
    except (ValueError, UsageError) as exc:
        raise UsageError(f"{option} {text!r}: give a date (2021-08-01) or 1-14 digits") from exc
    return value


def run_demo(
    store: Store, settings: Settings, progress: BackfillProgress | None = None
) -> SiteReport:
    """Sweep the bundled reconstruction of the SenseTime case from a fake archive on 127.0.0.1.

    The site ``sensetime`` is synced into ``store``; a store that watches other sites is
    refused, because syncing the demo alone would mark them inactive.
    """
    site = Site(DEMO_SITE_ID, DEMO_SITE_NAME, (DEMO_URL,))
    with store.session() as session:
        others = sync_sites(session, [site]).deactivated_sites
        if others:
            raise UsageError(
                f"the store already watches other sites ({', '.join(others)}); "
                "run the demo on its own database: monitor --db demo.db demo"
            )
    with serve(demo_archive()) as base_url:
        local = replace(
            settings,
            wayback_url=base_url,
            archive_cdx_rate=DEMO_CDX_RATE,
            archive_memento_rate=DEMO_MEMENTO_RATE,
        )
        (report,) = run(store, local, [site], BackfillOptions.from_settings(local), progress)
    return report
