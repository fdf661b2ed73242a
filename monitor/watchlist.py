"""Read ``watchlist.toml``: the sites to watch, their URLs, the alert targets and ``[settings]``.

The format, in full in ``docs/watchlist.md``::

    [settings]                      # optional; validated by monitor.config
    interval = "6h"

    [[site]]
    id = "sensetime"                # a slug: lowercase letters, digits, - and _
    name = "SenseTime"
    urls = [
        "https://www.sensetime.com/",
        { url = "https://www.sensetime.com/en/legal", label = "legal" },
    ]

    [[alert]]
    type = "webhook"                # or "apprise", with an Apprise URL
    url = "https://hooks.example.org/monitor"

The watchlist is hand-edited, so a mistake is answered with one line that names the file, the
entry and the key (``watchlist.toml: site #2 "acme": key 'urls': ...``): a
:class:`WatchlistError`, which the CLI turns into exit status 2.

The module runs past 500 lines on purpose: every key's validator and its message sit here,
next to the format they check and the data classes it becomes, so a reader finds a key, its
check and its error in one place.  The validators are some 390 of the lines and ``load`` sits
with them; the only split that keeps them together, the data classes into a module of their
own, would still leave this one past 500 lines and send every caller that imports ``Site`` to
a second module.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from rich.table import Table
from rich.text import Text

from monitor import config
from monitor.errors import UsageError, WatchlistError

TOP_LEVEL_KEYS = ("settings", "site", "alert")
SITE_KEYS = (
    "id",
    "name",
    "urls",
    "interval",
    "archive_interval",
    "headers",
    "user_agent",
    "enabled",
    "tags",
    "notes",
)
URL_TABLE_KEYS = ("url", "label")
ALERT_KEYS = ("type", "url", "secret")
ALERT_REQUIRED_KEYS = ("type", "url")
# A webhook secret keys an HMAC-SHA256 of each body; shorter than this it can be guessed.
MIN_SECRET_LENGTH = 16

# Ids name sites on the command line, in the store and in reports: keep them shell- and
# URL-safe, and short enough for a table column.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_ID_LENGTH = 64
HTTP_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
# An HTTP header name is an RFC 9110 token.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Any scheme Apprise might support: tgram://, mailto://, json://, slack://, ...
APPRISE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
# An unknown-id error lists the known ids up to this many: enough to spot the typo, short
# enough to stay one readable line with a thousand sites.
KNOWN_IDS_SHOWN = 20
MISSING_FILE_HINT = (
    "no such file; create it with a [[site]] table giving an id and urls (the format is in "
    "docs/watchlist.md), or pass --watchlist PATH or set MONITOR_WATCHLIST"
)
URLS_WHY = "must be a non-empty list of http(s) URLs"


class UrlLabel(StrEnum):
    """What kind of page a watched URL is; a label helps read the evidence, nothing more."""

    HOME = "home"
    ABOUT = "about"
    LEGAL = "legal"
    IMPRINT = "imprint"
    REGIONAL = "regional"


# Words people reach for that spelling alone would not lead to the right label.
LABEL_ALIASES = {
    "impressum": UrlLabel.IMPRINT,
    "terms": UrlLabel.LEGAL,
    "privacy": UrlLabel.LEGAL,
    "homepage": UrlLabel.HOME,
    "index": UrlLabel.HOME,
}


class AlertType(StrEnum):
    """How a change is announced: a JSON POST to a URL, or any service Apprise reaches."""

    WEBHOOK = "webhook"
    APPRISE = "apprise"


def _frozen_map() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Site:
    """One company's watched pages and how to fetch them.

    ``interval`` and ``archive_interval`` are seconds, or None for the ``[settings]`` default
    (see :meth:`check_interval`). ``url_labels`` maps a URL of ``urls`` to its label, for the
    URLs given one. Mappings are read-only and left out of the hash.
    """

    id: str
    name: str
    urls: tuple[str, ...]
    url_labels: Mapping[str, UrlLabel] = field(default_factory=_frozen_map, hash=False)
    interval: float | None = None
    archive_interval: float | None = None
    headers: Mapping[str, str] = field(default_factory=_frozen_map, hash=False)
    user_agent: str | None = None
    enabled: bool = True
    tags: tuple[str, ...] = ()
    notes: str = ""

    def check_interval(self, settings: config.Settings) -> float:
        """Seconds between live checks: the site's own interval, else the default."""
        return settings.interval if self.interval is None else self.interval

    def sweep_interval(self, settings: config.Settings) -> float:
        """Seconds between archive sweeps: the site's own, else the default."""
        if self.archive_interval is None:
            return settings.archive_interval
        return self.archive_interval

    def to_json(self, settings: config.Settings) -> dict[str, Any]:
        """The site as ``monitor sites --json`` prints it, with the intervals in force.

        Header values are left out: they may carry cookies or tokens, and this output is
        made to be shared.
        """
        return {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "urls": [{"url": url, "label": self.url_labels.get(url)} for url in self.urls],
            "interval": self.check_interval(settings),
            "archive_interval": self.sweep_interval(settings),
            "user_agent": self.user_agent,
            "headers": sorted(self.headers),
            "tags": list(self.tags),
            "notes": self.notes,
        }


