"""Exports: each format read back and checked against the store, bundles verified and tampering
caught, selections, timelines and the export, verify-bundle and timeline commands.

The evidence is built with the store's own functions from real footer pages (banyuetan.org to
thepaper.cn, Chinese operators) and hand-made pages whose footers carry script payloads.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from monitor import compare, export, extract
from monitor.cli import EXPORT_FORMATS, cli
from monitor.export import Export, ExportFormat, Fact, Selection
from monitor.facts import Facts
from monitor.store import (
    CaptureSource,
    ChangeField,
    NewCapture,
    NewChange,
    ReviewStatus,
    Store,
    StoredCapture,
    add_capture,
    add_extraction,
    list_changes,
    record_change,
    review,
    sync_sites,
)

FOOTERS = Path(__file__).parent / "data" / "footers"
NEWS_URL = "https://news.example.cn/"
HOSTILE_URL = "https://hostile.example/"
T0 = datetime(2021, 1, 4, 8, 30, 15, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# Payloads that would show they ran by marking the document; and the classic alert(1) ones.
SCRIPT = '<script>document.documentElement.dataset.ran="script"</script>'
IMG = "<img src=x onerror=\"document.documentElement.dataset.ran='img'\">"
ALERTS = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def footer_page(footer: str) -> bytes:
    """A small page whose footer is ``footer`` (HTML, so payloads must come escaped)."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Example</title></head>'
        f"<body><main><p>News of the day</p></main><footer>{footer}</footer></body></html>"
    ).encode()


HOSTILE_PAGES = (
    footer_page("© 2020 北京市示例科技有限公司 版权所有 京ICP备00000001号-1"),
    footer_page(f"© 2021 上海示例科技有限公司 {html.escape(SCRIPT)} 版权所有 沪ICP备00000002号-1"),
    footer_page(f"© 2022 {html.escape(IMG)} Evil Technology Co., Ltd. {html.escape(ALERTS)}"),
)


def real_page(name: str) -> bytes:
    return (FOOTERS / name).read_bytes()


def store_history(store: Store, url: str, bodies: list[bytes], start: datetime) -> None:
    """Capture ``bodies`` 30 days apart, extract each, and record every change between
    consecutive captures, as the backfill would."""
    previous: tuple[int, Facts] | None = None
    for number, body in enumerate(bodies):
        at = start + timedelta(days=30 * number)
        stamp = at.strftime("%Y%m%d%H%M%S")
        capture = NewCapture(
            url,
            CaptureSource.WAYBACK,
            at,
            200,
            url,
            "text/html; charset=utf-8",
            f"https://web.archive.org/web/{stamp}id_/{url}",
            f"DIGEST{stamp}",
        )
        facts = extract.extract(body, url=url)
        with store.session() as session:
            ref = add_capture(session, capture, body)
            add_extraction(session, ref.id, facts, extract.EXTRACTOR_VERSION)
            if previous is not None:
                for found in compare.diff(previous[1], facts):
                    field = ChangeField(found.field.value)
                    change = NewChange(url, field, found.old, found.new, previous[0], ref.id)
                    record_change(session, change)
        previous = (ref.id, facts)


def build_evidence(store: Store) -> None:
    """Two sites: a real Chinese news portal changing hands, and a page carrying payloads."""
    with store.session() as session:
        sync_sites(
            session,
            [Site("news", "News", (NEWS_URL,)), Site("hostile", "Hostile", (HOSTILE_URL,))],
        )
    banyuetan, thepaper = real_page("cn-banyuetan.html"), real_page("cn-thepaper.html")
    store_history(store, NEWS_URL, [banyuetan, banyuetan, thepaper], T0)
    store_history(store, HOSTILE_URL, list(HOSTILE_PAGES), T0 + timedelta(days=5))


@pytest.fixture
def evidence(store: Store) -> Store:
    build_evidence(store)
    return store


def collected(store: Store, fmt: ExportFormat, selection: Selection | None = None) -> Export:
    return export.collect(
        store, selection or Selection(), timelines=export.needs_timelines(fmt), now=NOW
    )


def rendered(store: Store, fmt: ExportFormat, selection: Selection | None = None) -> bytes:
    found = collected(store, fmt, selection)
    bodies = export.read_bodies(store, found.captures()) if export.needs_bodies(fmt) else {}
    return export.render(found, fmt, bodies)


