"""One check of live URLs, the path ``monitor check`` and every daemon check take.

For each URL (:meth:`Checker.check_url`):

1. **Fetch** it (:func:`monitor.fetch.fetch_live`: redirects followed and recorded, the
   response-size cap) with the site's headers and User-Agent, the whole fetch within
   ``fetch_timeout``, under two bounds shared by the process: at most ``max_fetches`` fetches
   at once, and ``max_fetches_per_host`` to one host.
2. **Store and compare**, in one transaction: the latest readable capture of the URL (any
   source) is the baseline; the new capture and its facts are stored (source ``live``,
   :func:`monitor.pipeline.observe`); the two are compared (:func:`monitor.compare.diff`) and
   each differing field recorded as a change with ``before`` the baseline and ``after`` the new
   capture; the check joins the log (:func:`monitor.status.record_check`).  A page that cannot
   be compared (no ownership statement, a 4xx/5xx answer) is stored and nothing is compared; a
   fetch that fails stores only its failure.
3. **On a change**, after the commit: the URL goes to Save Page Now when keys are configured,
   and its answer, the copy's archive URL or why there is none, is written on every change of
   the capture (:func:`monitor.store.set_archive_copy`); then the alerts go out to the
   watchlist's targets.  The changes were queued for them in step 2's transaction
   (:mod:`monitor.outbox`), so an alert a stop cuts short is still owed, and sent by the
   daemon when it starts again.

Storing runs on the event loop, between fetches: a capture takes a few milliseconds to
store, and a worker thread for it made a pass over 2,000 pages a quarter slower (the loop and
the thread hand Python's GIL back and forth; ``bench/daemon.py``).  A failing URL is a
result, never an exception: the other URLs go on.

The module runs past 500 lines because ``monitor check``'s summary table sits at its end,
beside the results it shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from monitor import outbox, pipeline, store
from monitor.compare import FieldChange, diff
from monitor.config import Settings
from monitor.errors import FetchError, MonitorError
from monitor.extract import EXTRACTOR_VERSION
from monitor.fetch import LiveResponse, build_client, fetch_live
from monitor.lists import Screener
from monitor.models import CaptureSource, ChangeField, CheckOutcome
from monitor.pipeline import READABLE_STATUSES, Observation
from monitor.spn import SavePageNow, SpnCapture, SpnLimiter, SpnResult
from monitor.status import NewCheck, record_check
from monitor.watchlist import AlertTarget, Site

logger = logging.getLogger(__name__)

# Webhook receivers and notification services answer quickly or not at all.
ALERT_TIMEOUT = 15.0
# Written on the changes when the process stops before Save Page Now answers: the attempt
# is not lost, and the code says a later pass may submit the page again.
ABANDONED = "monitor:abandoned: the process stopped before Save Page Now answered"
# A status from this one up is the server's error page, whatever it carries.
ERROR_STATUS = 400


@dataclass(frozen=True)
class UrlCheck:
    """What one check of one URL found: a row of ``monitor check``'s table, a daemon log line."""

    site_id: str
    url: str
    outcome: CheckOutcome
    started_at: datetime
    duration_ms: int
    http_status: int | None = None
    final_url: str | None = None
    redirects: tuple[str, ...] = ()
    operator: str | None = None
    capture_id: int | None = None
    change_ids: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()  # the fields that changed, in the order of change_ids
    archive_copy_url: str | None = None
    archive_copy_error: str | None = None
    alerts_failed: int = 0
    error: str | None = None

    @property
    def changed(self) -> bool:
        """True when the check recorded at least one change."""
        return bool(self.change_ids)

    def to_json(self) -> dict[str, Any]:
        """The daemon's log line for this check (``ts`` is when the check started)."""
        return {
            "ts": _iso(self.started_at),
            "site": self.site_id,
            "url": self.url,
            "status": self.http_status,
            "outcome": self.outcome.value,
            "operator": self.operator,
            "change": self.changed,
            "changes": list(self.change_ids),
            "fields": list(self.fields),
            "duration_ms": self.duration_ms,
            "final_url": self.final_url if self.final_url != self.url else None,
            "capture": self.capture_id,
            "archive_copy_url": self.archive_copy_url,
            "archive_copy_error": self.archive_copy_error,
            "alerts_failed": self.alerts_failed,
            "error": self.error,
        }

    def log_line(self) -> str:
        """:meth:`to_json` as one line of JSON."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))


def assess(
    baseline: Observation | None, observed: Observation
) -> tuple[CheckOutcome, tuple[FieldChange, ...]]:
    """What a new observation says against the URL's baseline (pure).

    A 4xx/5xx answer or an unreadable page is kept but never compared; with no baseline the
    observation becomes the first one; otherwise the changes are :func:`diff`'s.
    """
    if observed.status >= ERROR_STATUS:
        return CheckOutcome.HTTP_ERROR, ()
    if not observed.readable:
        return CheckOutcome.UNREADABLE, ()
    if baseline is None:
        return CheckOutcome.BASELINE, ()
    changes = diff(baseline.facts, observed.facts)
    return (CheckOutcome.CHANGED if changes else CheckOutcome.UNCHANGED), changes


def baseline(session: Session, url: str, before: datetime) -> Observation | None:
    """The newest capture of ``url`` taken before ``before`` that may be compared, any source.

    Usually the newest capture whose facts are readable; the captures are walked back only
    when that one may not be compared (a 404 page with the site's footer, facts of an older
    extractor that the current one reads otherwise).
    """
    found = store.latest_readable(session, url)
    if found is None:
        return None
    capture = found.capture
    if capture.status in READABLE_STATUSES and capture.captured_at < before:
        if found.extractor_version == EXTRACTOR_VERSION:
            return Observation(capture.id, capture.sha256, capture.status, found.facts, False)
        recalled = pipeline.recall(session, capture)
        if recalled.readable:
            return recalled
    for earlier in reversed(store.captures_for_url(session, url, until=before)):
        if earlier.captured_at < before and earlier.status in READABLE_STATUSES:
            recalled = pipeline.recall(session, earlier)
            if recalled.readable:
                return recalled
    return None


class FetchBounds:
    """The process's bounds on live fetches: ``total`` at once, ``per_host`` to one host."""

    def __init__(self, total: int, per_host: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Hold a fetch slot for ``url``: its host's first, so that a fetch waiting for a busy
        host does not hold one of the process's slots."""
        host = httpx.URL(url).host
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self._per_host))
        async with per_host, self._total:
            yield


