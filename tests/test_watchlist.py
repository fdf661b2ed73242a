"""The watchlist: its format, its one-line errors, and ``monitor sites`` which shows it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from monitor import config
from monitor.cli import cli
from monitor.errors import UsageError, WatchlistError
from monitor.watchlist import (
    ALERT_KEYS,
    SITE_KEYS,
    AlertTarget,
    AlertType,
    Site,
    UrlLabel,
    Watchlist,
    find_sites,
    load,
    loads,
    normalize_url,
    read_settings_table,
)

ROOT = Path(__file__).resolve().parent.parent
WIDE_TERMINAL = "250"  # so rich never folds a URL in the middle of an assertion

SENSETIME = """
[[site]]
id = "sensetime"
name = "SenseTime"
urls = ["https://www.sensetime.com/"]
"""

# (watchlist text, the one error line without "Error: "). The file is always watchlist.toml.
BAD_WATCHLISTS = [
    pytest.param(
        '[[site]]\nid = sensetime\nurls = ["https://a.example/"]\n',
        "watchlist.toml: not valid TOML: line 2, column 6: invalid value"
        " (a string without quotes?)",
        id="not-toml-bare-string",
    ),
    pytest.param(
        '[[site]]\nid = "a"\nid = "b"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: not valid TOML: line 3, column 9: cannot overwrite a value"
        " (a key given twice in one table?)",
        id="not-toml-key-twice",
    ),
    pytest.param(
        'title = "my sites"\n',
        "watchlist.toml: key 'title': unknown top-level key; a watchlist has [settings],"
        " [[site]] and [[alert]] tables, and each site's keys go below its [[site]] line",
        id="unknown-top-level-key",
    ),
    pytest.param(
        '[[sites]]\nid = "a"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: key 'sites': unknown top-level key (did you mean 'site'?); a watchlist"
        " has [settings], [[site]] and [[alert]] tables, and each site's keys go below its"
        " [[site]] line",
        id="unknown-top-level-key-suggests-site",
    ),
    pytest.param(
        '[site]\nid = "a"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: key 'site': must be an array of tables: write [[site]], with two"
        " brackets, above each site",
        id="site-single-brackets",
    ),
    pytest.param(
        SENSETIME + '[[site]]\nid = "acme"\nurl = ["https://acme.example/"]\n',
        "watchlist.toml: site #2 \"acme\": key 'url': unknown key (did you mean 'urls'?);"
        " known keys: id, name, urls, interval, archive_interval, headers, user_agent, enabled,"
        " tags, notes",
        id="unknown-site-key-suggests",
    ),
    pytest.param(
        '[[site]]\nid = "a"\nURLS = ["https://a.example/"]\n',
        "watchlist.toml: site #1 \"a\": key 'URLS': unknown key (did you mean 'urls'?);"
        " known keys: id, name, urls, interval, archive_interval, headers, user_agent, enabled,"
        " tags, notes",
        id="unknown-site-key-other-case",
    ),
    pytest.param(
        '[[site]]\nname = "Acme"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: site #1: key 'id': required: every site needs an id, a slug such as"
        ' "sensetime"',
        id="missing-id",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': required: must be a non-empty list of"
        ' http(s) URLs, such as urls = ["https://www.example.com/"]',
        id="missing-urls",
    ),
    pytest.param(
        '[[site]]\nid = "Acme Corp"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: site #1 \"Acme Corp\": key 'id': 'Acme Corp' is not a slug: use"
        " lowercase letters, digits, '-' and '_', starting with a letter or digit",
        id="bad-id-not-slug",
    ),
    pytest.param(
        '[[site]]\nid = "-acme"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: site #1 \"-acme\": key 'id': '-acme' is not a slug: use lowercase"
        " letters, digits, '-' and '_', starting with a letter or digit",
        id="bad-id-leading-dash",
    ),
    pytest.param(
        '[[site]]\nid = "a\\nb"\nurls = ["https://a.example/"]\n',
        "watchlist.toml: site #1 \"a\\nb\": key 'id': 'a\\nb' is not a slug: use lowercase"
        " letters, digits, '-' and '_', starting with a letter or digit",
        id="bad-id-newline-stays-one-line",
    ),
    pytest.param(
        f'[[site]]\nid = "{"a" * 65}"\nurls = ["https://a.example/"]\n',
        f"watchlist.toml: site #1 \"{'a' * 65}\": key 'id': must be at most 64 characters",
        id="bad-id-too-long",
    ),
    pytest.param(
        '[[site]]\nid = 7\nurls = ["https://a.example/"]\n',
        "watchlist.toml: site #1: key 'id': must be a string, not an integer",
        id="bad-id-integer",
    ),
    pytest.param(
        SENSETIME + '[[site]]\nid = "sensetime"\nurls = ["https://www.sensetime.com/en/"]\n',
        'watchlist.toml: site #2 "sensetime": key \'id\': duplicate: site #1 "sensetime" has'
        " the same id",
        id="duplicate-id",
    ),
    pytest.param(
        SENSETIME + '[[site]]\nid = "copy"\nurls = ["HTTPS://WWW.SenseTime.com:443"]\n',
        "watchlist.toml: site #2 \"copy\": key 'urls': 'https://www.sensetime.com/' is already"
        ' watched by site #1 "sensetime"; list each URL once',
        id="duplicate-url-across-sites",
    ),
    pytest.param(
        '[[site]]\nid = "a"\nurls = ["https://a.example/", "https://a.example/#top"]\n',
        "watchlist.toml: site #1 \"a\": key 'urls': item #2: 'https://a.example/' is listed twice",
        id="duplicate-url-in-site",
    ),
    pytest.param(
        SENSETIME + '[[site]]\nid = "acme"\nurls = "https://acme.example/"\n',
        "watchlist.toml: site #2 \"acme\": key 'urls': must be a non-empty list of http(s) URLs",
        id="urls-not-a-list",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = []\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': must be a non-empty list of http(s) URLs",
        id="urls-empty",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["ftp://acme.example/"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'ftp://acme.example/': must be"
        " an http:// or https:// URL",
        id="url-not-http",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["www.acme.example"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'www.acme.example': must be"
        " an http:// or https:// URL",
        id="url-without-scheme",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https:///legal"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'https:///legal': has no host name",
        id="url-without-host",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/legal notice"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'https://acme.example/legal"
        " notice': must not contain spaces (write %20)",
        id="url-with-space",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example:99999/"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'https://acme.example:99999/':"
        " not a URL: Port out of range 0-65535",
        id="url-bad-port",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://me:secret@acme.example/"]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: 'https://me:secret@acme.example/'"
        ": must not contain credentials (they would be stored with the evidence); send them"
        " with headers instead",
        id="url-with-credentials",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = [42]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: must be a URL or a table"
        ' { url = "...", label = "..." }, not an integer',
        id="url-item-integer",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = [{ url = "https://acme.example/", lable = "legal" }]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: unknown key 'lable' (did you"
        " mean 'label'?); known keys: url, label",
        id="url-table-unknown-key",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = [{ label = "legal" }]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: a table needs a url key",
        id="url-table-without-url",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = [{ url = "https://acme.example/", label = "impressum" }]\n',
        "watchlist.toml: site #1 \"acme\": key 'urls': item #1: label 'impressum' is not one of"
        " home, about, legal, imprint, regional (did you mean 'imprint'?)",
        id="url-label-unknown",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\ninterval = "6 hours"\n',
        "watchlist.toml: site #1 \"acme\": key 'interval': not a duration like '6h', '15m' or"
        " '1d': '6 hours'",
        id="interval-bad-text",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\ninterval = 0\n',
        "watchlist.toml: site #1 \"acme\": key 'interval': must be greater than 0",
        id="interval-zero",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\ninterval = true\n',
        "watchlist.toml: site #1 \"acme\": key 'interval': must be a duration like '6h', '15m'"
        " or '1d', or a number of seconds",
        id="interval-boolean",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\narchive_interval = "-1d"\n',
        "watchlist.toml: site #1 \"acme\": key 'archive_interval': not a duration like '6h',"
        " '15m' or '1d': '-1d'",
        id="archive-interval-negative",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nheaders = "Accept: */*"\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': must be a table of header names and"
        " values, not a string",
        id="headers-not-table",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nheaders = { "Bad Name" = "x" }\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': 'Bad Name' is not a valid header name",
        id="header-name-invalid",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nheaders = { DNT = 1 }\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': header 'DNT': must be a string, not"
        " an integer",
        id="header-value-integer",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\n'
        'headers = { Cookie = "a=1\\r\\nX-Injected: 1" }\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': header 'Cookie': must be one line"
        " without control characters",
        id="header-value-injection",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\n'
        'headers = { user-agent = "Mozilla/5.0" }\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': set the User-Agent with the user_agent"
        " key, not in headers",
        id="header-user-agent",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\n'
        'headers = { Accept = "a", accept = "b" }\n',
        "watchlist.toml: site #1 \"acme\": key 'headers': header 'accept' is given twice",
        id="header-twice-other-case",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nuser_agent = " "\n',
        "watchlist.toml: site #1 \"acme\": key 'user_agent': must not be empty",
        id="user-agent-empty",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nenabled = "false"\n',
        "watchlist.toml: site #1 \"acme\": key 'enabled': must be true or false, without quotes,"
        " not a string",
        id="enabled-quoted",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\ntags = "ai"\n',
        "watchlist.toml: site #1 \"acme\": key 'tags': must be a list of strings such as"
        ' ["ai", "entity-list"], not a string',
        id="tags-not-list",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\ntags = ["ai", 2021]\n',
        "watchlist.toml: site #1 \"acme\": key 'tags': each tag must be a string, not an integer",
        id="tag-integer",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\nnotes = 2021-08-20\n',
        "watchlist.toml: site #1 \"acme\": key 'notes': must be a string, not a date or time",
        id="notes-date",
    ),
    pytest.param(
        '[[site]]\nid = "acme"\nname = ""\nurls = ["https://acme.example/"]\n',
        "watchlist.toml: site #1 \"acme\": key 'name': must not be empty",
        id="name-empty",
    ),
    pytest.param(
        '[settings]\nintervall = "6h"\n',
        "watchlist.toml: [settings]: key 'intervall': unknown setting (did you mean"
        f" 'interval'?); known settings: {', '.join(sorted(config.SPEC_BY_KEY))}",
        id="settings-unknown-key",
    ),
    pytest.param(
        '[settings]\narchive_interval = "daily"\n',
        "watchlist.toml: [settings]: key 'archive_interval': not a duration like '6h', '15m' or"
        " '1d': 'daily'",
        id="settings-bad-duration",
    ),
    pytest.param(
        "[settings]\narchive_retries = true\n",
        "watchlist.toml: [settings]: key 'archive_retries': must be a number, not true or false",
        id="settings-boolean-for-number",
    ),
    pytest.param(
        "settings = 6\n",
        "watchlist.toml: [settings]: must be a table: write [settings] above its keys",
        id="settings-not-table",
    ),
    pytest.param(
        '[[alert]]\ntype = "slack"\nurl = "https://hooks.example/T0/B0/secret"\n',
        "watchlist.toml: alert #1: key 'type': must be one of webhook, apprise",
        id="alert-unknown-type",
    ),
    pytest.param(
        '[[alert]]\ntype = "webhok"\nurl = "https://hooks.example/T0/B0/secret"\n',
        "watchlist.toml: alert #1: key 'type': must be one of webhook, apprise (did you mean"
        " 'webhook'?)",
        id="alert-type-suggests",
    ),
    pytest.param(
        '[[alert]]\ntype = "webhook"\n',
        "watchlist.toml: alert #1: key 'url': required: every alert needs a url",
        id="alert-without-url",
    ),
    pytest.param(
        '[[alert]]\ntype = "webhook"\nurl = "ftp://hooks.example/secret-token"\n',
        "watchlist.toml: alert #1: key 'url': must be an http:// or https:// URL to POST the"
        " change to",
        id="alert-webhook-not-http",
    ),
    pytest.param(
        '[[alert]]\ntype = "apprise"\nurl = "my secret token"\n',
        "watchlist.toml: alert #1: key 'url': must be an Apprise URL such as"
        " 'mailto://user:password@example.com' or 'tgram://bot-token/chat-id'",
        id="alert-apprise-not-url",
    ),
    pytest.param(
        '[[alert]]\ntype = "webhook"\nurl = "https://hooks.example/"\nsites = ["a"]\n',
        "watchlist.toml: alert #1: key 'sites': unknown key; known keys: type, url, secret",
        id="alert-unknown-key",
    ),
    pytest.param(
        '[[alert]]\ntype = "apprise"\nurl = "json://hooks.example/"\n'
        'secret = "s3cr3t-s3cr3t-s3cr3t"\n',
        "watchlist.toml: alert #1: key 'secret': only webhook alerts are signed; an Apprise URL"
        " carries its own credentials",
        id="alert-secret-on-apprise",
    ),
    pytest.param(
        '[[alert]]\ntype = "webhook"\nurl = "https://hooks.example/"\nsecret = "s3cr3t"\n',
        "watchlist.toml: alert #1: key 'secret': must be a string of at least 16 characters,"
        " such as the output of: python -c 'import secrets; print(secrets.token_hex(32))'",
        id="alert-secret-too-short",
    ),
    pytest.param(
        '[alert]\ntype = "webhook"\nurl = "https://hooks.example/"\n',
        "watchlist.toml: key 'alert': must be an array of tables: write [[alert]], with two"
        " brackets, above each alert",
        id="alert-single-brackets",
    ),
]


@pytest.fixture
def run_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``monitor sites ARGS`` in a folder holding ``watchlist.toml`` with the given text."""
    monkeypatch.chdir(tmp_path)
    for name in config.environ():
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)

    def run(text: str | None, *args: str) -> Result:
        if text is not None:
            (tmp_path / "watchlist.toml").write_text(text, encoding="utf-8")
        return CliRunner().invoke(cli, ["sites", *args], env={"COLUMNS": WIDE_TERMINAL})

    return run


