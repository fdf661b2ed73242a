"""Read ``watchlist.toml``: the companies to watch, their URLs and the ``[settings]`` table."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from monitor.errors import WatchlistError


def read_settings_table(path: Path) -> dict[str, Any]:
    """The raw ``[settings]`` table of a watchlist (validated by :mod:`monitor.config`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WatchlistError(str(path), f"not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchlistError(str(path), f"cannot be read: {exc}") from exc
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise WatchlistError(str(path), "must be a table", "[settings]")
    return settings