@dataclass(frozen=True)
class AlertTarget:
    """Where to announce a confirmed change; the URL is kept out of ``repr`` (it holds secrets).

    ``secret``, for webhooks only, keys the HMAC signature sent with each delivery.
    """

    type: AlertType
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Watchlist:
    """A parsed watchlist: its sites in file order, the raw ``[settings]`` and alert targets."""

    path: Path
    sites: tuple[Site, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=_frozen_map, hash=False)
    alerts: tuple[AlertTarget, ...] = ()


class _Invalid(ValueError):
    """A value is wrong; the caller adds the file, entry and key."""


def load(path: Path | str) -> Watchlist:
    """Read and validate a watchlist file.

    Raises :class:`WatchlistError` with one line naming the file, the entry and the key.
    """
    path = Path(path)
    return _parse(_read_toml(path), path)


def loads(text: str, path: Path | str = config.DEFAULT_WATCHLIST) -> Watchlist:
    """Validate watchlist text; ``path`` is only used to name the file in errors."""
    path = Path(path)
    return _parse(_parse_toml(text, str(path)), path)


def read_settings_table(path: Path) -> dict[str, Any]:
    """The raw ``[settings]`` table of a watchlist (validated by :mod:`monitor.config`)."""
    return _settings_table(_read_toml(path), str(path))