def _error_line(result: Result) -> str:
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), BAD_WATCHLISTS)
def test_bad_watchlist_raises_one_line_naming_file_entry_and_key(text: str, message: str) -> None:
    with pytest.raises(WatchlistError) as caught:
        loads(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "message"), BAD_WATCHLISTS)
def test_sites_command_prints_one_error_line_and_exits_2_on_bad_watchlist(
    run_sites: Callable[..., Result], text: str, message: str
) -> None:
    result = run_sites(text)
    assert result.exit_code == 2
    assert _error_line(result) == f"Error: {message}"


def test_error_carries_file_entry_and_key_as_attributes() -> None:
    with pytest.raises(WatchlistError) as caught:
        loads('[[site]]\nid = "acme"\nurls = []\n', "cases/acme.toml")
    assert (caught.value.path, caught.value.entry, caught.value.key) == (
        "cases/acme.toml",
        'site #1 "acme"',
        "urls",
    )
    assert caught.value.exit_code == 2


def test_alert_url_error_never_quotes_the_secret() -> None:
    with pytest.raises(WatchlistError) as caught:
        loads('[[alert]]\ntype = "webhook"\nurl = "ftp://hooks.example/s3cr3t-t0ken"\n')
    assert "s3cr3t" not in str(caught.value)


