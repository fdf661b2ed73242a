"""The Wayback Machine client, on real recorded archive traffic replayed through respx.

Hand-written responses only for what the recordings lack: live 429s, 5xx, timeouts and
JSON paging.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import respx
from replay import DATA, load, replay
from test_ratelimit import FakeClock

from monitor import USER_AGENT
from monitor.archive import (
    BACKOFF_BASE,
    MAX_REDIRECTS,
    Hop,
    Memento,
    WaybackClient,
    open_wayback,
)
from monitor.cdx import CDX_FIELDS, CdxRow, parse_timestamp
from monitor.config import Settings, resolve
from monitor.errors import (
    ArchiveError,
    ArchiveRateLimited,
    ArchiveUnavailable,
    BlockedSite,
    NotAMemento,
    NotArchived,
    RedirectLoop,
    UsageError,
)
from monitor.fetch import build_client
from monitor.ratelimit import ArchiveLimiter

pytestmark = pytest.mark.anyio

BASE = "https://web.archive.org"
CDX_URL = BASE + "/cdx/search/cdx"
PAUSE = 60.0
RETRIES = 3
JITTER = 0.5
MEMENTO_DATETIME = "Fri, 24 Nov 2017 15:13:15 GMT"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> ArchiveLimiter:
    return ArchiveLimiter(
        cdx_rate=0.4, memento_rate=8.0, pause_after_429=PAUSE, clock=clock.time, sleep=clock.sleep
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def wayback(limiter: ArchiveLimiter) -> AsyncIterator[WaybackClient]:
    async with build_client(timeout=5) as http:
        yield WaybackClient(http, limiter, base_url=BASE, retries=RETRIES, jitter=lambda: JITTER)


async def collect(rows: AsyncIterator[CdxRow]) -> list[CdxRow]:
    return [row async for row in rows]


def recorded_lines(name: str) -> list[list[str]]:
    """The rows of a recorded text-output CDX cassette, resume keys left out."""
    lines = []
    for item in load(name):
        page = item.text().rstrip().split("\n")
        if len(page) >= 2 and not page[-2].strip():
            page = page[:-2]
        lines += [line.split() for line in page if line.strip()]
    return lines


def identity(row: CdxRow) -> tuple[str, str, str]:
    return row.timestamp, row.original, row.digest


def json_page(rows: list[list[str]], resume_key: str | None = None) -> httpx.Response:
    table: list[list[str]] = [list(CDX_FIELDS), *rows]
    if resume_key is not None:
        table += [[], [resume_key]]
    return httpx.Response(200, json=table)


def cdx_line(timestamp: str, digest: str, original: str = "https://example.com/") -> list[str]:
    return ["com,example)/", timestamp, original, "text/html", "200", digest, "1234"]


def memento_response(
    status: int = 200, body: bytes = b"<p>page</p>", **headers: str
) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Memento-Datetime": MEMENTO_DATETIME, "Content-Type": "text/html", **headers},
        content=body,
    )


# --- CDX search -------------------------------------------------------------------------


async def test_search_follows_resume_key_across_pages(
    router: respx.MockRouter, wayback: WaybackClient, clock: FakeClock
) -> None:
    recording = replay(router, "test_search_multipage.yaml", clock=clock.time)
    rows = await collect(wayback.search("cnn.com", page_size=25, collapse=None))
    recorded = load("test_search_multipage.yaml")
    assert len(recording.requests) == len(recorded)
    assert recording.unanswered == 0
    sent_keys = [request.url.params.get("resumeKey") for request in recording.requests]
    recorded_keys = [httpx.URL(item.url).params.get("resumeKey") for item in recorded]
    assert sent_keys == recorded_keys
    distinct = {tuple(line) for line in recorded_lines("test_search_multipage.yaml")}
    assert {(r.urlkey, r.timestamp, r.original, r.digest) for r in rows} == {
        (line[0], line[1], line[2], line[5]) for line in distinct
    }
    assert all(a != b for a, b in itertools.pairwise(rows))
    assert wayback.stats.duplicate_rows == len(recorded_lines("test_search_multipage.yaml")) - len(
        rows
    )


async def test_search_requests_are_polite_and_never_use_page(
    router: respx.MockRouter, wayback: WaybackClient, clock: FakeClock
) -> None:
    recording = replay(router, "test_search_multipage.yaml", clock=clock.time)
    await collect(wayback.search("cnn.com", page_size=25))
    for request in recording.requests:
        params = request.url.params
        assert "page" not in params
        assert params["output"] == "json"
        assert params["showResumeKey"] == "true"
        assert params["collapse"] == "digest"
        assert params["limit"] == "25"
        assert params.get_list("filter") == [
            "statuscode:200",
            r"mimetype:(text/html|application/xhtml\+xml)",
        ]
        assert request.headers["user-agent"] == USER_AGENT
    gaps = [later - earlier for earlier, later in itertools.pairwise(recording.times)]
    assert min(gaps) >= 1 / 0.4
    assert wayback.stats.cdx_requests == len(recording.requests)


async def test_search_collapses_digests_across_page_boundaries(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    replay(router, "test_search_multipage.yaml")
    rows = await collect(wayback.search("cnn.com", page_size=25))
    assert all(a.digest != b.digest for a, b in itertools.pairwise(rows))
    recorded_digests = {line[5] for line in recorded_lines("test_search_multipage.yaml")}
    assert {row.digest for row in rows} == recorded_digests


async def test_search_with_date_sends_bounds_and_keeps_revisits(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_search_with_date.yaml")
    start, end = date(2019, 10, 1), datetime(2020, 3, 1, tzinfo=UTC)
    rows = await collect(wayback.search("dw.com", from_=start, to=end, collapse=None))
    assert recording.requests[0].url.params["from"] == "20191001"
    assert recording.requests[0].url.params["to"] == "20200301000000"
    assert len(recording.requests) == 3
    assert all(datetime(2019, 10, 1, tzinfo=UTC) <= row.captured_at <= end for row in rows)
    revisits = [row for row in rows if row.mimetype == "warc/revisit"]
    assert revisits
    assert all(row.statuscode is None for row in revisits)
    assert wayback.stats.skipped_rows == 0


@pytest.mark.parametrize(
    "cassette",
    ["test_search.yaml", "test_search_does_not_repeat_results.yaml"],
    ids=["same-capture-thrice", "energystar-one-day"],
)
async def test_search_never_yields_the_same_capture_twice_in_a_row(
    router: respx.MockRouter, wayback: WaybackClient, cassette: str
) -> None:
    replay(router, cassette)
    rows = await collect(wayback.search("example.com", collapse=None))
    assert rows
    assert all(identity(a) != identity(b) for a, b in itertools.pairwise(rows))
    assert {identity(row) for row in rows} == {
        (line[1], line[2], line[5]) for line in recorded_lines(cassette)
    }


@pytest.mark.parametrize(
    ("name", "kept_skipped"),
    [
        ("malformed_cdx.txt", (2, 3)),
        ("zero_length_cdx.txt", (5, 0)),
        ("bad_timestamp_cdx.txt", (3, 2)),
    ],
    ids=["mailto-data-and-non-urls", "dash-length", "impossible-dates"],
)
async def test_search_skips_malformed_rows_with_a_counted_warning(
    router: respx.MockRouter,
    wayback: WaybackClient,
    caplog: pytest.LogCaptureFixture,
    name: str,
    kept_skipped: tuple[int, int],
) -> None:
    router.get(CDX_URL).respond(200, text=(DATA / name).read_text())
    with caplog.at_level(logging.WARNING, logger="monitor.archive"):
        rows = await collect(wayback.search("example.com", collapse=None))
    kept, skipped = kept_skipped
    assert len(rows) == kept
    assert wayback.stats.skipped_rows == skipped
    assert len([r for r in caplog.records if "skipped CDX row" in r.getMessage()]) == skipped
    assert all(parse_timestamp(row.timestamp) == row.captured_at for row in rows)


async def test_search_reads_a_dash_length_as_unknown(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    router.get(CDX_URL).respond(200, text=(DATA / "zero_length_cdx.txt").read_text())
    rows = await collect(wayback.search("cnn.com", collapse=None))
    assert rows[-1].length is None
    assert all(isinstance(row.length, int) for row in rows[:-1])


async def test_search_raises_blocked_site_on_403(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_search_raises_for_blocked_urls.yaml")
    with pytest.raises(BlockedSite, match=r"nationalpost\.com/health"):
        await collect(wayback.search("https://nationalpost.com/health"))
    assert len(recording.requests) == 1


async def test_search_parses_json_output_with_a_header_row(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    replay(router, "test_multi_ia.jsonl")
    rows = await collect(wayback.search("commoncrawl.org/*", collapse=None))
    table = json.loads(load("test_multi_ia.jsonl")[0].text())
    assert [row.timestamp for row in rows] == [line[1] for line in table[1:]]
    assert all(row.statuscode == int(line[4]) for row, line in zip(rows, table[1:], strict=True))


async def test_search_pages_json_output_by_resume_key(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    first = [cdx_line("20210101000000", "AAA"), cdx_line("20210201000000", "BBB")]
    # The second page repeats the boundary row, as paged results can.
    second = [cdx_line("20210201000000", "BBB"), cdx_line("20210301000000", "CCC")]
    route = router.get(CDX_URL).mock(
        side_effect=[json_page(first, "com%2Cexample%29%2F+20210201000001"), json_page(second)]
    )
    rows = await collect(wayback.search("example.com"))
    assert [row.digest for row in rows] == ["AAA", "BBB", "CCC"]
    assert route.calls[1].request.url.params["resumeKey"] == "com%2Cexample%29%2F+20210201000001"
    assert route.call_count == 2


async def test_search_stops_when_the_archive_repeats_a_resume_key(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    page = json_page([cdx_line("20210101000000", "AAA")], "same-key")
    route = router.get(CDX_URL).mock(side_effect=[page, page, page])
    rows = await collect(wayback.search("example.com"))
    assert len(rows) == 1
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("statuses", "mimetypes", "expected"),
    [
        (("200",), ("text/html",), ["statuscode:200", "mimetype:text/html"]),
        (None, None, []),
        (("200", "-"), None, ["statuscode:(200|\\-)"]),
    ],
    ids=["one-each", "no-filters", "revisits-too"],
)
async def test_search_builds_one_filter_per_field(
    router: respx.MockRouter,
    wayback: WaybackClient,
    statuses: tuple[str, ...] | None,
    mimetypes: tuple[str, ...] | None,
    expected: list[str],
) -> None:
    route = router.get(CDX_URL).mock(return_value=json_page([]))
    await collect(wayback.search("example.com", statuses=statuses, mimetypes=mimetypes))
    assert route.calls[0].request.url.params.get_list("filter") == expected


# --- Mementos ---------------------------------------------------------------------------


async def test_get_memento_returns_the_raw_capture(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento.yaml")
    memento = await wayback.get_memento("https://www.fws.gov/birds/", "20171124151315")
    expected_body = (DATA / "fws-gov-birds.txt").read_bytes()
    assert memento.body == expected_body
    assert memento.sha256 == hashlib.sha256(expected_body).hexdigest()
    assert memento.captured_at == datetime(2017, 11, 24, 15, 13, 15, tzinfo=UTC)
    assert memento.timestamp == "20171124151315"
    assert memento.archive_url == BASE + "/web/20171124151315id_/https://www.fws.gov/birds/"
    assert memento.original_url == "https://www.fws.gov/birds/"
    assert memento.status == 200
    assert memento.content_type == "text/html"
    assert memento.header("Memento-Datetime") == "Fri, 24 Nov 2017 15:13:15 GMT"
    assert memento.header("x-archive-orig-date") == "Fri, 24 Nov 2017 15:13:14 GMT"
    assert memento.header("date") is None  # the archive's own headers are not evidence
    assert memento.exact
    assert len(recording.requests) == 1


async def test_get_memento_requests_raw_mode_so_the_toolbar_never_arrives(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento_with_mode.yaml")
    view_mode = [i for i in load("test_get_memento_with_mode.yaml") if "id_/" not in i.url]
    assert "Wayback Machine" in view_mode[0].text()  # what view mode would have injected
    memento = await wayback.get_memento(
        "https://www.fws.gov/birds/", datetime(2017, 11, 24, 15, 13, 15)
    )
    assert b"Wayback Machine" not in memento.body
    assert [request.url.path for request in recording.requests] == [
        "/web/20171124151315id_/https://www.fws.gov/birds/"
    ]
    assert recording.unanswered == 1  # the view-mode answer was never asked for


async def test_get_memento_follows_the_archive_to_the_nearest_capture(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento_target_window.yaml")
    memento = await wayback.get_memento("https://www.fws.gov/birds/", "20171101000000")
    assert memento.requested_timestamp == "20171101000000"
    assert memento.timestamp == "20171124151315"
    assert "20171124151315id_/" in memento.archive_url
    assert memento.redirects == (
        Hop(BASE + "/web/20171101000000id_/https://www.fws.gov/birds/", 302, archived=False),
    )
    assert not memento.exact
    assert len(recording.requests) == 2


async def test_get_memento_follows_historical_redirects_and_records_the_chain(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento_follows_historical_redirects.yaml")
    memento = await wayback.get_memento("http://epa.gov/climatechange", "20200201020357")
    assert [(hop.status, hop.archived) for hop in memento.redirects] == [
        (302, False),
        (301, True),
        (302, False),
    ]
    assert memento.status == 200
    assert memento.original_url == "https://www.epa.gov/sites/production/files/signpost/cc.html"
    assert memento.timestamp == "20200201024405"
    assert memento.archive_url.endswith("/web/20200201024405id_/" + memento.original_url)
    assert len(recording.requests) == 4


async def test_get_memento_can_return_an_archived_redirect_unfollowed(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento_follows_historical_redirects.yaml")
    memento = await wayback.get_memento(
        "http://epa.gov/climatechange", "20200201020357", follow_archived_redirects=False
    )
    assert memento.status == 301
    assert memento.header("location") is not None
    assert len(recording.requests) == 2


@pytest.mark.parametrize(
    ("cassette", "url", "timestamp"),
    [
        (
            "test_get_memento_with_redirects.yaml",
            "https://www.epa.gov/ghgreporting/san5779-factsheet",
            "20180808094144",
        ),
        (
            "test_get_memento_with_path_based_redirects.yaml",
            "https://www.whitehouse.gov/administration/eop/ostp/about/student/faqs",
            "20201027215555",
        ),
        (
            "test_get_memento_with_schemeless_redirects.yaml",
            "https://www.census.gov/geography/gss-initiative.html",
            "20201102232816",
        ),
    ],
    ids=["absolute-location", "path-location", "schemeless-location"],
)
async def test_get_memento_resolves_every_form_of_archived_location(
    router: respx.MockRouter, wayback: WaybackClient, cassette: str, url: str, timestamp: str
) -> None:
    recording = replay(router, cassette)
    memento = await wayback.get_memento(url, timestamp)
    recorded = load(cassette)
    assert len(recording.requests) == len(recorded)
    assert recording.unanswered == 0
    assert memento.status == recorded[-1].status  # archived 404s are mementos too
    assert memento.archive_url == BASE + httpx.URL(recorded[-1].url).raw_path.decode()
    assert [hop.archived for hop in memento.redirects] == [True, False]


async def test_get_memento_raises_redirect_loop_without_extra_requests(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_get_memento_raises_for_mementos_that_redirect_in_a_loop.yaml")
    with pytest.raises(RedirectLoop, match="redirects back to"):
        await wayback.get_memento(
            "https://link.springer.com/article/10.1007/s00382-012-1331-2", "20200925075402"
        )
    assert len(recording.requests) == 4
    assert recording.unanswered == 0


async def test_get_memento_gives_up_after_too_many_redirects(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    def next_capture(request: httpx.Request) -> httpx.Response:
        step = int(request.url.path.split("/")[2][:14]) + 1
        return httpx.Response(302, headers={"Location": f"/web/{step}id_/https://example.com/"})

    route = router.get(url__startswith=BASE + "/web/").mock(side_effect=next_capture)
    with pytest.raises(RedirectLoop, match=f"more than {MAX_REDIRECTS}"):
        await wayback.get_memento("https://example.com/", "20200101000000")
    assert route.call_count == MAX_REDIRECTS


async def test_get_memento_returns_an_archived_429_without_pausing(
    router: respx.MockRouter, wayback: WaybackClient, limiter: ArchiveLimiter
) -> None:
    recording = replay(router, "test_get_memento_works_on_archived_rate_limit_responses.yaml")
    memento = await wayback.get_memento("http://www.reddit.com/r/PokemonGiveaway", "20150129034904")
    assert memento.status == 429
    assert b"Too Many Requests" in memento.body
    assert limiter.paused_until == float("-inf")
    assert wayback.stats.rate_limited == 0
    assert len(recording.requests) == 1


@pytest.mark.parametrize(
    ("cassette", "url", "error"),
    [
        (
            "test_get_memento_raises_no_memento_error.yaml",
            "https://this-is-not-real-url.whatever/",
            NotArchived,
        ),
        (
            "test_get_memento_raises_blocked_error.yaml",
            "https://nationalpost.com/health/",
            BlockedSite,
        ),
    ],
    ids=["not-archived-404", "blocked-200"],
)
async def test_get_memento_never_returns_the_archives_own_pages(
    router: respx.MockRouter,
    wayback: WaybackClient,
    cassette: str,
    url: str,
    error: type[Exception],
) -> None:
    recording = replay(router, cassette)
    assert "Internet Archive" in load(cassette)[0].text()  # the footer an extractor would see
    with pytest.raises(error, match="20170929002712id_"):
        await wayback.get_memento(url, "20170929002712")
    assert len(recording.requests) == 1


async def test_get_memento_takes_the_original_url_from_the_link_header(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    replay(router, "test_get_memento_returns_memento_with_accurate_url.yaml")
    memento = await wayback.get_memento("http://fws.gov/", "20171124143728")
    assert memento.original_url == "https://www.fws.gov/"
    assert memento.requested_url == "http://fws.gov/"


async def test_get_capture_fetches_a_listed_row(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    recording = replay(router, "test_warc_prefix_2.jsonl")
    rows = await collect(wayback.search("commoncrawl.org/*", collapse=None))
    memento = await wayback.get_capture(rows[0])
    assert memento.timestamp == rows[0].timestamp
    assert b"CommonCrawl" in memento.body
    assert len(recording.requests) == 2


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, text="<p>hello from the archive</p>"), NotAMemento),
        (httpx.Response(403, text="Forbidden"), NotAMemento),
        (httpx.Response(302, headers={"Location": "https://elsewhere.example/"}), NotAMemento),
        (httpx.Response(404, text="not here"), NotArchived),
    ],
    ids=["200-archive-page", "403-not-blocked", "302-leaving-archive", "404"],
)
async def test_get_memento_rejects_responses_without_memento_datetime(
    router: respx.MockRouter,
    wayback: WaybackClient,
    response: httpx.Response,
    error: type[Exception],
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(return_value=response)
    with pytest.raises(error):
        await wayback.get_memento("https://example.com/", "20200101000000")
    assert route.call_count == 1


async def test_get_memento_turns_a_view_mode_location_into_raw_mode(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(
        side_effect=[
            httpx.Response(302, headers={"Location": "/web/20200102000000/https://example.com/"}),
            memento_response(),
        ]
    )
    await wayback.get_memento("https://example.com/", "20200101000000")
    assert route.calls[1].request.url.path == "/web/20200102000000id_/https://example.com/"


async def test_get_memento_keeps_the_query_of_the_archived_url(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(return_value=memento_response())
    memento = await wayback.get_memento("https://example.com/page?id=7&lang=zh", "20171124151315")
    assert route.calls[0].request.url.query == b"id=7&lang=zh"
    assert memento.archive_url.endswith("id_/https://example.com/page?id=7&lang=zh")


@pytest.mark.parametrize(
    "at", ["2017", "2017-11-24", "20171124151399"], ids=["short", "iso", "bad-second"]
)
async def test_get_memento_rejects_timestamps_that_are_not_14_digits(
    wayback: WaybackClient, at: str
) -> None:
    with pytest.raises(UsageError, match="14-digit"):
        await wayback.get_memento("https://example.com/", at)


# --- Politeness: 429, 5xx, timeouts ------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "expected_wait"),
    [(None, PAUSE), ("5", PAUSE), ("120", 120.0)],
    ids=["no-retry-after", "short-retry-after", "long-retry-after"],
)
async def test_a_live_429_pauses_then_retries(
    router: respx.MockRouter,
    wayback: WaybackClient,
    clock: FakeClock,
    retry_after: str | None,
    expected_wait: float,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    times: list[float] = []
    answers = iter([httpx.Response(429, headers=headers), json_page([cdx_line("2021", "A")])])

    def answer(request: httpx.Request) -> httpx.Response:
        times.append(clock.now)
        return next(answers)

    router.get(CDX_URL).mock(side_effect=answer)
    await collect(wayback.search("example.com"))
    assert times[1] - times[0] == pytest.approx(expected_wait)
    assert wayback.stats.rate_limited == 1
    assert len(times) == 2


async def test_a_429_on_search_holds_memento_requests_too(
    router: respx.MockRouter, limiter: ArchiveLimiter, clock: FakeClock
) -> None:
    refused_at: list[float] = []
    memento_times: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        refused_at.append(clock.now)
        return httpx.Response(429)

    def memento(request: httpx.Request) -> httpx.Response:
        memento_times.append(clock.now)
        return memento_response()

    router.get(CDX_URL).mock(side_effect=refuse)
    router.get(url__startswith=BASE + "/web/").mock(side_effect=memento)
    async with build_client(timeout=5) as http:
        client = WaybackClient(http, limiter, base_url=BASE, retries=0)
        with pytest.raises(ArchiveRateLimited):
            await collect(client.search("example.com"))
        await client.get_memento("https://example.com/", "20171124151315")
    assert memento_times[0] - refused_at[0] == pytest.approx(PAUSE)


async def test_429s_that_persist_raise_archive_rate_limited(
    router: respx.MockRouter, wayback: WaybackClient, clock: FakeClock
) -> None:
    route = router.get(CDX_URL).mock(return_value=httpx.Response(429))
    with pytest.raises(ArchiveRateLimited, match=f"after {RETRIES + 1} attempts"):
        await collect(wayback.search("example.com"))
    assert route.call_count == RETRIES + 1
    assert clock.now >= RETRIES * PAUSE


async def test_a_429_pauses_a_concurrent_task_in_real_time(router: respx.MockRouter) -> None:
    pause, memento_interval = 0.3, 0.1
    limiter = ArchiveLimiter(cdx_rate=100, memento_rate=1 / memento_interval, pause_after_429=pause)
    seen: dict[str, list[float]] = {"cdx": [], "memento": []}

    async def cdx(request: httpx.Request) -> httpx.Response:
        if seen["cdx"]:
            seen["cdx"].append(time.monotonic())
            return json_page([])
        await asyncio.sleep(0.05)  # the archive takes a moment to refuse
        seen["cdx"].append(time.monotonic())
        return httpx.Response(429)

    def memento(request: httpx.Request) -> httpx.Response:
        seen["memento"].append(time.monotonic())
        return memento_response()

    router.get(CDX_URL).mock(side_effect=cdx)
    router.get(url__startswith=BASE + "/web/").mock(side_effect=memento)

    async def two_mementos(client: WaybackClient) -> None:
        for _ in range(2):
            await client.get_memento("https://example.com/", "20171124151315")

    async with build_client(timeout=5) as http:
        searcher = WaybackClient(http, limiter, base_url=BASE, retries=1)
        fetcher = WaybackClient(http, limiter, base_url=BASE, retries=1)
        await asyncio.gather(collect(searcher.search("example.com")), two_mementos(fetcher))
    rate_limited_at = seen["cdx"][0]
    assert seen["memento"][0] < rate_limited_at + pause  # the fetcher was already running
    assert seen["memento"][1] >= rate_limited_at + pause  # ...and its next request waited
    assert seen["cdx"][1] >= rate_limited_at + pause
    assert len(seen["cdx"]) == 2
    assert len(seen["memento"]) == 2


async def test_server_errors_are_retried_with_exponential_backoff(
    router: respx.MockRouter, wayback: WaybackClient, clock: FakeClock
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), memento_response()]
    )
    memento = await wayback.get_memento("https://example.com/", "20171124151315")
    assert memento.status == 200
    assert route.call_count == 3
    ceilings = [BACKOFF_BASE * 2**retry for retry in range(2)]
    assert clock.sleeps == [pytest.approx(c / 2 + JITTER * c / 2) for c in ceilings]
    assert wayback.stats.retries == 2


async def test_server_errors_that_persist_raise_archive_unavailable(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    route = router.get(CDX_URL).mock(return_value=httpx.Response(500))
    with pytest.raises(ArchiveUnavailable, match=f"HTTP 500 after {RETRIES + 1} attempts"):
        await collect(wayback.search("example.com"))
    assert route.call_count == RETRIES + 1


async def test_an_archived_server_error_is_a_memento_not_a_retry(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(return_value=memento_response(503))
    memento = await wayback.get_memento("https://example.com/", "20171124151315")
    assert memento.status == 503
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectTimeout("connect timed out"), "timed out"),
        (httpx.ConnectError("connection refused"), "ConnectError"),
    ],
    ids=["read-timeout", "connect-timeout", "connect-error"],
)
async def test_network_failures_are_retried_then_raise_archive_unavailable(
    router: respx.MockRouter, wayback: WaybackClient, failure: Exception, why: str
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(side_effect=failure)
    with pytest.raises(ArchiveUnavailable, match=why) as caught:
        await wayback.get_memento("https://example.com/", "20171124151315")
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert route.call_count == RETRIES + 1


async def test_a_timeout_then_success_returns_the_memento(
    router: respx.MockRouter, wayback: WaybackClient
) -> None:
    route = router.get(url__startswith=BASE + "/web/").mock(
        side_effect=[httpx.ReadTimeout("slow"), memento_response()]
    )
    memento = await wayback.get_memento("https://example.com/", "20171124151315")
    assert memento.body == b"<p>page</p>"
    assert route.call_count == 2


async def test_an_oversized_memento_is_refused(
    router: respx.MockRouter, limiter: ArchiveLimiter
) -> None:
    router.get(url__startswith=BASE + "/web/").mock(return_value=memento_response(body=b"x" * 11))
    async with build_client(timeout=5) as http:
        client = WaybackClient(http, limiter, base_url=BASE, max_memento_bytes=10)
        with pytest.raises(ArchiveError, match="larger than 10 bytes"):
            await client.get_memento("https://example.com/", "20171124151315")


# --- Settings ---------------------------------------------------------------------------


async def test_open_wayback_uses_the_base_url_from_the_environment(
    router: respx.MockRouter, limiter: ArchiveLimiter
) -> None:
    settings = resolve(env={"MONITOR_WAYBACK_URL": "http://127.0.0.1:8765/"})
    route = router.get(url__startswith="http://127.0.0.1:8765/web/").mock(
        return_value=memento_response()
    )
    async with open_wayback(settings, limiter) as client:
        memento = await client.get_memento("https://example.com/", "20171124151315")
    assert memento.archive_url == "http://127.0.0.1:8765/web/20171124151315id_/https://example.com/"
    assert route.call_count == 1


async def test_open_wayback_follows_archive_redirects_onto_the_configured_base(
    router: respx.MockRouter, limiter: ArchiveLimiter
) -> None:
    settings = Settings(wayback_url="http://127.0.0.1:8765")
    recording = replay(router, "test_get_memento_target_window.yaml")
    async with open_wayback(settings, limiter) as client:
        memento: Memento = await client.get_memento("https://www.fws.gov/birds/", "20171101000000")
    assert all(request.url.host == "127.0.0.1" for request in recording.requests)
    assert memento.archive_url.startswith("http://127.0.0.1:8765/web/20171124151315id_/")
