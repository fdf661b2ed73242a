"""The Wayback Machine client: CDX searches and raw mementos, politely.

The archive's rules, as its recordings and maintainers state them (see
``tests/data/wayback/README.md``):

- Mementos are always fetched raw, ``/web/<14-digit timestamp>id_/<url>``: view mode
  injects a toolbar whose text names the Internet Archive as copyright holder, which an
  extractor would happily report as the site's operator.
- A response is a memento only if it carries ``Memento-Datetime``.  Without it, it is the
  archive's own page (not archived, blocked site, a redirect to the nearest capture, a live
  429 or 5xx) and never the site's content.  With it, even a 429 or a 5xx is what the site
  answered at capture time.
- The CDX ``digest`` is not the SHA-1 of the ``id_`` body and ``length`` is the compressed
  record size, so the body is hashed here; the digest only collapses identical captures.
- ``collapse=`` removes adjacent duplicates only, per page; CDX paging uses
  ``showResumeKey``/``resumeKey``, never ``page=`` (the paged index lags by days).
- About 30 CDX requests a minute per IP are allowed and a 429 that is ignored gets the IP
  refused for an hour: every request goes through the process's one
  :class:`~monitor.ratelimit.ArchiveLimiter`.

The HTTP client comes from :func:`monitor.fetch.build_client` and is passed in.  The CDX
formats (the query, the JSON and text pages, the 14-digit timestamps) are read and written
by :mod:`monitor.cdx`, without I/O; this module sends, retries, follows and counts.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from monitor.cdx import (
    TIMESTAMP_FORMAT,
    CdxPage,
    CdxRow,
    When,
    as_utc,
    is_duplicate,
    memento_timestamp,
    parse_page,
    search_params,
)
from monitor.config import (
    DEFAULT_ARCHIVE_RETRIES,
    DEFAULT_FETCH_MAX_BYTES,
    DEFAULT_WAYBACK_URL,
    Settings,
)
from monitor.errors import (
    ArchiveError,
    ArchiveRateLimited,
    ArchiveUnavailable,
    BlockedSite,
    NotAMemento,
    NotArchived,
    RedirectLoop,
)
from monitor.fetch import build_client
from monitor.ratelimit import ArchiveLimiter, RequestKind

logger = logging.getLogger(__name__)

CDX_PATH = "/cdx/search/cdx"
# Rows per CDX request.  Fewer, larger pages spend less of the tight CDX ration; 5,000 rows
# of JSON is about 800 kB, which the archive serves well inside the request timeout.
CDX_PAGE_SIZE = 5000
DEFAULT_STATUSES = ("200",)
# A footer lives in HTML; other types (images, PDFs, feeds) have none to extract.
DEFAULT_MIMETYPES = ("text/html", "application/xhtml+xml")
DEFAULT_COLLAPSE = "digest"
# Every live 5xx may pass, except those that say this request can never succeed.
RETRYABLE_STATUSES = frozenset(range(500, 600)) - {501, 505}
# Backoff before retry n (0-based) is BACKOFF_BASE * 2**n capped at BACKOFF_MAX, of which a
# random half is dropped ("equal jitter") so clients that failed together retry apart.
BACKOFF_BASE = 2.0
BACKOFF_MAX = 120.0
# Archive 302s to the nearest capture and the site's own archived redirects, together.
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The archive writes absolute Locations on its public host; recorded traffic and a fake
# archive replaying it carry them too.  They are rebuilt onto the configured base.
PUBLIC_ARCHIVE_HOST = "web.archive.org"
# A footer page is far below this; a larger memento is a download, not a page.
MAX_MEMENTO_BYTES = DEFAULT_FETCH_MAX_BYTES
# How the archive's own pages say a site is excluded (CDX 403 text, playback HTML).
BLOCKED_MARKERS = (
    b"AdministrativeAccessControlException",
    b"Blocked Site Error",
    b"excluded from the Wayback Machine",
)
# Headers of a memento worth keeping as evidence; X-Archive-Orig-* are the site's own.
KEPT_HEADERS = frozenset({"content-type", "memento-datetime", "link", "location", "x-archive-src"})
ORIG_HEADER_PREFIX = "x-archive-orig-"
_ARCHIVE_PATH = re.compile(r"^/web/(\d{14})(?:[a-z]{2}_)?/(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Hop:
    """One redirect followed on the way to a memento."""

    archive_url: str  # the id_ URL that answered with the redirect
    status: int
    archived: bool  # True: the site redirected at capture time; False: the archive did


@dataclass(frozen=True)
class Memento:
    """The raw bytes the archive holds for one capture, and where they came from."""

    requested_url: str
    requested_timestamp: str
    original_url: str
    captured_at: datetime
    timestamp: str  # 14 digits of the capture actually served
    archive_url: str  # the id_ URL actually served; contains ``timestamp``
    status: int  # the archived HTTP status, as the site answered the crawler
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    sha256: str
    redirects: tuple[Hop, ...] = ()

    @property
    def exact(self) -> bool:
        """True when the capture served is the one requested, at the URL requested."""
        return not self.redirects and self.timestamp == self.requested_timestamp

    def header(self, name: str) -> str | None:
        """A kept header's value (name case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