def test_missing_file_says_how_to_create_one(run_sites: Callable[..., Result]) -> None:
    result = run_sites(None)
    assert result.exit_code == 2
    assert _error_line(result) == (
        "Error: watchlist.toml: no such file; create it with a [[site]] table giving an id and"
        " urls (the format is in docs/watchlist.md), or pass --watchlist PATH or set"
        " MONITOR_WATCHLIST"
    )


def test_watchlist_option_names_the_missing_file(run_sites: Callable[..., Result]) -> None:
    result = CliRunner().invoke(cli, ["--watchlist", "cases/none.toml", "sites"])
    assert result.exit_code == 2
    assert _error_line(result).startswith("Error: cases/none.toml: no such file; ")


def test_directory_instead_of_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match=r": is a directory, not a file$"):
        load(tmp_path)


def test_file_that_is_not_utf8_is_refused_with_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_bytes(b'[[site]]\nid = "caf\xe9"\n')
    with pytest.raises(WatchlistError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: not UTF-8 text (bad byte at offset 18)"


def test_read_settings_table_reports_bad_toml_with_line(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text("[settings\n", encoding="utf-8")
    with pytest.raises(WatchlistError, match=r"not valid TOML: line 1, column 10: "):
        read_settings_table(path)


# --- what a good watchlist gives -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# only a comment\n", "[settings]\n"],
    ids=["empty", "blank-lines", "comment-only", "settings-only"],
)
def test_watchlist_without_sites_is_valid_and_empty(text: str) -> None:
    assert loads(text).sites == ()


def test_empty_watchlist_lists_no_sites(run_sites: Callable[..., Result]) -> None:
    result = run_sites("")
    assert result.exit_code == 0
    assert "0 sites in watchlist.toml" in result.stdout


def test_file_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SENSETIME.encode())
    assert [site.id for site in load(path).sites] == ["sensetime"]


