"""A local stand-in for the Wayback Machine, for tests, benchmarks and ``monitor demo``.

It answers the two endpoints the archive client uses, in the formats the real archive sends
(compared with recorded real traffic in ``tests/data/fakearchive/``):

- ``/cdx/search/cdx``: the capture index, as text or ``output=json``, with ``from``/``to``,
  ``filter``, ``collapse``, ``fl``, ``limit``, ``showResumeKey`` and ``resumeKey``; the query
  language and its pages are :mod:`monitor.fakecdx`.  A bad query is a 400, a blocked site the
  archive's 403.
- ``/web/<timestamp>id_/<url>``: the raw capture with its Memento headers; an inexact timestamp
  is a 302 to the nearest capture; an unknown URL is the archive's own 404 page; an archived
  redirect answers with its own status, Memento-Datetime and a Location inside the archive.
  Without ``id_`` (view mode) a toolbar naming the Internet Archive is injected, as the real
  viewer does, so tests can prove the client never reads it.

Tests drive it through :class:`FakeArchive`: add captures (bodies may be callables, so 10,000
captures cost little until read), block a site, make the next requests fail (429, 503, a hang)
and read the request log to check the client's rate limits held.

Stdlib only, because ``monitor demo`` runs it after a plain ``pip install .``.  The module runs
past 500 lines on purpose: the capture model, the playback, the faults, the request log and the
server are one fake that tests drive as a unit (a hang is a fault the server must release on
shutdown), while the CDX query language, which stands alone, is in :mod:`monitor.fakecdx`.  The
server speaks HTTP/1.0 so each connection carries one request: an idle keep-alive connection
would hold its handler thread open and stall the server's shutdown.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import re
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import StrEnum
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin

from monitor.fakecdx import TIMESTAMP_DIGITS, cdx_page, parse_cdx_query, urlkey

CDX_PATH = "/cdx/search/cdx"
WEB_PREFIX = "/web/"
# A partial timestamp (2021, 202108) names the start of its period: month and day 01.
TIMESTAMP_FLOOR = "19700101000000"
# Bytes a WARC record's own headers add to the compressed length the CDX reports.
WARC_RECORD_OVERHEAD = 400
DEFAULT_HANG_S = 30.0
# Socket timeout of a handler: a client that connects and never sends cannot stall shutdown.
HANDLER_TIMEOUT_S = 10.0
LOCALHOST = "127.0.0.1"

CDX_TEXT_TYPE = "text/plain;charset=UTF-8"
CDX_JSON_TYPE = "application/json"
REDIRECT_TYPE = "text/plain; charset=utf-8"
ARCHIVE_PAGE_TYPE = "text/html; charset=utf-8"
BLOCKED_CDX_ERROR = (
    "org.archive.util.io.RuntimeIOException: "
    "org.archive.wayback.exception.AdministrativeAccessControlException: Blocked Site Error"
)

_ARCHIVE_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <title>Wayback Machine</title>
    <!-- Copyright (C) 2020 Internet Archive (the archive's own page, served by the fake) -->
  </head>
  <body>
    <div id="error">
      <h2>{title}</h2>
      <p>{message}</p>
    </div>
    <footer>
      <p>The Wayback Machine is an initiative of the Internet Archive, a 501(c)(3) non-profit.</p>
    </footer>
  </body>
</html>
"""
NOT_ARCHIVED_PAGE = _ARCHIVE_PAGE.format(
    title="Hrm.", message="The Wayback Machine has not archived that URL."
).encode()
EXCLUDED_PAGE = _ARCHIVE_PAGE.format(
    title="Sorry.", message="This URL has been excluded from the Wayback Machine."
).encode()
VIEWER_TOOLBAR = (
    b'<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id="wm-ipp">INTERNET ARCHIVE Wayback Machine '
    b"COPYRIGHT INTERNET ARCHIVE</div><!-- END WAYBACK TOOLBAR INSERT -->"
)
_FAULT_BODIES = {
    429: b"<html><head><title>429 Too Many Requests</title></head>"
    b"<body><h1>Too Many Requests</h1></body></html>\n",
    503: b"<html><head><title>503 Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1></body></html>\n",
}

