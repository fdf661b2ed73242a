"""Screening lists in the store: `monitor lists import/fetch/show` and `monitor screen`, the
demo case end to end, and near-miss names left unmatched at the store and CLI level.

The list files are written here in the publishers' formats (``screening.CSL_COLUMNS`` and
``OPENSANCTIONS_COLUMNS``, checked against the documented headers in test_screening.py).
Their rows are a reconstruction for tests: the names are real listed parties, the ids,
aliases and dates simplified (the real Entity List entry does not spell out Beijing
SenseTime's Chinese name).  Downloads come from a local HTTP server; nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitor import USER_AGENT
from monitor.cli import cli
from monitor.facts import Entity, Facts, Role, Source
from monitor.lists import Screener, import_list, screen
from monitor.liststore import list_entries
from monitor.models import CaptureSource, ChangeField
from monitor.screening import CSL_COLUMNS, OPENSANCTIONS_COLUMNS
from monitor.store import (
    NewCapture,
    NewChange,
    Store,
    add_capture,
    add_extraction,
    list_changes,
    record_change,
)

ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"
BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"
SENSETIME_ROW = {
    "_id": "el-sensetime",
    "source": ENTITY_LIST,
    "programs": "EAR",
    "name": "Beijing SenseTime Technology Development Co., Ltd.",
    "addresses": "Haidian District, Beijing, CN",
    "start_date": "2019-10-09",
    "alt_names": BEIJING,
}
CSL_ROWS = [
    SENSETIME_ROW,
    {
        "_id": "el-huawei",
        "source": ENTITY_LIST,
        "programs": "EAR",
        "name": "Huawei Technologies Co., Ltd.",
        "start_date": "2019-05-16",
        "alt_names": "华为技术有限公司",
    },
    {
        "_id": "dpl-foo",
        "source": "Denied Persons List (DPL) - Bureau of Industry and Security",
        "name": "Foo Handels GmbH",
        "start_date": "2020-03-02",
    },
]
OPENSANCTIONS_ROWS = [
    {
        "id": "NK-sensetime-group",
        "schema": "Company",
        "name": "SenseTime Group Limited",
        "aliases": "商汤集团股份有限公司",
        "countries": "cn",
        "sanctions": "NS-CMIC List - Chinese Military-Industrial Complex - 2021-12-10",
        "dataset": "US OFAC Non-SDN Chinese Military-Industrial Complex Companies List",
        "first_seen": "2021-12-11T00:00:00",
        "last_seen": "2024-05-02T06:00:00",
    },
]
OPERATOR_NOTE = (
    "operator moved from a listed entity (Entity List, since 2019-10-09) to an unlisted one"
)


def write_csv(
    path: Path, columns: tuple[str, ...], rows: list[dict[str, str]], day: str = "2024-05-01"
) -> Path:
    """A list file with ``rows`` under the publisher's header, last modified on ``day``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    stamp = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
    os.utime(path, (stamp, stamp))
    return path


def write_csl(path: Path, rows: list[dict[str, str]] = CSL_ROWS, day: str = "2024-05-01") -> Path:
    return write_csv(path, CSL_COLUMNS, rows, day)


def run(db_url: str, *args: str) -> Result:
    # Wide, so that no line of a table is wrapped.
    return CliRunner().invoke(cli, ["--db", db_url, *args], env={"COLUMNS": "400"})