def test_every_site_key_is_parsed() -> None:
    watchlist = loads(
        """
        [[site]]
        id = "acme-de"
        name = "Acme Deutschland"
        urls = [
            "https://www.acme.example/",
            { url = "https://www.acme.example/impressum", label = "imprint" },
            { url = "https://www.acme.example/about" },
        ]
        interval = "12h"
        archive_interval = 172800
        headers = { "Accept-Language" = "de-DE" }
        user_agent = "Mozilla/5.0 (investigation)"
        enabled = false
        tags = ["manufacturing", "de", "de"]
        notes = '''Two lines
        of notes.'''
        """
    )
    assert watchlist.sites == (
        Site(
            id="acme-de",
            name="Acme Deutschland",
            urls=(
                "https://www.acme.example/",
                "https://www.acme.example/impressum",
                "https://www.acme.example/about",
            ),
            url_labels={"https://www.acme.example/impressum": UrlLabel.IMPRINT},
            interval=43200.0,
            archive_interval=172800.0,
            headers={"Accept-Language": "de-DE"},
            user_agent="Mozilla/5.0 (investigation)",
            enabled=False,
            tags=("manufacturing", "de"),
            notes="Two lines\n        of notes.",
        ),
    )


def test_site_name_defaults_to_its_id() -> None:
    assert loads(SENSETIME.replace('name = "SenseTime"\n', "")).sites[0].name == "sensetime"