_WEB_PATH = re.compile(r"^/web/(?P<ts>\d{1,14})(?P<mode>[a-z]{2}_)?/(?P<url>.+)$", re.DOTALL)
_ENCODED_SCHEME = re.compile(r"^https?%3A", re.IGNORECASE)
_COLLAPSED_SCHEME = re.compile(r"^(https?):/+", re.IGNORECASE)


class RequestKind(StrEnum):
    """Which endpoint a request went to; rate limits differ between them."""

    CDX = "cdx"
    MEMENTO = "memento"
    OTHER = "other"


class Fault(StrEnum):
    """A failure the fake can inject into its next requests."""

    RATE_LIMITED = "rate_limited"  # 429, optionally with Retry-After
    UNAVAILABLE = "unavailable"  # 503
    HANG = "hang"  # no answer until the client gives up (or the server stops)


@dataclass(frozen=True)
class FakeCapture:
    """One archived response: what the site served at ``timestamp`` (14 digits, UTC).

    ``body`` may be a callable returning the bytes, called only when the capture is read, so a
    benchmark can hold 10,000 captures cheaply.  ``headers`` are the site's own response
    headers as archived (served back as ``X-Archive-Orig-*``); a ``Location`` among them makes
    a 3xx capture an archived redirect.
    """

    url: str
    timestamp: str
    status: int = 200
    mimetype: str = "text/html"
    body: bytes | Callable[[], bytes] = b""
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _parse_timestamp(self.timestamp, exact=True)
        if not 100 <= self.status <= 599:
            raise ValueError(f"capture {self.url} at {self.timestamp}: bad status {self.status}")

    def content(self) -> bytes:
        """The archived body, generated on demand when ``body`` is a callable."""
        return self.body() if callable(self.body) else self.body

    @cached_property
    def urlkey(self) -> str:
        """The SURT key the archive files this capture under."""
        return urlkey(self.url)

    @cached_property
    def _summary(self) -> tuple[str, int]:
        data = self.content()
        digest = base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")
        return digest, len(zlib.compress(data)) + WARC_RECORD_OVERHEAD

    @property
    def digest(self) -> str:
        """Base32 SHA-1 of the body, the CDX ``digest`` column."""
        return self._summary[0]

    @property
    def length(self) -> int:
        """The CDX ``length`` column: a compressed record size, not the body's length."""
        return self._summary[1]

    @property
    def location(self) -> str | None:
        """The archived ``Location`` header, for captures of redirects."""
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    def cdx_row(self) -> dict[str, str]:
        """The CDX line for this capture, every value a string as the archive sends."""
        return {
            "urlkey": self.urlkey,
            "timestamp": self.timestamp,
            "original": self.url,
            "mimetype": self.mimetype,
            "statuscode": str(self.status),
            "digest": self.digest,
            "length": str(self.length),
        }


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake received; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    path: str
    query: str
    kind: RequestKind
    at: float
    status: int | None  # None when the request was left hanging

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string parsed, repeated keys kept."""
        return parse_qs(self.query, keep_blank_values=True)


@dataclass
class _FaultPlan:
    # Mutable on purpose: ``remaining`` counts down as requests consume the fault.
    fault: Fault
    remaining: int
    kind: RequestKind | None
    retry_after: float | None
    hang_s: float


@dataclass(frozen=True)
class Reply:
    """One answer of the fake: status, headers and body, or a hang of ``hang_s`` seconds."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    hang_s: float | None = None


