"""The rows of ``monitor changes``: chosen by kind and review status (pure, from a data table)
and read from the store in one order."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from rich.table import Table

from monitor.classify import ChangeKind
from monitor.facts import Facts
from monitor.listing import (
    HIDDEN_KINDS,
    Listed,
    as_listed,
    changes_table,
    listed_changes,
    select,
    unclassified,
)
from monitor.models import CaptureSource, ChangeField, ReviewStatus
from monitor.store import (
    NewCapture,
    NewChange,
    Store,
    StoredCapture,
    StoredChange,
    add_capture,
    add_extraction,
    record_change,
    sync_sites,
)

HOME = "https://www.acme.example/"
LEGAL = "https://www.acme.example/legal"
BETA = "https://beta.example/"
BEIJING = "北京市商汤科技开发有限公司"
SHANGHAI = "上海商汤智能科技有限公司"
DAY = datetime(2021, 8, 20, tzinfo=UTC)


def stored_capture(capture_id: int, at: datetime) -> StoredCapture:
    return StoredCapture(
        id=capture_id,
        url=HOME,
        source=CaptureSource.WAYBACK,
        captured_at=at,
        status=200,
        final_url=None,
        content_type="text/html",
        archive_url=f"https://web.archive.org/web/{at:%Y%m%d%H%M%S}id_/{HOME}",
        digest=None,
        sha256="0" * 64,
        size=100,
        stored_at=at,
    )


def stored_change(
    label: str, kind: str | None, status: ReviewStatus = ReviewStatus.NEW, change_id: int = 1
) -> StoredChange:
    """A recorded change of the site ``label`` (the label names the row in the tests)."""
    return StoredChange(
        id=change_id,
        site_id=label,
        url=HOME,
        field=ChangeField.OPERATOR,
        old=BEIJING,
        new=SHANGHAI,
        before=stored_capture(2 * change_id, DAY),
        after=stored_capture(2 * change_id + 1, DAY + timedelta(days=1)),
        detected_at=DAY + timedelta(days=2),
        status=status,
        note=None,
        kind=kind,
        archive_copy_url=None,
        archive_copy_error=None,
    )


def inconsistency(label: str) -> Listed:
    """Days of inconsistent pages as ``listed_changes`` lists them: a kind, no review status."""
    before, after = stored_capture(1, DAY), stored_capture(2, DAY + timedelta(hours=6))
    return Listed(
        kind="inconsistent",
        site_id=label,
        sort_key=(label, after.captured_at, 0),
        heading=f"{label}\noperator",
        meaning="inconsistent: 2 pages named 2 operators on 2021-08-20",
        values=f"{BEIJING}\n≠ {SHANGHAI}",
        captures=(before, after),
        json={"id": None, "kind": "inconsistent"},
    )


ROWS = [
    as_listed(stored_change("relocation-new", "relocation")),
    as_listed(stored_change("cosmetic-new", "cosmetic")),
    as_listed(stored_change("switch-confirmed", "switch", ReviewStatus.CONFIRMED)),
    as_listed(stored_change("unclassified-new", None)),
    inconsistency("inconsistent"),
    as_listed(stored_change("cosmetic-dismissed", "cosmetic", ReviewStatus.DISMISSED)),
]

SELECTIONS = [
    pytest.param(
        (),
        False,
        (),
        ["relocation-new", "switch-confirmed", "unclassified-new", "inconsistent"],
        id="cosmetic-hidden",
    ),
    pytest.param((), True, (), [row.site_id for row in ROWS], id="all"),
    pytest.param(
        ("cosmetic",),
        False,
        (),
        ["cosmetic-new", "unclassified-new", "cosmetic-dismissed"],
        id="asking-for-cosmetic-shows-it",
    ),
    pytest.param(
        ("switch", "relocation"),
        False,
        (),
        ["relocation-new", "switch-confirmed", "unclassified-new"],
        id="two-kinds-in-row-order",
    ),
    pytest.param(
        ("inconsistent",), False, (), ["unclassified-new", "inconsistent"], id="inconsistent"
    ),
    pytest.param(("rename",), False, (), ["unclassified-new"], id="none-of-a-kind"),
    pytest.param((), False, ("confirmed",), ["switch-confirmed"], id="one-status"),
    pytest.param(
        (),
        True,
        ("new",),
        ["relocation-new", "cosmetic-new", "unclassified-new"],
        id="a-status-never-matches-an-inconsistency",
    ),
    pytest.param((), False, ("dismissed",), [], id="a-status-of-hidden-kinds-only"),
    pytest.param(
        ("cosmetic",),
        False,
        ("dismissed", "confirmed"),
        ["cosmetic-dismissed"],
        id="kind-and-status",
    ),
]


@pytest.mark.parametrize(("kinds", "show_all", "statuses", "shown"), SELECTIONS)
def test_select_keeps_the_rows_of_the_kinds_and_statuses_asked_for_in_order(
    kinds: tuple[str, ...], show_all: bool, statuses: tuple[str, ...], shown: list[str]
) -> None:
    selected = select(ROWS, kinds, show_all=show_all, statuses=statuses)
    assert [row.site_id for row in selected] == shown


def test_the_hidden_kinds_are_those_never_alerted() -> None:
    assert HIDDEN_KINDS == {kind.value for kind in ChangeKind if not kind.alerts} == {"cosmetic"}


def test_unclassified_counts_the_rows_without_a_kind() -> None:
    assert unclassified(ROWS) == 1
    assert unclassified(select(ROWS, statuses=["confirmed"])) == 0


def test_a_recorded_change_is_listed_with_what_it_means() -> None:
    change = stored_change("acme", "relocation", ReviewStatus.CONFIRMED, change_id=7)
    row = as_listed(change)
    assert row.heading == "#7 acme\noperator\n[confirmed]"
    assert row.meaning == "relocation: 北京市 → 上海 (same brand 商汤)"
    assert row.values == f"{BEIJING}\n→ {SHANGHAI}"
    assert row.captures == (change.before, change.after)
    assert row.sort_key == ("acme", change.after.captured_at, 7)
    assert (row.kind, row.status) == ("relocation", "confirmed")
    assert row.to_json() == change.to_json()


def column(table: Table, index: int) -> list[str]:
    """The lines of one column of the table's body, as a terminal 200 columns wide shows it."""
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    rows = [line for line in out.getvalue().splitlines() if line.startswith("│")]
    return [row.split("│")[index + 1].strip() for row in rows]


