"""The daemon in-process with intervals of a second: it checks, sees a change, alerts, picks up
watchlist edits (by polling and on SIGHUP), sweeps the archive incrementally and stops cleanly
on SIGTERM or its stop event, within its grace period; and `monitor run` as a process of its own,
stopped by SIGTERM (exit 0) or killed by SIGKILL (the store verifies, and a restart goes on)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from test_check import SHANGHAI_ICP, Answer, LocalServer, footer_page, local_server

from monitor import config
from monitor.cli import cli
from monitor.daemon import Daemon, first_run
from monitor.fakearchive import FakeArchive, FakeCapture, RequestKind, serve
from monitor.models import CaptureSource
from monitor.status import url_states
from monitor.store import Store, list_changes, open_store
from monitor.watchlist import Watchlist

# Long enough for a check on a loaded machine, short enough to keep the tests quick.
WAIT = 15.0
POLL = 0.05
T0 = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)


def settle(loaded: Watchlist) -> config.Settings:
    """The settings of a watchlist, without the process environment."""
    return config.resolve(env={}, file_settings=dict(loaded.settings), file_path=str(loaded.path))


def site_block(site_id: str, url: str, interval: str = "1s", archive: str = "1d") -> str:
    return (
        f'[[site]]\nid = "{site_id}"\nurls = ["{url}"]\n'
        f'interval = "{interval}"\narchive_interval = "{archive}"\n'
    )


def write(path: Path, text: str) -> None:
    """Replace the watchlist, making sure its modification time moves."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL)


def last_checked(store: Store, url: str) -> datetime | None:
    """When ``url`` was last checked, by the log (None: never)."""
    with store.session(write=False) as session:
        state = url_states(session).get(url)
    return None if state is None else state.last_check


def changes(store: Store, source: CaptureSource = CaptureSource.LIVE) -> list[Any]:
    with store.session(write=False) as session:
        return [c for c in list_changes(session) if c.before.source is source]


def check_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "monitor.checks"
    ]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as state:
        yield state


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


# --- scheduling ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        pytest.param(None, T0 + timedelta(seconds=30), id="never-checked"),
        pytest.param(T0 - timedelta(hours=1), T0 + timedelta(hours=5), id="resumes-its-rhythm"),
        pytest.param(T0 - timedelta(days=3), T0 + timedelta(seconds=30), id="missed-runs-once"),
    ],
)
def test_first_run_resumes_the_rhythm_or_starts_soon(
    last: datetime | None, expected: datetime
) -> None:
    assert first_run(last, 6 * 3600, T0, spread=30) == expected


def test_first_run_never_waits_longer_than_the_interval() -> None:
    assert first_run(None, 5, T0, spread=30) == T0 + timedelta(seconds=5)


# --- the daemon ------------------------------------------------------------------------------


def test_daemon_checks_sees_a_change_reloads_the_watchlist_and_stops_on_sigterm(
    store: Store, server: LocalServer, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    server.answers["/a"] = server.answers["/b"] = Answer(footer_page())
    server.answers["/hook"] = Answer(b"", 204)
    a, b = server.url("/a"), server.url("/b")
    path = tmp_path / "watchlist.toml"
    alert = f'[[alert]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n'
    write(path, site_block("alpha", a) + alert)

    async def scenario() -> None:
        daemon = Daemon(store, path, settle, watch_poll=0.1)
        running = asyncio.create_task(daemon.run())
        await until(lambda: last_checked(store, a) is not None, "the first check of alpha")
        server.answers["/a"] = Answer(footer_page(icp=SHANGHAI_ICP))
        await until(lambda: len(changes(store)) == 1, "the change of alpha")
        write(path, site_block("alpha", a) + site_block("beta", b) + alert)
        await until(lambda: last_checked(store, b) is not None, "beta, added to the watchlist")
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, WAIT)

    asyncio.run(scenario())

    (change,) = changes(store)
    assert (change.site_id, change.new) == ("alpha", {"icp_filing": [SHANGHAI_ICP]})
    assert len(server.requests("POST", "/hook")) == 1
    lines = check_lines(logs)
    assert {"ts", "site", "url", "status", "operator", "change", "duration_ms", "error"} <= set(
        lines[0]
    )
    assert [line["change"] for line in lines if line["site"] == "alpha"].count(True) == 1
    assert any(line["site"] == "beta" for line in lines)
    assert "SIGTERM received: stopping" in logs.text
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers given back


