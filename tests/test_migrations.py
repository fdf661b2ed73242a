"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import main as alembic_main
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from monitor.models import Base, alembic_config, make_engine, migrations_dir, upgrade
from monitor.store import open_store

ALEMBIC_INI = Path(__file__).parent.parent / "alembic.ini"
TABLES = {
    "sites",
    "urls",
    "blobs",
    "captures",
    "extractions",
    "changes",
    "review_events",
    "checks",
    "announcements",
    "alert_deliveries",
    "screening_lists",
    "screening_entries",
    "screening_matches",
}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``alembic.ini`` configures logging for the command line; put pytest's back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


def alembic_cli(db_url: str, *args: str) -> None:
    alembic_main(argv=["-c", str(ALEMBIC_INI), "-x", f"db={db_url}", *args])


def differences(db_url: str) -> list[object]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def table_names(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("restore_logging")
def test_alembic_upgrade_head_on_empty_database_matches_models(db_url: str) -> None:
    alembic_cli(db_url, "upgrade", "head")
    assert table_names(db_url) == TABLES | {"alembic_version"}
    assert differences(db_url) == []


def test_database_created_on_first_use_matches_models(db_url: str) -> None:
    open_store(db_url).close()
    assert differences(db_url) == []


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
    finally:
        engine.dispose()
    assert table_names(db_url) == {"alembic_version"}
    assert upgrade(db_url).before is None
    assert differences(db_url) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///unused.db", "CREATE TRIGGER captures_no_update", id="sqlite"),
        pytest.param(
            "postgresql+psycopg://nobody@unused/unused",
            "CREATE FUNCTION monitor_refuse()",
            id="postgresql",
        ),
    ],
)
@pytest.mark.usefixtures("restore_logging")
def test_offline_sql_includes_the_append_only_guards(
    url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alembic_cli(url, "upgrade", "head", "--sql")
    assert expected in capsys.readouterr().out


def test_migrations_are_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (migrations_dir() / "env.py").is_file()
    open_store(f"sqlite:///{tmp_path / 'elsewhere.db'}").close()
    assert table_names(f"sqlite:///{tmp_path / 'elsewhere.db'}") >= TABLES
