"""The check log and ``monitor status``: what counts as failing, overdue or never checked, and
the exit codes the Docker HEALTHCHECK relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from monitor.cli import cli
from monitor.config import Settings
from monitor.errors import StoreError
from monitor.models import CheckOutcome
from monitor.status import (
    NewCheck,
    SiteState,
    UrlState,
    judge,
    record_check,
    summary,
    url_states,
)
from monitor.store import Store, open_store, sync_sites
from monitor.watchlist import Site

NOW = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
HOME, LEGAL = "https://acme.example/", "https://acme.example/legal"
SITE = Site("acme", "Acme", (HOME, LEGAL), interval=6 * 3600)
SETTINGS = Settings(status_failures=3)


def state(url: str, last: datetime | None, success: datetime | None, failures: int = 0) -> UrlState:
    return UrlState(url, "acme", last, success, failures, "timed out" if failures else None)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param([], SiteState.NEVER_CHECKED, id="never"),
        pytest.param([state(HOME, NOW - HOUR, NOW - HOUR)], SiteState.OK, id="one-url-checked"),
        pytest.param(
            [state(HOME, NOW - HOUR, NOW - HOUR), state(LEGAL, NOW, NOW - 4 * HOUR, 2)],
            SiteState.OK,
            id="two-failures-allowed",
        ),
        pytest.param(
            [state(HOME, NOW - HOUR, NOW - HOUR), state(LEGAL, NOW, None, 3)],
            SiteState.FAILING,
            id="third-failure",
        ),
        pytest.param(
            [state(HOME, NOW - 13 * HOUR, NOW - 13 * HOUR)], SiteState.OVERDUE, id="missed-a-run"
        ),
        pytest.param(
            [state(HOME, NOW - 11 * HOUR, NOW - 11 * HOUR)], SiteState.OK, id="late-not-overdue"
        ),
    ],
)
def test_a_site_is_judged_by_its_urls_failures_and_the_age_of_its_last_check(
    states: list[UrlState], expected: SiteState
) -> None:
    health = judge([SITE], {s.url: s for s in states}, SETTINGS, NOW)
    (site,) = health.sites
    assert site.state is expected
    assert health.healthy is (expected is SiteState.OK)


def test_the_site_shows_its_last_success_and_only_the_urls_failing_repeatedly() -> None:
    states = [state(HOME, NOW - HOUR, NOW - HOUR), state(LEGAL, NOW, NOW - 5 * HOUR, 4)]
    (site,) = judge([SITE], {s.url: s for s in states}, SETTINGS, NOW).sites
    assert site.last_success == NOW - HOUR
    assert [url.url for url in site.failing] == [LEGAL]
    assert site.to_json()["failing_urls"][0]["last_error"] == "timed out"


def test_alerts_still_owed_are_reported_but_leave_the_sites_healthy() -> None:
    states = {url: state(url, NOW - HOUR, NOW - HOUR) for url in SITE.urls}
    health = judge([SITE], states, SETTINGS, NOW, alerts_owed=2)
    assert health.healthy
    assert health.to_json()["alerts_owed"] == 2
    assert summary(health) == (
        "healthy: 1 sites, 1 ok; alerts still owed for 2 changes (see the daemon's log)"
    )


# --- the log in the store --------------------------------------------------------------------


def log(store: Store, *outcomes: CheckOutcome, url: str = HOME) -> None:
    with store.session() as session:
        for n, outcome in enumerate(outcomes):
            error = "timed out" if outcome is CheckOutcome.FAILED else None
            at = NOW - (len(outcomes) - n) * HOUR
            record_check(session, NewCheck(url, at, 120, outcome, error=error))


@pytest.fixture
def watched(store: Store) -> Store:
    with store.session() as session:
        sync_sites(session, [SITE])
    return store


def test_url_states_count_the_failures_since_the_last_success(watched: Store) -> None:
    ok, failed, erred = CheckOutcome.UNCHANGED, CheckOutcome.FAILED, CheckOutcome.HTTP_ERROR
    log(watched, failed, ok, erred, failed)
    log(watched, failed, failed, url=LEGAL)
    with watched.session(write=False) as session:
        states = url_states(session)
    home, legal = states[HOME], states[LEGAL]
    assert (home.failures, home.last_success, home.last_check) == (2, NOW - 3 * HOUR, NOW - HOUR)
    assert home.last_error == "timed out"
    assert (legal.failures, legal.last_success) == (2, None)


def test_url_states_list_an_unchecked_url_with_no_checks(watched: Store) -> None:
    with watched.session(write=False) as session:
        home = url_states(session)[HOME]
    assert (home.last_check, home.last_success, home.failures) == (None, None, 0)


@pytest.mark.parametrize(
    "statement", ["UPDATE checks SET outcome = 'unchanged'", "DELETE FROM checks"]
)
def test_the_check_log_cannot_be_rewritten(watched: Store, statement: str) -> None:
    log(watched, CheckOutcome.FAILED)
    with pytest.raises(StoreError, match="append-only"), watched.session() as session:
        session.execute(text(statement))


def test_a_check_of_an_unwatched_url_is_refused(watched: Store) -> None:
    with pytest.raises(StoreError), watched.session() as session:
        record_check(session, NewCheck("https://other.example/", NOW, 1, CheckOutcome.FAILED))


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(
        '[settings]\nstatus_failures = 2\n\n[[site]]\nid = "acme"\n'
        f'urls = ["{HOME}"]\ninterval = "1h"\n',
        encoding="utf-8",
    )
    return tmp_path / "monitor.db", watchlist


def status(files: tuple[Path, Path], *extra: str) -> tuple[int, str]:
    db, watchlist = files
    args = ["--db", str(db), "--watchlist", str(watchlist), "status", *extra]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def record_now(db: Path, *outcomes: CheckOutcome) -> None:
    with open_store(f"sqlite:///{db}") as store:
        with store.session() as session:
            sync_sites(session, [Site("acme", "Acme", (HOME,))])
        now = datetime.now(UTC)
        with store.session() as session:
            for n, outcome in enumerate(outcomes):
                at = now - timedelta(seconds=len(outcomes) - n)
                record_check(session, NewCheck(HOME, at, 100, outcome, error="HTTP 503"))


def test_status_exits_1_before_anything_was_checked(files: tuple[Path, Path]) -> None:
    record_now(files[0])  # the store exists, with the site and no check
    code, output = status(files)
    assert code == 1
    assert "never checked" in output
    assert "UNHEALTHY: 1 sites, 1 never checked" in output


def test_status_without_a_store_says_so_and_exits_1(files: tuple[Path, Path]) -> None:
    code, output = status(files)
    assert code == 1
    assert output.startswith("Error: no evidence store at ")
    assert not files[0].exists()


def test_status_exits_0_after_a_recent_successful_check(files: tuple[Path, Path]) -> None:
    record_now(files[0], CheckOutcome.BASELINE)
    code, output = status(files)
    assert code == 0, output
    assert "healthy: 1 sites, 1 ok" in output


def test_status_exits_1_when_a_site_fails_the_set_number_of_times_in_a_row(
    files: tuple[Path, Path],
) -> None:
    record_now(files[0], CheckOutcome.BASELINE, CheckOutcome.HTTP_ERROR)
    assert status(files)[0] == 0  # one failure: status_failures = 2 in the watchlist
    record_now(files[0], CheckOutcome.FAILED)
    code, output = status(files, "--json")
    report = json.loads(output)
    assert code == 1
    assert report["healthy"] is False
    (site,) = report["sites"]
    assert (site["state"], site["failing_urls"][0]["failures"]) == ("failing", 2)
    assert site["last_success"] is not None


def test_status_without_a_watchlist_judges_the_stores_sites(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    record_now(files[0], CheckOutcome.UNCHANGED)
    code, output = status((files[0], tmp_path / "missing.toml"), "--json")
    assert code == 0
    assert [site["site"] for site in json.loads(output)["sites"]] == ["acme"]