def test_sites_keep_file_order() -> None:
    text = SENSETIME + '[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\n'
    assert [site.id for site in loads(text).sites] == ["sensetime", "acme"]


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://www.sensetime.com/", "https://www.sensetime.com/"),
        ("https://www.sensetime.com", "https://www.sensetime.com/"),
        ("HTTPS://WWW.SenseTime.COM/About", "https://www.sensetime.com/About"),
        ("https://a.example:443/x", "https://a.example/x"),
        ("http://a.example:80/x", "http://a.example/x"),
        ("http://a.example:8080/x", "http://a.example:8080/x"),
        ("https://a.example/x?lang=en#footer", "https://a.example/x?lang=en"),
        ("  https://a.example/x  ", "https://a.example/x"),
        ("http://[::1]:8000/", "http://[::1]:8000/"),
        ("https://例子.cn/", "https://例子.cn/"),
    ],
    ids=[
        "already-normal",
        "empty-path",
        "scheme-and-host-case",
        "default-https-port",
        "default-http-port",
        "other-port-kept",
        "fragment-dropped-query-kept",
        "surrounding-space",
        "ipv6-literal",
        "unicode-host",
    ],
)
def test_normalize_url_gives_one_spelling_per_resource(url: str, normal: str) -> None:
    assert normalize_url(url) == normal


@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "HTTPS"]),
    host=st.from_regex(
        r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?(\.[A-Za-z]{2,6}){1,2}", fullmatch=True
    ),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=st.from_regex(r"(/[A-Za-z0-9._~%-]{0,8}){0,3}", fullmatch=True),
    query=st.from_regex(r"(\?[a-z]=[0-9]{1,3})?", fullmatch=True),
)
def test_normalizing_a_url_twice_equals_once(
    scheme: str, host: str, port: int | None, path: str, query: str
) -> None:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}{query}"
    once = normalize_url(url)
    assert normalize_url(once) == once


def test_alerts_are_parsed_and_repr_hides_their_urls() -> None:
    watchlist = loads(
        """
        [[alert]]
        type = "webhook"
        url = "https://hooks.example/T0/B0/s3cr3t"

        [[alert]]
        type = "apprise"
        url = "tgram://123456:s3cr3t/987654"
        """
    )
    assert watchlist.alerts == (
        AlertTarget(AlertType.WEBHOOK, "https://hooks.example/T0/B0/s3cr3t"),
        AlertTarget(AlertType.APPRISE, "tgram://123456:s3cr3t/987654"),
    )
    assert "s3cr3t" not in repr(watchlist)


def test_webhook_secret_is_kept_out_of_repr() -> None:
    watchlist = loads(
        '[[alert]]\ntype = "webhook"\nurl = "https://hooks.example/"\n'
        'secret = "0123456789abcdef-s3cr3t"\n'
    )
    assert watchlist.alerts[0].secret == "0123456789abcdef-s3cr3t"
    assert "s3cr3t" not in repr(watchlist)


