"""Live fetching, and the one factory that builds every HTTP client of the package.

Clients are built here and passed in, never kept in module globals, so tests hand in a
respx router or point the code at a local server.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from monitor import USER_AGENT
from monitor.config import Settings
from monitor.errors import FetchError

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
MAX_REDIRECTS = 10


def build_client(
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    follow_redirects: bool = False,
    max_connections: int = 100,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with this tool's User-Agent, timeouts and limits.

    ``verify``: an SSL context to share between clients (building one loads the CA bundle).
    """
    merged = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    merged.update(headers or {})
    return httpx.AsyncClient(
        headers=merged,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        follow_redirects=follow_redirects,
        max_redirects=MAX_REDIRECTS,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
        verify=verify,
    )


@dataclass(frozen=True)
class LiveResponse:
    """The bytes a live URL served, with what is needed to record it as a capture."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    body: bytes
    fetched_at: datetime
    redirects: tuple[str, ...] = ()


async def fetch_live(client: httpx.AsyncClient, url: str, max_bytes: int) -> LiveResponse:
    """GET ``url`` following redirects, keeping at most ``max_bytes`` of the body.

    Raises :class:`FetchError` on network errors, timeouts and bodies over the cap.
    """
    fetched_at = datetime.now(UTC)
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            body = await _read_capped(response, url, max_bytes)
    except httpx.TimeoutException as exc:
        raise FetchError(url, "timed out") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects") from exc
    except httpx.HTTPError as exc:
        raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
    return LiveResponse(
        url=url,
        final_url=str(response.url),
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        body=body,
        fetched_at=fetched_at,
        redirects=tuple(str(r.url) for r in response.history),
    )


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"response larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_one(url: str, settings: Settings) -> tuple[bytes, str | None]:
    """Fetch one URL for ``monitor extract``: its body and Content-Type, or a FetchError."""

    async def run() -> LiveResponse:
        async with build_client(timeout=settings.fetch_timeout) as client:
            return await fetch_live(client, url, settings.fetch_max_bytes)

    response = asyncio.run(run())
    if response.status >= 400:
        raise FetchError(url, f"HTTP {response.status}")
    return response.body, response.content_type