def as_json(db_url: str, *args: str) -> Any:
    result = run(db_url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- importing ----------------------------------------------------------------------------------


def test_import_keeps_the_csl_file_with_its_hash_date_and_entries(
    db_url: str, tmp_path: Path
) -> None:
    path = write_csl(tmp_path / "consolidated.csv")
    result = run(db_url, "lists", "import", str(path))
    (loaded,) = as_json(db_url, "lists")

    assert result.exit_code == 0, result.output
    assert "csl: loaded 3 entries" in result.stdout
    assert {key: loaded[key] for key in ("name", "format", "published", "entries")} == {
        "name": "csl",
        "format": "csl_csv",
        "published": "2024-05-01",
        "entries": 3,
    }
    assert loaded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded["screened_at"] is None


def test_opensanctions_list_is_dated_by_its_newest_last_seen(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "targets.simple.csv", OPENSANCTIONS_COLUMNS, OPENSANCTIONS_ROWS)
    report = as_json(db_url, "lists", "import", str(path))
    assert (report["list"]["name"], report["list"]["published"]) == ("opensanctions", "2024-05-02")


def test_csl_json_loads_under_the_name_given(store: Store, tmp_path: Path) -> None:
    results = [{"id": "el-sensetime", **SENSETIME_ROW, "alt_names": [BEIJING]}]
    path = tmp_path / "consolidated.json"
    path.write_text(json.dumps({"results": results}), encoding="utf-8")
    report = import_list(store, path, "csl-json")
    with store.session(write=False) as session:
        (entry,) = list_entries(session)
    assert (report.loaded.name, report.loaded.format) == ("csl-json", "csl_json")
    assert (entry.list_name, entry.aliases) == ("csl-json", (BEIJING,))


def test_importing_the_same_file_again_changes_nothing(db_url: str, tmp_path: Path) -> None:
    path = write_csl(tmp_path / "consolidated.csv")
    first, again = (
        as_json(db_url, "lists", "import", str(path)),
        run(db_url, "lists", "import", str(path)),
    )
    assert first["unchanged"] is False
    assert "is loaded already (dated 2024-05-01); nothing to do" in again.stdout


def test_a_newer_file_replaces_the_list_and_records_its_date(store: Store, tmp_path: Path) -> None:
    import_list(store, write_csl(tmp_path / "v1.csv"))
    newer = write_csl(tmp_path / "v2.csv", CSL_ROWS[:1], day="2024-06-01")
    report = import_list(store, newer)
    with store.session(write=False) as session:
        entries = list_entries(session)
    assert report.previous is not None
    assert (report.previous.published, report.loaded.published) == (
        datetime(2024, 5, 1).date(),
        datetime(2024, 6, 1).date(),
    )
    assert [entry.entry_id for entry in entries] == ["el-sensetime"]
    assert "replacing the copy dated 2024-05-01" in report.summary()


def test_an_older_file_is_refused_in_one_line_unless_forced(db_url: str, tmp_path: Path) -> None:
    run(db_url, "lists", "import", str(write_csl(tmp_path / "may.csv")))
    older = write_csl(tmp_path / "april.csv", CSL_ROWS[:1], day="2024-04-01")
    refused = run(db_url, "lists", "import", str(older))
    forced = run(db_url, "lists", "import", str(older), "--force")

    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: {older}: dated 2024-04-01, older than the loaded list csl (2024-05-01); "
        "give --force to load it anyway\n"
    )
    assert forced.exit_code == 0, forced.output
    assert as_json(db_url, "lists")[0]["entries"] == 1


