"""The fake Wayback Machine answers in the real archive's formats.

Formats are compared with real recorded traffic in ``tests/data/fakearchive/`` (see its
README for provenance and licences); edge cases the recordings lack are checked by hand.  The
CDX query language itself is tested in ``test_fakecdx.py``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pytest
import yaml

from monitor.fakearchive import FakeArchive, FakeCapture, Fault, RequestKind, serve
from monitor.fakecdx import CDX_FIELDS

DATA = Path(__file__).parent / "data" / "fakearchive"
URL = "https://www.example.com/"
CDX = "/cdx/search/cdx"
# The resumeKey's shape on the real archive: encoded urlkey, '+', a timestamp whose last
# character was bumped (20010414005939 -> 2001041400593:, encoded %3A).
RESUME_KEY = re.compile(r"^[A-Za-z0-9%._-]+\+\d{13}(?:\d|%3A)$")
MEMENTO_LINK_RELS = {
    "original",
    "timemap",
    "timegate",
    "first memento",
    "prev memento",
    "memento",
    "next memento",
    "last memento",
}


@dataclass(frozen=True)
class Recorded:
    uri: str
    status: int
    headers: dict[str, str]
    body: bytes


def _cassette(name: str) -> list[Recorded]:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    out = []
    for item in data["interactions"]:
        response = item["response"]
        headers = {k.lower(): v[0] for k, v in response["headers"].items()}
        body = response["body"]["string"]
        body = body if isinstance(body, bytes) else body.encode()
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        out.append(Recorded(item["request"]["uri"], response["status"]["code"], headers, body))
    return out


def _recorded_json_cdx() -> tuple[str, dict[str, str]]:
    first = json.loads((DATA / "test_multi_ia.jsonl").read_text(encoding="utf-8").split("\n")[0])
    return first["response_text"], {k.lower(): v for k, v in first["response_headers"].items()}


def _ts(day: int, hour: int = 12) -> str:
    return f"202101{day:02d}{hour:02d}0000"


def _page(text: str) -> bytes:
    return f"<html><body><p>{text}</p><footer>© 2021 Example Ltd</footer></body></html>".encode()


def _captures(n: int, url: str = URL) -> list[FakeCapture]:
    return [
        FakeCapture(url, f"2021{i // 20 + 1:02d}{i % 20 + 1:02d}120000", body=_page(str(i)))
        for i in range(n)
    ]


@pytest.fixture
def archive() -> FakeArchive:
    return FakeArchive(_captures(5))


@pytest.fixture
def client(archive: FakeArchive) -> Iterator[httpx.Client]:
    with serve(archive) as base_url, httpx.Client(base_url=base_url, timeout=5) as http:
        yield http


def _cdx(client: httpx.Client, **params: str | int) -> httpx.Response:
    return client.get(CDX, params={"url": URL, **params})


def _text_rows(body: str) -> tuple[list[list[str]], str | None]:
    rows_part, _, key_part = body.partition("\n\n")
    rows = [line.split(" ") for line in rows_part.split("\n") if line]
    return rows, key_part.strip() or None


# --- CDX formats against the recordings ----------------------------------------------------


def test_cdx_json_has_the_recorded_header_row_and_layout(client: httpx.Client) -> None:
    recorded_text, recorded_headers = _recorded_json_cdx()
    response = _cdx(client, output="json")
    ours, theirs = response.json(), json.loads(recorded_text)
    assert ours[0] == theirs[0] == list(CDX_FIELDS)
    assert all(len(row) == 7 and all(isinstance(v, str) for v in row) for row in ours[1:])
    # One row a line, rows joined by ",\n", the whole wrapped in [ ]: as the archive sends it.
    for body in (response.text, recorded_text):
        lines = body.rstrip("\n").split("\n")
        assert lines[0].startswith('[["urlkey",')
        assert lines[-1].endswith("]]")
        assert all(line.endswith(",") for line in lines[:-1])
    assert response.headers["content-type"] == recorded_headers["content-type"]


def test_cdx_text_page_ends_like_the_recorded_pages(client: httpx.Client) -> None:
    recorded = _cassette("test_search_multipage.yaml")
    ours = _cdx(client, limit=3, showResumeKey="true")
    for status, content_type, body in (
        (recorded[0].status, recorded[0].headers["content-type"], recorded[0].body.decode()),
        (ours.status_code, ours.headers["content-type"], ours.text),
    ):
        rows, key = _text_rows(body)
        assert (status, content_type) == (200, "text/plain;charset=UTF-8")
        assert body.endswith(f"\n\n{key}\n")
        assert key is not None
        assert RESUME_KEY.match(key)
        assert all(len(row) == 7 for row in rows)
        last_ts = rows[-1][1]
        assert unquote_plus(key) == f"{rows[-1][0]} {last_ts[:-1]}{chr(ord(last_ts[-1]) + 1)}"


def test_cdx_last_page_after_a_full_one_is_empty_like_the_recording(
    client: httpx.Client,
) -> None:
    recorded = _cassette("test_search_multipage.yaml")
    assert recorded[-1].body == b""
    first = _cdx(client, limit=5, showResumeKey="true")
    _, key = _text_rows(first.text)
    assert key is not None
    last = _cdx(client, limit=5, showResumeKey="true", resumeKey=key)
    assert (last.status_code, last.text) == (200, "")


# --- Captures and the CDX endpoint ----------------------------------------------------------


def test_digest_is_base32_sha1_of_the_body() -> None:
    capture = FakeCapture(URL, _ts(1), body=b"<html>x</html>")
    expected = base64.b32encode(hashlib.sha1(b"<html>x</html>").digest()).decode()
    assert capture.digest == expected
    assert len(capture.digest) == 32


def test_prefix_query_lists_every_page_under_the_url() -> None:
    archive = FakeArchive([*_captures(2), *_captures(2, URL + "about/")])
    with serve(archive) as base_url, httpx.Client(base_url=base_url) as http:
        rows, _ = _text_rows(http.get(CDX, params={"url": "example.com/*"}).text)
    assert [row[0] for row in rows] == ["com,example)/"] * 2 + ["com,example)/about/"] * 2


@pytest.mark.parametrize(
    "params",
    [
        {"url": URL, "page": "1"},
        {"url": URL, "from": "20x1"},
        {},
        {"url": URL, "filter": "nofield:x"},
    ],
    ids=["page-paging", "bad-from", "no-url", "unknown-filter-field"],
)
def test_cdx_refuses_bad_requests(client: httpx.Client, params: dict[str, str]) -> None:
    assert client.get(CDX, params=params).status_code == 400


def test_capture_refuses_a_short_timestamp() -> None:
    with pytest.raises(ValueError, match="14 digits"):
        FakeCapture(URL, "2021")


# --- Blocked sites -------------------------------------------------------------------------


def test_blocked_site_cdx_answers_like_the_recording(
    archive: FakeArchive, client: httpx.Client
) -> None:
    (recorded,) = _cassette("test_search_raises_for_blocked_urls.yaml")
    archive.block(URL)
    response = _cdx(client)
    assert (response.status_code, response.content) == (recorded.status, recorded.body)
    assert (
        response.headers["x-archive-wayback-runtime-error"]
        == recorded.headers["x-archive-wayback-runtime-error"]
    )


def test_blocked_site_playback_is_an_archive_page_without_memento_datetime(
    archive: FakeArchive, client: httpx.Client
) -> None:
    archive.block("http://example.com/other")
    response = client.get(f"/web/{_ts(1)}id_/{URL}")
    assert response.status_code == 200
    assert "memento-datetime" not in response.headers
    assert b"excluded from the Wayback Machine" in response.content


# --- Mementos against the recordings --------------------------------------------------------


def _rels(link: str) -> set[str]:
    return set(re.findall(r'rel="([^"]+)"', link))


def test_exact_memento_carries_the_recorded_memento_headers(client: httpx.Client) -> None:
    recorded = _cassette("test_get_memento_follows_historical_redirects.yaml")[-1]
    response = client.get(f"/web/{_ts(3)}id_/{URL}")
    assert response.status_code == recorded.status == 200
    assert response.content == _page("2")
    for name in (
        "memento-datetime",
        "link",
        "content-type",
        "x-archive-src",
        "x-archive-orig-date",
    ):
        assert name in recorded.headers, name
        assert name in response.headers, name
    assert _rels(response.headers["link"]) == _rels(recorded.headers["link"]) == MEMENTO_LINK_RELS
    assert response.headers["memento-datetime"] == "Sun, 03 Jan 2021 12:00:00 GMT"


def test_first_and_last_captures_omit_prev_and_next(client: httpx.Client) -> None:
    first = client.get(f"/web/{_ts(1)}id_/{URL}").headers["link"]
    last = client.get(f"/web/{_ts(5)}id_/{URL}").headers["link"]
    assert _rels(first) == MEMENTO_LINK_RELS - {"prev memento"}
    assert _rels(last) == MEMENTO_LINK_RELS - {"next memento"}


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        ("20210103000000", _ts(2)),  # 12 h after day 2, 12 h before day 3: the earlier wins
        ("20210103000001", _ts(3)),
        ("20200101000000", _ts(1)),
        ("2030", _ts(5)),
        ("20210103", _ts(2)),
    ],
    ids=["tie-goes-earlier", "nearest-later", "before-all", "after-all", "partial-timestamp"],
)
def test_inexact_timestamp_redirects_like_the_recording(
    client: httpx.Client, requested: str, served: str
) -> None:
    recorded = _cassette("test_get_memento_follows_historical_redirects.yaml")[0]
    response = client.get(f"/web/{requested}id_/{URL}")
    for status, headers in (
        (recorded.status, recorded.headers),
        (response.status_code, response.headers),
    ):
        assert status == 302
        assert "memento-datetime" not in headers
        assert re.fullmatch(r"found capture at \d{14}", headers["x-archive-redirect-reason"])
        assert re.search(r"/web/\d{14}id_/https?://", headers["location"])
    assert response.headers["x-archive-redirect-reason"] == f"found capture at {served}"
    assert response.headers["location"] == str(client.base_url.join(f"/web/{served}id_/{URL}"))


def test_archived_redirect_is_a_memento_pointing_inside_the_archive() -> None:
    recorded = _cassette("test_get_memento_follows_historical_redirects.yaml")[1]
    capture = FakeCapture(URL, _ts(1), status=301, body=b"moved", headers=(("Location", "/new/"),))
    with serve(FakeArchive([capture])) as base_url, httpx.Client(base_url=base_url) as http:
        response = http.get(f"/web/{_ts(1)}id_/{URL}")
    assert response.status_code == recorded.status == 301
    assert "memento-datetime" in response.headers
    assert "memento-datetime" in recorded.headers
    assert recorded.headers["location"].endswith(
        "/web/20200201023757id_/https://www.epa.gov/sites/production/files/signpost/cc.html"
    )
    assert response.headers["location"] == f"{base_url}/web/{_ts(1)}id_/{URL}new/"


def test_unknown_url_is_the_archives_not_archived_page(client: httpx.Client) -> None:
    response = client.get(f"/web/{_ts(1)}id_/https://never.example/")
    assert response.status_code == 404
    assert "memento-datetime" not in response.headers
    assert b"The Wayback Machine has not archived that URL." in response.content


def test_archived_server_error_keeps_its_status_and_memento_datetime() -> None:
    capture = FakeCapture(URL, _ts(1), status=503, body=b"<h1>503</h1>")
    with serve(FakeArchive([capture])) as base_url, httpx.Client(base_url=base_url) as http:
        response = http.get(f"/web/{_ts(1)}id_/{URL}")
    assert response.status_code == 503
    assert response.headers["memento-datetime"] == "Fri, 01 Jan 2021 12:00:00 GMT"


def test_view_mode_injects_the_toolbar_and_raw_mode_does_not(client: httpx.Client) -> None:
    view = client.get(f"/web/{_ts(1)}/{URL}")
    raw = client.get(f"/web/{_ts(1)}id_/{URL}")
    assert b"COPYRIGHT INTERNET ARCHIVE" in view.content
    assert raw.content == _page("0")


@pytest.mark.parametrize(
    "spelling",
    ["http%3A//www.example.com%3A80/", "http:/example.com/", "www.example.com/"],
    ids=["percent-encoded", "folded-slashes", "no-scheme"],
)
def test_memento_accepts_other_spellings_of_the_url(client: httpx.Client, spelling: str) -> None:
    response = client.get(f"/web/{_ts(2)}id_/{spelling}")
    assert (response.status_code, response.content) == (200, _page("1"))


# --- Faults and the request log ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "retry_after", "expected"),
    [
        (Fault.RATE_LIMITED, 7.0, (429, "7")),
        (Fault.RATE_LIMITED, None, (429, None)),
        (Fault.UNAVAILABLE, None, (503, None)),
    ],
    ids=["429-retry-after", "429-bare", "503"],
)
def test_injected_faults_answer_the_next_requests_then_stop(
    archive: FakeArchive,
    client: httpx.Client,
    fault: Fault,
    retry_after: float | None,
    expected: tuple[int, str | None],
) -> None:
    archive.fail_next(2, fault, retry_after=retry_after)
    first, second = _cdx(client), client.get(f"/web/{_ts(1)}id_/{URL}")
    third = client.get(f"/web/{_ts(1)}id_/{URL}")
    for response in (first, second):
        assert (response.status_code, response.headers.get("retry-after")) == expected
        assert "memento-datetime" not in response.headers
    assert third.status_code == 200


def test_faults_for_one_kind_spare_the_other(archive: FakeArchive, client: httpx.Client) -> None:
    archive.fail_next(1, Fault.RATE_LIMITED, kind=RequestKind.CDX)
    assert client.get(f"/web/{_ts(1)}id_/{URL}").status_code == 200
    assert _cdx(client).status_code == 429
    assert _cdx(client).status_code == 200


def test_a_hang_outlasts_the_client_timeout_and_does_not_stall_shutdown() -> None:
    archive = FakeArchive(_captures(1))
    started = time.monotonic()
    with serve(archive) as base_url, httpx.Client(base_url=base_url, timeout=0.2) as http:
        archive.fail_next(1, Fault.HANG, hang_s=60)
        with pytest.raises(httpx.ReadTimeout):
            http.get(CDX, params={"url": URL})
    assert time.monotonic() - started < 10
    assert [r.status for r in archive.requests] == [None]


def test_request_log_counts_each_kind(archive: FakeArchive, client: httpx.Client) -> None:
    for _ in range(3):
        _cdx(client)
    client.get(f"/web/{_ts(1)}id_/{URL}")
    client.get("/favicon.ico")
    assert archive.count(RequestKind.CDX) == 3
    assert archive.count(RequestKind.MEMENTO) == 1
    assert archive.count(RequestKind.OTHER) == 1
    assert archive.count() == 5
    assert archive.requests[0].params["url"] == [URL]
    archive.clear_log()
    assert archive.count() == 0


def test_max_rate_is_the_busiest_window(archive: FakeArchive, client: httpx.Client) -> None:
    for _ in range(4):
        _cdx(client)
    for _ in range(3):
        time.sleep(0.3)
        client.get(f"/web/{_ts(1)}id_/{URL}")
    assert archive.max_rate(RequestKind.CDX, 60) == pytest.approx(4 / 60)
    assert archive.max_rate(RequestKind.MEMENTO, 0.25) == pytest.approx(1 / 0.25)
    assert archive.max_rate(RequestKind.OTHER, 1) == 0


def test_bodies_are_rendered_only_when_read() -> None:
    calls: list[int] = []

    def render(i: int = 0) -> bytes:
        calls.append(i)
        return _page("lazy")

    many = [
        FakeCapture(URL, f"{2000 + i // 1000}0101{(i % 1000) // 60:02d}{i % 60:02d}00", body=render)
        for i in range(10_000)
    ]
    archive = FakeArchive()
    for capture in many:
        archive.add(capture)
    assert len(archive) == 10_000
    assert calls == []
    with serve(archive) as base_url, httpx.Client(base_url=base_url) as http:
        assert http.get(f"/web/{many[5].timestamp}id_/{URL}").content == _page("lazy")
        assert len(calls) == 1
        rows, _ = _text_rows(http.get(CDX, params={"url": URL, "limit": 20000}).text)
    assert len(rows) == 10_000
