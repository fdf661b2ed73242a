"""``verify`` and ``monitor verify``: stored bytes checked against their hashes."""

from __future__ import annotations

import os
import sqlite3
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor import blobs
from monitor.blobs import ProblemKind, verify
from monitor.cli import cli
from monitor.errors import IntegrityError
from monitor.store import (
    CaptureSource,
    ChangeField,
    NewCapture,
    NewChange,
    Store,
    add_capture,
    open_store,
    record_change,
)

T0 = datetime(2021, 8, 1, tzinfo=UTC)
OLD = b"<footer>\xc2\xa9 2021 Beijing SenseTime</footer>" * 20
NEW = b"<footer>\xc2\xa9 2021 Shanghai SenseTime</footer>" * 20
OLD_SHA = blobs.sha256_hex(OLD)
DAYS = (T0, T0 + timedelta(days=1), T0 + timedelta(days=2))


@dataclass(frozen=True)
class Evidence:
    """Two captures of the old body, one of the new, and the change they bracket."""

    old_captures: tuple[int, int]
    new_capture: int
    change: int


def store_evidence(store: Store, url: str) -> Evidence:
    with store.session() as session:
        refs = [
            add_capture(session, NewCapture(url, CaptureSource.LIVE, at, 200), body)
            for at, body in (
                (T0, OLD),
                (T0 + timedelta(days=1), OLD),
                (T0 + timedelta(days=2), NEW),
            )
        ]
        change = NewChange(url, ChangeField.OPERATOR, "Beijing", "Shanghai", refs[1].id, refs[2].id)
        ref = record_change(session, change)
    assert ref is not None
    return Evidence((refs[0].id, refs[1].id), refs[2].id, ref.id)


def tamper(store: Store, statement: str, **params: object) -> None:
    """Change the store behind its back, as a hand edit or a damaged backup would: with the
    append-only triggers and foreign keys out of the way."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(statement), params)
        return
    path = make_url(str(store.engine.url)).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        for trigger in ("blobs_no_update", "blobs_no_delete", "captures_no_update"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute(statement, params)


def test_verify_passes_an_intact_store(store: Store, watched_url: str) -> None:
    store_evidence(store, watched_url)
    report = verify(store)
    assert report.ok
    assert (report.blobs_checked, report.captures_checked) == (2, 3)


TAMPERING = [
    pytest.param(
        "UPDATE blobs SET data = :data WHERE sha256 = :sha",
        {"data": zlib.compress(OLD.replace(b"Beijing", b"Nanjing"))},
        ProblemKind.HASH_MISMATCH,
        id="bytes-altered",
    ),
    pytest.param(
        "UPDATE blobs SET data = :data WHERE sha256 = :sha",
        {"data": b"\x78\x9c not zlib at all"},
        ProblemKind.UNDECODABLE,
        id="bytes-damaged",
    ),
    pytest.param(
        "DELETE FROM blobs WHERE sha256 = :sha",
        {},
        ProblemKind.MISSING_BLOB,
        id="blob-deleted",
    ),
    pytest.param(
        "UPDATE captures SET size = size + 1 WHERE sha256 = :sha",
        {},
        ProblemKind.SIZE_MISMATCH,
        id="capture-size-edited",
    ),
]


@pytest.mark.parametrize(("statement", "params", "kind"), TAMPERING)
def test_verify_catches_tampering_with_the_evidence_it_affects(
    store: Store, watched_url: str, statement: str, params: dict[str, object], kind: ProblemKind
) -> None:
    evidence = store_evidence(store, watched_url)
    tamper(store, statement, sha=OLD_SHA, **params)
    report = verify(store)
    assert not report.ok
    [problem] = report.problems
    assert (problem.kind, problem.sha256) == (kind, OLD_SHA)
    assert problem.capture_ids == evidence.old_captures
    assert problem.change_ids == (evidence.change,)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_verify_catches_a_byte_flipped_in_the_sqlite_file(store: Store, watched_url: str) -> None:
    body = os.urandom(1000)  # incompressible: stored as is, so it can be found in the file
    with store.session() as session:
        add_capture(session, NewCapture(watched_url, CaptureSource.LIVE, T0, 200), body)
    store.close()  # the last connection checkpoints the WAL into the file
    path = Path(make_url(str(store.engine.url)).database or "")
    data = bytearray(path.read_bytes())
    data[data.index(body) + 500] ^= 0x01
    path.write_bytes(bytes(data))
    with open_store(str(store.engine.url)) as reopened:
        report = verify(reopened)
    assert [(p.kind, p.sha256) for p in report.problems] == [
        (ProblemKind.HASH_MISMATCH, blobs.sha256_hex(body))
    ]


def test_read_body_refuses_altered_bytes(store: Store, watched_url: str) -> None:
    store_evidence(store, watched_url)
    statement = "UPDATE blobs SET data = :data WHERE sha256 = :sha"
    tamper(store, statement, sha=OLD_SHA, data=zlib.compress(NEW))
    with store.session() as session, pytest.raises(IntegrityError, match="stored bytes hash to"):
        blobs.read_body(session, OLD_SHA)


def test_verify_command_exits_0_on_an_intact_store(store: Store, db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", db_url, "verify"])
    assert result.exit_code == 0, result.output
    assert result.output == "checked 0 blobs and 0 captures: all intact\n"


def test_verify_command_lists_problems_and_exits_1(
    store: Store, watched_url: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = store_evidence(store, watched_url)
    tamper(store, "DELETE FROM blobs WHERE sha256 = :sha", sha=OLD_SHA)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--db", db_url, "verify"])
    assert result.exit_code == 1
    captures = ", ".join(map(str, evidence.old_captures))
    expected = f"missing blob: blob {OLD_SHA}: no such blob; captures {captures}; changes "
    assert expected + str(evidence.change) in result.stdout
    assert "checked 1 blobs and 3 captures: 1 problem(s)" in result.stdout
    assert result.stderr == "Error: 1 problem(s) in the stored evidence\n"