def test_changes_table_shows_what_each_change_means_and_its_two_captures() -> None:
    change = stored_change("acme", "relocation", change_id=7)
    live = replace(change.after, source=CaptureSource.LIVE, archive_url=None)
    table = changes_table([as_listed(replace(change, after=live))])
    assert column(table, 0) == ["#7 acme", "operator", "[new]", "relocation"]
    assert column(table, 1) == [
        "relocation: 北京市 → 上海 (same brand 商汤)",
        BEIJING,
        f"→ {SHANGHAI}",
        "",
    ]
    assert column(table, 2) == [
        "2021-08-20T00:00:00Z",
        f"https://web.archive.org/web/20210820000000id_/{HOME}",
        "2021-08-21T00:00:00Z",
        "live",  # no archive URL: the capture's source
    ]


def test_changes_table_shows_page_text_as_text_never_as_markup() -> None:
    change = replace(stored_change("acme", "switch"), old="[bold]Old[/bold] Ltd", new="[red]New")
    assert column(changes_table([as_listed(change)]), 1)[1:3] == [
        "[bold]Old[/bold] Ltd",
        "→ [red]New",
    ]


# --- from the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def observed(store: Store, url: str, operator: str, at: datetime) -> int:
    """A capture of ``url`` at ``at`` whose facts name ``operator``; its id."""
    with store.session() as session:
        body = f"<p>{operator} {at.isoformat()}</p>".encode()
        ref = add_capture(session, NewCapture(url, CaptureSource.LIVE, at, 200), body)
        add_extraction(session, ref.id, Facts(operator=operator), "test")
    return ref.id


def changed(store: Store, url: str, old: tuple[str, int], new: tuple[str, int]) -> int:
    """Record ``url``'s operator changing between two captures (name, capture id); its id."""
    with store.session() as session:
        change = NewChange(url, ChangeField.OPERATOR, old[0], new[0], old[1], new[1])
        ref = record_change(session, change)
    assert ref is not None
    return ref.id


def test_rows_are_ordered_by_site_then_time_with_inconsistencies_first_on_a_tie(
    store: Store,
) -> None:
    with store.session() as session:
        sync_sites(session, [Site("acme", "Acme", (HOME, LEGAL)), Site("beta", "Beta", (BETA,))])
    beta_old = observed(store, BETA, "Beta Ltd", DAY - timedelta(days=30))
    beta_new = observed(store, BETA, "Gamma AG", DAY - timedelta(days=29))
    legal_old = observed(store, LEGAL, "Acme Ltd", DAY - timedelta(days=10))
    home_old = observed(store, HOME, BEIJING, DAY + timedelta(hours=9))
    legal_new = observed(store, LEGAL, SHANGHAI, DAY + timedelta(hours=15))
    home_new = observed(store, HOME, SHANGHAI, DAY + timedelta(days=3))
    first = changed(store, BETA, ("Beta Ltd", beta_old), ("Gamma AG", beta_new))
    second = changed(store, HOME, (BEIJING, home_old), (SHANGHAI, home_new))
    third = changed(store, LEGAL, ("Acme Ltd", legal_old), (SHANGHAI, legal_new))

    with store.session(write=False) as session:
        rows = listed_changes(session)
        only_beta = listed_changes(session, ["beta"])

    assert [(row.site_id, row.json["id"]) for row in rows] == [
        ("acme", None),  # pages disagreeing on day 0, when the legal notice changed
        ("acme", third),
        ("acme", second),
        ("beta", first),  # earlier than all of acme's, but another site
    ]
    assert rows[0].kind == "inconsistent"
    assert [row.json["id"] for row in only_beta] == [first]