class Checker:
    """Checks live URLs for one process: its fetch bounds and HTTP clients.

    Build it with :func:`open_checker`, which closes what it opened.
    """

    def __init__(
        self,
        store_: store.Store,
        settings: Settings,
        *,
        spn: SavePageNow | None,
        alert_http: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store_
        self.settings = settings
        self.spn = spn
        self.screener = Screener(store_)
        self.alert_http = alert_http
        self._transport = transport
        self._bounds = FetchBounds(settings.max_fetches, settings.max_fetches_per_host)
        # Built once: loading the CA bundle takes tens of milliseconds; every site's client
        # shares it.
        self._tls = httpx.create_ssl_context()
        # Changes between their commit and their alerts: the daemon's round of owed alerts
        # leaves them to their check, which sends them with Save Page Now's copy.
        self.announcing: set[int] = set()

    async def check_sites(
        self, sites: Sequence[Site], alerts: Sequence[AlertTarget] = ()
    ) -> tuple[UrlCheck, ...]:
        """Check ``sites``, ``max_fetches`` of them at a time, in order; the checks in order.

        A site's pages are fetched together, so they share the connections to its host.
        """
        queue = iter(enumerate(sites))  # shared: each worker takes the next site
        done: list[tuple[UrlCheck, ...]] = [()] * len(sites)

        async def worker() -> None:
            for index, site in queue:
                done[index] = await self.check_site(site, alerts)

        await asyncio.gather(*(worker() for _ in range(min(len(sites), self.settings.max_fetches))))
        return tuple(checked for site_checks in done for checked in site_checks)

    async def check_site(
        self, site: Site, alerts: Sequence[AlertTarget] = ()
    ) -> tuple[UrlCheck, ...]:
        """Check every URL of ``site`` at once (within the fetch bounds)."""
        async with self._site_client(site) as client:
            checks = (self.check_url(site, url, alerts, client=client) for url in site.urls)
            return tuple(await asyncio.gather(*checks))

    async def check_url(
        self,
        site: Site,
        url: str,
        alerts: Sequence[AlertTarget] = (),
        *,
        client: httpx.AsyncClient,
    ) -> UrlCheck:
        """Fetch, store and compare ``url`` with the site's ``client`` (:meth:`check_site`);
        on a change, save the page and alert."""
        started, clock = datetime.now(UTC), time.monotonic()
        try:
            response = await self._fetch(client, url)
        except FetchError as exc:
            failed = UrlCheck(site.id, url, CheckOutcome.FAILED, started, _ms(clock), error=exc.why)
            return self._record_failure(failed)
        try:
            checked = self._store(site.id, response, started, clock, announce=bool(alerts))
        except MonitorError as exc:
            logger.error("%s: the check could not be stored: %s", url, exc)
            return UrlCheck(site.id, url, CheckOutcome.FAILED, started, _ms(clock), error=str(exc))
        if checked.changed:
            self.screen(checked.change_ids)
            self.announcing.update(checked.change_ids)
            try:
                checked = await self._preserve(checked, response.fetched_at)
                checked = await self._alert(site, checked, alerts)
            finally:
                self.announcing.difference_update(checked.change_ids)
        return checked

    # --- fetching ------------------------------------------------------------------------------

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> LiveResponse:
        timeout = self.settings.fetch_timeout
        async with self._bounds.slot(url):
            try:
                async with asyncio.timeout(timeout):
                    return await fetch_live(client, url, self.settings.fetch_max_bytes)
            except TimeoutError as exc:
                raise FetchError(url, f"timed out after {timeout:g} s") from exc

    def _site_client(self, site: Site) -> httpx.AsyncClient:
        """A client for one site's check, with its headers, closed when the check ends.

        A client per site, not one for the process: httpx's pool looks through every
        connection it holds for each request, which a pool shared by hundreds of hosts made
        the largest cost of a pass over 2,000 URLs (``bench/daemon.py``); and a connection
        kept alive from one check to the next, hours apart, would be dead anyway.
        """
        headers = dict(site.headers)
        if site.user_agent:
            headers["User-Agent"] = site.user_agent
        transport = None if self._transport is None else _Unclosed(self._transport)
        return build_client(
            timeout=self.settings.fetch_timeout,
            headers=headers,
            transport=transport,
            max_connections=self.settings.max_fetches,
            verify=self._tls,
        )

    # --- storing -------------------------------------------------------------------------------

    def _record_failure(self, failed: UrlCheck) -> UrlCheck:
        try:
            with self.store.session() as session:
                record_check(session, _log_entry(failed))
        except MonitorError as exc:
            logger.error("%s: the failed check could not be logged: %s", failed.url, exc)
        return failed

    def _store(
        self,
        site_id: str,
        response: LiveResponse,
        started: datetime,
        clock: float,
        *,
        announce: bool,
    ) -> UrlCheck:
        """Store the response and compare it, in one transaction; ``announce``: queue the
        changes for the alert targets in it (:mod:`monitor.outbox`)."""
        capture = store.NewCapture(
            url=response.url,
            source=CaptureSource.LIVE,
            captured_at=response.fetched_at,
            status=response.status,
            final_url=response.final_url,
            content_type=response.content_type,
        )
        with self.store.session() as session:
            before = baseline(session, response.url, response.fetched_at)
            observed = pipeline.observe(session, capture, response.body)
            outcome, changes = assess(before, observed)
            recorded = _record_changes(session, response.url, before, observed, changes)
            if announce:
                outbox.announce(session, [change_id for change_id, _ in recorded])
            checked = UrlCheck(
                site_id=site_id,
                url=response.url,
                outcome=outcome,
                started_at=started,
                duration_ms=_ms(clock),
                http_status=response.status,
                final_url=response.final_url,
                redirects=response.redirects,
                operator=observed.facts.operator,
                capture_id=observed.capture_id,
                change_ids=tuple(change_id for change_id, _ in recorded),
                fields=tuple(name for _, name in recorded),
                error=f"HTTP {response.status}" if outcome is CheckOutcome.HTTP_ERROR else None,
            )
            record_check(session, _log_entry(checked))
        return checked

    # --- after a change ------------------------------------------------------------------------

    def screen(self, change_ids: Iterable[int]) -> None:
        """Screen the names the changes moved against the loaded lists (:class:`Screener`),
        so that their alerts carry the listing note; a failure is logged, never raised."""
        try:
            self.screener.screen_changes(change_ids)
        except MonitorError as exc:
            logger.error("changes %s could not be screened: %s", sorted(change_ids), exc)

    async def _preserve(self, checked: UrlCheck, observed_at: datetime) -> UrlCheck:
        """Submit the changed page to Save Page Now and record the answer on its changes."""
        if self.spn is None:
            return checked
        try:
            result = await self.spn.capture(checked.url, observed_at=observed_at)
        except asyncio.CancelledError:
            # The process is stopping: say so on the changes before leaving.
            try:
                self._attach_copy(checked.change_ids, None, ABANDONED)
            except MonitorError as exc:
                logger.error(
                    "%s: the abandoned Save Page Now request is not recorded: %s", checked.url, exc
                )
            raise
        copy_url, copy_error = _copy_of(result)
        try:
            self._attach_copy(checked.change_ids, copy_url, copy_error)
        except MonitorError as exc:
            logger.error("%s: Save Page Now's answer could not be stored: %s", checked.url, exc)
        return replace(checked, archive_copy_url=copy_url, archive_copy_error=copy_error)

    def _attach_copy(self, change_ids: Iterable[int], url: str | None, error: str | None) -> None:
        with self.store.session() as session:
            for change_id in change_ids:
                store.set_archive_copy(session, change_id, url=url, error=error)

    async def _alert(
        self, site: Site, checked: UrlCheck, alerts: Sequence[AlertTarget]
    ) -> UrlCheck:
        """Send the alerts the check's changes are owed; failures are counted, kept and logged."""
        failed = await self._deliver(alerts, [site], change_ids=checked.change_ids)
        return replace(checked, alerts_failed=failed)

    async def send_owed(
        self,
        sites: Sequence[Site],
        alerts: Sequence[AlertTarget],
        done: Iterable[UrlCheck] = (),
    ) -> int:
        """Send the alerts still owed (:mod:`monitor.outbox`), but those of this process's
        checks under way, which send their own after Save Page Now, and those of the checks
        ``done``, which just tried; the rounds that failed.

        ``sites`` gives the names for the messages.
        """
        skip = self.announcing.union(*(checked.change_ids for checked in done))
        return await self._deliver(alerts, sites, skip=skip)

    async def _deliver(
        self,
        alerts: Sequence[AlertTarget],
        sites: Sequence[Site],
        *,
        change_ids: Iterable[int] | None = None,
        skip: Collection[int] = frozenset(),
    ) -> int:
        """:func:`monitor.alerts.deliver_owed` for this process; the rounds that failed.  A
        store that cannot be read is logged, never raised: the checks are stored already."""
        if not alerts:
            return 0
        # Imported on use: Apprise is a large import that a pass without alerts never needs.
        from monitor.alerts import deliver_owed  # noqa: PLC0415

        names = {site.id: site.name for site in sites}
        try:
            made = await deliver_owed(
                self.store, self.alert_http, alerts, names, change_ids, skip=skip
            )
        except MonitorError as exc:
            logger.error("the alerts still owed could not be read: %s", exc)
            return 0
        if made:
            logger.info("sent %d alert rounds", len(made))
        return sum(not delivery.ok for delivery in made)


class _Unclosed(httpx.AsyncBaseTransport):
    """A transport handed in (tests): shared by every site's client, closed by its owner."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)


def _record_changes(
    session: Session,
    url: str,
    before: Observation | None,
    observed: Observation,
    changes: Iterable[FieldChange],
) -> list[tuple[int, str]]:
    """Record each change between the baseline and the new capture: (id, field) of the new."""
    recorded = []
    for change in changes:
        assert before is not None  # assess() compares only against a baseline
        new = store.NewChange(
            url=url,
            field=ChangeField(change.field.value),
            old=change.old,
            new=change.new,
            before_capture_id=before.capture_id,
            after_capture_id=observed.capture_id,
        )
        ref = store.record_change(session, new)
        if ref is not None:
            recorded.append((ref.id, change.field.value))
    return recorded


def _log_entry(checked: UrlCheck) -> NewCheck:
    return NewCheck(
        url=checked.url,
        started_at=checked.started_at,
        duration_ms=checked.duration_ms,
        outcome=checked.outcome,
        http_status=checked.http_status,
        capture_id=checked.capture_id,
        changes=len(checked.change_ids),
        redirects=checked.redirects,
        error=checked.error,
    )


def _copy_of(result: SpnResult) -> tuple[str | None, str | None]:
    if isinstance(result, SpnCapture):
        return result.archive_url, None
    logger.warning("Save Page Now did not copy %s: %s", result.url, result.describe())
    return None, result.describe()


def _ms(clock: float) -> int:
    return round((time.monotonic() - clock) * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- the process


@asynccontextmanager
async def open_checker(
    store_: store.Store,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    spn_limiter: SpnLimiter | None = None,
) -> AsyncIterator[Checker]:
    """A :class:`Checker` with its clients: Save Page Now when keys are configured (else one
    warning per process says it is off), and the alerts' client.  ``transport`` replaces the
    network of the live fetches, ``spn_limiter`` Save Page Now's pacing (tests)."""
    async with (
        build_client(timeout=settings.archive_timeout) as spn_http,
        build_client(timeout=ALERT_TIMEOUT) as alert_http,
    ):
        spn = SavePageNow.from_settings(spn_http, spn_limiter or SpnLimiter(), settings)
        yield Checker(store_, settings, spn=spn, alert_http=alert_http, transport=transport)


def run_check(
    store_: store.Store,
    settings: Settings,
    sites: Sequence[Site],
    alerts: Sequence[AlertTarget] = (),
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    spn_limiter: SpnLimiter | None = None,
) -> tuple[UrlCheck, ...]:
    """One pass over every URL of ``sites`` (already synced into the store): ``monitor check``.

    Then the alerts still owed go out, those a target refused before and those of a daemon
    stopped before it sent them (:meth:`Checker.send_owed`), so a pass run from cron retries
    them as the daemon would.
    """

    async def run() -> tuple[UrlCheck, ...]:
        async with open_checker(
            store_, settings, transport=transport, spn_limiter=spn_limiter
        ) as checker:
            checks = await checker.check_sites(sites, alerts)
            await checker.send_owed(sites, alerts, done=checks)
            return checks

    return asyncio.run(run())


# --------------------------------------------------------------------------- display

# Up to this many URLs, the table lists every one; past it, a row per URL unchanged or first
# captured would bury the few that need a look (and cost seconds to lay out).
ROWS_SHOWN_ALL = 50
ROUTINE = frozenset({CheckOutcome.UNCHANGED, CheckOutcome.BASELINE})

_SHOWN_OUTCOMES: Mapping[CheckOutcome, str] = {
    CheckOutcome.BASELINE: "first capture",
    CheckOutcome.UNCHANGED: "no",
    CheckOutcome.UNREADABLE: "unreadable: not compared",
    CheckOutcome.HTTP_ERROR: "error page: not compared",
    CheckOutcome.FAILED: "failed",
}


def check_table(checks: Sequence[UrlCheck], *, every: bool = False) -> Table:
    """``monitor check``'s summary: site, URL, status, operator and whether it changed.

    Past :data:`ROWS_SHOWN_ALL` URLs, only those that need a look (changed, failed, not
    compared) are rows, unless ``every``; :func:`summary` counts the others.
    """
    table = Table("site", "URL", "status", "operator", "change?")
    for column in table.columns:
        column.overflow = "fold"  # URLs and names are evidence: folded, never cut
    for checked in checks:
        if not every and len(checks) > ROWS_SHOWN_ALL and checked.outcome in ROUTINE:
            continue
        table.add_row(
            Text(checked.site_id),
            Text(checked.url),
            _status_cell(checked),
            Text(checked.operator or ""),
            _change_cell(checked),
        )
    return table


def _status_cell(checked: UrlCheck) -> Text:
    if checked.http_status is None:
        return Text(checked.error or "failed", style="red")
    shown = str(checked.http_status)
    if checked.final_url and checked.final_url != checked.url:
        shown += f" → {checked.final_url}"
    return Text(shown, style="red" if checked.http_status >= ERROR_STATUS else "")


def _change_cell(checked: UrlCheck) -> Text:
    if not checked.changed:
        return Text(_SHOWN_OUTCOMES.get(checked.outcome, checked.outcome.value))
    lines = [f"yes: {', '.join(dict.fromkeys(checked.fields))}"]
    lines.append(f"changes #{', #'.join(map(str, checked.change_ids))}")
    if checked.archive_copy_url:
        lines.append(f"saved: {checked.archive_copy_url}")
    elif checked.archive_copy_error:
        lines.append(f"not saved: {checked.archive_copy_error}")
    if checked.alerts_failed:
        lines.append(f"{checked.alerts_failed} alert(s) failed")
    return Text("\n".join(lines), style="bold yellow")


def unlisted(checks: Sequence[UrlCheck], *, every: bool = False) -> int:
    """How many checks :func:`check_table` leaves out."""
    if every or len(checks) <= ROWS_SHOWN_ALL:
        return 0
    return sum(checked.outcome in ROUTINE for checked in checks)


def summary(checks: Sequence[UrlCheck]) -> str:
    """One line: URLs and sites checked, and what came of them."""
    sites = len({checked.site_id for checked in checks})
    counts = dict.fromkeys(CheckOutcome, 0)
    for checked in checks:
        counts[checked.outcome] += 1
    changes = sum(len(checked.change_ids) for checked in checks)
    found = ", ".join(f"{n} {outcome.value}" for outcome, n in counts.items() if n)
    checked_what = f"{_count(len(checks), 'URL')} of {_count(sites, 'site')}"
    recorded = f"{_count(changes, 'change')} recorded"
    return f"checked {checked_what}: {found or 'nothing'}; {recorded}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