def test_evidence_holds_the_payloads_the_tests_rely_on(evidence: Store) -> None:
    with evidence.session() as session:
        changes = list_changes(session)
    values = json.dumps([c.to_json() for c in changes], ensure_ascii=False)
    assert {c.site_id for c in changes} == {"news", "hostile"}
    assert "半月谈新媒体科技有限公司" in values
    assert "onerror=" in values  # the img payload reached an operator name
    assert len(changes) >= 8


# --------------------------------------------------------------------------- JSON

CAPTURE_SCHEMA = {
    "type": "object",
    "required": ["id", "url", "source", "captured_at", "status", "archive_url", "sha256"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "source": {"enum": ["live", "wayback"]},
        "captured_at": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*Z$"},
        "status": {"type": "integer"},
        "archive_url": {"type": ["string", "null"]},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": {"type": "integer"},
        "copyright": {"type": ["array", "null"], "items": {"type": "string"}},
    },
}
EXPORT_SCHEMA = {
    "type": "object",
    "required": ["generated_at", "tool", "selection", "changes"],
    "additionalProperties": False,
    "properties": {
        "generated_at": {"type": "string"},
        "tool": {
            "type": "object",
            "required": ["name", "version"],
            "properties": {"name": {"const": "monitor"}, "version": {"type": "string"}},
        },
        "selection": {"type": "object", "required": ["sites", "since", "status"]},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "id", "site", "url", "field", "old", "new", "before", "after",
                    "status", "note", "archive_copy_url",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "site": {"type": "string"},
                    "field": {"enum": [f.value for f in ChangeField]},
                    "status": {"enum": [s.value for s in ReviewStatus]},
                    "note": {"type": ["string", "null"]},
                    "archive_copy_url": {"type": ["string", "null"]},
                    "before": CAPTURE_SCHEMA,
                    "after": CAPTURE_SCHEMA,
                },
            },
        },
    },
}  # fmt: skip


def test_json_export_follows_the_schema_and_matches_the_store(evidence: Store) -> None:
    document = json.loads(rendered(evidence, ExportFormat.JSON))
    jsonschema.validate(document, EXPORT_SCHEMA)
    with evidence.session() as session:
        stored = {c.id: c.to_json() for c in list_changes(session)}
    assert document["generated_at"] == "2024-05-01T12:00:00Z"
    assert len(document["changes"]) == len(stored)
    for change in document["changes"]:
        for side in ("before", "after"):
            assert change[side].pop("copyright")  # every capture here was extracted
        assert change == stored[change["id"]]


def test_json_carries_the_copyright_lines_of_both_captures(evidence: Store) -> None:
    document = json.loads(rendered(evidence, ExportFormat.JSON, Selection(("hostile",))))
    change = next(c for c in document["changes"] if c["field"] == "operator")
    assert change["before"]["copyright"] == [
        "© 2020 北京市示例科技有限公司 版权所有 京ICP备00000001号-1"
    ]
    assert SCRIPT in change["after"]["copyright"][0]


def test_json_carries_the_review_status_and_note(evidence: Store) -> None:
    with evidence.session() as session:
        first = list_changes(session)[0]
        review(session, first.id, ReviewStatus.CONFIRMED, "名单上的实体", "alice")
    document = json.loads(rendered(evidence, ExportFormat.JSON))
    change = next(c for c in document["changes"] if c["id"] == first.id)
    assert (change["status"], change["note"]) == ("confirmed", "名单上的实体")


# --------------------------------------------------------------------------- CSV


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_starts_with_a_bom_and_reads_back_row_for_row(evidence: Store) -> None:
    data = rendered(evidence, ExportFormat.CSV)
    found = collected(evidence, ExportFormat.CSV)
    rows = read_csv(data)
    assert data.startswith(b"\xef\xbb\xbfid,site,url,")
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    expected = [
        ["" if v is None else str(v) for v in export.csv_row(item)] for item in found.changes
    ]
    assert [list(row.values()) for row in rows] == expected


def test_csv_keeps_chinese_names_intact(evidence: Store) -> None:
    rows = read_csv(rendered(evidence, ExportFormat.CSV, Selection(("news",))))
    operator = next(row for row in rows if row["field"] == "operator")
    assert operator["old"] == "半月谈新媒体科技有限公司"
    assert "半月谈杂志社" in operator["before_copyright"]