class FakeArchive:
    """Captures by URL, plus the switches and the request log tests need.

    Thread-safe: the server answers from several threads while a test adds faults or reads
    the log.
    """

    def __init__(self, captures: Iterable[FakeCapture] = ()) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, list[FakeCapture]] = {}
        self._blocked: set[str] = set()
        self._faults: list[_FaultPlan] = []
        self._log: list[LoggedRequest] = []
        for capture in captures:
            self.add(capture)

    def add(self, capture: FakeCapture) -> None:
        """File one capture under its URL key, keeping each URL's captures in time order."""
        with self._lock:
            bisect.insort(
                self._by_key.setdefault(capture.urlkey, []), capture, key=lambda c: c.timestamp
            )

    def captures(self, url: str) -> tuple[FakeCapture, ...]:
        """Every capture of ``url`` (any spelling of it), oldest first."""
        with self._lock:
            return tuple(self._by_key.get(urlkey(url), ()))

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._by_key.values())

    def block(self, url: str) -> None:
        """Exclude ``url``'s whole host, as the archive does for sites that asked to be."""
        with self._lock:
            self._blocked.add(_host_key(url))

    def fail_next(
        self,
        count: int,
        fault: Fault,
        *,
        kind: RequestKind | None = None,
        retry_after: float | None = None,
        hang_s: float = DEFAULT_HANG_S,
    ) -> None:
        """Make the next ``count`` requests (of ``kind``, or any) fail with ``fault``.

        ``retry_after`` adds a Retry-After header to 429s; a hang lasts ``hang_s`` seconds or
        until the server stops, then the connection closes without an answer.
        """
        if count < 1:
            raise ValueError(f"fail_next: count must be at least 1, not {count}")
        with self._lock:
            self._faults.append(_FaultPlan(fault, count, kind, retry_after, hang_s))

    @property
    def requests(self) -> tuple[LoggedRequest, ...]:
        """The request log so far, in arrival order."""
        with self._lock:
            return tuple(sorted(self._log, key=lambda r: r.at))

    def count(self, kind: RequestKind | None = None) -> int:
        """How many requests (of ``kind``, or all) the fake has received."""
        return sum(1 for r in self.requests if kind is None or r.kind == kind)

    def max_rate(self, kind: RequestKind, window_s: float) -> float:
        """The most requests of ``kind`` seen in any ``window_s``-second window, per second.

        Windows are half-open, ``[t, t + window_s)``, so a client spaced exactly at its limit
        measures at its limit.
        """
        if window_s <= 0:
            raise ValueError(f"max_rate: window_s must be positive, not {window_s}")
        times = [r.at for r in self.requests if r.kind == kind]
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window_s:
                start += 1
            best = max(best, end - start + 1)
        return best / window_s

    def clear_log(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._log.clear()

    def respond(self, method: str, target: str, base_url: str) -> Reply:
        """Answer one request (``target`` is the path with its query), logging it."""
        arrived = time.monotonic()
        path, _, query = target.partition("?")
        kind = _classify(path)
        reply = self._take_fault(kind) or self._route(path, query, target, base_url)
        status = None if reply.hang_s is not None else reply.status
        with self._lock:
            self._log.append(LoggedRequest(method, path, query, kind, arrived, status))
        return reply

    def _take_fault(self, kind: RequestKind) -> Reply | None:
        with self._lock:
            plan = next((p for p in self._faults if p.kind in (None, kind)), None)
            if plan is None:
                return None
            plan.remaining -= 1
            if plan.remaining == 0:
                self._faults.remove(plan)
        return _fault_reply(plan)

    def _route(self, path: str, query: str, target: str, base_url: str) -> Reply:
        if path == CDX_PATH:
            return self._cdx_reply(parse_qs(query, keep_blank_values=True))
        match = _WEB_PATH.match(target)
        if match is None:
            return Reply(404, (("Content-Type", REDIRECT_TYPE),), b"not found\n")
        url = _clean_target(match["url"])
        if self._is_blocked(url):
            return Reply(200, (("Content-Type", ARCHIVE_PAGE_TYPE),), EXCLUDED_PAGE)
        return _memento_reply(self.captures(url), match["ts"], match["mode"] or "", base_url)

    def _cdx_reply(self, params: dict[str, list[str]]) -> Reply:
        try:
            query = parse_cdx_query(params)
        except ValueError as exc:
            return Reply(400, (("Content-Type", CDX_TEXT_TYPE),), f"{exc}\n".encode())
        if self._is_blocked(query.url):
            headers = (
                ("Content-Type", CDX_TEXT_TYPE),
                ("X-Archive-Wayback-Runtime-Error", BLOCKED_CDX_ERROR),
            )
            return Reply(403, headers, f"{BLOCKED_CDX_ERROR}\n".encode())
        body = cdx_page(self._cdx_candidates(query.key, query.prefix), query)
        content_type = CDX_JSON_TYPE if query.json else CDX_TEXT_TYPE
        return Reply(200, (("Content-Type", content_type), ("X-location", "cdx")), body)

    def _is_blocked(self, url: str) -> bool:
        with self._lock:
            return _host_key(url) in self._blocked

    def _cdx_candidates(self, key: str, prefix: bool) -> list[FakeCapture]:
        with self._lock:
            if not prefix:
                return list(self._by_key.get(key, ()))
            keys = sorted(k for k in self._by_key if k.startswith(key))
            return [c for k in keys for c in self._by_key[k]]


def _classify(path: str) -> RequestKind:
    if path == CDX_PATH:
        return RequestKind.CDX
    if path.startswith(WEB_PREFIX):
        return RequestKind.MEMENTO
    return RequestKind.OTHER


def _host_key(url: str) -> str:
    return urlkey(url).partition(")")[0]


def _clean_target(raw: str) -> str:
    # Some clients percent-encode the archived URL (http%3A//host%3A80/); some proxies fold
    # the double slash after the scheme.  The archive accepts both.
    if _ENCODED_SCHEME.match(raw):
        raw = unquote(raw)
    return _COLLAPSED_SCHEME.sub(r"\1://", raw)


def _parse_timestamp(ts: str, *, exact: bool = False) -> datetime:
    if not ts.isdigit() or not 1 <= len(ts) <= TIMESTAMP_DIGITS:
        raise ValueError(f"bad timestamp {ts!r}: expected 1 to 14 digits")
    if exact and len(ts) != TIMESTAMP_DIGITS:
        raise ValueError(f"bad timestamp {ts!r}: expected 14 digits")
    padded = ts + TIMESTAMP_FLOOR[len(ts) :]
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"bad timestamp {ts!r}: {exc}") from exc


