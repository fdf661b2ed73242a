"""The HTML report: self-contained, inert whatever the pages said, opened in headless Chromium.

The Chromium tests load reports built from captures whose footers carry script payloads that
would mark the document (``data-ran``) if they ran, and read the DOM back with ``--dump-dom``.
A control page without the report's escaping and policy shows the payloads do run when
nothing stops them, so "no mark" means "stopped", not "never observable".
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_export import ALERTS, IMG, NOW, SCRIPT, build_evidence

from monitor import export, report
from monitor.export import Export, ExportedChange, Selection
from monitor.store import (
    CaptureSource,
    ChangeField,
    ReviewStatus,
    StoredCapture,
    StoredChange,
    open_store,
)

CHROMIUM = shutil.which("chromium")
# Without these, Chromium's own background connections are refused on a closed network and
# it can hang; --virtual-time-budget lets load events, onerror handlers and timers run first.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=3000",
)
CHROMIUM_TIMEOUT_S = 90
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium package is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report over the test evidence: a Chinese portal and the payload pages."""
    path = tmp_path_factory.mktemp("report") / "evidence.db"
    with open_store(f"sqlite:///{path}") as store:
        build_evidence(store)
        found = export.collect(store, Selection(), timelines=True, now=NOW)
    return report.html_report(found)


# --------------------------------------------------------------------------- structure


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def test_report_has_no_script_no_handler_and_no_resource_to_fetch(report_html: str) -> None:
    tags = elements(report_html)
    assert "script" not in {tag for tag, _ in tags}
    assert not [(tag, a) for tag, attrs in tags for a in attrs if a.startswith("on")]
    assert not [(tag, attrs) for tag, attrs in tags if "src" in attrs]
    linked = [(tag, str(attrs["href"])) for tag, attrs in tags if "href" in attrs]
    assert {tag for tag, _ in linked} == {"a"}
    assert all(href.startswith(("https://", "#")) for _, href in linked)


def test_report_declares_the_policy_before_any_content(report_html: str) -> None:
    head = report_html.split("<title>", 1)[0]
    assert (
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(report.CSP)}">' in head
    )
    assert "default-src 'none'" in report.CSP
    assert "script-src" not in report.CSP  # so default-src 'none' governs scripts


@pytest.mark.parametrize("payload", [SCRIPT, IMG, ALERTS], ids=["script", "img-onerror", "alerts"])
def test_payloads_appear_as_text(report_html: str, payload: str) -> None:
    assert payload in visible_text(report_html)


def visible_text(page: str) -> str:
    """The text of a page or serialised DOM: tags dropped, character references resolved."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def stored_capture(number: int, archive_url: str | None) -> StoredCapture:
    at = datetime(2021, 8, number, tzinfo=UTC)
    return StoredCapture(
        number, "https://x.example/", CaptureSource.WAYBACK, at, 200, None, "text/html",
        archive_url, None, f"{number:064x}", 10, at,
    )  # fmt: skip


def one_change_export(archive_url: str, note: str) -> Export:
    change = StoredChange(
        1, "x", "https://x.example/", ChangeField.OPERATOR, "A Ltd", "B Ltd",
        stored_capture(1, archive_url), stored_capture(2, "https://web.archive.org/web/2/x"),
        NOW, ReviewStatus.CONFIRMED, note, None, "javascript:alert(1)", None,
    )  # fmt: skip
    return Export(NOW, Selection(), (ExportedChange(change, ("© A Ltd",), ("© B Ltd",)),))


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil.example/x"],
    ids=["javascript", "data", "scheme-relative"],
)
def test_only_http_urls_become_links(url: str) -> None:
    page = report.html_report(one_change_export(url, "fine"))
    hrefs = [attrs["href"] for tag, attrs in elements(page) if tag == "a"][1:]  # [0]: #site-x
    assert hrefs == ["https://web.archive.org/web/2/x"]
    assert html.escape(url) in page


def test_a_note_is_escaped_like_page_text() -> None:
    page = report.html_report(one_change_export("https://a.example/", "<b onclick=x>y</b>"))
    assert "&lt;b onclick=x&gt;y&lt;/b&gt;" in page
    assert "onclick" not in {a for _, attrs in elements(page) for a in attrs}


@pytest.mark.parametrize(
    ("old", "new", "deleted", "inserted"),
    [
        (
            "北京市商汤科技开发有限公司",
            "上海商汤智能科技有限公司",
            ["北京市", "开发"],
            ["上海", "智能"],
        ),
        ("Beijing SenseTime Co., Ltd.", "Shanghai SenseTime Co., Ltd.", ["Beijing"], ["Shanghai"]),
        ("© 2021 <b>A</b> Ltd", "© 2021 <i>A</i> Ltd", ["b", "b"], ["i", "i"]),
    ],
    ids=["chinese-by-character", "latin-by-word", "markup-escaped"],
)
def test_difference_is_highlighted_and_escaped(
    old: str, new: str, deleted: list[str], inserted: list[str]
) -> None:
    left, right = report.diff_html(old, new)
    assert re.findall(r"<del>(.*?)</del>", left) == deleted
    assert re.findall(r"<ins>(.*?)</ins>", right) == inserted
    assert html.unescape(re.sub(r"<[^>]+>", "", left)) == old


# --------------------------------------------------------------------------- Chromium


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built from ``page`` after its scripts (if any) had their chance."""
    done = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        check=True,
    )
    return done.stdout


def ran(dom: str) -> bool:
    """Whether a payload marked the document."""
    return re.search(r"<html[^>]*\bdata-ran=", dom) is not None


@needs_chromium
def test_control_page_shows_the_payloads_run_when_nothing_stops_them(tmp_path: Path) -> None:
    for name, payload in [("script", SCRIPT), ("img", IMG)]:
        page = tmp_path / f"{name}.html"
        page.write_text(f"<!DOCTYPE html><html><body>{payload}</body></html>")
        assert ran(dump_dom(page, tmp_path / f"profile-{name}")), name


@needs_chromium
def test_report_in_chromium_runs_no_payload_and_shows_it_as_text(
    report_html: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_html, encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    assert not ran(dom)
    assert "<title>monitor report: " in dom
    text = visible_text(dom)
    for payload in (SCRIPT, IMG, ALERTS):
        assert payload in text  # shown to the reader ...
    assert "<script" not in dom  # ... as text: the DOM holds no such element
    assert "<img" not in dom
    assert "上海示例科技有限公司" in text


@needs_chromium
def test_policy_alone_stops_a_payload_that_escaped_escaping(
    report_html: str, tmp_path: Path
) -> None:
    page = tmp_path / "injected.html"
    page.write_text(report_html.replace("<main>", f"<main>{SCRIPT}{IMG}", 1), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    assert "<script>document.documentElement" in dom  # the raw element is in the DOM ...
    assert not ran(dom)  # ... and the policy kept it from running