def find_sites(watchlist: Watchlist, ids: Iterable[str] = ()) -> tuple[Site, ...]:
    """The sites named by ``ids`` in that order, or every enabled site when none are named.

    A site named explicitly is returned even when disabled: the user asked for it. Raises
    :class:`UsageError` for ids the watchlist does not have, listing the ones it has.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return tuple(site for site in watchlist.sites if site.enabled)
    by_id = {site.id: site for site in watchlist.sites}
    unknown = [site_id for site_id in wanted if site_id not in by_id]
    if unknown:
        raise UsageError(_unknown_ids_message(unknown, watchlist))
    return tuple(by_id[site_id] for site_id in wanted)


def normalize_url(url: str) -> str:
    """``url`` in the one spelling the watchlist gives it, so that one page is one timeline.

    Lowercases the scheme and host, drops a default port and the fragment (never sent to the
    server), and gives an empty path ``/``: forms RFC 3986 says name the same resource.
    Raises ``ValueError`` for anything but an absolute http(s) URL without credentials.
    """
    parts = _split_http_url(url.strip())
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not contain credentials (they would be stored with the evidence); "
            "send them with headers instead"
        )
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS[parts.scheme.lower()]:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


# --- reading the file ------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise WatchlistError(source, MISSING_FILE_HINT) from exc
    except IsADirectoryError as exc:
        raise WatchlistError(source, "is a directory, not a file") from exc
    except OSError as exc:
        raise WatchlistError(source, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        # utf-8-sig: TOML is UTF-8, and some editors on Windows put a BOM in front of it.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WatchlistError(source, f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    return _parse_toml(text, source)


# tomllib puts the position at the end of its message: "Invalid value (at line 3, column 8)".
_TOML_POSITION = re.compile(
    r"^(?P<why>.*?) \(at (?P<where>line \d+, column \d+|end of document)\)$"
)


# What tomllib's terse messages usually mean in a hand-edited watchlist.
_TOML_HINTS = {
    "Cannot overwrite a value": " (a key given twice in one table?)",
    "Invalid value": " (a string without quotes?)",
}


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.match(message)
        if match:
            why = match["why"]
            message = f"{match['where']}: {why[:1].lower()}{why[1:]}"
            message += _TOML_HINTS.get(why, "")
        raise WatchlistError(source, f"not valid TOML: {message}") from exc


# --- the top level ---------------------------------------------------------------------------


def _parse(data: Mapping[str, Any], path: Path) -> Watchlist:
    source = str(path)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            why = (
                f"unknown top-level key{config.suggest(key, TOP_LEVEL_KEYS)}; a watchlist has "
                "[settings], [[site]] and [[alert]] tables, and each site's keys go below its "
                "[[site]] line"
            )
            raise WatchlistError(source, why, key=key)
    settings = _settings_table(data, source)
    config.check_file_settings(settings, source)
    sites = tuple(_parse_sites(_array_of_tables(data, "site", source), source))
    alerts = tuple(
        _parse_alert(entry, f"alert #{number}", source)
        for number, entry in enumerate(_array_of_tables(data, "alert", source), start=1)
    )
    return Watchlist(path=path, sites=sites, settings=MappingProxyType(settings), alerts=alerts)


def _settings_table(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        why = "must be a table: write [settings] above its keys"
        raise WatchlistError(source, why, "[settings]")
    return settings


def _array_of_tables(data: Mapping[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        why = f"must be an array of tables: write [[{key}]], with two brackets, above each {key}"
        raise WatchlistError(source, why, key=key)
    return entries


def _parse_sites(entries: list[dict[str, Any]], source: str) -> Iterable[Site]:
    """Each site in turn, refusing an id or a URL that an earlier site already has.

    A URL watched under two sites would be fetched twice, cost the archive's rate limit twice
    and record each change twice, as two observations where there was one; a copied block
    left half-edited is the usual cause, so it is an error, not a warning.
    """
    first_with_id: dict[str, str] = {}
    first_with_url: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        label = _site_label(number, entry)
        site = _parse_site(entry, label, source)
        if site.id in first_with_id:
            why = f"duplicate: {first_with_id[site.id]} has the same id"
            raise WatchlistError(source, why, label, "id")
        first_with_id[site.id] = label
        for url in site.urls:
            if url in first_with_url:
                why = f"{url!r} is already watched by {first_with_url[url]}; list each URL once"
                raise WatchlistError(source, why, label, "urls")
            first_with_url[url] = label
        yield site


def _site_label(number: int, entry: Mapping[str, Any]) -> str:
    site_id = entry.get("id")
    if isinstance(site_id, str):
        # JSON quoting escapes a newline or a quote inside the id, keeping the error one line.
        return f"site #{number} {json.dumps(site_id, ensure_ascii=False)}"
    return f"site #{number}"


# --- one site --------------------------------------------------------------------------------


def _parse_site(entry: Mapping[str, Any], label: str, source: str) -> Site:
    _refuse_unknown_keys(entry, SITE_KEYS, label, source)
    for required in ("id", "urls"):
        if required not in entry:
            raise WatchlistError(source, f"required: {_REQUIRED_WHY[required]}", label, required)
    values: dict[str, Any] = {}
    for key, raw in entry.items():
        try:
            values[key] = _SITE_PARSERS[key](raw)
        except _Invalid as exc:
            raise WatchlistError(source, str(exc), label, key) from exc
    urls, url_labels = values.pop("urls")
    return Site(
        urls=urls,
        url_labels=MappingProxyType(url_labels),
        name=values.pop("name", values["id"]),
        **values,
    )


_REQUIRED_WHY = {
    "id": 'every site needs an id, a slug such as "sensetime"',
    "urls": f'{URLS_WHY}, such as urls = ["https://www.example.com/"]',
}


def _refuse_unknown_keys(
    entry: Mapping[str, Any], known: tuple[str, ...], label: str, source: str
) -> None:
    for key in entry:
        if key not in known:
            why = f"unknown key{config.suggest(key, known)}; known keys: {', '.join(known)}"
            raise WatchlistError(source, why, label, key)


def _site_id(value: object) -> str:
    text = _string(value)
    if not ID_PATTERN.fullmatch(text):
        raise _Invalid(
            f"{text!r} is not a slug: use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    if len(text) > MAX_ID_LENGTH:
        raise _Invalid(f"must be at most {MAX_ID_LENGTH} characters")
    return text


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_toml_type(value)}")
    return value


def _single_line(value: object) -> str:
    text = _string(value).strip()
    if not text:
        raise _Invalid("must not be empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise _Invalid("must be one line without control characters")
    return text


def _urls(value: object) -> tuple[tuple[str, ...], dict[str, UrlLabel]]:
    if not isinstance(value, list) or not value:
        raise _Invalid(URLS_WHY)
    urls: list[str] = []
    labels: dict[str, UrlLabel] = {}
    for number, item in enumerate(value, start=1):
        try:
            url, label = _url_item(item)
        except _Invalid as exc:
            raise _Invalid(f"item #{number}: {exc}") from exc
        if url in urls:
            raise _Invalid(f"item #{number}: {url!r} is listed twice")
        urls.append(url)
        if label is not None:
            labels[url] = label
    return tuple(urls), labels


def _url_item(item: object) -> tuple[str, UrlLabel | None]:
    if isinstance(item, str):
        return _site_url(item), None
    if not isinstance(item, dict):
        raise _Invalid(
            f'must be a URL or a table {{ url = "...", label = "..." }}, not {_toml_type(item)}'
        )
    for key in item:
        if key not in URL_TABLE_KEYS:
            raise _Invalid(
                f"unknown key {key!r}{config.suggest(key, URL_TABLE_KEYS)}; known keys: url, label"
            )
    if "url" not in item:
        raise _Invalid("a table needs a url key")
    label = _url_label(item["label"]) if "label" in item else None
    return _site_url(item["url"]), label


def _url_label(value: object) -> UrlLabel:
    text = _string(value)
    try:
        return UrlLabel(text)
    except ValueError:
        known = ", ".join(UrlLabel)
        alias = LABEL_ALIASES.get(text.casefold())
        hint = f" (did you mean {alias.value!r}?)" if alias else config.suggest(text, UrlLabel)
        raise _Invalid(f"label {text!r} is not one of {known}{hint}") from None


def _site_url(value: object) -> str:
    text = _string(value)
    try:
        return normalize_url(text)
    except ValueError as exc:
        raise _Invalid(f"{text!r}: {exc}") from None


def _split_http_url(text: str) -> SplitResult:
    if any(char.isspace() for char in text):
        raise ValueError("must not contain spaces (write %20)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- reading the port is what validates it
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme.lower() not in HTTP_SCHEMES:
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host name")
    return parts


def _duration(value: object) -> float:
    try:
        return config.duration_seconds(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _headers(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a table of header names and values, not {_toml_type(value)}")
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, raw in value.items():
        folded = name.lower()  # header names are case-insensitive
        if not HEADER_NAME.fullmatch(name):
            raise _Invalid(f"{name!r} is not a valid header name")
        if folded == "user-agent":
            raise _Invalid("set the User-Agent with the user_agent key, not in headers")
        if folded in seen:
            raise _Invalid(f"header {name!r} is given twice")
        seen.add(folded)
        try:
            headers[name] = _single_line(raw)
        except _Invalid as exc:
            raise _Invalid(f"header {name!r}: {exc}") from None
    return MappingProxyType(headers)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, without quotes, not {_toml_type(value)}")
    return value


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(
            f'must be a list of strings such as ["ai", "entity-list"], not {_toml_type(value)}'
        )
    try:
        return tuple(dict.fromkeys(_single_line(tag) for tag in value))
    except _Invalid as exc:
        raise _Invalid(f"each tag {exc}") from None


_SITE_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "id": _site_id,
    "name": _single_line,
    "urls": _urls,
    "interval": _duration,
    "archive_interval": _duration,
    "headers": _headers,
    "user_agent": _single_line,
    "enabled": _boolean,
    "tags": _tags,
    "notes": _string,
}


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for "must be X, not Y" messages."""
    names = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
    ]
    return next((name for kind, name in names if isinstance(value, kind)), "a date or time")


