"""Pages of one site naming different operators on one day: the ``inconsistent`` kind, decided
from readings (pure) and listed by ``monitor changes`` from the stored captures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.classify import ChangeKind
from monitor.cli import cli
from monitor.consistency import PageReading, find_inconsistencies
from monitor.facts import Facts
from monitor.models import CaptureSource
from monitor.store import NewCapture, Store, add_capture, add_extraction, open_store, sync_sites

HOME = "https://www.acme.example/"
LEGAL = "https://www.acme.example/legal"
REGIONAL = "https://cn.acme.example/"
BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"
DAY = datetime(2021, 8, 20, tzinfo=UTC)


def reading(url: str, operator: str, hours: float, capture_id: int = 0) -> PageReading:
    moment = DAY + timedelta(hours=hours)
    return PageReading("acme", url, capture_id or int(hours * 10) + 1, moment, operator)


def test_pages_naming_different_operators_on_one_day_are_inconsistent() -> None:
    (found,) = find_inconsistencies([reading(HOME, BEIJING, 9), reading(LEGAL, SHANGHAI, 15)])
    assert (found.before.url, found.after.url) == (HOME, LEGAL)
    assert (found.first_day, found.days) == (DAY.date(), 1)
    assert found.classification.kind is ChangeKind.RELOCATION
    assert found.explanation == (
        "inconsistent: 2 pages named 2 operators on 2021-08-20; "
        "relocation: 北京市 → 上海 (same brand 商汤)"
    )


AGREEING = [
    pytest.param(
        [reading(HOME, BEIJING, 9), reading(LEGAL, BEIJING, 15)],
        id="same-operator",
    ),
    pytest.param(
        [reading(HOME, "ACME Co., Ltd.", 9), reading(LEGAL, "Acme Co.,Ltd", 15)],
        id="same-operator-spelled-otherwise",
    ),
    pytest.param(
        [reading(HOME, BEIJING, 9), reading(LEGAL, SHANGHAI, 33)],
        id="different-days",
    ),
    pytest.param(
        [reading(HOME, BEIJING, 1), reading(HOME, SHANGHAI, 20), reading(LEGAL, SHANGHAI, 9)],
        id="a-page-that-changed-during-the-day-is-read-as-it-ended",
    ),
    pytest.param(
        [reading(HOME, BEIJING, 1), reading(HOME, SHANGHAI, 20)],
        id="one-url-changing-is-a-change-not-an-inconsistency",
    ),
]


@pytest.mark.parametrize("readings", AGREEING)
def test_pages_that_agree_or_cannot_be_compared_are_not_inconsistent(
    readings: list[PageReading],
) -> None:
    assert find_inconsistencies(readings) == ()


def test_consecutive_days_of_the_same_disagreement_are_one_run() -> None:
    readings = [
        reading(url, operator, 24 * day + hour)
        for day in range(3)
        for url, operator, hour in ((HOME, BEIJING, 8), (LEGAL, SHANGHAI, 9))
    ]
    (run,) = find_inconsistencies(readings)
    assert (run.first_day, run.last_day, run.days) == (
        DAY.date(),
        (DAY + timedelta(days=2)).date(),
        3,
    )
    assert "on 2021-08-20 to 2021-08-22 (3 days)" in run.explanation


def test_a_day_on_which_the_pages_agree_ends_a_run() -> None:
    readings = [
        reading(HOME, BEIJING, 8),
        reading(LEGAL, SHANGHAI, 9),
        reading(HOME, SHANGHAI, 32),
        reading(LEGAL, SHANGHAI, 33),
        reading(HOME, BEIJING, 56),
        reading(LEGAL, SHANGHAI, 57),
    ]
    assert [run.days for run in find_inconsistencies(readings)] == [1, 1]


def test_a_third_page_naming_a_third_operator_is_listed_with_the_others() -> None:
    readings = [reading(HOME, BEIJING, 8), reading(LEGAL, SHANGHAI, 9), reading(REGIONAL, "X", 10)]
    (found,) = find_inconsistencies(readings)
    assert [page.url for page in found.pages] == sorted([HOME, LEGAL, REGIONAL])
    assert found.explanation.startswith("inconsistent: 3 pages named 3 operators")


# --- from the store, through `monitor changes` ------------------------------------------------


def observed(store: Store, url: str, operator: str | None, at: datetime, status: int = 200) -> None:
    """A capture of ``url`` at ``at`` whose facts name ``operator``."""
    body = f"<p>{url} {operator} {at.isoformat()}</p>".encode()
    with store.session() as session:
        ref = add_capture(session, NewCapture(url, CaptureSource.LIVE, at, status), body)
        add_extraction(session, ref.id, Facts(operator=operator), "test")


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


@pytest.fixture
def two_pages(store: Store) -> Store:
    """The store, watching one site with two URLs."""
    with store.session() as session:
        sync_sites(session, [Site("acme", "Acme", (HOME, LEGAL))])
    return store


def changes_json(db_url: str, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--db", db_url, "changes", "--json", *args])
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def test_changes_lists_pages_disagreeing_on_one_day_as_inconsistent(
    two_pages: Store, db_url: str
) -> None:
    observed(two_pages, HOME, BEIJING, DAY + timedelta(hours=9))
    observed(two_pages, LEGAL, SHANGHAI, DAY + timedelta(hours=15))

    (item,) = changes_json(db_url)
    assert (item["kind"], item["site"], item["old"], item["new"]) == (
        "inconsistent",
        "acme",
        BEIJING,
        SHANGHAI,
    )
    assert [page["url"] for page in item["pages"]] == [HOME, LEGAL]
    assert item["before"]["url"] == HOME
    assert item["after"]["captured_at"] == "2021-08-20T15:00:00Z"
    assert changes_json(db_url) == [item]  # read again: the same, nothing recorded


def test_unreadable_and_error_pages_never_make_an_inconsistency(
    two_pages: Store, db_url: str
) -> None:
    observed(two_pages, HOME, BEIJING, DAY + timedelta(hours=9))
    observed(two_pages, LEGAL, SHANGHAI, DAY + timedelta(hours=15), status=503)
    observed(two_pages, LEGAL, None, DAY + timedelta(hours=16))

    assert changes_json(db_url) == []


def test_kind_filter_selects_inconsistencies(two_pages: Store, db_url: str) -> None:
    observed(two_pages, HOME, BEIJING, DAY + timedelta(hours=9))
    observed(two_pages, LEGAL, SHANGHAI, DAY + timedelta(hours=15))

    assert len(changes_json(db_url, "--kind", "inconsistent")) == 1
    assert changes_json(db_url, "--kind", "relocation") == []
    table = CliRunner().invoke(cli, ["--db", db_url, "changes"], env={"COLUMNS": "200"})
    assert "inconsistent: 2 pages named 2 operators on 2021-08-20" in table.output


def test_sites_watching_one_url_are_never_inconsistent(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    with open_store(db_url) as store:
        with store.session() as session:
            sync_sites(session, [Site("a", "A", (HOME,)), Site("b", "B", (LEGAL,))])
        observed(store, HOME, BEIJING, DAY)
        observed(store, LEGAL, SHANGHAI, DAY)
    assert changes_json(db_url) == []