def _http_date(ts: str) -> str:
    return format_datetime(_parse_timestamp(ts), usegmt=True)


def _fault_reply(plan: _FaultPlan) -> Reply:
    if plan.fault is Fault.HANG:
        return Reply(0, hang_s=plan.hang_s)
    status = 429 if plan.fault is Fault.RATE_LIMITED else 503
    headers = [("Content-Type", "text/html; charset=UTF-8")]
    if plan.retry_after is not None and status == 429:
        headers.append(("Retry-After", f"{plan.retry_after:g}"))
    return Reply(status, tuple(headers), _FAULT_BODIES[status])


# --- Mementos ------------------------------------------------------------------------------


def _nearest(captures: Sequence[FakeCapture], when: datetime) -> FakeCapture:
    # Ties go to the earlier capture; min() keeps the first of equals.
    return min(captures, key=lambda c: abs((_parse_timestamp(c.timestamp) - when).total_seconds()))


def _memento_link(base: str, rel: str, capture: FakeCapture) -> str:
    date = _http_date(capture.timestamp)
    return f'<{base}/web/{capture.timestamp}/{capture.url}>; rel="{rel}"; datetime="{date}"'


def _link_header(base: str, captures: Sequence[FakeCapture], index: int) -> str:
    capture = captures[index]
    links = [
        f'<{capture.url}>; rel="original"',
        f'<{base}/web/timemap/link/{capture.url}>; rel="timemap"; type="application/link-format"',
        f'<{base}/web/{capture.url}>; rel="timegate"',
        _memento_link(base, "first memento", captures[0]),
    ]
    if index > 0:
        links.append(_memento_link(base, "prev memento", captures[index - 1]))
    links.append(_memento_link(base, "memento", capture))
    if index + 1 < len(captures):
        links.append(_memento_link(base, "next memento", captures[index + 1]))
    links.append(_memento_link(base, "last memento", captures[-1]))
    return ", ".join(links)


