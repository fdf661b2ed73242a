"""`monitor demo`: the reconstruction swept from a local fake archive, in a fresh directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.demo import (
    BEIJING_SENSETIME,
    DEMO_FIRST_SHANGHAI,
    DEMO_LAST_BEIJING,
    DEMO_URL,
    SHANGHAI_SENSETIME,
)
from monitor.store import captures_for_url, open_store, sync_sites
from monitor.watchlist import load


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    # Neither a watchlist nor the environment may steer the demo away from its own archive.
    return CliRunner(env={"MONITOR_WAYBACK_URL": "http://127.0.0.1:9", "MONITOR_DB": None})


def stored(path: Path) -> tuple[int, int]:
    """(captures, changes) in the demo's database."""
    with open_store(f"sqlite:///{path}") as store, store.session(write=False) as session:
        captures = captures_for_url(session, DEMO_URL)
    changes = json.loads(CliRunner().invoke(cli, ["--db", str(path), "changes", "--json"]).stdout)
    return len(captures), len(changes)


def test_demo_finds_the_beijing_to_shanghai_move_and_says_it_is_a_reconstruction(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Wide enough that no cell wraps, so each value and URL reads whole.
    result = runner.invoke(cli, ["demo"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("RECONSTRUCTION, not archived data.")
    assert f"│ {BEIJING_SENSETIME.zh}" in out
    assert f"│ → {SHANGHAI_SENSETIME.zh}" in out
    assert "│ icp_filing: 京ICP备00000001号-1" in out
    assert "│ → icp_filing: 沪ICP备00000002号-1" in out
    assert f"/web/{DEMO_LAST_BEIJING}id_/{DEMO_URL}" in out
    assert f"/web/{DEMO_FIRST_SHANGHAI}id_/{DEMO_URL}" in out
    assert "Next: monitor changes" in out
    assert (tmp_path / "monitor.db").exists()


def test_running_the_demo_twice_duplicates_nothing(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    first = stored(tmp_path / "monitor.db")
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    assert stored(tmp_path / "monitor.db") == first
    assert first[1] == 5


def test_demo_uses_the_database_given_and_names_it_in_the_next_command(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["--db", "case.db", "demo"])
    assert result.exit_code == 0, result.output
    assert "Next: monitor --db case.db changes" in result.stdout
    assert stored(tmp_path / "case.db")[1] == 5


def test_demo_refuses_a_database_that_watches_other_sites(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "watchlist.toml").write_text(
        '[[site]]\nid = "acme"\nname = "Acme"\nurls = ["https://acme.example/"]\n', encoding="utf-8"
    )
    with open_store(f"sqlite:///{tmp_path / 'monitor.db'}") as store, store.session() as session:
        sync_sites(session, load(tmp_path / "watchlist.toml").sites)
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 2
    assert "already watches other sites (acme)" in result.stderr
    assert "--db demo.db" in result.stderr
