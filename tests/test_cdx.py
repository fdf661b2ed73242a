"""The CDX index's formats, read and written without I/O: ``monitor.cdx``.

Pages come from the recorded archive traffic in ``tests/data/wayback/``; the client that
fetches them is tested in ``test_archive.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from replay import DATA, load

from monitor.cdx import (
    CDX_FIELDS,
    CdxRow,
    cdx_bound,
    is_duplicate,
    memento_timestamp,
    parse_page,
    parse_timestamp,
)
from monitor.errors import ArchiveError, UsageError

ROW = CdxRow(
    urlkey="com,example)/",
    timestamp="20210815123005",
    captured_at=datetime(2021, 8, 15, 12, 30, 5, tzinfo=UTC),
    original="https://example.com/",
    mimetype="text/html",
    statuscode=200,
    digest="AAAA",
    length=1234,
)
LINE = ["com,example)/", "20210101000000", "https://example.com/", "text/html", "200", "AAA", "1"]


# --- Pages ------------------------------------------------------------------------------


def test_text_and_json_pages_give_the_same_rows() -> None:
    table = json.loads(load("test_multi_ia.jsonl")[0].text())
    text = "\n".join(" ".join(line) for line in table[1:]) + "\n"
    from_json = parse_page("commoncrawl.org/*", json.dumps(table).encode())
    from_text = parse_page("commoncrawl.org/*", text.encode())
    assert from_json.rows == from_text.rows
    assert len(from_json.rows) == len(table) - 1
    assert from_json.skipped == from_text.skipped == ()


@pytest.mark.parametrize(
    "body",
    [
        (" ".join(LINE) + "\n\nKEY+1\n").encode(),
        json.dumps([list(CDX_FIELDS), LINE, [], ["KEY+1"]]).encode(),
    ],
    ids=["text", "json"],
)
def test_a_page_with_more_after_it_ends_with_the_resume_key(body: bytes) -> None:
    page = parse_page("example.com", body)
    assert page.resume_key == "KEY+1"
    assert [row.digest for row in page.rows] == ["AAA"]


def test_skipped_rows_keep_their_text_and_say_why() -> None:
    page = parse_page("epa.gov", (DATA / "malformed_cdx.txt").read_bytes())
    assert [row.original for row in page.rows] == ["https://www.epa.gov/"] * 2
    assert [skipped.why for skipped in page.skipped] == ["not a page URL"] * 3
    assert "mailto:" in page.skipped[0].text


def test_unreadable_json_is_an_archive_error() -> None:
    with pytest.raises(ArchiveError, match="unreadable JSON"):
        parse_page("example.com", b'[["urlkey",')


@pytest.mark.parametrize(
    ("collapse", "changed", "expected"),
    [
        (None, {}, True),
        (None, {"digest": "BBBB"}, False),
        ("digest", {"timestamp": "20210816000000"}, True),
        ("timestamp:8", {"timestamp": "20210815235959", "digest": "BBBB"}, True),
        ("timestamp:8", {"timestamp": "20210816000000"}, False),
        ("nosuchfield", {"digest": "BBBB"}, False),
    ],
    ids=["same-row", "other-row", "same-digest", "same-day", "next-day", "unknown-field"],
)
def test_is_duplicate_compares_the_collapsed_field(
    collapse: str | None, changed: dict[str, str], expected: bool
) -> None:
    assert is_duplicate(ROW, replace(ROW, **changed), collapse) is expected


# --- Timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2021, 8, 15, 12, 30, 5, tzinfo=UTC), "20210815123005"),
        (datetime(2021, 8, 15, 20, 30, 5, tzinfo=timezone(timedelta(hours=8))), "20210815123005"),
        (datetime(2021, 8, 15, 12, 30, 5), "20210815123005"),
        (date(2021, 8, 15), "20210815"),
        ("2021", "2021"),
        ("20210815123005", "20210815123005"),
    ],
    ids=["utc", "beijing-time", "naive-as-utc", "date", "year", "full"],
)
def test_cdx_bound_accepts_dates_and_digits(value: datetime | date | str, expected: str) -> None:
    assert cdx_bound(value) == expected


@pytest.mark.parametrize(
    "value", ["2021-08-15", "", "123456789012345", "2021x"], ids=["iso", "empty", "15-digits", "x"]
)
def test_cdx_bound_rejects_other_text(value: str) -> None:
    with pytest.raises(UsageError, match="timestamp"):
        cdx_bound(value)


@given(st.datetimes(min_value=datetime(1996, 1, 1), max_value=datetime(2099, 12, 31)))
def test_timestamps_round_trip_to_the_second(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    assert parse_timestamp(memento_timestamp(moment)) == moment
