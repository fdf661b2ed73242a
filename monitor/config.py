"""Settings, read once: command-line flag, then ``MONITOR_*`` variable, then the watchlist's
``[settings]`` table, then the named default below.

This is the only module that reads the environment.  Every setting is declared once in
``SPECS``; an unknown key in ``[settings]`` is an error naming the file and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, WatchlistError

# Defaults. The archive ones are the Internet Archive's published limits less a margin:
# CDX and timemap together allow about 30 requests a minute per IP, so 0.4/s is 80 % of it,
# and a client that keeps going after a 429 gets its IP refused for an hour.
DEFAULT_DB = "monitor.db"
DEFAULT_WATCHLIST = "watchlist.toml"
DEFAULT_WAYBACK_URL = "https://web.archive.org"
DEFAULT_CDX_RATE = 0.4  # requests per second, shared by the whole process
DEFAULT_MEMENTO_RATE = 8.0  # requests per second, shared by the whole process
DEFAULT_PAUSE_AFTER_429 = 60.0  # seconds every archive request waits after any 429
DEFAULT_ARCHIVE_RETRIES = 4
DEFAULT_ARCHIVE_TIMEOUT = 60.0
DEFAULT_FETCH_TIMEOUT = 30.0
DEFAULT_FETCH_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_INTERVAL = "6h"
DEFAULT_ARCHIVE_INTERVAL = "1d"
DEFAULT_SAMPLE_SPACING = "30d"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` or ``"2w"``.

    >>> parse_duration("6h")
    21600.0
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration like '6h', '15m' or '1d': {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_float(value: Any) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _positive_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_int(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _duration(value: Any) -> float:
    seconds = value if isinstance(value, int | float) else parse_duration(str(value))
    return _positive_float(seconds)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _url(value: Any) -> str:
    text = _text(value).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return text


@dataclass(frozen=True)
class Spec:
    """One setting: its key in ``[settings]``, its variable, its parser and default."""

    key: str
    env: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str


SPECS: tuple[Spec, ...] = (
    Spec("db", "MONITOR_DB", _text, DEFAULT_DB, "SQLAlchemy URL or SQLite file path"),
    Spec("wayback_url", "MONITOR_WAYBACK_URL", _url, DEFAULT_WAYBACK_URL, "archive base URL"),
    Spec(
        "archive_cdx_rate",
        "MONITOR_ARCHIVE_CDX_RATE",
        _positive_float,
        DEFAULT_CDX_RATE,
        "CDX requests per second, whole process",
    ),
    Spec(
        "archive_memento_rate",
        "MONITOR_ARCHIVE_MEMENTO_RATE",
        _positive_float,
        DEFAULT_MEMENTO_RATE,
        "memento requests per second, whole process",
    ),
    Spec(
        "archive_pause_after_429",
        "MONITOR_ARCHIVE_PAUSE_AFTER_429",
        _non_negative_float,
        DEFAULT_PAUSE_AFTER_429,
        "seconds all archive requests wait after a 429",
    ),
    Spec(
        "archive_retries",
        "MONITOR_ARCHIVE_RETRIES",
        _non_negative_int,
        DEFAULT_ARCHIVE_RETRIES,
        "retries on 5xx and timeouts",
    ),
    Spec(
        "archive_timeout",
        "MONITOR_ARCHIVE_TIMEOUT",
        _positive_float,
        DEFAULT_ARCHIVE_TIMEOUT,
        "seconds per archive request",
    ),
    Spec(
        "sample_spacing",
        "MONITOR_SAMPLE_SPACING",
        _duration,
        parse_duration(DEFAULT_SAMPLE_SPACING),
        "backfill sample spacing",
    ),
    Spec(
        "fetch_timeout",
        "MONITOR_FETCH_TIMEOUT",
        _positive_float,
        DEFAULT_FETCH_TIMEOUT,
        "seconds per live fetch",
    ),
    Spec(
        "fetch_max_bytes",
        "MONITOR_FETCH_MAX_BYTES",
        _positive_int,
        DEFAULT_FETCH_MAX_BYTES,
        "largest live response kept",
    ),
    Spec(
        "interval",
        "MONITOR_INTERVAL",
        _duration,
        parse_duration(DEFAULT_INTERVAL),
        "default check interval per site",
    ),
    Spec(
        "archive_interval",
        "MONITOR_ARCHIVE_INTERVAL",
        _duration,
        parse_duration(DEFAULT_ARCHIVE_INTERVAL),
        "default archive sweep interval per site",
    ),
    Spec("spn_access_key", "MONITOR_SPN_ACCESS_KEY", _text, None, "Save Page Now access key"),
    Spec("spn_secret_key", "MONITOR_SPN_SECRET_KEY", _text, None, "Save Page Now secret key"),
)
SPEC_BY_KEY = {spec.key: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run; build it with :func:`resolve`."""

    db: str = DEFAULT_DB
    wayback_url: str = DEFAULT_WAYBACK_URL
    archive_cdx_rate: float = DEFAULT_CDX_RATE
    archive_memento_rate: float = DEFAULT_MEMENTO_RATE
    archive_pause_after_429: float = DEFAULT_PAUSE_AFTER_429
    archive_retries: int = DEFAULT_ARCHIVE_RETRIES
    archive_timeout: float = DEFAULT_ARCHIVE_TIMEOUT
    sample_spacing: float = parse_duration(DEFAULT_SAMPLE_SPACING)
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    fetch_max_bytes: int = DEFAULT_FETCH_MAX_BYTES
    interval: float = parse_duration(DEFAULT_INTERVAL)
    archive_interval: float = parse_duration(DEFAULT_ARCHIVE_INTERVAL)
    spn_access_key: str | None = None
    spn_secret_key: str | None = None

    @property
    def db_url(self) -> str:
        """The database as a SQLAlchemy URL (a plain path means a SQLite file)."""
        return database_url(self.db)