def _memento_headers(
    captures: Sequence[FakeCapture], index: int, mode: str, base: str
) -> list[tuple[str, str]]:
    capture = captures[index]
    own = {k.lower(): v for k, v in capture.headers}
    headers = [
        ("Content-Type", own.get("content-type", capture.mimetype)),
        ("Memento-Datetime", _http_date(capture.timestamp)),
        ("Link", _link_header(base, captures, index)),
        ("X-Archive-Src", f"fake-archive-{capture.timestamp[:8]}.warc.gz"),
    ]
    if "date" not in own:
        headers.append(("X-Archive-Orig-Date", _http_date(capture.timestamp)))
    for name, value in capture.headers:
        if name.lower() not in ("location", "content-type"):
            headers.append((f"X-Archive-Orig-{name}", value))
    if capture.location is not None and 300 <= capture.status < 400:
        # The archive rewrites an archived redirect into its own space at the same timestamp;
        # following it then lands on the target's nearest capture.
        target = urljoin(capture.url, capture.location)
        headers.append(("Location", f"{base}/web/{capture.timestamp}{mode}/{target}"))
    return headers


def _memento_reply(captures: Sequence[FakeCapture], ts: str, mode: str, base: str) -> Reply:
    if not captures:
        return Reply(404, (("Content-Type", ARCHIVE_PAGE_TYPE),), NOT_ARCHIVED_PAGE)
    try:
        when = _parse_timestamp(ts)
    except ValueError as exc:
        return Reply(400, (("Content-Type", REDIRECT_TYPE),), f"{exc}\n".encode())
    index = next((i for i, c in enumerate(captures) if c.timestamp == ts), None)
    if index is None:
        found = _nearest(captures, when)
        headers = (
            ("Content-Type", REDIRECT_TYPE),
            ("Location", f"{base}/web/{found.timestamp}{mode}/{found.url}"),
            ("X-Archive-Redirect-Reason", f"found capture at {found.timestamp}"),
        )
        return Reply(302, headers)
    body = captures[index].content()
    if mode != "id_":
        body = _inject_toolbar(body)
    return Reply(captures[index].status, tuple(_memento_headers(captures, index, mode, base)), body)


def _inject_toolbar(body: bytes) -> bytes:
    at = body.lower().find(b"<body")
    at = body.find(b">", at) + 1 if at >= 0 else 0
    return body[:at] + VIEWER_TOOLBAR + body[at:]


# --- The server ----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (not daemons), so no socket outlives the server.
    daemon_threads = False

    def __init__(self, archive: FakeArchive) -> None:
        super().__init__((LOCALHOST, 0), _Handler)
        self.archive = archive
        self.stopping = threading.Event()
        self.base_url = f"http://{LOCALHOST}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, closed socket) is expected in fault tests; anything
        # else still gets the standard traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "nginx"
    sys_version = ""
    timeout = HANDLER_TIMEOUT_S

    def do_GET(self) -> None:
        reply = self.server.archive.respond("GET", self.path, self.server.base_url)
        if reply.hang_s is not None:
            self.server.stopping.wait(reply.hang_s)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        # Quiet: the archive keeps its own request log for tests to read.
        return


@contextlib.contextmanager
def serve(archive: FakeArchive) -> Iterator[str]:
    """Serve ``archive`` on 127.0.0.1 at an ephemeral port; yields the base URL.

    Example::

        with serve(demo_archive()) as base_url:
            httpx.get(f"{base_url}/cdx/search/cdx", params={"url": DEMO_URL})

    On exit, hanging requests are released and every handler thread is joined.
    """
    server = _Server(archive)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-archive"
    )
    thread.start()
    try:
        yield server.base_url
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
