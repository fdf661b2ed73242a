"""The backfill against the fake Wayback Machine on 127.0.0.1, with the timelines' ground truth:
exact brackets, unreadable captures skipped, resumability, failures, politeness, the CLI."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console
from test_lists import OPERATOR_NOTE, write_csl

from monitor import backfill
from monitor.backfill import BackfillOptions, SiteReport, UrlReport
from monitor.cli import cli
from monitor.config import Settings
from monitor.demo import (
    DEMO_EXPECTED_CHANGES,
    DEMO_FIRST_SHANGHAI,
    DEMO_LAST_BEIJING,
    DEMO_URL,
    ExpectedChange,
    Timeline,
    demo_timeline,
    reverted_timeline,
    synthetic_timeline,
)
from monitor.fakearchive import FakeArchive, Fault, RequestKind, serve
from monitor.models import ChangeField
from monitor.store import (
    Store,
    StoredChange,
    captures_for_url,
    list_changes,
    open_store,
    sync_sites,
)

# The politeness limits are the real archive's; against the local fake, tests go faster.
CDX_RATE = 20.0
MEMENTO_RATE = 400.0
PAUSE_AFTER_429 = 0.3
BLOCKED_URL = "https://www.blocked.example/"


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def site_of(site_id: str, url: str) -> Site:
    return Site(site_id, site_id.title(), (url,))


def fast_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "wayback_url": base_url,
        "archive_cdx_rate": CDX_RATE,
        "archive_memento_rate": MEMENTO_RATE,
        "archive_pause_after_429": PAUSE_AFTER_429,
        "archive_retries": 1,
        "archive_timeout": 5.0,
    }
    return Settings(**(values | overrides))


def sweep(
    store: Store,
    settings: Settings,
    sites: Sequence[Site],
    *,
    dense: bool = False,
    spacing: timedelta | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[SiteReport, ...]:
    with store.session() as session:
        sync_sites(session, sites)
    options = BackfillOptions.from_settings(settings, dense=dense)
    if spacing is not None:
        options = BackfillOptions(spacing=spacing)
    return backfill.run(store, settings, sites, options, transport=transport)


def changes_of(store: Store) -> list[StoredChange]:
    with store.session(write=False) as session:
        return list_changes(session)


def as_expected(change: StoredChange) -> ExpectedChange | None:
    """A recorded change in the ground truth's terms (operator and registrations only)."""
    stamps = (
        change.before.captured_at.strftime("%Y%m%d%H%M%S"),
        change.after.captured_at.strftime("%Y%m%d%H%M%S"),
    )
    if change.field is ChangeField.OPERATOR:
        return ExpectedChange("operator", change.old, change.new, *stamps)
    if change.field is ChangeField.REGISTRATION:
        ((kind, old),), ((_, new),) = change.old.items(), change.new.items()
        return ExpectedChange(kind, ", ".join(old), ", ".join(new), *stamps)
    return None


def assert_exact(store: Store, timeline: Timeline) -> None:
    """Every true change found with its exact brackets, and nothing else bracketed."""
    changes = [c for c in changes_of(store) if c.url == timeline.url]
    found = {as_expected(c) for c in changes} - {None}
    assert found == set(timeline.changes)
    brackets = {(c.before, c.after) for c in timeline.changes}
    for change in changes:
        stamps = {change.before.captured_at.strftime("%Y%m%d%H%M%S")}
        stamps.add(change.after.captured_at.strftime("%Y%m%d%H%M%S"))
        assert not stamps & timeline.unreadable
        assert any(stamps == set(pair) for pair in brackets)


def snapshot(store: Store, url: str) -> tuple[set[tuple[str, str, int]], set[str]]:
    """What the store holds for ``url``: captures (time, sha256, status) and changes."""
    with store.session(write=False) as session:
        captures = captures_for_url(session, url)
    shots = {(c.captured_at.isoformat(), c.sha256, c.status) for c in captures}
    changes = {
        json.dumps([c.field, c.old, c.new, c.before.sha256, c.after.sha256], ensure_ascii=False)
        for c in changes_of(store)
    }
    return shots, changes


@pytest.fixture
def demo() -> Timeline:
    return demo_timeline()


