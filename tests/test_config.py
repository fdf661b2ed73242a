"""Settings: read once, flag before variable before ``[settings]`` before default."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import config
from monitor.config import (
    SPEC_BY_KEY,
    SPECS,
    Settings,
    check_file_settings,
    database_url,
    duration_seconds,
    format_duration,
    parse_duration,
    resolve,
    suggest,
    watchlist_path,
)
from monitor.errors import ConfigError, WatchlistError

MONITOR_PACKAGE = Path(config.__file__).parent


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1.5d", 129600.0),
        ("2w", 1209600.0),
        (" 6h ", 21600.0),
        ("6 h", 21600.0),
    ],
    ids=["bare", "seconds", "minutes", "hours", "day", "fraction", "weeks", "padded", "space"],
)
def test_parse_duration_reads_number_and_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "h", "6 hours", "-1h", "6H", "1y", "6h30m", "1e3s"],
    ids=["empty", "unit-only", "word", "negative", "uppercase", "years", "compound", "exponent"],
)
def test_parse_duration_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a duration like '6h', '15m' or '1d': "):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(21600, "6h"), (86400, "1d"), (604800, "1w"), (5400, "90m"), (90, "90s"), (0.25, "0.25s")],
    ids=["hours", "day", "week", "minutes-not-hours", "seconds", "fraction"],
)
def test_format_duration_gives_the_shortest_text(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_format_duration_reads_back_to_the_same_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (True, "must be a duration like '6h', '15m' or '1d', or a number of seconds"),
        ([6], "must be a duration like '6h', '15m' or '1d', or a number of seconds"),
        (0, "must be greater than 0"),
        ("0h", "must be greater than 0"),
        (float("nan"), "must be a finite number"),
    ],
    ids=["boolean", "array", "zero", "zero-text", "nan"],
)
def test_duration_seconds_refuses_non_durations(value: object, why: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(why)}$"):
        duration_seconds(value)


def test_duration_seconds_takes_a_number_as_seconds() -> None:
    assert duration_seconds(3600) == 3600.0


# --- precedence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "file_settings", "db"),
    [
        ({"db": "flag.db"}, {"MONITOR_DB": "env.db"}, {"db": "file.db"}, "flag.db"),
        ({"db": None}, {"MONITOR_DB": "env.db"}, {"db": "file.db"}, "env.db"),
        ({}, {"MONITOR_DB": ""}, {"db": "file.db"}, "file.db"),
        ({}, {}, {}, config.DEFAULT_DB),
    ],
    ids=["flag-wins", "variable-beats-file", "empty-variable-is-unset", "default-last"],
)
def test_resolve_takes_flag_then_variable_then_file_then_default(
    flags: dict[str, Any], env: dict[str, str], file_settings: dict[str, Any], db: str
) -> None:
    assert resolve(flags=flags, env=env, file_settings=file_settings).db == db


def test_resolve_parses_variables_as_text() -> None:
    settings = resolve(
        env={
            "MONITOR_ARCHIVE_CDX_RATE": "0.1",
            "MONITOR_ARCHIVE_RETRIES": "2",
            "MONITOR_INTERVAL": "15m",
        }
    )
    assert (settings.archive_cdx_rate, settings.archive_retries, settings.interval) == (
        0.1,
        2,
        900.0,
    )


def test_resolve_reads_the_process_environment_when_given_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONITOR_FETCH_TIMEOUT", "5")
    assert resolve().fetch_timeout == 5.0


def test_wayback_url_loses_its_trailing_slash() -> None:
    assert resolve(env={"MONITOR_WAYBACK_URL": "http://127.0.0.1:8080/"}).wayback_url == (
        "http://127.0.0.1:8080"
    )


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "MONITOR_ARCHIVE_CDX_RATE",
            "fast",
            "setting MONITOR_ARCHIVE_CDX_RATE='fast': must be a number",
        ),
        (
            "MONITOR_ARCHIVE_CDX_RATE",
            "0",
            "setting MONITOR_ARCHIVE_CDX_RATE='0': must be greater than 0",
        ),
        (
            "MONITOR_ARCHIVE_CDX_RATE",
            "nan",
            "setting MONITOR_ARCHIVE_CDX_RATE='nan': must be a finite number",
        ),
        (
            "MONITOR_ARCHIVE_TIMEOUT",
            "inf",
            "setting MONITOR_ARCHIVE_TIMEOUT='inf': must be a finite number",
        ),
        (
            "MONITOR_ARCHIVE_RETRIES",
            "2.5",
            "setting MONITOR_ARCHIVE_RETRIES='2.5': must be a whole number",
        ),
        (
            "MONITOR_ARCHIVE_RETRIES",
            "-1",
            "setting MONITOR_ARCHIVE_RETRIES='-1': must not be negative",
        ),
        (
            "MONITOR_ARCHIVE_PAUSE_AFTER_429",
            "-5",
            "setting MONITOR_ARCHIVE_PAUSE_AFTER_429='-5': must not be negative",
        ),
        (
            "MONITOR_FETCH_MAX_BYTES",
            "0",
            "setting MONITOR_FETCH_MAX_BYTES='0': must be greater than 0",
        ),
        (
            "MONITOR_WAYBACK_URL",
            "web.archive.org",
            "setting MONITOR_WAYBACK_URL='web.archive.org': must be an http:// or https:// URL",
        ),
        (
            "MONITOR_SAMPLE_SPACING",
            "monthly",
            "setting MONITOR_SAMPLE_SPACING='monthly': not a duration like '6h', '15m' or '1d':"
            " 'monthly'",
        ),
    ],
    ids=[
        "word-for-rate",
        "zero-rate",
        "nan-rate",
        "infinite-timeout",
        "fractional-count",
        "negative-count",
        "negative-pause",
        "zero-size",
        "url-without-scheme",
        "bad-duration",
    ],
)
def test_bad_variable_is_a_config_error_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(env={variable: value})
    assert str(caught.value) == message
    assert caught.value.exit_code == 2
    assert not isinstance(caught.value, WatchlistError)


def test_bad_flag_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^setting db='': must not be empty$"):
        resolve(flags={"db": ""}, env={})


@pytest.mark.parametrize(
    ("file_settings", "message"),
    [
        (
            {"archive_retries": True},
            "cases.toml: [settings]: key 'archive_retries': must be a number, not true or false",
        ),
        ({"db": ""}, "cases.toml: [settings]: key 'db': must not be empty"),
        ({"db": 3}, "cases.toml: [settings]: key 'db': must be a string"),
        (
            {"fetch_max_bytes": 1.5},
            "cases.toml: [settings]: key 'fetch_max_bytes': must be a whole number",
        ),
        (
            {"Interval": "6h"},
            "cases.toml: [settings]: key 'Interval': unknown setting (did you mean 'interval'?);"
            f" known settings: {', '.join(sorted(SPEC_BY_KEY))}",
        ),
        (
            {"colour": "red"},
            f"cases.toml: [settings]: key 'colour': unknown setting; known settings:"
            f" {', '.join(sorted(SPEC_BY_KEY))}",
        ),
    ],
    ids=["boolean-count", "empty-text", "number-for-text", "fractional-size", "case", "unknown"],
)
def test_bad_file_setting_is_a_watchlist_error_naming_file_and_key(
    file_settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(WatchlistError) as caught:
        resolve(env={}, file_settings=file_settings, file_path="cases.toml")
    assert str(caught.value) == message


def test_file_number_written_as_text_is_read_like_a_variable() -> None:
    check_file_settings({"archive_memento_rate": "8"}, "cases.toml")
    assert resolve(env={}, file_settings={"archive_memento_rate": "8"}).archive_memento_rate == 8.0


def test_bad_file_setting_is_refused_even_when_a_variable_overrides_it() -> None:
    with pytest.raises(WatchlistError, match=r"key 'interval'"):
        resolve(env={"MONITOR_INTERVAL": "1h"}, file_settings={"interval": "often"})


# --- the table and the dataclass agree -------------------------------------------------------


def test_every_spec_is_a_settings_field_with_the_same_default() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert defaults == {spec.key: spec.default for spec in SPECS}


def test_every_spec_has_its_own_monitor_variable() -> None:
    variables = [spec.env for spec in SPECS]
    assert len(set(variables)) == len(variables)
    assert all(
        variable == f"MONITOR_{spec.key.upper()}"
        for variable, spec in zip(variables, SPECS, strict=True)
    )


def test_every_default_passes_its_own_parser() -> None:
    for spec in SPECS:
        if spec.default is not None:
            assert spec.parse(spec.default) == spec.default, spec.key


def test_no_module_but_config_reads_the_environment() -> None:
    readers = [
        path.name
        for path in MONITOR_PACKAGE.glob("*.py")
        if path.name != "config.py"
        and re.search(r"\bos\.environ\b|\bgetenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == []


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("db", "url"),
    [
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("/srv/monitor.db", "sqlite:////srv/monitor.db"),
    ],
    ids=["postgres-url", "sqlite-url", "absolute-path"],
)
def test_database_url_passes_urls_and_turns_paths_into_sqlite(db: str, url: str) -> None:
    assert database_url(db) == url


def test_relative_database_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(db="evidence.db").db_url == f"sqlite:///{tmp_path.resolve() / 'evidence.db'}"


@pytest.mark.parametrize(
    ("flag", "env", "path"),
    [
        ("a.toml", {"MONITOR_WATCHLIST": "b.toml"}, Path("a.toml")),
        (None, {"MONITOR_WATCHLIST": "b.toml"}, Path("b.toml")),
        (None, {}, Path("watchlist.toml")),
        ("~/cases.toml", {}, Path.home() / "cases.toml"),
    ],
    ids=["flag", "variable", "default", "home-expanded"],
)
def test_watchlist_path_takes_flag_then_variable_then_default(
    flag: str | None, env: dict[str, str], path: Path
) -> None:
    assert watchlist_path(flag, env) == path


# --- suggestions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("url", " (did you mean 'urls'?)"),
        ("URLS", " (did you mean 'urls'?)"),
        ("title", ""),
        ("", ""),
    ],
    ids=["missing-letter", "other-case", "unrelated", "empty"],
)
def test_suggest_names_only_a_close_match(word: str, hint: str) -> None:
    assert suggest(word, ["id", "name", "urls", "site"]) == hint