@dataclass
class ArchiveStats:
    """What one client sent and skipped; for progress reports and politeness checks."""

    cdx_requests: int = 0
    memento_requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_rows: int = 0
    duplicate_rows: int = 0


@dataclass(frozen=True)
class _Reply:
    response: httpx.Response
    body: bytes

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def memento_datetime(self) -> str | None:
        value = self.response.headers.get("memento-datetime")
        return None if value is None else str(value)


@dataclass(frozen=True)
class _Failure:
    why: str
    rate_limited: bool = False
    cause: Exception | None = None


class WaybackClient:
    """Searches the CDX index and fetches raw mementos through a shared rate limiter."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: ArchiveLimiter,
        *,
        base_url: str = DEFAULT_WAYBACK_URL,
        retries: int = DEFAULT_ARCHIVE_RETRIES,
        max_memento_bytes: int = MAX_MEMENTO_BYTES,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._limiter = limiter
        self.base_url = base_url.rstrip("/")
        self._base_host = httpx.URL(self.base_url).host
        self._retries = retries
        self._max_bytes = max_memento_bytes
        self._jitter = jitter
        self.stats = ArchiveStats()

    def memento_url(self, timestamp: str, url: str) -> str:
        """The raw (``id_``) archive URL of ``url`` captured at a 14-digit ``timestamp``."""
        return f"{self.base_url}/web/{timestamp}id_/{url}"

    async def search(
        self,
        url: str,
        *,
        from_: When | None = None,
        to: When | None = None,
        statuses: Sequence[str] | None = DEFAULT_STATUSES,
        mimetypes: Sequence[str] | None = DEFAULT_MIMETYPES,
        collapse: str | None = DEFAULT_COLLAPSE,
        match_type: str | None = None,
        page_size: int = CDX_PAGE_SIZE,
    ) -> AsyncIterator[CdxRow]:
        """Every capture of ``url`` the CDX index lists, oldest first, page by page.

        ``from_``/``to`` take a datetime, a date or 1-14 digits (the archive pads a short
        ``to`` to the end of its period).  ``statuses`` and ``mimetypes`` become ``filter=``
        regexes (None: no filter).  ``collapse`` is applied by the archive per page and again
        here across pages; identical adjacent rows are always dropped.  Malformed rows are
        skipped, logged and counted in :attr:`stats`.  Raises :class:`BlockedSite`,
        :class:`ArchiveRateLimited`, :class:`ArchiveUnavailable` or :class:`ArchiveError`.
        """
        params = search_params(
            url,
            from_=from_,
            to=to,
            statuses=statuses,
            mimetypes=mimetypes,
            collapse=collapse,
            match_type=match_type,
        )
        params.append(("limit", str(page_size)))
        previous: CdxRow | None = None
        resume_key: str | None = None
        while True:
            page = await self._cdx_page(url, params, resume_key)
            for row in page.rows:
                if previous is not None and is_duplicate(previous, row, collapse):
                    self.stats.duplicate_rows += 1
                    continue
                previous = row
                yield row
            if page.resume_key is None:
                return
            if page.resume_key == resume_key:
                logger.warning("CDX search for %s repeated resumeKey %s: stopped", url, resume_key)
                return
            resume_key = page.resume_key

    async def get_memento(
        self, url: str, at: datetime | str, *, follow_archived_redirects: bool = True
    ) -> Memento:
        """The raw capture of ``url`` at ``at`` (a datetime or 14 digits), or the nearest.

        Follows the archive's redirects to the nearest capture and, unless told not to, the
        site's own archived redirects, recording each hop.  Raises :class:`NotArchived`,
        :class:`BlockedSite`, :class:`NotAMemento`, :class:`RedirectLoop`,
        :class:`ArchiveRateLimited` or :class:`ArchiveUnavailable`.
        """
        timestamp = memento_timestamp(at)
        target = self.memento_url(timestamp, url)
        seen = {target}
        hops: list[Hop] = []
        while True:
            reply = await self._get(RequestKind.MEMENTO, target)
            archived = reply.memento_datetime is not None
            if archived:
                following = self._archived_redirect(reply) if follow_archived_redirects else None
                if following is None:
                    return self._memento(url, timestamp, target, reply, tuple(hops))
            else:
                following = self._archive_redirect(target, reply)
            hops.append(Hop(target, reply.status, archived))
            if following in seen:
                raise RedirectLoop(target, f"redirects back to {following}")
            if len(hops) >= MAX_REDIRECTS:
                raise RedirectLoop(target, f"more than {MAX_REDIRECTS} redirects")
            seen.add(following)
            target = following

    async def get_capture(self, row: CdxRow) -> Memento:
        """The raw memento of a capture the CDX index listed."""
        return await self.get_memento(row.original, row.timestamp)

    async def _cdx_page(
        self, url: str, params: list[tuple[str, str]], resume_key: str | None
    ) -> CdxPage:
        query = params + ([("resumeKey", resume_key)] if resume_key else [])
        reply = await self._get(RequestKind.CDX, self.base_url + CDX_PATH, query, subject=url)
        if reply.status != 200 and _is_blocked(reply.body):
            raise BlockedSite(url, "the archive excludes this site (CDX search answered blocked)")
        if reply.status != 200:
            first_line = reply.body.decode("utf-8", "replace").strip().split("\n")[0][:200]
            raise ArchiveError(url, f"CDX search answered HTTP {reply.status}: {first_line}")
        page = parse_page(url, reply.body)
        for skipped in page.skipped:
            self.stats.skipped_rows += 1
            logger.warning("skipped CDX row (%s): %.200s", skipped.why, skipped.text)
        return page

    def _archive_redirect(self, target: str, reply: _Reply) -> str:
        """Where an archive page (no Memento-Datetime) sends us, or the error it means."""
        if _is_blocked(reply.body):
            raise BlockedSite(target, "the archive excludes this site from playback")
        if reply.status in REDIRECT_STATUSES:
            following = self._archive_location(reply)
            if following is not None:
                return following
        if reply.status == 404:
            raise NotArchived(target, "the archive holds no capture of this URL")
        raise NotAMemento(target, f"HTTP {reply.status} without Memento-Datetime: an archive page")

    def _archived_redirect(self, reply: _Reply) -> str | None:
        """The archive URL an archived 3xx points to, or None for a memento to return."""
        if not 300 <= reply.status < 400:
            return None
        return self._archive_location(reply)

    def _archive_location(self, reply: _Reply) -> str | None:
        """The Location as a raw id_ URL on our base, or None if it leaves the archive."""
        location = reply.response.headers.get("location")
        if not location:
            return None
        resolved = reply.response.url.join(location)
        if resolved.host not in (self._base_host, PUBLIC_ARCHIVE_HOST):
            return None
        parts = _archive_parts(resolved)
        # Rebuilt in id_ mode on our base: a view-mode Location would bring the toolbar.
        return None if parts is None else self.memento_url(*parts)

    def _memento(
        self, url: str, timestamp: str, target: str, reply: _Reply, hops: tuple[Hop, ...]
    ) -> Memento:
        captured_at = _memento_datetime(target, reply.memento_datetime or "")
        served = captured_at.strftime(TIMESTAMP_FORMAT)
        parts = _archive_parts(reply.response.url)
        served_url = parts[1] if parts else url
        return Memento(
            requested_url=url,
            requested_timestamp=timestamp,
            original_url=_link_original(reply.response) or served_url,
            captured_at=captured_at,
            timestamp=served,
            archive_url=self.memento_url(served, served_url),
            status=reply.status,
            content_type=reply.response.headers.get("content-type"),
            headers=_kept_headers(reply.response.headers),
            body=reply.body,
            sha256=hashlib.sha256(reply.body).hexdigest(),
            redirects=hops,
        )

    async def _get(
        self,
        kind: RequestKind,
        url: str,
        params: list[tuple[str, str]] | None = None,
        *,
        subject: str | None = None,
    ) -> _Reply:
        """GET through the limiter, retrying live 5xx, 429s and network failures."""
        attempt = 0
        while True:
            await self._limiter.acquire(kind)
            self._count(kind)
            outcome = await self._attempt(url, params)
            if isinstance(outcome, _Reply):
                return outcome
            if attempt >= self._retries:
                error = ArchiveRateLimited if outcome.rate_limited else ArchiveUnavailable
                why = f"{outcome.why} after {attempt + 1} attempts"
                raise error(subject or url, why) from outcome.cause
            self.stats.retries += 1
            if not outcome.rate_limited:  # after a 429 the limiter's pause is the wait
                await self._limiter.sleep(self._backoff(attempt))
            attempt += 1

    async def _attempt(self, url: str, params: list[tuple[str, str]] | None) -> _Reply | _Failure:
        """One request: the reply to return, or why it failed and may be retried."""
        try:
            reply = await self._read(url, params)
        except httpx.TimeoutException as exc:
            return _Failure("timed out", cause=exc)
        except httpx.TransportError as exc:
            return _Failure(f"{type(exc).__name__}: {exc}", cause=exc)
        if reply.memento_datetime is not None:
            return reply  # whatever the status, the site's answer at capture time
        if reply.status == 429:
            self.stats.rate_limited += 1
            pause = self._limiter.pause(retry_after_seconds(reply.response.headers))
            logger.warning("archive answered 429 for %s: pausing all requests %.1f s", url, pause)
            return _Failure("HTTP 429 Too Many Requests", rate_limited=True)
        if reply.status in RETRYABLE_STATUSES:
            return _Failure(f"HTTP {reply.status}")
        return reply

    async def _read(self, url: str, params: list[tuple[str, str]] | None) -> _Reply:
        try:
            request = self._http.build_request("GET", url, params=tuple(params) if params else None)
        except httpx.InvalidURL as exc:
            raise ArchiveError(url, f"not a valid URL: {exc}") from exc
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            body = await self._read_capped(url, response)
        except httpx.DecodingError as exc:
            raise ArchiveError(url, f"undecodable response: {exc}") from exc
        finally:
            await response.aclose()
        return _Reply(response, body)

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise ArchiveError(url, f"response larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _backoff(self, retry: int) -> float:
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2.0**retry)
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _count(self, kind: RequestKind) -> None:
        if kind is RequestKind.CDX:
            self.stats.cdx_requests += 1
        else:
            self.stats.memento_requests += 1


@asynccontextmanager
async def open_wayback(
    settings: Settings,
    limiter: ArchiveLimiter,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[WaybackClient]:
    """A client on a fresh HTTP client built from the settings; closes it on exit.

    ``limiter`` is the process's one limiter (``ArchiveLimiter.from_settings(settings)``,
    built once): every client of the process must share it.
    """
    async with build_client(timeout=settings.archive_timeout, transport=transport) as http:
        yield WaybackClient(
            http, limiter, base_url=settings.wayback_url, retries=settings.archive_retries
        )


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta or HTTP date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(headers["date"]) if "date" in headers else datetime.now(UTC)
    except (TypeError, ValueError, IndexError):
        return None
    # Measured against the server's own Date, so our clock's drift does not matter.
    return max(0.0, (until - sent).total_seconds())


def _is_blocked(body: bytes) -> bool:
    return any(marker in body for marker in BLOCKED_MARKERS)


def _archive_parts(url: httpx.URL) -> tuple[str, str] | None:
    """(timestamp, archived URL) of an archive playback URL, or None."""
    match = _ARCHIVE_PATH.match(url.raw_path.decode("ascii", "replace"))
    return (match.group(1), match.group(2)) if match else None


def _memento_datetime(target: str, value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise NotAMemento(target, f"unreadable Memento-Datetime {value!r}") from exc
    return as_utc(moment)


def _link_original(response: httpx.Response) -> str | None:
    url = response.links.get("original", {}).get("url")
    # The archive HTML-escapes ampersands inside Link URLs.
    return url.replace("&amp;", "&") if url else None


def _kept_headers(headers: httpx.Headers) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key, value)
        for key, value in headers.multi_items()
        if key in KEPT_HEADERS or key.startswith(ORIG_HEADER_PREFIX)
    )