@pytest.fixture
def demo_server(demo: Timeline) -> Iterator[str]:
    with serve(demo.archive) as base_url:
        yield base_url


@pytest.mark.parametrize("dense", [False, True], ids=["sampled", "dense"])
def test_backfill_brackets_the_demo_change_exactly(
    store: Store, demo: Timeline, demo_server: str, dense: bool
) -> None:
    (report,) = sweep(
        store, fast_settings(demo_server), [site_of("sensetime", DEMO_URL)], dense=dense
    )
    assert report.ok
    assert_exact(store, demo)
    assert {as_expected(c) for c in changes_of(store)} - {None} == set(DEMO_EXPECTED_CHANGES)
    (url,) = report.urls
    assert url.recorded == url.changes == 5  # operator, entities, 2 registrations, copyright
    if dense:
        assert url.fetched >= url.runs  # every run read, and the last capture before the move
    else:
        assert url.fetched < url.runs


def test_year_bumps_and_news_are_no_change_and_unreadable_captures_no_bracket(
    store: Store, demo: Timeline, demo_server: str
) -> None:
    (report,) = sweep(store, fast_settings(demo_server), [site_of("sensetime", DEMO_URL)])
    assert report.total("unreadable") > 0  # the planner met unreadable captures ...
    for change in changes_of(store):  # ... and every change is the August 2021 move
        assert change.before.captured_at.strftime("%Y%m%d%H%M%S") == DEMO_LAST_BEIJING
        assert change.after.captured_at.strftime("%Y%m%d%H%M%S") == DEMO_FIRST_SHANGHAI
        assert change.old
        assert change.new