def test_sighup_reloads_and_a_broken_watchlist_keeps_the_previous_one(
    store: Store, server: LocalServer, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    server.answers["/a"] = server.answers["/b"] = Answer(footer_page())
    a, b = server.url("/a"), server.url("/b")
    path = tmp_path / "watchlist.toml"
    write(path, site_block("alpha", a))

    async def scenario() -> None:
        stop = asyncio.Event()
        daemon = Daemon(store, path, settle, watch_poll=3600)  # only SIGHUP reloads
        running = asyncio.create_task(daemon.run(stop))
        await until(lambda: last_checked(store, a) is not None, "the first check of alpha")
        write(path, site_block("alpha", a) + "[[site]]\nid = 'beta'\n")  # beta has no urls
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: "watchlist not reloaded (SIGHUP)" in logs.text, "the error")
        before = last_checked(store, a)
        await until(lambda: last_checked(store, a) != before, "alpha still checked")
        write(path, site_block("beta", b))
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: last_checked(store, b) is not None, "beta, after SIGHUP")
        stop.set()
        await asyncio.wait_for(running, WAIT)

    asyncio.run(scenario())
    assert "key 'urls': required" in logs.text
    assert "watchlist reloaded (SIGHUP): 1 sites added, 1 removed, 0 rescheduled" in logs.text


@pytest.mark.parametrize(
    ("delay", "grace", "finished"),
    [pytest.param(0.5, 10.0, True, id="finishes"), pytest.param(30.0, 0.3, False, id="abandons")],
)
def test_stopping_lets_checks_in_flight_finish_within_the_grace_period(
    store: Store,
    server: LocalServer,
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
    delay: float,
    grace: float,
    finished: bool,
) -> None:
    server.answers["/slow"] = Answer(footer_page(), delay=delay)
    url = server.url("/slow")
    path = tmp_path / "watchlist.toml"
    write(path, f"[settings]\nshutdown_grace = {grace}\n\n" + site_block("slow", url))

    async def scenario() -> float:
        stop = asyncio.Event()
        running = asyncio.create_task(Daemon(store, path, settle, handle_signals=False).run(stop))
        await until(lambda: len(server.requests("GET", "/slow")) >= 1, "the slow fetch")
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(running, WAIT)
        return time.monotonic() - started

    took = asyncio.run(scenario())

    assert took < grace + 2
    assert (last_checked(store, url) is not None) is finished
    assert ("jobs abandoned" in logs.text) is not finished


