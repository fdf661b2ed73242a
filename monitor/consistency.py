"""Whether a site's pages agree on who runs it: the ``inconsistent`` kind.

A company often names its operator on several pages (home, legal notice, regional
versions).  When captures of two of its URLs taken on the same day (UTC) name different
operators, the site is inconsistent that day: a footer updated on one page and not yet on
another, or a regional subsidiary named on its own pages.

Decided at read time, from the stored captures' facts, never recorded as a change: a change
is one URL's value before and after, bracketed by two captures of that URL, while an
inconsistency sets two URLs against each other at one time.  Reading it from the store each
time is idempotent by construction and sees every capture as soon as it is stored.

Per site and day, each URL's last capture that names an operator stands for the URL, so a
page that changed during the day is read as it ended the day.  A day on which the URLs name
more than one operator (by ``names.compare_key``) is inconsistent; consecutive such days
with the same operators in disagreement (no agreeing day between them) make one
:class:`Inconsistency`, reported with the readings of its first day.  Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from monitor.classify import Classification, classify
from monitor.names import compare_key

__all__ = ["Inconsistency", "PageReading", "find_inconsistencies"]


@dataclass(frozen=True, slots=True)
class PageReading:
    """The operator one readable capture of a site's URL names."""

    site_id: str
    url: str
    capture_id: int
    captured_at: datetime
    operator: str

    @property
    def day(self) -> date:
        """The capture's UTC day (the store's times are UTC)."""
        return self.captured_at.date()


@dataclass(frozen=True, slots=True)
class Inconsistency:
    """Days on which a site's pages named different operators.

    ``pages`` are the readings of the first day, one per URL, by URL; ``before`` and
    ``after`` the first of them and the first naming another operator, for listings that
    show a pair; ``classification`` compares those two names.
    """

    site_id: str
    first_day: date
    last_day: date
    days: int
    pages: tuple[PageReading, ...]
    before: PageReading
    after: PageReading
    classification: Classification

    @property
    def explanation(self) -> str:
        """One line: which pages disagreed, when, and how their names differ."""
        span = self.first_day.isoformat()
        if self.days > 1:
            span += f" to {self.last_day.isoformat()} ({self.days} days)"
        operators = len({compare_key(page.operator) for page in self.pages})
        return (
            f"inconsistent: {len(self.pages)} pages named {operators} operators on {span}; "
            f"{self.classification.explanation}"
        )

    def to_json(self, captures: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
        """The inconsistency as ``monitor changes --json`` lists it beside the changes: the
        keys of a change where they apply (``before``/``after`` are the two disagreeing
        captures, from ``captures`` by id), ``id`` and ``url`` null, and the pages."""
        return {
            "id": None,
            "site": self.site_id,
            "url": None,
            "field": "operator",
            "kind": "inconsistent",
            "old": self.before.operator,
            "new": self.after.operator,
            "before": dict(captures[self.before.capture_id]),
            "after": dict(captures[self.after.capture_id]),
            "explanation": self.explanation,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.days,
            "pages": [
                {"url": page.url, "operator": page.operator, "capture_id": page.capture_id}
                for page in self.pages
            ],
        }


def find_inconsistencies(readings: Iterable[PageReading]) -> tuple[Inconsistency, ...]:
    """Every run of days on which a site's pages disagreed, by site and first day."""
    by_day: dict[tuple[str, date], dict[str, PageReading]] = {}
    for reading in sorted(readings, key=lambda r: (r.captured_at, r.capture_id)):
        by_day.setdefault((reading.site_id, reading.day), {})[reading.url] = reading
    found: list[Inconsistency] = []
    current: Inconsistency | None = None
    current_keys: frozenset[str] = frozenset()
    for site_id, day in sorted(by_day):
        pages = tuple(by_day[(site_id, day)][url] for url in sorted(by_day[(site_id, day)]))
        if len(pages) < 2:
            continue  # nothing to compare with: neither agreement nor disagreement
        keys = frozenset(compare_key(page.operator) for page in pages)
        if current is not None and (current.site_id, current_keys) == (site_id, keys):
            found[-1] = current = _extended(current, day)
        elif len(keys) > 1:
            current, current_keys = _started(site_id, day, pages), keys
            found.append(current)
        else:
            current = None
    return tuple(found)


def _started(site_id: str, day: date, pages: tuple[PageReading, ...]) -> Inconsistency:
    before = pages[0]
    after = next(p for p in pages if compare_key(p.operator) != compare_key(before.operator))
    classification = classify("operator", before.operator, after.operator)
    return Inconsistency(site_id, day, day, 1, pages, before, after, classification)


def _extended(run: Inconsistency, day: date) -> Inconsistency:
    return replace(run, last_day=day, days=run.days + 1)