@pytest.mark.parametrize(
    "note",
    ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\t=1"],
    ids=["eq", "plus", "minus", "at", "tab"],
)
def test_csv_defuses_cells_a_spreadsheet_would_run_while_json_keeps_them(
    evidence: Store, note: str
) -> None:
    with evidence.session() as session:
        first = list_changes(session)[0]
        review(session, first.id, ReviewStatus.CONFIRMED, note, "alice")
    rows = read_csv(rendered(evidence, ExportFormat.CSV))
    assert next(r for r in rows if r["id"] == str(first.id))["note"] == "'" + note
    document = json.loads(rendered(evidence, ExportFormat.JSON))
    assert next(c for c in document["changes"] if c["id"] == first.id)["note"] == note


# --------------------------------------------------------------------------- Markdown


def test_markdown_has_a_section_per_site_with_payloads_inert(evidence: Store) -> None:
    text = rendered(evidence, ExportFormat.MD).decode()
    assert "\n## news\n" in text
    assert "\n## hostile\n" in text
    prose = re.sub(r"\]\(<https?://[^<>\s]*>\)", "", text)  # the links' own destinations
    assert not re.search(r"(?<!\\)<", prose)  # every other < escaped: no raw HTML
    assert r"\<script\>" in text
    assert "半月谈新媒体科技有限公司" in text


# --------------------------------------------------------------------------- WARC


@dataclass(frozen=True)
class ReadRecord:
    kind: str
    headers: Any
    status: str | None
    payload: bytes


def read_warc(data: bytes) -> list[ReadRecord]:
    """Every record of a WARC, its payload read while the iterator is on it."""
    return [
        ReadRecord(
            record.rec_type,
            record.rec_headers,
            record.http_headers.get_statuscode() if record.http_headers else None,
            record.raw_stream.read(),
        )
        for record in ArchiveIterator(io.BytesIO(data))
    ]


def test_warc_holds_each_bracketing_capture_with_its_hash_and_time(evidence: Store) -> None:
    found = collected(evidence, ExportFormat.WARC)
    records = read_warc(rendered(evidence, ExportFormat.WARC))
    responses = [r for r in records if r.kind == "response"]
    assert records[0].kind == "warcinfo"
    assert len(responses) == len(found.captures())
    for capture, record in zip(found.captures(), responses, strict=True):
        assert record.headers.get_header("WARC-Target-URI") == capture.url
        assert record.headers.get_header("WARC-Date") == capture.to_json()["captured_at"]
        assert hashlib.sha256(record.payload).hexdigest() == capture.sha256
        assert record.headers.get_header("WARC-Payload-Digest") == f"sha256:{capture.sha256}"
        assert record.status == str(capture.status)


def test_warc_says_where_each_capture_was_archived(evidence: Store) -> None:
    found = collected(evidence, ExportFormat.WARC)
    metadata = [r for r in read_warc(rendered(evidence, ExportFormat.WARC)) if r.kind == "metadata"]
    assert [r.payload.decode().splitlines()[2] for r in metadata] == [
        f"archived-copy: {capture.archive_url}" for capture in found.captures()
    ]


def test_warc_digests_pass_warcios_own_check(evidence: Store) -> None:
    stream = io.BytesIO(rendered(evidence, ExportFormat.WARC))
    verdicts = []
    for record in ArchiveIterator(stream, check_digests=True):
        record.content_stream().read()
        verdicts.append((record.rec_type, record.digest_checker.passed))
    assert verdicts
    assert all(passed for kind, passed in verdicts if kind == "response"), verdicts
    assert not [v for v in verdicts if v[1] is False]


# --------------------------------------------------------------------------- bundles


