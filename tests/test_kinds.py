"""Every recorded change gets its kind: which pair of values moved (``monitor.kinds``), the
store's one choke point (``record_change``), earlier changes filled by ``monitor screen``,
``monitor changes`` hiding cosmetic changes, and alerts saying what a change means."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from monitor import backfill, cli
from monitor.alerts import build_message, send_alerts
from monitor.classify import ChangeKind
from monitor.config import Settings
from monitor.demo import DEMO_SITE_ID
from monitor.facts import Facts
from monitor.kinds import describe, meaning, names_in
from monitor.lists import PUBLISHERS
from monitor.models import CaptureSource, ChangeField
from monitor.outbox import SILENT_KINDS
from monitor.store import (
    NewCapture,
    NewChange,
    Store,
    StoredChange,
    add_capture,
    add_extraction,
    get_change,
    list_changes,
    record_change,
)
from monitor.watchlist import AlertTarget, AlertType

BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"
BEIJING_EN = "Beijing SenseTime Technology Development Co., Ltd."
SHANGHAI_EN = "Shanghai SenseTime Intelligent Technology Co., Ltd."
T0 = datetime(2021, 8, 9, 6, 15, 40, tzinfo=UTC)

# (field, old, new, kind, explanation, removed, added), values as compare.py records them;
# the names are the demo's and the footer corpus's.
MEANINGS: list[Any] = [
    pytest.param(
        "operator", BEIJING, SHANGHAI, "relocation",
        "relocation: 北京市 → 上海 (same brand 商汤)", (BEIJING,), (SHANGHAI,),
        id="demo-operator",
    ),
    pytest.param(
        "entities",
        [f"{BEIJING_EN} (copyright_holder)", f"{BEIJING} (copyright_holder)"],
        [f"{SHANGHAI_EN} (copyright_holder)", f"{SHANGHAI} (copyright_holder)"],
        "relocation", "relocation: Beijing → Shanghai (same brand SenseTime) (+1 more)",
        (BEIJING_EN, BEIJING), (SHANGHAI_EN, SHANGHAI),
        id="demo-entities-pair-each-script-with-itself",
    ),
    pytest.param(
        "copyright", ["BOOK WALKER Co.,Ltd."], ["Book Walker Co., Ltd."], "cosmetic",
        "cosmetic: the same holders, spelled otherwise", (), (),
        id="copyright-respelt",
    ),
    pytest.param(
        "operator", "© 2019 Foo Ltd", "© 2020 Foo Ltd", "cosmetic",
        "cosmetic: same name; only case, spacing, punctuation, years or form spelling",
        ("© 2019 Foo Ltd",), ("© 2020 Foo Ltd",),
        id="operator-year-only",
    ),
    pytest.param(
        "entities",
        ["Hearst Communications, Inc. (copyright_holder)"],
        ["Hearst Media Services Connecticut, LLC (copyright_holder)"],
        "rename", "rename: same brand Hearst",
        ("Hearst Communications, Inc.",), ("Hearst Media Services Connecticut, LLC",),
        id="corpus-rename",
    ),
    pytest.param(
        "entities",
        ["Guardian News & Media Limited (operator)"],
        ["Guardian News & Media Limited (operator)", "Reach plc (parent)"],
        "switch", "switch: (none) → Reach plc", (), ("Reach plc",),
        id="entity-added-is-a-switch-from-nothing",
    ),
    pytest.param(
        "entities",
        ["Guardian News & Media Limited (operator)", "Guardian Media Group plc (parent)"],
        ["Guardian News & Media Limited (copyright_holder)", "Guardian Media Group plc (parent)"],
        "cosmetic", "cosmetic: the same entities, only their roles changed", (), (),
        id="only-roles-moved",
    ),
    pytest.param(
        "entities",
        ["北京创新乐知网络技术有限公司 (operator)", "Foo Ltd (parent)"],
        ["北京酷睿奥思科技发展有限公司 (operator)", "Foo plc (parent)"],
        "switch", "switch: unrelated names (score 0): 北京创新乐知网络技术有限公司 → "
        "北京酷睿奥思科技发展有限公司 (+1 more)",
        ("北京创新乐知网络技术有限公司", "Foo Ltd"), ("北京酷睿奥思科技发展有限公司", "Foo plc"),
        id="an-unrelated-operator-outranks-a-legal-form",
    ),
    pytest.param(
        "registration", {"icp_filing": ["京ICP备00000001号-1"]},
        {"icp_filing": ["沪ICP备00000002号-1"]}, "registration",
        "registration: 京 → 沪 (Beijing → Shanghai)",
        ("京ICP备00000001号-1",), ("沪ICP备00000002号-1",),
        id="demo-icp-filing",
    ),
    pytest.param(
        "registration", {"psb_filing": []}, {"psb_filing": ["沪公网安备 31010400000002号"]},
        "registration", "registration: 沪公网安备 31010400000002号 added",
        (), ("沪公网安备 31010400000002号",),
        id="filing-added",
    ),
    pytest.param(
        "registration",
        {"icp_filing": ["京ICP备16044242号", "京ICP备00000001号-1"]},
        {"icp_filing": ["京ICP备16044242号", "沪ICP备00000002号-1"]},
        "registration", "registration: 京 → 沪 (Beijing → Shanghai)",
        ("京ICP备00000001号-1",), ("沪ICP备00000002号-1",),
        id="only-the-number-that-moved",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "old", "new", "kind", "explanation", "removed", "added"), MEANINGS
)
def test_the_pair_that_moved_speaks_for_the_change(
    field: str,
    old: Any,
    new: Any,
    kind: str,
    explanation: str,
    removed: tuple[str, ...],
    added: tuple[str, ...],
) -> None:
    found = meaning(field, old, new)
    assert (found.kind.value, found.explanation) == (kind, explanation)
    assert (found.removed, found.added) == (removed, added)


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [
        ("operator", BEIJING, (BEIJING,)),
        ("operator", None, ()),
        ("entities", [f"{BEIJING} (operator)", f"{BEIJING} (copyright_holder)"], (BEIJING,)),
        ("copyright", [BEIJING_EN, BEIJING], (BEIJING_EN, BEIJING)),
        ("registration", {"icp_filing": ["京ICP备00000001号-1"]}, ()),
    ],
    ids=["operator", "no-operator", "entities-once-each", "copyright", "registration"],
)
def test_names_in_a_value_are_the_entities_screening_looks_up(
    field: str, value: Any, names: tuple[str, ...]
) -> None:
    assert names_in(field, value) == names


def test_the_subject_of_an_entities_change_is_the_moved_role() -> None:
    found = meaning("entities", [f"{BEIJING} (operator)"], [f"{SHANGHAI} (operator)"])
    assert found.subject == "operator"


def test_describe_joins_the_explanation_and_the_listing_note() -> None:
    note = "operator moved from a listed entity (Entity List, since 2019-10-09) to an unlisted one"
    assert describe("operator", BEIJING, SHANGHAI, "relocation", note) == (
        f"relocation: 北京市 → 上海 (same brand 商汤); {note}"
    )
    assert describe("operator", BEIJING, SHANGHAI, "switch", None) == "switch"


def test_cli_kind_choices_are_the_change_kinds() -> None:
    assert set(cli.CHANGE_KINDS) == {kind.value for kind in ChangeKind}
    assert set(cli.FETCHED_LISTS) == set(PUBLISHERS)


# --- in the store --------------------------------------------------------------------------


def capture(store: Store, url: str, at: datetime, operator: str) -> int:
    with store.session() as session:
        body = f"<footer>{operator}</footer>".encode()
        ref = add_capture(session, NewCapture(url, CaptureSource.WAYBACK, at, 200), body)
        add_extraction(session, ref.id, Facts(operator=operator), "test")
    return ref.id


def record(store: Store, url: str, old: str, new: str, kind: str | None = None) -> StoredChange:
    start = T0 + timedelta(days=len(old) + len(new))
    before = capture(store, url, start, old)
    after = capture(store, url, start + timedelta(days=1), new)
    change = NewChange(url, ChangeField.OPERATOR, old, new, before, after, kind=kind)
    with store.session() as session:
        ref = record_change(session, change)
        assert ref is not None
        return get_change(session, ref.id)


def test_record_change_gives_every_change_its_kind(store: Store, watched_url: str) -> None:
    assert record(store, watched_url, BEIJING, SHANGHAI).kind == "relocation"
    assert record(store, watched_url, "Foo Ltd", "FOO LIMITED").kind == "cosmetic"


def test_a_kind_given_by_the_recorder_is_kept(store: Store, watched_url: str) -> None:
    assert record(store, watched_url, BEIJING, SHANGHAI, kind="switch").kind == "switch"


def test_the_demo_backfill_records_every_change_with_its_kind(store: Store) -> None:
    report = backfill.run_demo(store, Settings())
    with store.session(write=False) as session:
        changes = list_changes(session, [DEMO_SITE_ID])
    assert report.ok
    assert [(change.field.value, change.kind) for change in changes] == [
        ("operator", "relocation"),
        ("entities", "relocation"),
        ("registration", "registration"),
        ("registration", "registration"),
        ("copyright", "relocation"),
    ]


def test_screen_fills_the_kind_of_changes_recorded_before_kinds(
    store: Store, watched_url: str, db_url: str
) -> None:
    change = record(store, watched_url, BEIJING, SHANGHAI)
    with store.session() as session:  # as a database from before issue 7 holds it
        session.execute(text("UPDATE changes SET kind = NULL"))

    before = CliRunner().invoke(cli.cli, ["--db", db_url, "changes", "--json"])
    screened = CliRunner().invoke(cli.cli, ["--db", db_url, "screen"])
    again = CliRunner().invoke(cli.cli, ["--db", db_url, "screen"])

    assert "1 changes recorded before kinds existed have none: run monitor" in before.stderr
    assert json.loads(before.stdout)[0]["kind"] is None
    assert screened.exit_code == 0, screened.output
    assert "gave 1 earlier changes their kind" in screened.stdout
    assert "earlier changes" not in again.stdout
    with store.session(write=False) as session:
        assert get_change(session, change.id).kind == "relocation"


# --- monitor changes ---------------------------------------------------------------------------


@pytest.fixture
def three_kinds(store: Store, watched_url: str) -> list[StoredChange]:
    return [
        record(store, watched_url, BEIJING, SHANGHAI),
        record(store, watched_url, "Foo Ltd", "FOO LIMITED"),
        record(store, watched_url, "Acme GmbH", "Zenith AG"),
    ]


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        ([], ["relocation", "switch"]),
        (["--all"], ["relocation", "cosmetic", "switch"]),
        (["--kind", "cosmetic"], ["cosmetic"]),
        (["--kind", "switch", "--kind", "relocation"], ["relocation", "switch"]),
        (["--kind", "rename"], []),
    ],
    ids=["cosmetic-hidden", "all", "only-cosmetic", "two-kinds", "none-of-a-kind"],
)
def test_changes_hides_cosmetic_changes_unless_asked(
    three_kinds: list[StoredChange], db_url: str, args: list[str], kinds: list[str]
) -> None:
    result = CliRunner().invoke(cli.cli, ["--db", db_url, "changes", "--json", *args])
    assert result.exit_code == 0, result.output
    assert sorted(change["kind"] for change in json.loads(result.stdout)) == sorted(kinds)


def test_changes_table_says_what_each_change_means(
    three_kinds: list[StoredChange], db_url: str
) -> None:
    result = CliRunner().invoke(cli.cli, ["--db", db_url, "changes"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "relocation: 北京市 → 上海 (same brand 商汤)" in result.output
    assert "cosmetic" not in result.output


def test_unknown_kind_is_a_usage_error(db_url: str) -> None:
    result = CliRunner().invoke(cli.cli, ["--db", db_url, "changes", "--kind", "relocated"])
    assert result.exit_code == 2
    assert "'relocated' is not one of" in result.output


# --- alerts ------------------------------------------------------------------------------------


def test_alert_says_the_kind_and_the_listing_note_in_one_line(
    store: Store, watched_url: str
) -> None:
    change = record(store, watched_url, BEIJING, SHANGHAI)
    message = build_message(change, "SenseTime")
    assert message.title == "SenseTime (acme): operator changed (relocation)"
    assert message.body.splitlines()[1] == "Meaning: relocation: 北京市 → 上海 (same brand 商汤)"


def test_cosmetic_changes_are_never_alerted(store: Store, watched_url: str) -> None:
    change = record(store, watched_url, "Foo Ltd", "FOO LIMITED")
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    async def send(sent: StoredChange) -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            target = AlertTarget(AlertType.WEBHOOK, "https://hooks.example.org/monitor")
            return len(await send_alerts(http, sent, [target]))

    assert sorted(SILENT_KINDS) == ["cosmetic"]
    assert asyncio.run(send(change)) == 0
    assert asyncio.run(send(replace(change, kind="relocation"))) == 1
    assert len(requests) == 1
