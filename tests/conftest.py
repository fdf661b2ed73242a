"""Fixtures shared by the test modules: a database per test on SQLite and on PostgreSQL.

``db_url`` runs each test that asks for it twice: on a fresh SQLite file, and on a fresh
PostgreSQL schema when ``MONITOR_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); the schema
is dropped afterwards.  ``store`` opens that database; ``watched_url`` adds one watched site.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store import Store, open_store, sync_sites

POSTGRES_ENV = "MONITOR_TEST_POSTGRES_URL"
WATCHED_URL = "https://www.example.com/"


@dataclass(frozen=True)
class _Site:
    id: str
    name: str
    urls: tuple[str, ...]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database that only this test uses."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'monitor.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The evidence store on ``db_url``, closed after the test."""
    with open_store(db_url) as opened:
        yield opened


@pytest.fixture
def watched_url(store: Store) -> str:
    """A URL of the site ``acme``, synced into ``store``."""
    with store.session() as session:
        sync_sites(session, [_Site("acme", "Acme", (WATCHED_URL,))])
    return WATCHED_URL
