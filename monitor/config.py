"""Settings, read once: command-line flag, then ``MONITOR_*`` variable, then the watchlist's
``[settings]`` table, then the named default below.

This is the only module that reads the environment.  Every setting is declared once in
``SPECS``; an unknown key in ``[settings]`` is an error naming the file and the key.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, WatchlistError

# Defaults. The archive ones are the Internet Archive's published limits less a margin:
# CDX and timemap together allow about 30 requests a minute per IP, so 0.4/s is 80 % of it,
# and a client that keeps going after a 429 gets its IP refused for an hour.
DEFAULT_DB = "monitor.db"
DEFAULT_WATCHLIST = "watchlist.toml"
DEFAULT_WAYBACK_URL = "https://web.archive.org"
DEFAULT_SPN_URL = "https://web.archive.org"  # Save Page Now 2 lives on the archive's host
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
# Live checks (monitor check, monitor run).  httpx's connection pool costs more per request the
# more connections it holds, and one fetch at a time per host lets a site's pages share one
# connection (and never arrive as a burst): 16 and 1 made the fastest pass over 2,000 pages
# (bench/daemon.py: 8, 16, 32 at once, 1 or 2 per host).
DEFAULT_MAX_FETCHES = 16
DEFAULT_MAX_FETCHES_PER_HOST = 1
DEFAULT_STATUS_FAILURES = 3  # consecutive failed checks before `monitor status` reports a URL
# Under compose.yaml's stop_grace_period (1m), so Docker never kills a daemon mid-transaction.
DEFAULT_SHUTDOWN_GRACE = "30s"

# How alike a mistyped key must be to a known one before an error suggests it (difflib ratio).
# 0.7 keeps 'url' -> 'urls' and 'intervall' -> 'interval' but not 'title' -> 'site'.
SUGGEST_CUTOFF = 0.7

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


def format_duration(seconds: float) -> str:
    """The shortest text :func:`parse_duration` reads back as ``seconds``.

    Exact for whole seconds; a fraction is shown to the millisecond.

    >>> format_duration(21600)
    '6h'
    """
    for unit in ("w", "d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def duration_seconds(value: object) -> float:
    """Seconds from a TOML or environment value: ``"6h"``-style text or a number of seconds.

    Raises ``ValueError`` with a message fit for a one-line error.
    """
    if isinstance(value, str):
        return _positive_float(parse_duration(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _positive_float(value)
    raise ValueError("must be a duration like '6h', '15m' or '1d', or a number of seconds")


def suggest(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to a mistyped ``word``, else ``""``.

    Case is ignored, so ``URLs`` finds ``urls``.
    """
    by_folded = {str(choice).casefold(): str(choice) for choice in choices}
    close = difflib.get_close_matches(word.casefold(), by_folded, n=1, cutoff=SUGGEST_CUTOFF)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""


def _number(value: Any) -> float:
    # TOML's true is a Python bool, which float() would quietly take as 1.0; NaN and infinity
    # pass every "> 0" check and would disable a rate limit or a timeout.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _positive_float(value: Any) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_float(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _whole_number(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("must be a whole number")
    return int(number)


def _positive_int(value: Any) -> int:
    number = _whole_number(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_int(value: Any) -> int:
    number = _whole_number(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value.strip():
        raise ValueError("must not be empty")
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
        duration_seconds,
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
        duration_seconds,
        parse_duration(DEFAULT_INTERVAL),
        "default check interval per site",
    ),
    Spec(
        "archive_interval",
        "MONITOR_ARCHIVE_INTERVAL",
        duration_seconds,
        parse_duration(DEFAULT_ARCHIVE_INTERVAL),
        "default archive sweep interval per site",
    ),
    Spec(
        "max_fetches",
        "MONITOR_MAX_FETCHES",
        _positive_int,
        DEFAULT_MAX_FETCHES,
        "live fetches at once, whole process",
    ),
    Spec(
        "max_fetches_per_host",
        "MONITOR_MAX_FETCHES_PER_HOST",
        _positive_int,
        DEFAULT_MAX_FETCHES_PER_HOST,
        "live fetches at once to one host",
    ),
    Spec(
        "status_failures",
        "MONITOR_STATUS_FAILURES",
        _positive_int,
        DEFAULT_STATUS_FAILURES,
        "consecutive failed checks that make a URL failing",
    ),
    Spec(
        "shutdown_grace",
        "MONITOR_SHUTDOWN_GRACE",
        duration_seconds,
        parse_duration(DEFAULT_SHUTDOWN_GRACE),
        "time in-flight checks get to finish on SIGTERM",
    ),
    Spec("spn_access_key", "MONITOR_SPN_ACCESS_KEY", _text, None, "Save Page Now access key"),
    Spec("spn_secret_key", "MONITOR_SPN_SECRET_KEY", _text, None, "Save Page Now secret key"),
    Spec("spn_url", "MONITOR_SPN_URL", _url, DEFAULT_SPN_URL, "Save Page Now base URL"),
    Spec(
        "lists_url",
        "MONITOR_LISTS_URL",
        _url,
        None,
        "a mirror serving the screening list files, in place of their publishers",
    ),
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
    max_fetches: int = DEFAULT_MAX_FETCHES
    max_fetches_per_host: int = DEFAULT_MAX_FETCHES_PER_HOST
    status_failures: int = DEFAULT_STATUS_FAILURES
    shutdown_grace: float = parse_duration(DEFAULT_SHUTDOWN_GRACE)
    spn_access_key: str | None = None
    spn_secret_key: str | None = None
    spn_url: str = DEFAULT_SPN_URL
    lists_url: str | None = None  # monitor lists fetch: None means each publisher's own URL

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
    return Path(flag or env.get("MONITOR_WATCHLIST") or DEFAULT_WATCHLIST).expanduser()


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file_settings: Mapping[str, Any] | None = None,
    file_path: str = DEFAULT_WATCHLIST,
) -> Settings:
    """Build the settings: flag, then environment, then ``[settings]``, then the default.

    Raises :class:`WatchlistError` for a bad ``[settings]`` table (even where a flag or
    variable overrides the key: the file is wrong either way) and :class:`ConfigError` for a
    bad flag or variable.
    """
    flags = flags or {}
    env = environ() if env is None else env
    file_settings = file_settings or {}
    check_file_settings(file_settings, file_path)
    values: dict[str, Any] = {}
    for spec in SPECS:
        origin, raw = _first_given(spec, flags, env, file_settings)
        if raw is None:
            continue
        try:
            values[spec.key] = spec.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(spec.env if origin == "env" else spec.key, raw, str(exc)) from exc
    return Settings(**values)


def check_file_settings(
    file_settings: Mapping[str, Any], file_path: str = DEFAULT_WATCHLIST
) -> None:
    """Raise :class:`WatchlistError` naming the file and key for an unknown or bad setting."""
    for key, raw in file_settings.items():
        spec = SPEC_BY_KEY.get(key)
        if spec is None:
            known = ", ".join(sorted(SPEC_BY_KEY))
            why = f"unknown setting{suggest(key, SPEC_BY_KEY)}; known settings: {known}"
            raise WatchlistError(file_path, why, "[settings]", key)
        try:
            spec.parse(raw)
        except (TypeError, ValueError) as exc:
            raise WatchlistError(file_path, str(exc), "[settings]", key) from exc


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