def test_settings_are_kept_raw_and_read_only() -> None:
    watchlist = loads('[settings]\ninterval = "2h"\n')
    assert dict(watchlist.settings) == {"interval": "2h"}
    with pytest.raises(TypeError):
        watchlist.settings["interval"] = "1h"  # type: ignore[index]


def test_read_settings_table_returns_the_raw_table(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text("[settings]\narchive_cdx_rate = 0.1\n" + SENSETIME, encoding="utf-8")
    assert read_settings_table(path) == {"archive_cdx_rate": 0.1}


def test_sites_are_hashable_despite_their_mappings() -> None:
    site = loads(SENSETIME).sites[0]
    assert {site, site} == {site}


@pytest.mark.parametrize(
    ("own", "expected"),
    [(None, 7200.0), (600.0, 600.0)],
    ids=["default-from-settings", "own-interval"],
)
def test_site_interval_falls_back_to_settings(own: float | None, expected: float) -> None:
    site = Site(id="a", name="A", urls=("https://a.example/",), interval=own)
    assert site.check_interval(config.Settings(interval=7200.0)) == expected


# --- find_sites ------------------------------------------------------------------------------

THREE_SITES = Watchlist(
    path=Path("watchlist.toml"),
    sites=(
        Site(id="sensetime", name="SenseTime", urls=("https://www.sensetime.com/",)),
        Site(id="acme", name="Acme", urls=("https://acme.example/",), enabled=False),
        Site(id="csdn", name="CSDN", urls=("https://www.csdn.net/",)),
    ),
)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ((), ["sensetime", "csdn"]),
        (("csdn", "sensetime"), ["csdn", "sensetime"]),
        (("acme",), ["acme"]),
        (("csdn", "csdn"), ["csdn"]),
    ],
    ids=["none-means-enabled", "order-given", "named-disabled-site", "repeated-id-once"],
)
def test_find_sites_returns_named_sites_or_all_enabled(
    ids: tuple[str, ...], expected: list[str]
) -> None:
    assert [site.id for site in find_sites(THREE_SITES, ids)] == expected


def test_find_sites_names_unknown_ids_and_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        find_sites(THREE_SITES, ["sensetim", "nobody"])
    assert str(caught.value) == (
        "unknown site ids 'sensetim' (did you mean 'sensetime'?), 'nobody'; watchlist.toml has"
        " sensetime, acme, csdn"
    )


def test_find_sites_shortens_a_long_list_of_known_ids() -> None:
    many = Watchlist(
        path=Path("big.toml"),
        sites=tuple(
            Site(id=f"s{n}", name="S", urls=(f"https://s{n}.example/",)) for n in range(25)
        ),
    )
    with pytest.raises(UsageError, match=r"big.toml has s0, s1, .*, s19 and 5 more$"):
        find_sites(many, ["zzz"])


def test_find_sites_in_an_empty_watchlist_says_so() -> None:
    with pytest.raises(UsageError, match=r"^unknown site id 'acme': watchlist.toml has no sites$"):
        find_sites(Watchlist(path=Path("watchlist.toml")), ["acme"])


# --- monitor sites ---------------------------------------------------------------------------

TWO_SITES = """
[settings]
interval = "2h"

[[site]]
id = "sensetime"
name = "SenseTime"
urls = [
    "https://www.sensetime.com/",
    { url = "https://www.sensetime.com/en/legal", label = "legal" },
]
tags = ["entity-list"]
headers = { Cookie = "session=s3cr3t" }

[[site]]
id = "acme"
name = "Acme"
urls = ["https://acme.example/"]
interval = "30m"
enabled = false
"""


def test_sites_table_shows_ids_urls_labels_and_intervals(run_sites: Callable[..., Result]) -> None:
    result = run_sites(TWO_SITES)
    assert result.exit_code == 0
    rows = [re.sub(r"\s*│\s*", "|", line).strip("|") for line in result.stdout.splitlines()]
    assert "2 sites in watchlist.toml" in result.stdout
    assert "sensetime|SenseTime|2h|1d|https://www.sensetime.com/|entity-list" in rows
    assert "https://www.sensetime.com/en/legal (legal)" in rows
    assert "acme|Acme (disabled)|30m|1d|https://acme.example/" in rows
    assert "s3cr3t" not in result.stdout