def test_a_file_that_is_no_list_is_a_one_line_error(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("first,last\nAda,Lovelace\n", encoding="utf-8")
    result = run(db_url, "lists", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: line 1: not a Consolidated Screening List")
    assert result.stderr.count("\n") == 1


def test_lists_alone_says_how_to_load_one(store: Store, db_url: str) -> None:
    result = run(db_url, "lists")
    assert result.exit_code == 0
    assert "No lists loaded. Next: monitor --db" in result.stdout


# --- downloading --------------------------------------------------------------------------------


@dataclass
class Mirror:
    url: str
    root: Path
    user_agents: list[str]


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    """A local HTTP server serving a directory, recording the User-Agent of each request."""
    root = tmp_path / "mirror"
    root.mkdir()
    agents: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            agents.append(self.headers.get("User-Agent", ""))
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the answers, not a log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Mirror(f"http://127.0.0.1:{server.server_address[1]}", root, agents)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(db_url: str, base_url: str, directory: Path, *names: str) -> Result:
    args = ["--db", db_url, "lists", "fetch", "--dir", str(directory)]
    args += [arg for name in names for arg in ("--name", name)]
    return CliRunner().invoke(cli, args, env={"MONITOR_LISTS_URL": base_url})


def test_fetch_downloads_from_the_lists_url_and_imports_each_list(
    db_url: str, mirror: Mirror, tmp_path: Path
) -> None:
    write_csl(mirror.root / "consolidated.csv", day="2024-05-03")
    write_csv(mirror.root / "targets.simple.csv", OPENSANCTIONS_COLUMNS, OPENSANCTIONS_ROWS)
    result = fetch(db_url, mirror.url, tmp_path / "lists", "csl", "opensanctions")

    assert result.exit_code == 0, result.output
    loaded = {item["name"]: item for item in as_json(db_url, "lists")}
    assert loaded["csl"]["source"] == f"{mirror.url}/consolidated.csv"
    assert loaded["csl"]["published"] == "2024-05-03"  # the server's Last-Modified
    assert loaded["opensanctions"]["entries"] == 1
    assert (tmp_path / "lists" / "consolidated.csv").read_bytes() == (
        mirror.root / "consolidated.csv"
    ).read_bytes()
    assert mirror.user_agents == [USER_AGENT, USER_AGENT]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_fetch_without_network_is_a_one_line_error(db_url: str, tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}"
    result = fetch(db_url, base_url, tmp_path / "lists")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {base_url}/consolidated.csv: cannot download (")
    assert result.stderr.endswith("run `monitor lists import FILE`\n")
    assert result.stderr.count("\n") == 1
    assert list((tmp_path / "lists").iterdir()) == []


def test_fetch_of_a_missing_file_names_the_status(
    db_url: str, mirror: Mirror, tmp_path: Path
) -> None:
    result = fetch(db_url, mirror.url, tmp_path / "lists", "opensanctions")
    assert result.exit_code == 1
    assert f"Error: {mirror.url}/targets.simple.csv: HTTP 404;" in result.stderr


# --- screening ----------------------------------------------------------------------------------


def test_demo_change_is_reported_as_a_relocation_away_from_a_listed_entity(
    db_url: str, tmp_path: Path
) -> None:
    demo = run(db_url, "demo")
    imported = run(db_url, "lists", "import", str(write_csl(tmp_path / "consolidated.csv")))
    screened = run(db_url, "screen")
    table = run(db_url, "changes")
    operator = next(c for c in as_json(db_url, "changes") if c["field"] == "operator")

    assert (demo.exit_code, imported.exit_code, screened.exit_code) == (0, 0, 0), demo.output
    assert "2 new matches" in screened.stdout  # the footer's Chinese and English names
    assert f"relocation: 北京市 → 上海 (same brand 商汤); {OPERATOR_NOTE}" in table.stdout
    assert operator["kind"] == "relocation"
    assert operator["screening"]["note"] == OPERATOR_NOTE
    ((listed,), unlisted) = operator["screening"]["old"], operator["screening"]["new"]
    assert (listed["name"], listed["entry_id"], listed["method"]) == (
        BEIJING,
        "el-sensetime",
        "exact",
    )
    assert (listed["listed_on"], listed["programs"], unlisted) == ("2019-10-09", ["EAR"], [])
    # ... and every export says so too.
    for fmt in ("csv", "md", "html"):
        exported = run(db_url, "export", "--format", fmt)
        assert exported.exit_code == 0, exported.output
        assert OPERATOR_NOTE in exported.stdout, fmt


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def page(store: Store, url: str, day: int, operator: str, *others: str) -> int:
    """A capture of ``url`` whose facts name ``operator`` and ``others`` as copyright holders."""
    at = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=day)
    entities = tuple(
        Entity(name, None, Role.COPYRIGHT_HOLDER, Source.FOOTER) for name in (operator, *others)
    )
    with store.session() as session:
        ref = add_capture(
            session, NewCapture(url, CaptureSource.WAYBACK, at, 200), url.encode() + bytes([day])
        )
        add_extraction(session, ref.id, Facts(operator=operator, entities=entities), "test")
    return ref.id


def operator_change(store: Store, url: str, old: str, new: str) -> None:
    before, after = page(store, url, 1, old), page(store, url, 2, new)
    with store.session() as session:
        record_change(session, NewChange(url, ChangeField.OPERATOR, old, new, before, after))


# Names a footer may carry that are NOT the listed entities (see test_screening.py for why).
NEAR_MISSES = [
    "Shanghai SenseTime Intelligent Technology Co., Ltd.",
    SHANGHAI,
    "Shanghai SenseTime Technology Development Co., Ltd.",
    "Shenzhen SenseTime Technology Development Co., Ltd.",
    "Beijing SenseTime Intelligent Technology Co., Ltd.",
    "SenseTime",
    "Huawei Device Co., Ltd.",
    "华为终端有限公司",
    "Foo Handels AG",
]


def test_near_miss_names_in_the_store_are_not_matched(
    store: Store, watched_url: str, db_url: str, tmp_path: Path
) -> None:
    page(store, watched_url, 0, NEAR_MISSES[0], *NEAR_MISSES[1:], BEIJING)
    operator_change(store, watched_url, NEAR_MISSES[4], NEAR_MISSES[0])
    import_list(store, write_csl(tmp_path / "consolidated.csv"))

    report = as_json(db_url, "screen")
    changes = as_json(db_url, "changes")

    assert [(match["name"], match["entry_id"]) for match in report["new"]] == [
        (BEIJING, "el-sensetime")
    ]
    assert report["names"] == len(NEAR_MISSES) + 1
    assert [change["screening"] for change in changes] == [None]


def test_screen_reports_only_matches_it_has_not_found_before(
    store: Store, watched_url: str, tmp_path: Path
) -> None:
    operator_change(store, watched_url, BEIJING, SHANGHAI)
    import_list(store, write_csl(tmp_path / "v1.csv"))
    first, again = screen(store), screen(store)
    shanghai_listed = {**SENSETIME_ROW, "_id": "el-shanghai", "name": SHANGHAI, "alt_names": ""}
    import_list(store, write_csl(tmp_path / "v2.csv", [*CSL_ROWS, shanghai_listed], "2024-06-01"))
    after_update = screen(store)
    with store.session(write=False) as session:
        (change,) = list_changes(session)

    assert [m.entity_name for m in first.update.new] == [BEIJING]
    assert (again.update.new, again.update.kept) == ((), 1)
    assert [m.entity_name for m in after_update.update.new] == [SHANGHAI]
    assert change.screening is not None
    assert change.screening.note == (
        "operator moved between listed entities "
        "(Entity List, since 2019-10-09 → Entity List, since 2019-10-09)"
    )


def test_the_screener_looks_up_a_new_changes_names_and_follows_list_updates(
    store: Store, watched_url: str, tmp_path: Path
) -> None:
    operator_change(store, watched_url, BEIJING, SHANGHAI)
    with store.session(write=False) as session:
        (change,) = list_changes(session)
    screener = Screener(store)
    without_lists = screener.screen_changes([change.id])
    import_list(store, write_csl(tmp_path / "v1.csv"))
    first, again = screener.screen_changes([change.id]), screener.screen_changes([change.id])
    shanghai_listed = {**SENSETIME_ROW, "_id": "el-shanghai", "name": SHANGHAI, "alt_names": ""}
    import_list(store, write_csl(tmp_path / "v2.csv", [*CSL_ROWS, shanghai_listed], "2024-06-01"))
    after_update = screener.screen_changes([change.id])
    with store.session(write=False) as session:
        (screened,) = list_changes(session)

    assert (without_lists, again) == ((), ())
    assert [m.entity_name for m in first] == [BEIJING]
    assert [m.entity_name for m in after_update] == [SHANGHAI]  # the index was built again
    assert screened.screening is not None
    assert screened.screening.note is not None
    assert "between listed entities" in screened.screening.note


def test_a_delisted_entry_is_gone_at_the_next_screen(
    store: Store, watched_url: str, tmp_path: Path
) -> None:
    operator_change(store, watched_url, BEIJING, SHANGHAI)
    import_list(store, write_csl(tmp_path / "v1.csv"))
    screen(store)
    import_list(store, write_csl(tmp_path / "v2.csv", CSL_ROWS[1:], "2024-06-01"))
    report = screen(store)
    with store.session(write=False) as session:
        (change,) = list_changes(session)
    assert [(m.entity_name, m.match.entry.entry_id) for m in report.update.dropped] == [
        (BEIJING, "el-sensetime")
    ]
    assert change.screening is None


def test_screen_without_lists_says_how_to_load_one(store: Store, db_url: str) -> None:
    result = run(db_url, "screen")
    assert result.exit_code == 0
    assert result.stdout.startswith("no lists loaded (run `monitor lists import FILE`)")


def test_lists_show_when_each_list_was_last_screened(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    import_list(store, write_csl(tmp_path / "consolidated.csv"))
    screen(store, now=datetime(2024, 5, 2, 8, tzinfo=UTC))
    (loaded,) = as_json(db_url, "lists", "show")
    assert loaded["screened_at"] == "2024-05-02T08:00:00Z"
