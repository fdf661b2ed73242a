"""The evidence store: sites, captures, blobs, extractions, changes and reviews."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from monitor import blobs, extract
from monitor.blobs import verify
from monitor.cli import cli
from monitor.errors import StoreError
from monitor.facts import Facts
from monitor.models import BlobRow, CaptureRow, SiteRow, UrlRow, alembic_config
from monitor.store import (
    CaptureSource,
    ChangeField,
    NewCapture,
    NewChange,
    ReviewStatus,
    Store,
    add_capture,
    add_extraction,
    captures_for_url,
    get_change,
    latest_extraction,
    latest_readable,
    list_changes,
    open_store,
    record_change,
    reextract,
    review,
    review_history,
    set_archive_copy,
    sync_sites,
)

T0 = datetime(2021, 8, 1, 12, 0, tzinfo=UTC)
PAGE = b"<html><footer>\xc2\xa9 2021 Beijing SenseTime Technology Development Co., Ltd.</footer>"


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def new_capture(
    url: str, at: datetime, source: CaptureSource = CaptureSource.WAYBACK
) -> NewCapture:
    stamp = at.strftime("%Y%m%d%H%M%S")
    archive_url = f"https://web.archive.org/web/{stamp}id_/{url}" if source == "wayback" else None
    return NewCapture(url, source, at, 200, url, "text/html", archive_url, "DIGEST" + stamp)


def put(store: Store, url: str, body: bytes, at: datetime, facts: Facts | None = None) -> int:
    with store.session() as session:
        ref = add_capture(session, new_capture(url, at), body)
        if facts is not None:
            add_extraction(session, ref.id, facts, "v1")
    return ref.id


def count(store: Store, row: type[BlobRow] | type[CaptureRow]) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(row)) or 0


# --------------------------------------------------------------------------- opening


def test_open_store_creates_schema_and_reopens(db_url: str) -> None:
    with open_store(db_url) as store, store.session() as session:
        assert session.scalar(select(func.count()).select_from(SiteRow)) == 0
    with open_store(db_url) as store, store.session() as session:
        version = session.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_open_store_refuses_schema_newer_than_code(db_url: str) -> None:
    with open_store(db_url) as store, store.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="9999 is newer than this monitor"):
        open_store(db_url)


def test_open_store_refuses_foreign_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="not a monitor database"):
        open_store(f"sqlite:///{path}")


def test_open_store_names_unopenable_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open database file"):
        open_store(f"sqlite:///{tmp_path}/no/such/dir/monitor.db")


def test_open_store_for_reading_creates_no_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    with pytest.raises(StoreError, match=r"^no evidence store at ") as raised:
        open_store(f"sqlite:///{path}", create=False)
    assert f"at {path} (run monitor check" in str(raised.value)
    assert not path.exists()
    open_store(f"sqlite:///{path}").close()  # a command that writes creates it
    with open_store(f"sqlite:///{path}", create=False) as store, store.session() as session:
        assert list_changes(session) == []


def test_open_store_for_reading_opens_a_database_in_memory() -> None:
    for db_url in ("sqlite://", "sqlite:///:memory:"):
        open_store(db_url, create=False).close()


def test_sqlite_runs_in_wal_with_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store, store.session() as session:
        pragmas = {
            name: session.scalar(text(f"PRAGMA {name}"))
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 30000,
        "foreign_keys": 1,
        "synchronous": 2,
    }


# --------------------------------------------------------------------------- sites


def test_sync_sites_marks_removed_site_inactive_and_keeps_its_history(store: Store) -> None:
    sites = [Site("a", "A", ("https://a.example/",)), Site("b", "B", ("https://b.example/",))]
    with store.session() as session:
        first = sync_sites(session, sites)
    put(store, "https://b.example/", PAGE, T0)
    with store.session() as session:
        second = sync_sites(session, sites[:1])
        rows = {row.id: row.active for row in session.scalars(select(SiteRow))}
        url_active = session.scalar(select(UrlRow.active).where(UrlRow.url == "https://b.example/"))
        kept = captures_for_url(session, "https://b.example/")
    assert first.added_sites == ("a", "b")
    assert second.deactivated_sites == ("b",)
    assert second.deactivated_urls == ("https://b.example/",)
    assert rows == {"a": True, "b": False}
    assert url_active is False
    assert len(kept) == 1


def test_sync_sites_reactivates_a_site_that_comes_back(store: Store) -> None:
    site = Site("a", "A", ("https://a.example/",))
    with store.session() as session:
        sync_sites(session, [site])
        sync_sites(session, [])
        again = sync_sites(session, [Site("a", "A renamed", site.urls)])
        row = session.get(SiteRow, "a")
        assert row is not None
        assert (row.name, row.active) == ("A renamed", True)
    assert again.added_sites == ()


def test_sync_sites_refuses_one_url_under_two_sites(store: Store) -> None:
    url = "https://shared.example/"
    with pytest.raises(StoreError, match="listed under both a and b"), store.session() as session:
        sync_sites(session, [Site("a", "A", (url,)), Site("b", "B", (url,))])


# --------------------------------------------------------------------------- captures


def test_same_capture_stored_twice_is_stored_once(store: Store, watched_url: str) -> None:
    with store.session() as session:
        first = add_capture(session, new_capture(watched_url, T0), PAGE)
        second = add_capture(session, new_capture(watched_url, T0), PAGE)
    with store.session() as session:
        third = add_capture(session, new_capture(watched_url, T0), PAGE)
    assert first.created
    assert (second.created, third.created) == (False, False)
    assert first.id == second.id == third.id
    assert (count(store, CaptureRow), count(store, BlobRow)) == (1, 1)


def test_identical_bodies_are_kept_in_one_blob(store: Store, watched_url: str) -> None:
    for day in range(5):
        put(store, watched_url, PAGE, T0 + timedelta(days=day))
    put(store, watched_url, PAGE.replace(b"2021", b"2022"), T0 + timedelta(days=9))
    assert (count(store, CaptureRow), count(store, BlobRow)) == (6, 2)


def test_two_bodies_at_the_same_second_are_two_captures(store: Store, watched_url: str) -> None:
    put(store, watched_url, b"redirect", T0)
    put(store, watched_url, PAGE, T0)
    assert count(store, CaptureRow) == 2


def test_capture_round_trips_in_utc(store: Store, watched_url: str) -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2021, 8, 1, 20, 0, 0, 123456, tzinfo=beijing)
    with store.session() as session:
        ref = add_capture(session, new_capture(watched_url, at, CaptureSource.LIVE), PAGE)
    with store.session() as session:
        [stored] = captures_for_url(session, watched_url)
    assert stored.captured_at == at
    assert stored.captured_at.tzinfo == UTC
    assert stored.to_json()["captured_at"] == "2021-08-01T12:00:00.123456Z"
    assert (stored.id, stored.sha256, stored.size) == (ref.id, blobs.sha256_hex(PAGE), len(PAGE))
    assert (stored.source, stored.archive_url) == (CaptureSource.LIVE, None)


def test_naive_capture_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        NewCapture("https://a.example/", CaptureSource.LIVE, datetime(2021, 8, 1), 200)


def test_capture_of_unwatched_url_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="not a watched URL"), store.session() as session:
        add_capture(session, new_capture("https://nobody.example/", T0), PAGE)


def test_captures_for_url_filters_by_source_and_time(store: Store, watched_url: str) -> None:
    with store.session() as session:
        for day in range(4):
            source = CaptureSource.LIVE if day % 2 else CaptureSource.WAYBACK
            add_capture(session, new_capture(watched_url, T0 + timedelta(days=day), source), PAGE)
    with store.session() as session:
        live = captures_for_url(session, watched_url, source=CaptureSource.LIVE)
        window = captures_for_url(
            session, watched_url, since=T0 + timedelta(days=1), until=T0 + timedelta(days=2)
        )
    assert [c.captured_at.day for c in live] == [2, 4]
    assert [c.captured_at.day for c in window] == [2, 3]


@given(body=st.binary(max_size=4096))
def test_blob_encoding_round_trips(body: bytes) -> None:
    encoded = blobs.encode(body)
    assert blobs.decode(encoded.encoding, encoded.data) == body
    assert len(encoded.data) <= len(body)
    assert encoded.sha256 == blobs.sha256_hex(body)


def test_read_body_returns_the_stored_bytes(store: Store, watched_url: str) -> None:
    page = PAGE * 200  # compressible: stored as zlib
    put(store, watched_url, page, T0)
    with store.session() as session:
        encoding = session.scalar(select(BlobRow.encoding))
        assert blobs.read_body(session, blobs.sha256_hex(page)) == page
    assert encoding == "zlib"


# --------------------------------------------------------------------------- extractions

READABLE = Facts(operator="Beijing SenseTime")
UNREADABLE = Facts(operator=None, readable=False)


def test_latest_readable_skips_unreadable_captures(store: Store, watched_url: str) -> None:
    put(store, watched_url, PAGE, T0, READABLE)
    put(store, watched_url, b"<html>Just a moment...</html>", T0 + timedelta(days=1), UNREADABLE)
    put(store, watched_url, b"<html>never extracted</html>", T0 + timedelta(days=2))
    with store.session() as session:
        found = latest_readable(session, watched_url)
        live = latest_readable(session, watched_url, source=CaptureSource.LIVE)
    assert found is not None
    assert (found.capture.captured_at, found.facts) == (T0, READABLE)
    assert live is None


def test_newest_extraction_of_a_capture_wins(store: Store, watched_url: str) -> None:
    capture_id = put(store, watched_url, PAGE, T0, UNREADABLE)
    with store.session() as session:
        assert add_extraction(session, capture_id, READABLE, "v2")
        assert not add_extraction(session, capture_id, UNREADABLE, "v2")
    with store.session() as session:
        newest = latest_extraction(session, capture_id)
        readable = latest_readable(session, watched_url)
    assert newest is not None
    assert (newest.extractor_version, newest.facts) == ("v2", READABLE)
    assert readable is not None
    assert readable.capture.id == capture_id


# --------------------------------------------------------------------------- changes


def bracket(store: Store, url: str) -> tuple[int, int]:
    before = put(store, url, PAGE, T0, READABLE)
    after_page = PAGE.replace(b"Beijing", b"Shanghai")
    after = put(
        store, url, after_page, T0 + timedelta(days=30), Facts(operator="Shanghai SenseTime")
    )
    return before, after


def operator_change(
    url: str, before: int, after: int, old: object = "Beijing SenseTime"
) -> NewChange:
    return NewChange(url, ChangeField.OPERATOR, old, "Shanghai SenseTime", before, after)


def recorded(store: Store, url: str) -> int:
    """The id of an operator change recorded between two new captures of ``url``."""
    before, after = bracket(store, url)
    with store.session() as session:
        ref = record_change(session, operator_change(url, before, after))
    assert ref is not None
    return ref.id


def test_change_recorded_twice_is_recorded_once(store: Store, watched_url: str) -> None:
    before, after = bracket(store, watched_url)
    with store.session() as session:
        first = record_change(session, operator_change(watched_url, before, after))
        again = record_change(session, operator_change(watched_url, before, after))
    with store.session() as session:
        later = record_change(session, operator_change(watched_url, before, after))
        changes = list_changes(session)
    assert first is not None
    assert (again, later) == (None, None)
    assert [c.id for c in changes] == [first.id]


def test_change_keeps_values_brackets_and_site(store: Store, watched_url: str) -> None:
    before, after = bracket(store, watched_url)
    with store.session() as session:
        ref = record_change(session, operator_change(watched_url, before, after, old=None))
        assert ref is not None
        change = get_change(session, ref.id)
    assert (change.site_id, change.url, change.field) == ("acme", watched_url, ChangeField.OPERATOR)
    assert (change.old, change.new) == (None, "Shanghai SenseTime")
    assert (change.before.id, change.after.id, change.status) == (before, after, ReviewStatus.NEW)
    as_json = change.to_json()
    assert (
        as_json["before"]["archive_url"]
        == "https://web.archive.org/web/20210801120000id_/" + watched_url
    )
    assert as_json["after"]["sha256"] == change.after.sha256


@pytest.mark.parametrize(
    "swap",
    [pytest.param(True, id="after-before-before"), pytest.param(False, id="other-url")],
)
def test_change_with_impossible_brackets_is_refused(
    store: Store, watched_url: str, swap: bool
) -> None:
    before, after = bracket(store, watched_url)
    with store.session() as session:
        sync_sites(session, [Site("acme", "Acme", (watched_url, "https://other.example/"))])
    other = put(store, "https://other.example/", PAGE, T0 - timedelta(days=1))
    change = (
        operator_change(watched_url, after, before)
        if swap
        else operator_change(watched_url, other, after)
    )
    with pytest.raises(StoreError, match=watched_url), store.session() as session:
        record_change(session, change)


def test_list_changes_filters_by_site_and_status(store: Store, watched_url: str) -> None:
    change_id = recorded(store, watched_url)
    with store.session() as session:
        review(session, change_id, ReviewStatus.CONFIRMED, "footer moved", "analyst")
    with store.session() as session:
        by_site = [c.id for c in list_changes(session, site_ids=["acme"])]
        other_site = list_changes(session, site_ids=["nobody"])
        confirmed = [c.id for c in list_changes(session, status=ReviewStatus.CONFIRMED)]
        new = list_changes(session, status=ReviewStatus.NEW)
    assert (by_site, other_site, confirmed, new) == ([change_id], [], [change_id], [])


def test_review_is_audited_and_repeating_it_records_nothing(store: Store, watched_url: str) -> None:
    change_id = recorded(store, watched_url)
    with store.session() as session:
        review(session, change_id, ReviewStatus.CONFIRMED, "Entity List entity left", "ana")
        review(session, change_id, ReviewStatus.CONFIRMED, None, "ana")
        changed = review(session, change_id, ReviewStatus.DISMISSED, None, "ben")
        history = review_history(session, change_id)
    assert (changed.status, changed.note) == (ReviewStatus.DISMISSED, "Entity List entity left")
    assert [(e.who, e.old_status, e.new_status) for e in history] == [
        ("ana", ReviewStatus.NEW, ReviewStatus.CONFIRMED),
        ("ben", ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED),
    ]
    assert [(e.old_note, e.new_note) for e in history] == [
        (None, "Entity List entity left"),
        ("Entity List entity left", "Entity List entity left"),
    ]


def test_review_of_unknown_change_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no change with id 42"), store.session() as session:
        review(session, 42, ReviewStatus.CONFIRMED, None, "ana")


def test_archive_copy_is_recorded_once_and_an_error_gives_way_to_it(
    store: Store, watched_url: str
) -> None:
    saved = "https://web.archive.org/web/20210820093000/" + watched_url
    change_id = recorded(store, watched_url)
    with store.session() as session:
        first_error = set_archive_copy(session, change_id, error="error:browsing-timeout: slow")
        copied = set_archive_copy(session, change_id, url=saved)
        later = set_archive_copy(session, change_id, url=saved + "#again")
        late_error = set_archive_copy(session, change_id, error="http-429: later")
        change = get_change(session, change_id)
    assert (first_error, copied, later, late_error) == (True, True, False, False)
    assert change.archive_copy_url == saved
    assert change.archive_copy_error == "error:browsing-timeout: slow"


def test_archive_copy_of_unknown_change_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no change with id 42"), store.session() as session:
        set_archive_copy(session, 42, error="http-401: wrong keys")


REWRITES = [
    pytest.param("UPDATE captures SET status = 404", id="update-capture"),
    pytest.param("DELETE FROM captures", id="delete-capture"),
    pytest.param("UPDATE blobs SET size = 1", id="update-blob"),
    pytest.param("UPDATE extractions SET readable = false", id="update-extraction"),
    pytest.param("UPDATE changes SET new = '\"Nobody\"'", id="update-change-value"),
    pytest.param("UPDATE changes SET before_capture_id = after_capture_id", id="update-bracket"),
    pytest.param("DELETE FROM changes", id="delete-change"),
    pytest.param("DELETE FROM review_events", id="delete-review"),
    pytest.param("DELETE FROM sites", id="delete-site"),
]


@pytest.mark.parametrize("statement", REWRITES)
def test_evidence_cannot_be_rewritten(store: Store, watched_url: str, statement: str) -> None:
    change_id = recorded(store, watched_url)
    with store.session() as session:
        review(session, change_id, ReviewStatus.CONFIRMED, None, "ana")
    with pytest.raises(StoreError, match="append-only evidence"), store.session() as session:
        session.execute(text(statement))


# ------------------------------------------------------------------ concurrency and crashes


def test_concurrent_writers_share_the_database(db_url: str, watched_url: str) -> None:
    """Two writers at once (the daemon and a backfill) both get through, on one SQLite file too."""
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with open_store(db_url) as store:
                for i in range(20):
                    at = T0 + timedelta(minutes=i, seconds=worker)
                    put(store, watched_url, PAGE + bytes([worker, i]), at, READABLE)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(db_url) as store:
        assert count(store, CaptureRow) == 80


def test_first_use_by_several_writers_at_once_migrates_once(db_url: str) -> None:
    opened: list[str] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            with open_store(db_url) as store, store.session() as session:
                opened.append(str(session.scalar(text("SELECT version_num FROM alembic_version"))))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert opened == [head] * 6


def test_new_sqlite_files_opened_by_several_writers_at_once_all_open(tmp_path: Path) -> None:
    """Switching a new file to WAL mode can fail at once for the loser of a race, without
    SQLite's busy timeout (about one open in two hundred): many races, none may fail."""
    errors: list[BaseException] = []

    def first_use(db_url: str) -> None:
        try:
            open_store(db_url).close()
        except BaseException as exc:
            errors.append(exc)

    for race in range(25):
        db_url = f"sqlite:///{tmp_path / f'race-{race}.db'}"
        threads = [threading.Thread(target=first_use, args=(db_url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


# The writer the crash test kills: it commits batches of large incompressible captures (so
# SQLite spills pages to the WAL before committing) and, in "hold" mode, stops inside an open
# transaction after flushing a batch, waiting to be killed there.
WRITER = """
import os, sys
from datetime import datetime, timedelta, UTC
from monitor.store import CaptureSource, NewCapture, add_capture, open_store

db_url, url, mode = sys.argv[1:4]
store = open_store(db_url)
batch = 0
while True:
    batch += 1
    with store.session() as session:
        for i in range(4):
            at = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=batch * 10 + i)
            add_capture(session, NewCapture(url, CaptureSource.LIVE, at, 200), os.urandom(600_000))
        if mode == "hold" and batch == 3:
            session.flush()
            print("holding", flush=True)
            sys.stdin.readline()
    print("committed", batch, flush=True)
"""


def run_and_kill(db_url: str, url: str, mode: str) -> int:
    """Start the writer, SIGKILL it (inside a transaction, or at a random moment after three
    commits) and return how many batches it had committed."""
    args = [sys.executable, "-c", WRITER, db_url, url, mode]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        committed = 0
        for line in child.stdout:
            if line.startswith("committed"):
                committed = int(line.split()[1])
            if line.startswith("holding") or (mode == "random" and committed >= 3):
                break
        if mode == "random":
            threading.Event().wait(random.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait()
    return committed


@pytest.mark.parametrize("mode", ["hold", "random"], ids=["inside-transaction", "at-random"])
def test_store_survives_sigkill_during_writes(db_url: str, watched_url: str, mode: str) -> None:
    committed = run_and_kill(db_url, watched_url, mode)
    with open_store(db_url) as store:
        report = verify(store)
        stored = count(store, CaptureRow)
        put(store, watched_url, PAGE, T0)
        after = count(store, CaptureRow)
    assert report.ok, [p.describe() for p in report.problems]
    if mode == "hold":
        assert stored == committed * 4  # the open transaction left nothing behind
    else:
        assert stored >= committed * 4
    assert after == stored + 1


def test_sqlite_file_passes_integrity_check_after_kill(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    with open_store(f"sqlite:///{path}") as store, store.session() as session:
        sync_sites(session, [Site("acme", "Acme", ("https://k.example/",))])
    run_and_kill(f"sqlite:///{path}", "https://k.example/", "hold")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


# ------------------------------------------------------------------ reextract and the CLI


def test_reextract_reads_stored_bytes_with_the_current_extractor(
    store: Store, watched_url: str
) -> None:
    capture_id = put(store, watched_url, PAGE, T0, UNREADABLE)
    first = reextract(store)
    second = reextract(store)
    with store.session() as session:
        newest = latest_extraction(session, capture_id)
    assert (first.reextracted, second.reextracted, second.already_current) == (1, 0, 1)
    assert newest is not None
    assert newest.extractor_version == extract.EXTRACTOR_VERSION
    assert newest.facts == extract.extract(PAGE, content_type="text/html", url=watched_url)


def test_db_upgrade_command_creates_a_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["--db", "evidence.db", "db", "upgrade"])
    second = CliRunner().invoke(cli, ["--db", "evidence.db", "db", "upgrade"])
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"upgraded from an empty database to {head}" in first.output
    assert f"already at {head}" in second.output
    assert (tmp_path / "evidence.db").exists()


def test_reextract_command_reports_its_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'e.db'}") as store, store.session() as session:
        sync_sites(session, [Site("acme", "Acme", ("https://e.example/",))])
        add_capture(session, new_capture("https://e.example/", T0), PAGE)
    result = CliRunner().invoke(cli, ["--db", "e.db", "reextract"])
    assert result.exit_code == 0, result.output
    assert "re-extracted 1 capture" in result.output