def test_archive_sweep_records_archived_changes_and_then_reads_only_what_is_new(
    store: Store, server: LocalServer, tmp_path: Path
) -> None:
    server.answers["/"] = Answer(footer_page())
    url = server.url("/")
    archive = FakeArchive(
        [
            FakeCapture(url, "20210101000000", body=footer_page()),
            FakeCapture(url, "20210601000000", body=footer_page(icp=SHANGHAI_ICP)),
        ]
    )
    path = tmp_path / "watchlist.toml"

    async def scenario(base_url: str) -> None:
        write(
            path,
            f'[settings]\nwayback_url = "{base_url}"\narchive_cdx_rate = 50\n'
            f"archive_memento_rate = 400\n\n" + site_block("acme", url, "1h", archive="1s"),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(Daemon(store, path, settle, handle_signals=False).run(stop))
        await until(lambda: len(changes(store, CaptureSource.WAYBACK)) == 1, "the first sweep")
        archive.add(FakeCapture(url, "20210901000000", body=footer_page()))
        await until(lambda: len(changes(store, CaptureSource.WAYBACK)) == 2, "the next sweep")
        stop.set()
        await asyncio.wait_for(running, WAIT)

    with serve(archive) as base_url:
        asyncio.run(scenario(base_url))

    searches = [r.params.get("from") for r in archive.requests if r.kind is RequestKind.CDX]
    assert searches[0] is None  # the first sweep reads the whole history
    assert ["20210601000000"] in searches  # later ones start at the newest readable capture
    moved, back = changes(store, CaptureSource.WAYBACK)
    assert (moved.new, back.new) == ({"icp_filing": [SHANGHAI_ICP]}, moved.old)


# --- alerts owed -----------------------------------------------------------------------------


def spn_settle(spn_url: str) -> Callable[[Watchlist], config.Settings]:
    """Settings with Save Page Now keys, pointed at ``spn_url``."""
    env = {
        "MONITOR_SPN_ACCESS_KEY": "access",
        "MONITOR_SPN_SECRET_KEY": "secret",
        "MONITOR_SPN_URL": spn_url,
    }

    def resolve(loaded: Watchlist) -> config.Settings:
        file_settings = dict(loaded.settings)
        return config.resolve(env=env, file_settings=file_settings, file_path=str(loaded.path))

    return resolve


def deliveries(store: Store) -> list[tuple[int, bool]]:
    with store.session(write=False) as session:
        rows = session.execute(text("SELECT change_id, ok FROM alert_deliveries ORDER BY id"))
        return [(change_id, bool(ok)) for change_id, ok in rows]


def test_an_alert_cut_short_by_a_stop_is_sent_when_the_daemon_starts_again(
    store: Store, server: LocalServer, tmp_path: Path
) -> None:
    server.answers["/"] = Answer(footer_page())
    server.answers["/hook"] = Answer(b"", 204)
    server.answers["/save"] = Answer(b"{}", delay=WAIT)  # Save Page Now never answers in time
    url = server.url("/")
    path = tmp_path / "watchlist.toml"
    alert = f'[[alert]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n'
    write(path, "[settings]\nshutdown_grace = 0.2\n\n" + site_block("acme", url, "1s") + alert)
    settle_spn = spn_settle(server.url(""))

    async def first_daemon() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(
            Daemon(store, path, settle_spn, handle_signals=False).run(stop)
        )
        await until(lambda: last_checked(store, url) is not None, "the first check")
        server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
        await until(lambda: len(server.requests("POST", "/save")) == 1, "the change's SPN request")
        stop.set()
        await asyncio.wait_for(running, WAIT)

    async def second_daemon() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(Daemon(store, path, settle, handle_signals=False).run(stop))
        await until(lambda: len(server.requests("POST", "/hook")) == 1, "the owed alert")
        await until(lambda: len(deliveries(store)) == 1, "the delivery kept")
        stop.set()
        await asyncio.wait_for(running, WAIT)

    asyncio.run(first_daemon())
    (change,) = changes(store)
    assert server.requests("POST", "/hook") == []  # the first daemon stopped before alerting
    assert deliveries(store) == []

    asyncio.run(second_daemon())
    (delivered,) = server.requests("POST", "/hook")
    payload = json.loads(delivered.body)
    assert (payload["id"], payload["new"]) == (change.id, {"icp_filing": [SHANGHAI_ICP]})
    assert "stopped before Save Page Now answered" in payload["archive_copy_error"]
    assert deliveries(store) == [(change.id, True)]


def test_a_change_an_incremental_sweep_reveals_is_alerted_and_history_is_not(
    store: Store, server: LocalServer, tmp_path: Path
) -> None:
    # The live page is an error page, never compared: only the sweeps find changes here.
    server.answers["/"] = Answer(b"gone", 404)
    server.answers["/hook"] = Answer(b"", 204)
    url = server.url("/")
    archive = FakeArchive(
        [
            FakeCapture(url, "20210101000000", body=footer_page()),
            FakeCapture(url, "20210601000000", body=footer_page(icp=SHANGHAI_ICP)),
        ]
    )
    path = tmp_path / "watchlist.toml"
    alert = f'[[alert]]\ntype = "webhook"\nurl = "{server.url("/hook")}"\n'

    async def scenario(base_url: str) -> None:
        write(
            path,
            f'[settings]\nwayback_url = "{base_url}"\narchive_cdx_rate = 50\n'
            f"archive_memento_rate = 400\n\n" + site_block("acme", url, "1h", archive="1s") + alert,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(Daemon(store, path, settle, handle_signals=False).run(stop))
        await until(lambda: len(changes(store, CaptureSource.WAYBACK)) == 1, "the first sweep")
        archive.add(FakeCapture(url, "20210901000000", body=footer_page()))
        await until(lambda: len(changes(store, CaptureSource.WAYBACK)) == 2, "the next sweep")
        await until(lambda: len(server.requests("POST", "/hook")) == 1, "the sweep's alert")
        stop.set()
        await asyncio.wait_for(running, WAIT)

    with serve(archive) as base_url:
        asyncio.run(scenario(base_url))

    _history, revealed = changes(store, CaptureSource.WAYBACK)
    (delivered,) = server.requests("POST", "/hook")
    assert json.loads(delivered.body)["id"] == revealed.id
    assert deliveries(store) == [(revealed.id, True)]


# --- the real process --------------------------------------------------------------------------


def start_daemon(db: Path, path: Path) -> subprocess.Popen[str]:
    """``monitor run`` in a process of its own, as Docker starts it."""
    args = [sys.executable, "-m", "monitor", "--db", str(db), "--watchlist", str(path), "run"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def first_check_line(daemon: subprocess.Popen[str]) -> dict[str, Any]:
    assert daemon.stdout is not None
    line = daemon.stdout.readline()  # the daemon checks a never-checked site within a minute
    assert line, daemon.stderr.read() if daemon.stderr else "no output"
    return dict(json.loads(line))


def many_sites(server: LocalServer, count: int, delay: float = 0.0) -> tuple[list[str], str]:
    """``count`` sites of one page each on ``server`` (each answered after ``delay``), checked
    every second, two fetches at a time: the pages and the watchlist."""
    urls = []
    blocks = ["[settings]\nmax_fetches = 2\nshutdown_grace = 1\n"]
    for n in range(count):
        server.answers[f"/p{n}"] = Answer(footer_page(), delay=delay)
        urls.append(server.url(f"/p{n}"))
        blocks.append(site_block(f"site-{n}", urls[-1]))
    return urls, "\n".join(blocks)


def test_monitor_run_stops_on_sigterm_with_exit_0(server: LocalServer, tmp_path: Path) -> None:
    path, db = tmp_path / "watchlist.toml", tmp_path / "monitor.db"
    _urls, watchlist = many_sites(server, 2)
    write(path, watchlist)
    with start_daemon(db, path) as daemon:
        try:
            line = first_check_line(daemon)
            daemon.send_signal(signal.SIGTERM)
            _out, err = daemon.communicate(timeout=WAIT)
        finally:
            daemon.kill()
    assert (line["kind"], line["outcome"]) == ("check", "baseline")
    assert daemon.returncode == 0, err
    assert "SIGTERM received: stopping" in err
    assert err.rstrip().endswith("stopped")


def test_monitor_run_killed_mid_pass_leaves_a_store_that_verifies_and_goes_on(
    server: LocalServer, tmp_path: Path
) -> None:
    path, db = tmp_path / "watchlist.toml", tmp_path / "monitor.db"
    urls, watchlist = many_sites(server, 40, delay=0.1)  # a pass of two seconds at least
    write(path, watchlist)
    with start_daemon(db, path) as killed:
        try:
            first_check_line(killed)
            killed.send_signal(signal.SIGKILL)  # in the middle of the pass over 40 pages
            killed.communicate(timeout=WAIT)
        finally:
            killed.kill()
    with open_store(f"sqlite:///{db}") as store:
        checked_before = sum(last_checked(store, url) is not None for url in urls)

    verified = CliRunner().invoke(cli, ["--db", str(db), "verify"])
    with start_daemon(db, path) as again:
        try:
            first_check_line(again)
            again.send_signal(signal.SIGTERM)
            again.communicate(timeout=WAIT)
        finally:
            again.kill()

    assert verified.exit_code == 0, verified.output
    assert 1 <= checked_before < len(urls)  # killed part way through
    assert again.returncode == 0