# --- alerts ----------------------------------------------------------------------------------


def _parse_alert(entry: Mapping[str, Any], label: str, source: str) -> AlertTarget:
    _refuse_unknown_keys(entry, ALERT_KEYS, label, source)
    for required in ALERT_REQUIRED_KEYS:
        if required not in entry:
            raise WatchlistError(
                source, f"required: {_ALERT_REQUIRED_WHY[required]}", label, required
            )
    try:
        kind = AlertType(_string(entry["type"]))
    except (_Invalid, ValueError):
        raw = entry["type"]
        hint = config.suggest(raw, AlertType) if isinstance(raw, str) else ""
        why = f"must be one of {', '.join(AlertType)}{hint}"
        raise WatchlistError(source, why, label, "type") from None
    url = entry["url"]
    # The URL is never quoted back: webhook and Apprise URLs carry tokens and passwords.
    if not isinstance(url, str) or not _alert_url_ok(kind, url):
        raise WatchlistError(source, _ALERT_URL_WHY[kind], label, "url")
    secret = entry.get("secret")
    if secret is not None:
        _check_alert_secret(kind, secret, label, source)
    return AlertTarget(type=kind, url=url, secret=secret)


def _check_alert_secret(kind: AlertType, secret: object, label: str, source: str) -> None:
    # Like the URL, the secret is never quoted back.
    if kind is not AlertType.WEBHOOK:
        why = "only webhook alerts are signed; an Apprise URL carries its own credentials"
        raise WatchlistError(source, why, label, "secret")
    if not isinstance(secret, str) or len(secret.strip()) < MIN_SECRET_LENGTH:
        why = (
            f"must be a string of at least {MIN_SECRET_LENGTH} characters, such as the output "
            "of: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
        raise WatchlistError(source, why, label, "secret")


def _alert_url_ok(kind: AlertType, url: str) -> bool:
    if kind is AlertType.APPRISE:
        return bool(APPRISE_URL.fullmatch(url))
    try:
        _split_http_url(url)
    except ValueError:
        return False
    return True


_ALERT_REQUIRED_WHY = {
    "type": f"every alert needs a type: {', '.join(AlertType)}",
    "url": "every alert needs a url",
}
_ALERT_URL_WHY = {
    AlertType.WEBHOOK: "must be an http:// or https:// URL to POST the change to",
    AlertType.APPRISE: (
        "must be an Apprise URL such as 'mailto://user:password@example.com' or "
        "'tgram://bot-token/chat-id'"
    ),
}


# --- display ---------------------------------------------------------------------------------


def sites_table(sites: Sequence[Site], settings: config.Settings, source: Path) -> Table:
    """The sites as ``monitor sites`` shows them: intervals in force, one URL a line."""
    table = Table(title=f"{len(sites)} sites in {source}", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("interval", no_wrap=True)
    table.add_column("archive", no_wrap=True)
    # A URL is the one thing that must survive a narrow terminal whole: fold, never elide.
    table.add_column("urls", overflow="fold")
    table.add_column("tags")
    for site in sites:
        name = site.name if site.enabled else f"{site.name} (disabled)"
        cells = (
            site.id,
            name,
            config.format_duration(site.check_interval(settings)),
            config.format_duration(site.sweep_interval(settings)),
            "\n".join(_url_line(site, url) for url in site.urls),
            ", ".join(site.tags),
        )
        # Text, not str: a name or URL with brackets in it must not be read as rich markup.
        table.add_row(*(Text(cell) for cell in cells), style=None if site.enabled else "dim")
    return table


def _url_line(site: Site, url: str) -> str:
    label = site.url_labels.get(url)
    return f"{url} ({label})" if label else url


# --- messages --------------------------------------------------------------------------------


def _unknown_ids_message(unknown: list[str], watchlist: Watchlist) -> str:
    known = [site.id for site in watchlist.sites]
    named = ", ".join(f"{site_id!r}{config.suggest(site_id, known)}" for site_id in unknown)
    noun = "site id" if len(unknown) == 1 else "site ids"
    if not known:
        return f"unknown {noun} {named}: {watchlist.path} has no sites"
    shown = ", ".join(known[:KNOWN_IDS_SHOWN])
    if len(known) > KNOWN_IDS_SHOWN:
        shown += f" and {len(known) - KNOWN_IDS_SHOWN} more"
    return f"unknown {noun} {named}; {watchlist.path} has {shown}"