def test_sites_json_lists_each_site_with_intervals_in_force(
    run_sites: Callable[..., Result],
) -> None:
    result = run_sites(TWO_SITES, "--json")
    assert result.exit_code == 0
    sensetime, acme = json.loads(result.stdout)
    assert sensetime == {
        "id": "sensetime",
        "name": "SenseTime",
        "enabled": True,
        "urls": [
            {"url": "https://www.sensetime.com/", "label": None},
            {"url": "https://www.sensetime.com/en/legal", "label": "legal"},
        ],
        "interval": 7200.0,
        "archive_interval": 86400.0,
        "user_agent": None,
        "headers": ["Cookie"],
        "tags": ["entity-list"],
        "notes": "",
    }
    assert (acme["id"], acme["enabled"], acme["interval"]) == ("acme", False, 1800.0)


def test_sites_shows_only_the_ids_named(run_sites: Callable[..., Result]) -> None:
    result = run_sites(TWO_SITES, "acme", "--json")
    assert result.exit_code == 0
    assert [site["id"] for site in json.loads(result.stdout)] == ["acme"]


def test_sites_refuses_an_unknown_id_with_exit_2(run_sites: Callable[..., Result]) -> None:
    result = run_sites(TWO_SITES, "acmee")
    assert result.exit_code == 2
    assert _error_line(result) == (
        "Error: unknown site id 'acmee' (did you mean 'acme'?); watchlist.toml has sensetime, acme"
    )


def test_sites_help_ends_with_an_example() -> None:
    result = CliRunner().invoke(cli, ["sites", "--help"])
    assert result.exit_code == 0
    assert re.search(r"Example:\n\s+monitor sites\n", result.stdout)


# --- the example watchlist and the format reference -----------------------------------------


def test_example_watchlist_loads_with_the_url_kinds_it_shows() -> None:
    example = load(ROOT / "watchlist.toml")
    by_id = {site.id: site for site in example.sites}
    labels = {label for site in example.sites for label in site.url_labels.values()}
    assert {"sensetime", "heizung-de", "csdn"} <= set(by_id)
    assert UrlLabel.LEGAL in by_id["sensetime"].url_labels.values()
    assert set(UrlLabel) == labels
    assert example.alerts == ()  # the examples stay commented out: no deliveries to nowhere


def _toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def test_every_toml_example_in_the_format_reference_loads() -> None:
    blocks = _toml_blocks((ROOT / "docs" / "watchlist.md").read_text(encoding="utf-8"))
    assert blocks
    for block in blocks:
        loads(block, "docs/watchlist.md")


@pytest.mark.parametrize(
    "name",
    [*SITE_KEYS, *ALERT_KEYS, *UrlLabel, *AlertType, *config.SPEC_BY_KEY],
)
def test_format_reference_documents_every_key_and_value(name: str) -> None:
    assert f"`{name}`" in (ROOT / "docs" / "watchlist.md").read_text(encoding="utf-8")


# --- robustness ------------------------------------------------------------------------------

LINES = [
    "[[site]]",
    "[[alert]]",
    "[settings]",
    "[site]",
    'id = "acme"',
    'id = "Acme"',
    "id = 3",
    'urls = ["https://acme.example/"]',
    'urls = ["https://acme.example/", { url = "https://acme.example/legal", label = "legal" }]',
    'urls = "https://acme.example/"',
    "urls = []",
    'interval = "6h"',
    "interval = -1",
    "enabled = false",
    'headers = { Accept = "x" }',
    'type = "webhook"',
    'url = "https://hooks.example/"',
    'url = "nope"',
    'archive_cdx_rate = "fast"',
    "archive_retries = 3",
    'notes = """',
    "x = [",
    "",
]


def _load_or_message(text: str) -> Watchlist | str:
    try:
        return loads(text)
    except WatchlistError as exc:
        return str(exc)


@given(st.lists(st.sampled_from(LINES), max_size=12))
def test_any_watchlist_loads_or_fails_with_one_line(lines: list[str]) -> None:
    outcome = _load_or_message("\n".join(lines))
    if isinstance(outcome, str):
        assert "\n" not in outcome
        assert outcome.startswith("watchlist.toml: ")
    else:
        assert all(site.urls for site in outcome.sites)