def test_bundle_holds_the_files_and_verifies(evidence: Store) -> None:
    data = rendered(evidence, ExportFormat.BUNDLE)
    check = export.check_bundle(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert names == [*export.BUNDLE_FILES, "manifest.json"]
    assert [entry["name"] for entry in manifest["files"]] == list(export.BUNDLE_FILES)
    assert check.ok, check.problems
    assert check.matched == tuple(export.BUNDLE_FILES)


def rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def flip_byte(name: str) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        content = bytearray(files[name])
        content[len(content) // 2] ^= 0x01
        files[name] = bytes(content)

    return change


def rewrite_json_capture(files: dict[str, bytes]) -> None:
    """changes.json and the manifest made consistent, but a capture hash no longer in the WARC."""
    document = json.loads(files["changes.json"])
    document["changes"][0]["after"]["sha256"] = "0" * 64
    files["changes.json"] = json.dumps(document).encode()
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        entry["sha256"] = hashlib.sha256(files[entry["name"]]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()


TAMPERING = [
    ("changed-report-byte", flip_byte("report.html"), "report.html: SHA-256"),
    ("changed-csv-byte", flip_byte("changes.csv"), "changes.csv: SHA-256"),
    ("missing-json", lambda files: files.pop("changes.json"), "changes.json: listed in"),
    ("extra-file", lambda files: files.update({"note.txt": b"x"}), "note.txt: in the bundle but"),
    ("missing-manifest", lambda files: files.pop("manifest.json"), "manifest.json: missing"),
    ("capture-swapped", rewrite_json_capture, "changes.json: change #"),
]


@pytest.mark.parametrize(
    ("change", "named"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
def test_tampered_bundle_is_caught_naming_the_file(
    evidence: Store, change: Callable[[dict[str, bytes]], None], named: str
) -> None:
    check = export.check_bundle(rezip(rendered(evidence, ExportFormat.BUNDLE), change))
    assert not check.ok
    assert any(problem.startswith(named) for problem in check.problems), check.problems


def test_a_file_that_is_not_a_zip_fails_the_check() -> None:
    check = export.check_bundle(b"not a zip")
    assert check.problems[0].startswith("not a zip file")


# --------------------------------------------------------------------------- selections


@pytest.mark.parametrize(
    ("selection", "expected_sites"),
    [
        (Selection(), {"news", "hostile"}),
        (Selection(site_ids=("hostile",)), {"hostile"}),
        (Selection(since=T0 + timedelta(days=60)), {"news", "hostile"}),
        (Selection(since=T0 + timedelta(days=61)), {"hostile"}),
        (Selection(since=T0 + timedelta(days=1000)), set()),
        (Selection(status=ReviewStatus.NEW), {"news", "hostile"}),
        (Selection(status=ReviewStatus.CONFIRMED), set()),
    ],
    ids=[
        "all",
        "one-site",
        "since-both",
        "since-hostile-only",
        "since-after-all",
        "status-new",
        "status-confirmed",
    ],
)
def test_selection_keeps_only_matching_changes(
    evidence: Store, selection: Selection, expected_sites: set[str]
) -> None:
    found = collected(evidence, ExportFormat.JSON, selection)
    assert {item.change.site_id for item in found.changes} == expected_sites
    assert all(item.change.after.captured_at >= (selection.since or T0) for item in found.changes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-08-01", datetime(2021, 8, 1, tzinfo=UTC)),
        ("2021-08-01T10:00:00+08:00", datetime(2021, 8, 1, 2, tzinfo=UTC)),
    ],
    ids=["date-is-utc", "zone-kept"],
)
def test_since_reads_dates_and_times(text: str, expected: datetime) -> None:
    assert export.parse_since(text) == expected


# --------------------------------------------------------------------------- timelines


def capture_at(day: int) -> StoredCapture:
    at = T0 + timedelta(days=day)
    return StoredCapture(
        day, NEWS_URL, CaptureSource.WAYBACK, at, 200, None, None, None, None, "0" * 64, 1, at
    )


def facts_naming(operator: str | None) -> Facts:
    return Facts(operator=operator)


def test_timeline_starts_a_new_run_when_a_value_comes_back() -> None:
    names = ["A Co., Ltd.", "A Co.,Ltd", "B Ltd", "A Co., Ltd."]
    timeline = export.build_timeline(
        "news", NEWS_URL, [(capture_at(day), facts_naming(n)) for day, n in enumerate(names)]
    )
    runs = [(i.value, i.first.id, i.last.id, i.captures) for i in timeline.intervals]
    assert runs == [("A Co., Ltd.", 0, 1, 2), ("B Ltd", 2, 2, 1), ("A Co., Ltd.", 3, 3, 1)]


def test_timeline_skips_unreadable_and_unextracted_captures_without_ending_a_run() -> None:
    observations = [
        (capture_at(0), facts_naming("A Ltd")),
        (capture_at(1), Facts(operator=None, readable=False)),
        (capture_at(2), None),
        (capture_at(3), facts_naming("A Ltd")),
        (capture_at(4), facts_naming(None)),
    ]
    timeline = export.build_timeline("news", NEWS_URL, observations)
    runs = [(i.value, i.first.id, i.last.id) for i in timeline.intervals]
    assert runs == [("A Ltd", 0, 3), (export.NOT_NAMED, 4, 4)]
    assert (timeline.readable, timeline.skipped) == (3, 2)


def test_collected_timeline_follows_operator_entities_and_registrations(evidence: Store) -> None:
    found = collected(evidence, ExportFormat.HTML, Selection(("hostile",)))
    (timeline,) = found.timelines
    facts = {(i.fact, i.value) for i in timeline.intervals}
    assert (Fact.OPERATOR, "北京市示例科技有限公司") in facts
    assert (Fact.ENTITY, "上海示例科技有限公司 (copyright_holder)") in facts
    assert (Fact.REGISTRATION, "icp_filing: 沪ICP备00000002号-1") in facts


# --------------------------------------------------------------------------- commands


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_export_formats_of_the_command_are_the_export_formats() -> None:
    assert tuple(f.value for f in ExportFormat) == EXPORT_FORMATS


@pytest.mark.parametrize("fmt", list(ExportFormat), ids=[f.value for f in ExportFormat])
def test_export_command_writes_the_file_and_prints_its_hash(
    evidence: Store, runner: CliRunner, db_url: str, tmp_path: Path, fmt: ExportFormat
) -> None:
    path = tmp_path / f"out.{fmt.value}"
    result = runner.invoke(cli, ["--db", db_url, "export", "--format", fmt.value, "-o", str(path)])
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert f"SHA-256 {hashlib.sha256(data).hexdigest()}" in result.output
    assert not list(tmp_path.glob(".*.partial"))


def test_export_command_writes_json_to_standard_output(
    evidence: Store, runner: CliRunner, db_url: str
) -> None:
    args = ["--db", db_url, "export", "--format", "json", "--site", "news", "--status", "new"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {c["site"] for c in document["changes"]} == {"news"}
    assert document["selection"] == {"sites": ["news"], "since": None, "status": "new"}


def test_export_command_refuses_a_bad_date(runner: CliRunner, db_url: str) -> None:
    result = runner.invoke(cli, ["--db", db_url, "export", "--format", "csv", "--since", "May"])
    assert result.exit_code == 2
    assert "Error: --since 'May'" in result.output


def test_verify_bundle_command_passes_a_good_bundle_and_names_a_bad_file(
    evidence: Store, runner: CliRunner, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(rendered(evidence, ExportFormat.BUNDLE))
    bad.write_bytes(rezip(good.read_bytes(), flip_byte("changes.csv")))
    passed = runner.invoke(cli, ["verify-bundle", str(good)])
    failed = runner.invoke(cli, ["verify-bundle", str(bad)])
    assert passed.exit_code == 0, passed.output
    assert f"bundle SHA-256 {hashlib.sha256(good.read_bytes()).hexdigest()}" in passed.output
    assert failed.exit_code == 1
    assert "FAILED  changes.csv: SHA-256" in failed.output
    assert f"Error: {bad}: 1 problem(s): changes.csv" in failed.output


def test_verify_bundle_command_reports_a_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["verify-bundle", str(tmp_path / "none.zip")])
    assert result.exit_code == 1
    assert "none.zip: no such file" in result.output


def test_timeline_command_prints_each_value_with_its_captures(
    evidence: Store, runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    args = ["--db", db_url, "--watchlist", str(tmp_path / "none.toml"), "timeline", "hostile"]
    result = runner.invoke(cli, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "上海示例科技有限公司" in result.output
    assert "[1] https://web.archive.org/web/20210109083015id_/https://hostile.example/" in (
        result.output
    )


def test_timeline_command_refuses_an_unknown_site(
    evidence: Store, runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    args = ["--db", db_url, "--watchlist", str(tmp_path / "none.toml"), "timeline", "nosuch"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "site 'nosuch': no URLs known" in result.output


@pytest.mark.parametrize("command", ["export", "verify-bundle", "timeline", "review"])
def test_command_help_ends_with_an_example(command: str) -> None:
    help_text = cli.commands[command].help or ""
    example = help_text.rsplit("Example:", 1)[1].strip().splitlines()
    assert example
    assert all(line.strip().startswith("monitor ") for line in example)
