"""The check log and the health it shows: what each live check found, and ``monitor status``.

Every live check of a URL (``monitor check``, ``monitor run``) adds one row to the ``checks``
table with :func:`record_check`, in the transaction that stores its capture, so the log never
names a capture the store lacks.  A check that brought no page (the site down, too slow, too
large) leaves only its row: the store still knows the page was looked at.

From the log, :func:`url_states` reads per URL its last check, its last successful one and the
failures since; :func:`judge` (pure) weighs them per site:

``ok``
    checked within its bound, and no URL failing repeatedly.
``failing``
    a URL failed ``status_failures`` times in a row (no answer, or a 4xx/5xx answer).
``overdue``
    not checked for :data:`OVERDUE_FACTOR` times its interval: the daemon has missed a whole
    run (stopped, stuck, or never started).
``never checked``
    nothing in the log for any of its URLs.

``monitor status`` exits 1 unless every site is ``ok``; the Docker HEALTHCHECK runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from rich.table import Table
from rich.text import Text
from sqlalchemy import and_, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.models import CheckOutcome, CheckRow, SiteRow, UrlRow
from monitor.watchlist import Site

# A check that brought no page, or the server's error page instead of the site's.
FAILING_OUTCOMES = frozenset({CheckOutcome.FAILED, CheckOutcome.HTTP_ERROR})
# A site whose newest check is older than this many of its intervals has missed a whole run;
# one interval plus the scheduler's jitter (a tenth of it) is the most a healthy daemon waits.
OVERDUE_FACTOR = 2.0


@dataclass(frozen=True)
class NewCheck:
    """One live check of a watched URL, as the log keeps it."""

    url: str
    started_at: datetime
    duration_ms: int
    outcome: CheckOutcome
    http_status: int | None = None
    capture_id: int | None = None
    changes: int = 0
    redirects: tuple[str, ...] = ()
    error: str | None = None


# Built once: a pass logs thousands of checks, and building the statement each time cost
# five times as much as running it.
_INSERT_CHECK = insert(CheckRow).values(
    url_id=select(UrlRow.id).where(UrlRow.url == bindparam("url")).scalar_subquery()
)


def record_check(session: Session, check: NewCheck) -> None:
    """Add ``check`` to the log, in the caller's transaction.

    Raises :class:`~monitor.errors.StoreError` (from the store's session) when the URL is not
    in the store.
    """
    session.connection().execute(
        _INSERT_CHECK,
        {
            "url": check.url,
            "started_at": check.started_at,
            "duration_ms": check.duration_ms,
            "outcome": check.outcome,
            "http_status": check.http_status,
            "capture_id": check.capture_id,
            "changes": check.changes,
            "redirects": list(check.redirects),
            "error": check.error,
        },
    )


@dataclass(frozen=True)
class UrlState:
    """What the log says of one URL."""

    url: str
    site_id: str
    last_check: datetime | None
    last_success: datetime | None
    failures: int  # failed checks since the last success (all of them, if none succeeded)
    last_error: str | None  # of the newest check, when it failed

    def to_json(self) -> dict[str, Any]:
        """The URL as ``monitor status --json`` shows it."""
        return {
            "url": self.url,
            "last_check": _iso(self.last_check),
            "last_success": _iso(self.last_success),
            "failures": self.failures,
            "last_error": self.last_error,
        }


def url_states(session: Session) -> dict[str, UrlState]:
    """The state of every active URL in the store, by URL, in a single query."""
    failing = CheckRow.outcome.in_(FAILING_OUTCOMES)
    last = _newest("last")
    success = _newest("success", ~failing)
    since = (
        select(CheckRow.url_id, func.count().label("failures"))
        .outerjoin(success, success.c.url_id == CheckRow.url_id)
        .where(or_(success.c.at.is_(None), CheckRow.started_at > success.c.at))
        .group_by(CheckRow.url_id)
        .subquery("since")
    )
    newest = and_(CheckRow.url_id == UrlRow.id, CheckRow.started_at == last.c.at, failing)
    stmt = (
        select(UrlRow.url, UrlRow.site_id, last.c.at, success.c.at, since.c.failures)
        .add_columns(CheckRow.error)
        .select_from(UrlRow)
        .outerjoin(last, last.c.url_id == UrlRow.id)
        .outerjoin(success, success.c.url_id == UrlRow.id)
        .outerjoin(since, since.c.url_id == UrlRow.id)
        .outerjoin(CheckRow, newest)
        .where(UrlRow.active.is_(True))
    )
    states = {}
    for url, site_id, last_at, success_at, failures, error in session.execute(stmt):
        states[url] = UrlState(url, site_id, last_at, success_at, failures or 0, error)
    return states


def _newest(name: str, condition: Any = None) -> Any:
    """Per URL, the start of its newest check (meeting ``condition``, if given)."""
    stmt = select(CheckRow.url_id, func.max(CheckRow.started_at).label("at"))
    if condition is not None:
        stmt = stmt.where(condition)
    return stmt.group_by(CheckRow.url_id).subquery(name)


def stored_sites(session: Session) -> tuple[Site, ...]:
    """The store's active sites with their active URLs, for a status without a watchlist."""
    rows = session.execute(
        select(SiteRow.id, SiteRow.name, UrlRow.url)
        .join(UrlRow, UrlRow.site_id == SiteRow.id)
        .where(SiteRow.active.is_(True), UrlRow.active.is_(True))
        .order_by(SiteRow.id, UrlRow.id)
    )
    urls: dict[tuple[str, str], list[str]] = {}
    for site_id, name, url in rows:
        urls.setdefault((site_id, name), []).append(url)
    return tuple(Site(site_id, name, tuple(found)) for (site_id, name), found in urls.items())


# --------------------------------------------------------------------------- judging


class SiteState(StrEnum):
    """A site's health, worst first."""

    FAILING = "failing"
    OVERDUE = "overdue"
    NEVER_CHECKED = "never checked"
    OK = "ok"


@dataclass(frozen=True)
class SiteStatus:
    """One site's health: its last checks and its URLs failing repeatedly."""

    site_id: str
    name: str
    state: SiteState
    interval: float
    last_check: datetime | None
    last_success: datetime | None
    failing: tuple[UrlState, ...]

    def to_json(self) -> dict[str, Any]:
        """The site as ``monitor status --json`` shows it."""
        return {
            "site": self.site_id,
            "name": self.name,
            "state": self.state.value,
            "interval": self.interval,
            "last_check": _iso(self.last_check),
            "last_success": _iso(self.last_success),
            "failing_urls": [state.to_json() for state in self.failing],
        }


@dataclass(frozen=True)
class Health:
    """The health of every watched site at ``at``; healthy when every site is ok."""

    at: datetime
    failures_allowed: int
    sites: tuple[SiteStatus, ...]
    # Changes whose alert some target has not taken yet (monitor.outbox): reported, not
    # judged, since the sites are checked all the same.
    alerts_owed: int = 0

    @property
    def healthy(self) -> bool:
        """True when every site is ok (``monitor status`` exits 0)."""
        return all(site.state is SiteState.OK for site in self.sites)

    def problems(self) -> tuple[SiteStatus, ...]:
        """The sites that are not ok, worst first."""
        order = list(SiteState)
        bad = [site for site in self.sites if site.state is not SiteState.OK]
        return tuple(sorted(bad, key=lambda site: (order.index(site.state), site.site_id)))

    def to_json(self) -> dict[str, Any]:
        """``monitor status --json``."""
        return {
            "healthy": self.healthy,
            "at": _iso(self.at),
            "failures_allowed": self.failures_allowed,
            "sites": [site.to_json() for site in self.sites],
            "alerts_owed": self.alerts_owed,
        }


def judge(
    sites: Iterable[Site],
    states: Mapping[str, UrlState],
    settings: Settings,
    now: datetime,
    alerts_owed: int = 0,
) -> Health:
    """The health of ``sites`` by the log's ``states`` at ``now`` (pure)."""
    judged = tuple(_site_status(site, states, settings, now) for site in sites)
    return Health(now, settings.status_failures, judged, alerts_owed)


def _site_status(
    site: Site, states: Mapping[str, UrlState], settings: Settings, now: datetime
) -> SiteStatus:
    known = [states[url] for url in site.urls if url in states]
    interval = site.check_interval(settings)
    last_check = _latest(state.last_check for state in known)
    last_success = _latest(state.last_success for state in known)
    failing = tuple(state for state in known if state.failures >= settings.status_failures)
    if failing:
        state = SiteState.FAILING
    elif last_check is None:
        state = SiteState.NEVER_CHECKED
    elif now - last_check > timedelta(seconds=OVERDUE_FACTOR * interval):
        state = SiteState.OVERDUE
    else:
        state = SiteState.OK
    return SiteStatus(site.id, site.name, state, interval, last_check, last_success, failing)


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


# --------------------------------------------------------------------------- display


def status_table(health: Health) -> Table:
    """The health as ``monitor status`` prints it: one row per site, problems first."""
    table = Table("site", "state", "last successful check", "failing URLs")
    for column in table.columns:
        column.overflow = "fold"
    problems = health.problems()
    ok = [site for site in health.sites if site.state is SiteState.OK]
    for site in (*problems, *ok):
        style = "green" if site.state is SiteState.OK else "red"
        table.add_row(
            Text(site.site_id),
            Text(site.state.value, style=style),
            Text(_ago(site.last_success, health.at)),
            Text("\n".join(_failing_line(url) for url in site.failing)),
        )
    return table


def summary(health: Health) -> str:
    """One line: how many sites are fine, and what is wrong with the others."""
    counts: dict[SiteState, int] = {}
    for site in health.sites:
        counts[site.state] = counts.get(site.state, 0) + 1
    if not health.sites:
        return "no sites are watched"
    parts = [f"{counts[state]} {state.value}" for state in SiteState if state in counts]
    verdict = "healthy" if health.healthy else "UNHEALTHY"
    line = f"{verdict}: {len(health.sites)} sites, " + ", ".join(parts)
    if health.alerts_owed:
        line += f"; alerts still owed for {health.alerts_owed} changes (see the daemon's log)"
    return line


def _failing_line(state: UrlState) -> str:
    why = f": {state.last_error}" if state.last_error else ""
    return f"{state.url} ({state.failures} failed checks in a row{why})"


# How long ago, in the largest unit that fits: 90 s is "1m ago", 30 hours "1d ago".
_AGE_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    unit, size = next(((u, n) for u, n in _AGE_UNITS if seconds >= n), ("s", 1))
    return f"{_iso(moment)} ({seconds // size}{unit} ago)"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sites_to_judge(watched: Sequence[Site] | None, session: Session) -> tuple[Site, ...]:
    """The watchlist's enabled sites when there is a watchlist, else the store's active ones."""
    if watched is None:
        return stored_sites(session)
    return tuple(site for site in watched if site.enabled)