def test_backfill_finds_a_change_and_its_reversal_months_later(store: Store) -> None:
    timeline = reverted_timeline()
    with serve(timeline.archive) as base_url:
        (report,) = sweep(store, fast_settings(base_url), [site_of("shili", timeline.url)])
    assert report.ok
    assert_exact(store, timeline)
    operator = [c for c in changes_of(store) if c.field is ChangeField.OPERATOR]
    assert [(c.old, c.new) for c in operator] == [
        (operator[0].old, operator[0].new),
        (operator[0].new, operator[0].old),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backfill_is_exact_on_synthetic_timelines_with_unreadable_captures(
    store: Store, seed: int
) -> None:
    timeline = synthetic_timeline(300, 3, seed, min_run=20, unreadable_fraction=0.2)
    with serve(timeline.archive) as base_url:
        # Captures are 3-9 h apart, so every owner shows for at least 57 h: more than 2 days.
        (report,) = sweep(
            store, fast_settings(base_url), [site_of("s", timeline.url)], spacing=timedelta(days=2)
        )
    assert_exact(store, timeline)
    assert report.total("fetched") < len(timeline.captures) / 2


def test_a_second_run_fetches_nothing_and_records_nothing(
    store: Store, demo: Timeline, demo_server: str
) -> None:
    sites, settings = [site_of("sensetime", DEMO_URL)], fast_settings(demo_server)
    (first,) = sweep(store, settings, sites)
    state, mementos = snapshot(store, DEMO_URL), demo.archive.count(RequestKind.MEMENTO)
    (second,) = sweep(store, settings, sites)
    assert demo.archive.count(RequestKind.MEMENTO) == mementos
    assert second.total("fetched") == 0
    assert second.total("reused") == first.total("fetched")
    assert second.total("recorded") == 0
    assert second.total("changes") == 5
    assert snapshot(store, DEMO_URL) == state


class Killed(Exception):
    """Stands for the process being killed mid-run."""


class KillAfter(httpx.AsyncBaseTransport):
    """The network, until ``mementos`` memento requests have gone out; then the kill."""

    def __init__(self, mementos: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._left = mementos

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/web/"):
            if self._left == 0:
                raise Killed
            self._left -= 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_a_run_killed_midway_and_resumed_ends_as_a_clean_run(
    store: Store, demo: Timeline, demo_server: str, tmp_path: Path
) -> None:
    sites, settings = [site_of("sensetime", DEMO_URL)], fast_settings(demo_server)
    with open_store(f"sqlite:///{tmp_path / 'clean.db'}") as clean:
        sweep(clean, settings, sites)
        expected = snapshot(clean, DEMO_URL)
    clean_mementos = demo.archive.count(RequestKind.MEMENTO)
    demo.archive.clear_log()
    with pytest.raises(Killed):
        sweep(store, settings, sites, transport=KillAfter(20))
    assert demo.archive.count(RequestKind.MEMENTO) == 20
    (resumed,) = sweep(store, settings, sites)
    assert resumed.total("reused") == 20  # what the killed run stored is not fetched again
    assert demo.archive.count(RequestKind.MEMENTO) == clean_mementos
    assert snapshot(store, DEMO_URL) == expected


@pytest.mark.parametrize("failure", ["blocked", "archive-down"])
def test_one_failing_site_is_reported_and_the_next_is_swept(store: Store, failure: str) -> None:
    timeline = reverted_timeline()
    with serve(timeline.archive) as base_url:
        settings = fast_settings(base_url, archive_retries=0)
        if failure == "blocked":
            timeline.archive.block(BLOCKED_URL)
        else:
            timeline.archive.fail_next(1, Fault.UNAVAILABLE, kind=RequestKind.CDX)
        sites = [site_of("broken", BLOCKED_URL), site_of("shili", timeline.url)]
        broken, good = sweep(store, settings, sites)
    assert not broken.ok
    assert broken.error is not None
    assert BLOCKED_URL in broken.error
    assert good.ok
    assert_exact(store, timeline)


def test_a_429_pauses_every_request_and_the_backfill_still_ends_exact(
    store: Store, demo: Timeline, demo_server: str
) -> None:
    demo.archive.fail_next(1, Fault.RATE_LIMITED, kind=RequestKind.MEMENTO)
    (report,) = sweep(store, fast_settings(demo_server), [site_of("sensetime", DEMO_URL)])
    assert report.ok
    assert_exact(store, demo)
    log = demo.archive.requests
    (limited,) = [index for index, request in enumerate(log) if request.status == 429]
    assert log[limited + 1].at - log[limited].at >= PAUSE_AFTER_429 * 0.95


def test_the_archive_request_log_shows_the_rate_limits_held(store: Store) -> None:
    demo, reverted = demo_timeline(), reverted_timeline()
    archive = FakeArchive([*demo.captures, *reverted.captures])
    cdx_rate, memento_rate = 10.0, 60.0
    with serve(archive) as base_url:
        settings = fast_settings(
            base_url, archive_cdx_rate=cdx_rate, archive_memento_rate=memento_rate
        )
        sites = [site_of("sensetime", DEMO_URL), site_of("shili", reverted.url)]
        assert all(report.ok for report in sweep(store, settings, sites))
    assert archive.count(RequestKind.MEMENTO) > memento_rate  # more than a second's worth
    # One request of slack: the server timestamps arrivals, not the client's starts.
    assert archive.max_rate(RequestKind.MEMENTO, 1.0) <= memento_rate + 1
    cdx = [request.at for request in archive.requests if request.kind is RequestKind.CDX]
    assert len(cdx) == 2
    assert cdx[1] - cdx[0] >= 0.95 / cdx_rate


# --- the commands ------------------------------------------------------------------------


WATCHLIST = f"""
[[site]]
id = "broken"
name = "Blocked by the archive"
urls = ["{BLOCKED_URL}"]

[[site]]
id = "sensetime"
name = "SenseTime"
urls = ["{DEMO_URL}"]
"""


@pytest.fixture
def cli_env(tmp_path: Path, demo_server: str, demo: Timeline) -> dict[str, str]:
    demo.archive.block(BLOCKED_URL)
    (tmp_path / "watchlist.toml").write_text(WATCHLIST, encoding="utf-8")
    return {
        "MONITOR_WATCHLIST": str(tmp_path / "watchlist.toml"),
        "MONITOR_DB": str(tmp_path / "evidence.db"),
        "MONITOR_WAYBACK_URL": demo_server,
        "MONITOR_ARCHIVE_CDX_RATE": str(CDX_RATE),
        "MONITOR_ARCHIVE_MEMENTO_RATE": str(MEMENTO_RATE),
    }


def test_backfill_command_reports_a_failed_site_and_exits_1(cli_env: dict[str, str]) -> None:
    result = CliRunner(env=cli_env).invoke(cli, ["backfill"])
    assert result.exit_code == 1, result.output
    assert "Error: 1 of 2 sites failed: broken" in result.stderr
    assert f"broken: {BLOCKED_URL}: the archive excludes this site" in result.stderr
    assert re.search(r"broken .* failed", result.stdout)
    assert re.search(r"sensetime .* 5 .* 5 .* ok", result.stdout)


def test_backfill_command_sweeps_only_the_sites_named_and_the_dates_given(
    cli_env: dict[str, str],
) -> None:
    runner = CliRunner(env=cli_env)
    result = runner.invoke(cli, ["backfill", "sensetime", "--from", "2021-08-10", "--to", "2021"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Next: monitor (--db \S+ )?changes", result.stdout)
    listed = json.loads(runner.invoke(cli, ["changes", "--json"]).stdout)
    # From 10 August the last Beijing capture is outside the sweep: no change to bracket.
    assert listed == []
    assert runner.invoke(cli, ["backfill", "sensetime", "--from", "2021-07-01"]).exit_code == 0
    assert len(json.loads(runner.invoke(cli, ["changes", "--json"]).stdout)) == 5


def test_backfill_command_screens_the_names_of_the_changes_it_records(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner(env=cli_env)
    imported = runner.invoke(cli, ["lists", "import", str(write_csl(tmp_path / "csl.csv"))])
    swept = runner.invoke(cli, ["backfill", "sensetime"])
    listed = json.loads(runner.invoke(cli, ["changes", "--json"]).stdout)

    assert (imported.exit_code, swept.exit_code) == (0, 0), imported.output + swept.output
    operator = next(change for change in listed if change["field"] == "operator")
    assert operator["screening"]["note"] == OPERATOR_NOTE  # no `monitor screen` needed


def test_report_table_sums_each_sites_urls_and_says_which_failed() -> None:
    def swept(listed: int, recorded: int) -> UrlReport:
        counts = {"runs": 1, "fetched": 2, "reused": 3, "unreadable": 1, "changes": recorded + 1}
        return UrlReport(DEMO_URL, listed=listed, recorded=recorded, **counts)

    reports = [
        SiteReport("sensetime", (swept(100, 2), swept(20, 0))),
        SiteReport("broken", error=f"{BLOCKED_URL}: the archive excludes this site"),
    ]
    out = io.StringIO()
    Console(file=out, width=120).print(backfill.report_table(reports))
    rows = [line.split("│")[1:-1] for line in out.getvalue().splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["sensetime", "120", "4", "6", "2", "4", "2", "ok"],
        ["broken", "0", "0", "0", "0", "0", "0", "failed"],
    ]


@pytest.mark.parametrize("bound", ["2021-13-01", "last week", "202108091234567"])
def test_backfill_command_refuses_a_bad_date(cli_env: dict[str, str], bound: str) -> None:
    result = CliRunner(env=cli_env).invoke(cli, ["backfill", "--from", bound])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --from")


ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_changes_json_carries_the_contract_fields(cli_env: dict[str, str]) -> None:
    runner = CliRunner(env=cli_env)
    runner.invoke(cli, ["backfill", "sensetime"])
    result = runner.invoke(cli, ["changes", "--json", "--site", "sensetime"])
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)
    assert {change["field"] for change in changes} == {f.value for f in ChangeField}
    for change in changes:
        assert {"site", "url", "field", "old", "new", "before", "after"} <= set(change)
        assert change["site"] == "sensetime"
        assert change["url"] == DEMO_URL
        for side in ("before", "after"):
            capture = change[side]
            assert ISO_UTC.match(capture["captured_at"])
            assert capture["source"] == "wayback"
            digits = re.sub(r"\D", "", capture["captured_at"])[:14]
            assert f"/web/{digits}id_/" in capture["archive_url"]
            assert re.fullmatch(r"[0-9a-f]{64}", capture["sha256"])
    operator = next(c for c in changes if c["field"] == "operator")
    assert operator["before"]["archive_url"].endswith(f"/web/{DEMO_LAST_BEIJING}id_/{DEMO_URL}")


def test_changes_says_so_when_nothing_is_recorded(store: Store, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", db_url, "changes"])
    assert result.exit_code == 0
    assert result.stdout == "No changes recorded.\n"
