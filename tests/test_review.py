"""monitor review: analysts confirm or dismiss changes; every review is kept and exports show it."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from monitor.facts import Facts
from monitor.store import (
    CaptureSource,
    ChangeField,
    NewCapture,
    NewChange,
    ReviewStatus,
    Store,
    add_capture,
    add_extraction,
    get_change,
    record_change,
    review_history,
)

T0 = datetime(2021, 8, 9, 6, 15, 40, tzinfo=UTC)
BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"


def page(holder: str) -> bytes:
    return f"<html><body><footer>© 2021 {holder} 版权所有</footer></body></html>".encode()


@pytest.fixture
def change_id(store: Store, watched_url: str) -> int:
    """One recorded operator change, Beijing to Shanghai, not reviewed yet."""
    ids = []
    with store.session() as session:
        for day, holder in enumerate([BEIJING, SHANGHAI]):
            capture = NewCapture(watched_url, CaptureSource.WAYBACK, T0 + timedelta(days=day), 200)
            ref = add_capture(session, capture, page(holder))
            add_extraction(session, ref.id, Facts(operator=holder), "v1")
            ids.append(ref.id)
        change = NewChange(watched_url, ChangeField.OPERATOR, BEIJING, SHANGHAI, *ids)
        recorded = record_change(session, change)
    assert recorded is not None
    return recorded.id


def invoke(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db_url, *args])


def test_confirm_with_a_note_sets_status_and_keeps_who_did_it(
    store: Store, db_url: str, change_id: int
) -> None:
    result = invoke(
        db_url,
        "review",
        str(change_id),
        "--confirm",
        "--note",
        "on the Entity List",
        "--by",
        "alice",
    )
    assert result.exit_code == 0, result.output
    with store.session() as session:
        change = get_change(session, change_id)
        (event,) = review_history(session, change_id)
    assert (change.status, change.note) == (ReviewStatus.CONFIRMED, "on the Entity List")
    assert (event.who, event.old_status, event.new_status) == (
        "alice",
        ReviewStatus.NEW,
        ReviewStatus.CONFIRMED,
    )
    assert (
        f"change #{change_id} acme operator: confirmed; note: on the Entity List" in result.output
    )
    assert "alice: new -> confirmed; note: on the Entity List" in result.output


def test_reviewer_defaults_to_the_os_user(
    store: Store, db_url: str, change_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "analyst7")
    assert invoke(db_url, "review", str(change_id), "--dismiss").exit_code == 0
    with store.session() as session:
        assert review_history(session, change_id)[0].who == "analyst7"


def test_an_unknown_os_user_asks_for_by(
    db_url: str, change_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_user)
    result = invoke(db_url, "review", str(change_id), "--confirm")
    assert result.exit_code == 2
    assert "Error: cannot tell who you are: give --by NAME" in result.output


def test_changing_the_verdict_keeps_every_earlier_review(
    store: Store, db_url: str, change_id: int
) -> None:
    invoke(db_url, "review", str(change_id), "--confirm", "--by", "alice")
    invoke(db_url, "review", str(change_id), "--dismiss", "--note", "same group", "--by", "bob")
    with store.session() as session:
        history = review_history(session, change_id)
    assert [(e.who, e.new_status, e.new_note) for e in history] == [
        ("alice", ReviewStatus.CONFIRMED, None),
        ("bob", ReviewStatus.DISMISSED, "same group"),
    ]


def test_a_note_alone_keeps_the_status(store: Store, db_url: str, change_id: int) -> None:
    invoke(db_url, "review", str(change_id), "--confirm", "--by", "alice")
    result = invoke(db_url, "review", str(change_id), "--note", "checked twice", "--by", "bob")
    assert result.exit_code == 0, result.output
    with store.session() as session:
        change = get_change(session, change_id)
    assert (change.status, change.note) == (ReviewStatus.CONFIRMED, "checked twice")


def test_without_a_verdict_it_only_prints_the_history(
    store: Store, db_url: str, change_id: int
) -> None:
    result = invoke(db_url, "review", str(change_id))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"change #{change_id} acme operator: new",
        "  not reviewed yet",
    ]
    with store.session() as session:
        assert review_history(session, change_id) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--confirm", "--dismiss"], 2, "give --confirm or --dismiss, not both"),
        (["--confirm", "--by", "x", "--change", "9"], 2, "No such option"),
    ],
    ids=["both-verdicts", "unknown-option"],
)
def test_bad_review_options_are_usage_errors(
    db_url: str, change_id: int, args: list[str], code: int, message: str
) -> None:
    result = invoke(db_url, "review", str(change_id), *args)
    assert result.exit_code == code
    assert message in result.output


def test_reviewing_an_unknown_change_is_one_error_line(db_url: str, change_id: int) -> None:
    result = invoke(db_url, "review", str(change_id + 100), "--confirm", "--by", "alice")
    assert result.exit_code == 1
    assert result.output == f"Error: no change with id {change_id + 100}\n"


def test_exports_carry_the_review(db_url: str, change_id: int) -> None:
    invoke(db_url, "review", str(change_id), "--confirm", "--note", "名单", "--by", "alice")
    result = invoke(db_url, "export", "--format", "json", "--status", "confirmed")
    (change,) = json.loads(result.stdout)["changes"]
    assert (change["id"], change["status"], change["note"]) == (change_id, "confirmed", "名单")


def test_changes_filters_by_review_status_and_shows_it(
    store: Store, db_url: str, change_id: int
) -> None:
    def listed(*args: str) -> list[int]:
        result = invoke(db_url, "changes", "--json", *args)
        assert result.exit_code == 0, result.output
        return [item["id"] for item in json.loads(result.output)]

    assert listed("--status", "new") == [change_id]
    assert listed("--status", "confirmed") == []
    assert invoke(db_url, "review", str(change_id), "--confirm").exit_code == 0
    assert listed("--status", "confirmed") == [change_id]
    assert listed("--status", "new") == []
    assert listed("--status", "new", "--status", "confirmed") == [change_id]
    table = invoke(db_url, "changes")
    assert "[confirmed]" in table.output
