"""The demo's reconstructed timeline and the test timelines keep their promises.

Ground truth is re-derived here from the page bodies with a deliberately simple parser, so a
mistake in the generator cannot hide behind the generator's own bookkeeping.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence

import httpx
import pytest

from monitor.demo import (
    DEMO_EXPECTED_CHANGES,
    DEMO_FIRST_SHANGHAI,
    DEMO_JULY_2021,
    DEMO_LAST_BEIJING,
    DEMO_SITE_ID,
    DEMO_URL,
    NOTICE,
    REVERTED_URL,
    ExpectedChange,
    Timeline,
    demo_archive,
    demo_timeline,
    reverted_timeline,
    synthetic_timeline,
)
from monitor.demo.pages import BANNER, SYNTHETIC_NOTICE
from monitor.fakearchive import FakeCapture, serve

FOOTER = re.compile(
    r"<footer>\s*<p>© (?P<year>\d{4}) (?P<zh>\S+有限公司) 版权所有</p>.*?"
    r">(?P<icp>.ICP备\d{8}号-\d)</a>.*?>(?P<psb>.公网安备 \d{14}号)</a>.*?</footer>",
    re.DOTALL,
)
PLACEHOLDER_DIGITS = "0000000"

TIMELINES: dict[str, Callable[[], Timeline]] = {
    "demo": demo_timeline,
    "reverted": reverted_timeline,
    "synthetic-100-1": lambda: synthetic_timeline(100, 1, seed=3),
    "synthetic-1000-4-unreadable": lambda: synthetic_timeline(
        1000, 4, seed=4, unreadable_fraction=0.1
    ),
}


def _footer(capture: FakeCapture) -> re.Match[str] | None:
    if capture.status != 200:
        return None
    return FOOTER.search(capture.content().decode("utf-8", "replace"))


def _changes_from_bodies(captures: Sequence[FakeCapture]) -> list[ExpectedChange]:
    changes: list[ExpectedChange] = []
    previous: tuple[str, dict[str, str]] | None = None
    for capture in captures:
        match = _footer(capture)
        if match is None:
            continue
        state = {"operator": match["zh"], "icp_filing": match["icp"], "psb_filing": match["psb"]}
        if previous is not None:
            for name, value in state.items():
                if previous[1][name] != value:
                    changes.append(
                        ExpectedChange(
                            name, previous[1][name], value, previous[0], capture.timestamp
                        )
                    )
        previous = (capture.timestamp, state)
    return changes


@pytest.fixture(scope="module")
def demo() -> Timeline:
    return demo_timeline()


# --- Ground truth ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", TIMELINES.values(), ids=TIMELINES.keys())
def test_ground_truth_matches_the_bodies(make: Callable[[], Timeline]) -> None:
    timeline = make()
    assert list(timeline.changes) == _changes_from_bodies(timeline.captures)
    assert timeline.changes


def test_demo_ground_truth_is_the_published_constant(demo: Timeline) -> None:
    assert demo.changes == DEMO_EXPECTED_CHANGES
    assert {(c.before, c.after) for c in DEMO_EXPECTED_CHANGES} == {
        (DEMO_LAST_BEIJING, DEMO_FIRST_SHANGHAI)
    }
    assert DEMO_FIRST_SHANGHAI.startswith("20210820")
    assert DEMO_LAST_BEIJING.startswith("202108")
    assert DEMO_SITE_ID == "sensetime"


@pytest.mark.parametrize("make", TIMELINES.values(), ids=TIMELINES.keys())
def test_only_unreadable_captures_lie_inside_a_bracket(make: Callable[[], Timeline]) -> None:
    timeline = make()
    for change in timeline.changes:
        inside = [c for c in timeline.captures if change.before < c.timestamp < change.after]
        assert all(c.timestamp in timeline.unreadable for c in inside), change


def test_demo_names_beijing_in_july_2021_and_shanghai_on_20_august(demo: Timeline) -> None:
    by_ts = {c.timestamp: c for c in demo.captures}
    july, august = _footer(by_ts[DEMO_JULY_2021]), _footer(by_ts[DEMO_FIRST_SHANGHAI])
    assert july is not None
    assert august is not None
    assert DEMO_JULY_2021.startswith("202107")
    assert (july["zh"], july["icp"][0]) == ("北京市商汤科技开发有限公司", "京")
    assert (august["zh"], august["icp"][0]) == ("上海商汤智能科技有限公司", "沪")


def test_reverted_timeline_returns_to_its_first_owner() -> None:
    timeline = reverted_timeline()
    operators = [c for c in timeline.changes if c.field == "operator"]
    assert len(operators) == 2
    assert operators[0].old == operators[1].new
    assert operators[0].new == operators[1].old
    assert operators[1].before[:6] > operators[0].after[:6]  # months apart
    assert timeline.url == REVERTED_URL


# --- What every page says ------------------------------------------------------------------


def test_every_demo_capture_carries_the_reconstruction_notice(demo: Timeline) -> None:
    for capture in demo.captures:
        text = capture.content().decode("utf-8", "replace")
        assert f"<!-- {NOTICE} -->" in text, capture.timestamp
        if _footer(capture):
            assert BANNER in text


def test_every_synthetic_capture_says_it_is_synthetic() -> None:
    timeline = synthetic_timeline(200, 2, seed=1, unreadable_fraction=0.2)
    assert all(SYNTHETIC_NOTICE.encode() in c.content() for c in timeline.captures)


def test_notice_cites_the_sources_and_names_no_entity_or_number() -> None:
    for source in ("Axios, 29 Sep 2021", "IPVM report of 28 Sep 2021", "July 2021", "20 Aug 2021"):
        assert source in NOTICE
    for forbidden in ("有限公司", "ICP", "公网安备", "Co., Ltd", "--"):
        assert forbidden not in NOTICE


def test_demo_pages_are_inert(demo: Timeline) -> None:
    for capture in demo.captures:
        text = capture.content().decode("utf-8", "replace").lower()
        assert "<script" not in text
        assert not re.search(r"\son[a-z]+=", text)


def test_registration_numbers_are_visible_placeholders(demo: Timeline) -> None:
    for change in DEMO_EXPECTED_CHANGES:
        if change.field != "operator":
            assert PLACEHOLDER_DIGITS in change.old
            assert PLACEHOLDER_DIGITS in change.new


# --- Shape of the timeline -------------------------------------------------------------------


def test_demo_spans_2019_to_2022_and_is_densest_in_2021(demo: Timeline) -> None:
    years = Counter(c.timestamp[:4] for c in demo.captures)
    assert 150 <= len(demo.captures) <= 300
    assert sorted(years) == ["2019", "2020", "2021", "2022"]
    assert years.most_common(1)[0][0] == "2021"


def test_copyright_year_follows_the_capture_year(demo: Timeline) -> None:
    years = set()
    for capture in demo.captures:
        match = _footer(capture)
        if match:
            assert match["year"] == capture.timestamp[:4]
            years.add(match["year"])
    assert years == {"2019", "2020", "2021", "2022"}


def test_demo_has_identical_runs_and_changes_that_are_not_ownership(demo: Timeline) -> None:
    readable = [(c, m) for c in demo.captures if (m := _footer(c))]
    pairs = list(itertools.pairwise(readable))
    identical = [a for (a, _), (b, _) in pairs if a.digest == b.digest]
    same_owner_and_year_but_new_bytes = [
        a for (a, ma), (b, mb) in pairs if a.digest != b.digest and ma.groupdict() == mb.groupdict()
    ]
    assert len(identical) > 50
    assert len(same_owner_and_year_but_new_bytes) >= 10
    assert len({c.digest for c in demo.captures}) < len(demo.captures) / 2


def test_unreadable_captures_really_lack_a_footer(demo: Timeline) -> None:
    unreadable = [c for c in demo.captures if c.timestamp in demo.unreadable]
    assert {c.timestamp for c in demo.captures if _footer(c) is None} == demo.unreadable
    for capture in unreadable:
        assert b"<footer" not in capture.content() or capture.status != 200
    statuses = Counter(c.status for c in unreadable)
    assert statuses[302] >= 1
    assert statuses[503] >= 1
    texts = b"".join(c.content() for c in unreadable)
    for marker in (b"Checking your browser", b"502 Bad Gateway", b"Redirecting to"):
        assert marker in texts


def test_truncated_captures_are_cut_before_the_footer(demo: Timeline) -> None:
    bodies = [c.content() for c in demo.captures if c.timestamp in demo.unreadable]
    truncated = [body for body in bodies if b"<main>" in body]
    assert len(truncated) >= 2
    for body in truncated:
        assert BANNER.encode() in body
        assert b"<footer" not in body
        assert not body.rstrip().endswith(b"</html>")


def test_demo_redirect_points_at_a_page_the_archive_never_captured(demo: Timeline) -> None:
    (redirect,) = [c for c in demo.captures if c.status == 302]
    assert redirect.location is not None
    assert demo.archive.captures(redirect.location) == ()


# --- Determinism and the synthetic generator --------------------------------------------------


def _fingerprint(timeline: Timeline) -> list[tuple[str, int, str]]:
    return [(c.timestamp, c.status, c.digest) for c in timeline.captures]


@pytest.mark.parametrize("make", TIMELINES.values(), ids=TIMELINES.keys())
def test_timelines_are_deterministic(make: Callable[[], Timeline]) -> None:
    first, second = make(), make()
    assert _fingerprint(first) == _fingerprint(second)
    assert first.changes == second.changes


def test_synthetic_seed_changes_the_timeline() -> None:
    assert _fingerprint(synthetic_timeline(100, 2, seed=1)) != _fingerprint(
        synthetic_timeline(100, 2, seed=2)
    )


@pytest.mark.parametrize(
    ("n_captures", "n_changes"),
    [(100, 1), (1000, 3), (10_000, 5)],
    ids=["100-captures", "1000-captures", "10000-captures"],
)
def test_synthetic_captures_are_distinct_with_the_requested_changes(
    n_captures: int, n_changes: int
) -> None:
    timeline = synthetic_timeline(n_captures, n_changes, seed=7, unreadable_fraction=0.02)
    captures = timeline.captures
    assert len(captures) == n_captures
    assert len({c.digest for c in captures}) == n_captures
    assert len({(c.before, c.after) for c in timeline.changes}) == n_changes
    assert len(timeline.changes) == 3 * n_changes  # name, ICP and PSB filing all move
    assert timeline.shortest_run >= n_captures // (4 * (n_changes + 1))


def test_synthetic_runs_honour_min_run() -> None:
    timeline = synthetic_timeline(500, 5, seed=9, min_run=60)
    assert timeline.shortest_run >= 60


@pytest.mark.parametrize(
    ("n_captures", "n_changes", "min_run"),
    [(10, 5, 2), (100, -1, None), (100, 1, 0)],
    ids=["runs-do-not-fit", "negative-changes", "zero-run"],
)
def test_synthetic_refuses_impossible_timelines(
    n_captures: int, n_changes: int, min_run: int | None
) -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        synthetic_timeline(n_captures, n_changes, min_run=min_run)


# --- Served through the fake archive ---------------------------------------------------------


def _listing(http: httpx.Client, *extra: tuple[str, str]) -> list[list[str]]:
    params = [("url", DEMO_URL), ("output", "json"), ("filter", "statuscode:200"), *extra]
    table: list[list[str]] = http.get("/cdx/search/cdx", params=params).json()
    return table[1:]


def test_demo_archive_serves_the_bracketing_captures() -> None:
    archive = demo_archive()
    with serve(archive) as base_url, httpx.Client(base_url=base_url) as http:
        timestamps = [row[1] for row in _listing(http)]
        before = http.get(f"/web/{DEMO_LAST_BEIJING}id_/{DEMO_URL}")
        after = http.get(f"/web/{DEMO_FIRST_SHANGHAI}id_/{DEMO_URL}")
    assert DEMO_LAST_BEIJING in timestamps
    assert DEMO_FIRST_SHANGHAI in timestamps
    assert "北京市商汤科技开发有限公司" in before.text
    assert "上海商汤智能科技有限公司" in after.text


def test_collapsed_listing_hides_the_last_beijing_capture() -> None:
    # The last Beijing capture repeats the bytes of the ones before it: a listing collapsed
    # by digest drops it, so a client that wants the tightest bracket must see every row.
    archive = demo_archive()
    with serve(archive) as base_url, httpx.Client(base_url=base_url) as http:
        collapsed = [row[1] for row in _listing(http, ("collapse", "digest"))]
    assert DEMO_LAST_BEIJING not in collapsed
    assert DEMO_FIRST_SHANGHAI in collapsed
    assert len(collapsed) < len(archive.captures(DEMO_URL)) / 2
