"""Replay recorded archive traffic (vcrpy cassettes, cdx_toolkit JSON lines) through respx.

The recordings were made by other clients with other query parameters, so a request is
matched on what identifies the resource: the path (percent-decoded) and, for the CDX
endpoint, only the ``resumeKey`` (which page), and for anything else the whole query.
Interactions with the same key answer in the order recorded.  Bodies are served as
recorded: gzip bytes keep their ``Content-Encoding`` so httpx decodes them as it would
live.  A request that matches nothing fails the test.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import respx
import yaml

DATA = Path(__file__).parent / "data" / "wayback"
CDX_PATH = "/cdx/search/cdx"
GZIP_MAGIC = b"\x1f\x8b"
# Framing headers describe the recorded connection, not the body respx will serve.
DROPPED_HEADERS = frozenset({"transfer-encoding", "content-length", "connection"})


@dataclass(frozen=True)
class Recorded:
    """One recorded request and the archive's answer."""

    method: str
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> httpx.Response:
        """The answer as httpx would have received it."""
        return httpx.Response(self.status, headers=list(self.headers), content=self.body)

    def text(self) -> str:
        """The body decoded (gunzipped if need be), for assertions."""
        raw = gzip.decompress(self.body) if self.body.startswith(GZIP_MAGIC) else self.body
        return raw.decode("utf-8", "replace")


def load(name: str) -> list[Recorded]:
    """The interactions of one recording in ``tests/data/wayback``."""
    path = DATA / name
    if path.suffix == ".jsonl":
        return [_from_jsonl(json.loads(line)) for line in path.read_text().splitlines() if line]
    cassette = yaml.safe_load(path.read_text())
    return [_from_vcr(item) for item in cassette["interactions"]]


def match_key(method: str, url: httpx.URL | str) -> tuple[str, str, str]:
    """What a request is matched on: method, decoded path, and the identifying query."""
    url = httpx.URL(url)
    path = unquote(url.raw_path.split(b"?")[0].decode())
    if path == CDX_PATH:
        return method, path, url.params.get("resumeKey", "")
    return method, path, unquote(url.query.decode())


class Replay:
    """Routes on a respx router that answer from recordings, counting what was asked."""

    def __init__(
        self,
        router: respx.MockRouter,
        recorded: Iterable[Recorded],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.answers: dict[tuple[str, str, str], deque[Recorded]] = defaultdict(deque)
        for item in recorded:
            self.answers[match_key(item.method, item.url)].append(item)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self._clock = clock
        self.route = router.route().mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._clock is not None:
            self.times.append(self._clock())
        queue = self.answers.get(match_key(request.method, request.url))
        if not queue:
            raise AssertionError(f"no recorded answer for {request.method} {request.url}")
        return queue.popleft().response()

    @property
    def unanswered(self) -> int:
        """Recorded interactions no request has used."""
        return sum(len(queue) for queue in self.answers.values())


def replay(
    router: respx.MockRouter, *names: str, clock: Callable[[], float] | None = None
) -> Replay:
    """Mount the named recordings on ``router``; ``clock`` times each request."""
    return Replay(router, (item for name in names for item in load(name)), clock)


def _from_vcr(item: dict[str, Any]) -> Recorded:
    request, response = item["request"], item["response"]
    body = response["body"]["string"]
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    return Recorded(
        method=request["method"],
        url=request["uri"],
        status=int(response["status"]["code"]),
        headers=_headers(
            ((name, value) for name, values in response["headers"].items() for value in values),
            raw,
        ),
        body=raw,
    )


def _from_jsonl(item: dict[str, Any]) -> Recorded:
    url = httpx.URL(item["url"], params=_jsonl_params(item.get("request_params")))
    # cdx_toolkit stored the decoded text, though the headers still say gzip.
    body = item["response_text"].encode("utf-8")
    return Recorded(
        method=item["method"],
        url=str(url),
        status=int(item["response_status_code"]),
        headers=_headers(item["response_headers"].items(), body),
        body=body,
    )


def _jsonl_params(params: dict[str, Any] | None) -> dict[str, str]:
    return {key: str(value) for key, value in (params or {}).items() if value is not None}


def _headers(items: Iterable[tuple[str, str]], body: bytes) -> tuple[tuple[str, str], ...]:
    """The headers to serve: framing dropped, gzip claimed only for gzip bytes."""
    gzipped = body.startswith(GZIP_MAGIC)
    return tuple(
        (name, str(value))
        for name, value in items
        if name.lower() not in DROPPED_HEADERS and (name.lower() != "content-encoding" or gzipped)
    )
