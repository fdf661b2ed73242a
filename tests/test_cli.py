"""The command line as a whole: commands that only read never create an evidence store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

NO_STORE = (
    "Error: no evidence store at {path} (run monitor check, monitor backfill or monitor demo "
    "first, or pass --db)\n"
)

READING = [
    pytest.param(["changes"], id="changes"),
    pytest.param(["changes", "--json"], id="changes-json"),
    pytest.param(["export", "--format", "json"], id="export"),
    pytest.param(["timeline", "sensetime"], id="timeline"),
    pytest.param(["status"], id="status"),
    pytest.param(["verify"], id="verify"),
    pytest.param(["review", "1"], id="review"),
    pytest.param(["lists"], id="lists"),
    pytest.param(["lists", "show"], id="lists-show"),
    pytest.param(["screen"], id="screen"),
]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in an empty folder, on its default store ``monitor.db``."""
    monkeypatch.chdir(tmp_path)
    env = {"MONITOR_DB": None, "MONITOR_WATCHLIST": None, "MONITOR_WAYBACK_URL": None}
    return CliRunner(env=env)


@pytest.mark.parametrize("args", READING)
def test_a_command_that_only_reads_says_there_is_no_store_and_creates_none(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == NO_STORE.format(path=Path.cwd() / "monitor.db")
    assert list(tmp_path.iterdir()) == []


def test_the_missing_store_is_the_one_given_with_db(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--db", "cases/acme.db", "changes"])
    assert result.exit_code == 1
    assert result.stderr == NO_STORE.format(path=tmp_path.resolve() / "cases" / "acme.db")
    assert list(tmp_path.iterdir()) == []


def test_changes_works_once_the_demo_made_the_store(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["changes", "--json"]).exit_code == 1
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    result = runner.invoke(cli, ["changes", "--json"])
    assert result.exit_code == 0, result.output
    assert '"site": "sensetime"' in result.stdout


def test_a_command_that_writes_creates_the_store(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["reextract"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "monitor.db").exists()
    assert runner.invoke(cli, ["verify"]).exit_code == 0
