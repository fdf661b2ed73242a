"""Alembic environment for the evidence store.

``monitor db upgrade`` and ``open_store`` hand in an open connection (``config.attributes``), so
the migration runs inside their transaction.  The ``alembic`` command line (``alembic.ini`` at
the repository's top) connects by itself: to ``-x db=URL_OR_PATH``, else to the database the
settings name (``MONITOR_DB``, default ``monitor.db``).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, TypeDecorator

from monitor import config as settings
from monitor.models import Base, make_engine

target_metadata = Base.metadata
if context.config.config_file_name and context.config.attributes.get("connection") is None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def _render_item(kind: str, obj: object, _autogen: AutogenContext) -> str | Literal[False]:
    # Migrations are frozen history: write a type decorator (models.UTCDateTime) as the plain
    # SQLAlchemy type under it, so a migration never imports the code it migrates.
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure(**kwargs: Any) -> None:
    # transactional_ddl: the engine makes SQLite's DDL transactional (see models.make_engine),
    # so a migration cut short leaves the schema as it was, on SQLite as on PostgreSQL.
    context.configure(
        target_metadata=target_metadata,
        transactional_ddl=True,
        render_item=_render_item,
        **kwargs,
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("db")
    given = given or context.config.get_main_option("sqlalchemy.url")
    return settings.database_url(given) if given else settings.resolve().db_url


def run_offline() -> None:
    """``alembic upgrade head --sql``: print the SQL instead of running it."""
    _configure(url=_database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the caller's connection, or on a new one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
