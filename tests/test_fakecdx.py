"""The fake archive's CDX index answers queries in the real archive's semantics.

The functions are driven directly, as the fake's ``/cdx/search/cdx`` endpoint drives them; the
endpoint itself (status codes, headers, pages against the recordings) is tested in
``test_fakearchive.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from test_fakearchive import RESUME_KEY, URL, _captures, _text_rows, _ts

from monitor.fakearchive import FakeCapture
from monitor.fakecdx import cdx_page, parse_cdx_query, urlkey


def _answer(captures: Sequence[FakeCapture], **params: str | int | list[str]) -> str:
    """The page the index answers from ``captures`` (all of one URL) for ``URL`` and ``params``."""
    values = {name: v if isinstance(v, list) else [str(v)] for name, v in params.items()}
    return cdx_page(captures, parse_cdx_query({"url": [URL], **values})).decode()


def _json_rows(body: str) -> tuple[list[list[str]], str | None]:
    table = json.loads(body)
    key = None
    if len(table) >= 2 and table[-2] == []:
        key = table.pop()[0]
        table.pop()
    return table[1:], key


# --- Pages and resume keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_captures", "limit", "output"),
    [(23, 5, "text"), (25, 5, "text"), (23, 5, "json"), (7, 100, "json")],
    ids=[
        "text-partial-last-page",
        "text-exact-multiple",
        "json-partial-last-page",
        "json-one-page",
    ],
)
def test_resume_keys_chain_through_every_capture_once(
    n_captures: int, limit: int, output: str
) -> None:
    captures = _captures(n_captures)
    seen: list[str] = []
    key: str | None = None
    for _ in range(n_captures + 2):
        params = {"limit": limit, "showResumeKey": "true", "output": output}
        body = _answer(captures, **params, **({"resumeKey": key} if key else {}))
        rows, key = _json_rows(body) if output == "json" else _text_rows(body)
        seen += [row[1] for row in rows]
        if key is None:
            break
    assert seen == [c.timestamp for c in captures]


def test_cdx_json_page_ends_with_an_empty_row_and_the_key() -> None:
    table = json.loads(_answer(_captures(5), output="json", limit=2, showResumeKey="true"))
    assert len(table) == 1 + 2 + 2
    assert table[-2] == []
    assert len(table[-1]) == 1
    assert RESUME_KEY.match(table[-1][0])


def test_cdx_without_show_resume_key_truncates_silently() -> None:
    rows, key = _text_rows(_answer(_captures(5), limit=2))
    assert (len(rows), key) == (2, None)


def test_cdx_with_no_capture_answers_empty() -> None:
    assert _answer([], url="nothing.example") == ""
    assert json.loads(_answer([], url="nothing.example", output="json")) == []


# --- Query semantics -----------------------------------------------------------------------


def test_collapse_digest_drops_only_adjacent_duplicates() -> None:
    bodies = [b"A", b"A", b"B", b"A", b"A"]
    captures = [FakeCapture(URL, _ts(d + 1), body=b) for d, b in enumerate(bodies)]
    rows, _ = _text_rows(_answer(captures, collapse="digest"))
    assert [row[1] for row in rows] == [_ts(1), _ts(3), _ts(4)]


@pytest.mark.parametrize(
    ("bounds", "expected_days"),
    [
        ({}, [1, 2, 3, 4, 5]),
        ({"from": "20210103"}, [3, 4, 5]),
        ({"to": "20210102"}, [1, 2]),
        ({"from": "2021", "to": "2021"}, [1, 2, 3, 4, 5]),
        ({"from": "202101021", "to": "2021010412"}, [2, 3, 4]),
        ({"from": "20210102120001", "to": "20210104115959"}, [3]),
        ({"from": "2022"}, []),
        ({"from": "", "to": ""}, [1, 2, 3, 4, 5]),
    ],
    ids=["none", "from-day", "to-day", "year-prefix", "hour-prefix", "full-14", "future", "empty"],
)
def test_from_and_to_accept_prefixes(bounds: dict[str, str], expected_days: list[int]) -> None:
    rows, _ = _text_rows(_answer(_captures(5), **bounds))
    assert [row[1] for row in rows] == [_ts(d) for d in expected_days]


def test_filters_match_whole_fields_and_negate() -> None:
    captures = [
        FakeCapture(URL, _ts(1), body=b"ok"),
        FakeCapture(URL, _ts(2), status=503, body=b"down"),
        FakeCapture(URL, _ts(3), status=301, body=b"moved", headers=(("Location", "/x"),)),
        FakeCapture(URL, _ts(4), mimetype="application/pdf", body=b"%PDF"),
    ]
    cases = {
        ("statuscode:200",): [1, 4],
        ("statuscode:200", "mimetype:text/html"): [1],
        ("!statuscode:[45]..",): [1, 3, 4],
        ("mimetype:text",): [],  # a regex must match the whole field
    }
    for filters, days in cases.items():
        body = _answer(captures, filter=list(filters))
        assert [row[1] for row in _text_rows(body)[0]] == [_ts(d) for d in days], filters


def test_fl_selects_and_orders_fields() -> None:
    table = json.loads(_answer(_captures(5), output="json", fl="timestamp,digest"))
    assert table[0] == ["timestamp", "digest"]
    assert all(len(row) == 2 for row in table[1:])


@pytest.mark.parametrize(
    "spelling",
    ["https://www.example.com/", "http://example.com:80/", "example.com", "HTTP://WWW.Example.COM"],
    ids=["https-www", "http-port", "bare-host", "upper-case"],
)
def test_every_spelling_of_a_url_has_one_key(spelling: str) -> None:
    assert urlkey(spelling) == "com,example)/"
