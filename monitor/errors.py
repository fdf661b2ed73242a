"""Every error this tool raises on purpose.

The tree::

    MonitorError                    anything the CLI turns into one ``Error: ...`` line
    ├── UsageError                  bad option values or combinations (exit 2)
    ├── ConfigError                 configuration that cannot be used (exit 2)
    │   └── WatchlistError          watchlist.toml is unreadable or has a bad entry/key (exit 2)
    ├── InputError                  a page or file given to a command cannot be read
    │   └── ScreeningListError      a screening list file has an unknown format or a bad row
    ├── FetchError                  a live page could not be fetched
    ├── ArchiveError                the Wayback Machine did not give what was asked
    │   ├── ArchiveRateLimited      the archive answered 429; everything pauses
    │   ├── ArchiveUnavailable      5xx or timeouts outlasted the retries
    │   ├── NotArchived             no capture exists for this URL and time
    │   ├── BlockedSite             the archive excludes this site
    │   ├── NotAMemento             a response without Memento-Datetime (an archive page)
    │   └── RedirectLoop            archived redirects lead back to themselves
    └── StoreError                  the evidence store cannot be opened or written
        └── IntegrityError          stored bytes do not match their recorded hash

Each exception builds its message from its attributes, so a caller that catches one can
also read the URL, file or key it is about.  Third-party exceptions are wrapped where they
cross into this package (``raise FetchError(...) from exc``).
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error raised on purpose; the CLI prints its message on one line."""

    exit_code = 1


class UsageError(MonitorError):
    """An option's value or a combination of options makes no sense; fix the command line."""

    exit_code = 2


class ConfigError(MonitorError):
    """A setting (flag, ``MONITOR_*`` variable or ``[settings]`` key) has a bad value."""

    exit_code = 2

    def __init__(self, name: str, value: object, why: str) -> None:
        self.name = name
        self.value = value
        self.why = why
        super().__init__(f"setting {name}={value!r}: {why}")


class WatchlistError(ConfigError):
    """watchlist.toml cannot be used; the message names the file, the entry and the key."""

    def __init__(self, path: str, why: str, entry: str | None = None, key: str | None = None):
        self.path = path
        self.entry = entry
        self.key = key
        where = path
        if entry is not None:
            where += f": {entry}"
        if key is not None:
            where += f": key {key!r}"
        MonitorError.__init__(self, f"{where}: {why}")
        self.name = key or ""
        self.value = None
        self.why = why


class InputError(MonitorError):
    """A file or page given on the command line cannot be read at all."""

    def __init__(self, source: str, why: str) -> None:
        self.source = source
        self.why = why
        super().__init__(f"{source}: {why}")


class ScreeningListError(InputError):
    """A screening list file cannot be imported: not a Consolidated Screening List or
    OpenSanctions file, or a row the importer cannot read.  The message names the file and
    the row (``line 12`` of a CSV, ``results[3]`` of a JSON file); fix or re-download it."""

    def __init__(self, path: str, why: str, row: str | None = None) -> None:
        super().__init__(path if row is None else f"{path}: {row}", why)
        self.path = path
        self.row = row


class FetchError(MonitorError):
    """A live URL could not be fetched (network error, timeout, too large, bad status)."""

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"{url}: {why}")


class ArchiveError(MonitorError):
    """The Wayback Machine did not give what was asked; subclasses say why."""

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"{url}: {why}")


class ArchiveRateLimited(ArchiveError):
    """The archive answered 429: every archive request has been paused; retry later."""


class ArchiveUnavailable(ArchiveError):
    """Server errors or timeouts outlasted the retries; the archive may be down."""


class NotArchived(ArchiveError):
    """The archive holds no capture for this URL and time; nothing to retry."""


class BlockedSite(ArchiveError):
    """The archive excludes this site from playback; nothing to retry."""


class NotAMemento(ArchiveError):
    """The response lacks Memento-Datetime: it is an archive page, never the site's content."""


class RedirectLoop(ArchiveError):
    """Archived redirects lead back to a capture already visited."""


class StoreError(MonitorError):
    """The evidence store cannot be opened, migrated or written."""


class IntegrityError(StoreError):
    """Stored bytes no longer match the SHA-256 recorded for them."""