def database_url(db: str) -> str:
    """``sqlite:///abs/path`` for a file path, the text itself for a URL."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def environ() -> Mapping[str, str]:
    """The process environment: the one place the package reads it."""
    return os.environ


def watchlist_path(flag: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The watchlist file: ``--watchlist``, else ``MONITOR_WATCHLIST``, else the default."""
    env = environ() if env is None else env
    return Path(flag or env.get("MONITOR_WATCHLIST") or DEFAULT_WATCHLIST)


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file_settings: Mapping[str, Any] | None = None,
    file_path: str = DEFAULT_WATCHLIST,
) -> Settings:
    """Build the settings: flag, then environment, then ``[settings]``, then the default."""
    flags = flags or {}
    env = environ() if env is None else env
    file_settings = file_settings or {}
    for key in file_settings:
        if key not in SPEC_BY_KEY:
            known = ", ".join(sorted(SPEC_BY_KEY))
            raise WatchlistError(file_path, f"unknown setting (known: {known})", "[settings]", key)
    values: dict[str, Any] = {}
    for spec in SPECS:
        origin, raw = _first_given(spec, flags, env, file_settings)
        if raw is None:
            continue
        try:
            values[spec.key] = spec.parse(raw)
        except (TypeError, ValueError) as exc:
            if origin == "file":
                raise WatchlistError(file_path, str(exc), "[settings]", spec.key) from exc
            raise ConfigError(spec.env if origin == "env" else spec.key, raw, str(exc)) from exc
    known_fields = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known_fields})


def _first_given(
    spec: Spec, flags: Mapping[str, Any], env: Mapping[str, str], file_settings: Mapping[str, Any]
) -> tuple[str, Any]:
    if flags.get(spec.key) is not None:
        return "flag", flags[spec.key]
    if env.get(spec.env):
        return "env", env[spec.env]
    if spec.key in file_settings:
        return "file", file_settings[spec.key]
    return "default", None
