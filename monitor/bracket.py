"""The bracketing planner: which captures to read so that every change sits between two
adjacent readable captures, reading as few as the archive's listing allows.

Pure: it sees the CDX listing (times and digests) and the values the caller observed, and
says which rows to read next; the caller fetches, extracts and stores (:mod:`monitor.backfill`).
It has its own module because it imports neither the archive client nor the store, so it can
be tested and benchmarked on thousands of rows without a server or a database, and because
:mod:`monitor.compare` is about two pages, not about a timeline.

How it reads a timeline:

1. **Runs.**  Adjacent rows with the same digest hold the same bytes (the digest is the
   archive's hash of the payload), so one read of a run's first row stands for all its rows.
2. **Samples.**  The timeline is cut into windows of ``spacing`` from its first capture; in
   each window the run holding the window's first row is read (if it is unreadable, the next
   run in the window), and so is the last readable run.  A value shown for longer than
   ``spacing`` therefore always holds a sample, and cannot be missed.  Without a spacing
   (``--dense``) every run is read.
3. **Bisection.**  Between two readable runs whose values differ, the middle run not yet read
   is read, until the two runs are adjacent but for unreadable ones.
4. **The old value's last capture.**  The bracket's ``before`` is the *last* row of the run
   showing the old value, so that row is read too (one read per change) and the evidence
   names bytes actually received, never bytes inferred from a digest.  Should it not show the
   run's value after all, the run is no longer trusted and its rows are bisected one by one.

A value that appears and goes again between two samples showing the same value, within less
than ``spacing``, is not seen: that is the price of sampling, and ``--dense`` does not pay it.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Listed(Protocol):
    """What the planner needs of a listed capture (a :class:`monitor.cdx.CdxRow` fits)."""

    @property
    def captured_at(self) -> datetime: ...

    @property
    def digest(self) -> str: ...


@dataclass(frozen=True)
class Bracket:
    """A change between two rows (indexes into the listing): ``before`` is the last row showing
    the old value, ``after`` the first showing the new one; only unreadable rows lie between."""

    before: int
    after: int


class Planner:
    """Plans the reads of one URL's listing.  Call :meth:`wanted`, read those rows, report each
    with :meth:`observe`, and repeat until :meth:`wanted` is empty; then :meth:`brackets`.

    Rows must be in strictly increasing time order (one row per capture time).  Values are any
    hashable standing for a page's compared facts (:func:`monitor.compare.fingerprint`); equal
    values mean no change.  None stands for an unreadable capture.
    """

    def __init__(self, rows: Sequence[Listed], spacing: timedelta | None = None) -> None:
        if spacing is not None and spacing <= timedelta(0):
            raise ValueError(f"the sample spacing must be positive, not {spacing}")
        self._times = [row.captured_at for row in rows]
        if any(a >= b for a, b in zip(self._times, self._times[1:], strict=False)):
            raise ValueError("listed rows must be in strictly increasing time order")
        self._spacing = spacing
        self._runs = _runs([row.digest for row in rows])
        self._run_of = _run_index(self._runs)
        self._seen: dict[int, Hashable | None] = {}

    @property
    def runs(self) -> int:
        """How many runs of identical captures the listing holds (splits included)."""
        return len(self._runs)

    def wanted(self) -> tuple[int, ...]:
        """The rows to read next, oldest first; empty when every change is bracketed."""
        return tuple(sorted(self._sampling() or self._bisecting()))

    def observe(self, row: int, value: Hashable | None) -> None:
        """Report what row ``row`` showed: its value, or None if it could not be read."""
        if row in self._seen:
            raise ValueError(f"row {row} was observed already")
        self._seen[row] = value
        run_index = self._run_of[row]
        run = self._runs[run_index]
        if row != run.start and run.start in self._seen and self._seen[run.start] != value:
            self._split(run_index)

    def brackets(self) -> tuple[Bracket, ...]:
        """The changes bracketed so far, oldest first; all of them once :meth:`wanted` is empty."""
        found = []
        for before, after, unknown in self._differing_pairs():
            tail = self._runs[before].stop - 1
            if not unknown and tail in self._seen:
                found.append(Bracket(tail, self._runs[after].start))
        return tuple(found)

    # --- planning ------------------------------------------------------------------------

    def _sampling(self) -> set[int]:
        """Run heads still to read for the samples (every run's, without a spacing)."""
        if self._spacing is None:
            return {run.start for run in self._runs if run.start not in self._seen}
        starts = self._window_starts(self._spacing)
        wants = set()
        for number, first in enumerate(starts):
            stop = starts[number + 1] if number + 1 < len(starts) else len(self._runs)
            wants |= self._first_readable(range(first, stop))
        return wants | self._first_readable(reversed(range(len(self._runs))))

    def _window_starts(self, spacing: timedelta) -> list[int]:
        """The run holding the first row of each non-empty window, in order, once each."""
        starts: list[int] = []
        row = 0
        while row < len(self._times):
            run_index = self._run_of[row]
            if not starts or starts[-1] != run_index:
                starts.append(run_index)
            # Jump straight to the next window that holds a row: empty windows cost nothing.
            window = (self._times[row] - self._times[0]) // spacing + 1
            row = bisect.bisect_left(self._times, self._times[0] + window * spacing)
        return starts

    def _first_readable(self, run_indexes: Iterable[int]) -> set[int]:
        """The head to read to find the first readable run among ``run_indexes`` (or none)."""
        for run_index in run_indexes:
            head = self._runs[run_index].start
            if head not in self._seen:
                return {head}
            if self._seen[head] is not None:
                return set()
        return set()

    def _bisecting(self) -> set[int]:
        """For each pair of differing readable runs: the middle unread run between them, or,
        once they are adjacent, the last row of the older run."""
        wants = set()
        for before, _after, unknown in self._differing_pairs():
            if unknown:
                wants.add(self._runs[unknown[len(unknown) // 2]].start)
            elif self._runs[before].stop - 1 not in self._seen:
                wants.add(self._runs[before].stop - 1)
        return wants

    def _differing_pairs(self) -> Iterable[tuple[int, int, list[int]]]:
        """Consecutive readable runs with different values, and the unread runs between."""
        previous: int | None = None
        unknown: list[int] = []
        for run_index, run in enumerate(self._runs):
            if run.start not in self._seen:
                unknown.append(run_index)
                continue
            value = self._seen[run.start]
            if value is None:
                continue
            if previous is not None and self._seen[self._runs[previous].start] != value:
                yield previous, run_index, unknown
            previous, unknown = run_index, []

    def _split(self, run_index: int) -> None:
        """Stop trusting a run's digest: each of its rows becomes a run of its own."""
        run = self._runs[run_index]
        self._runs[run_index : run_index + 1] = [range(row, row + 1) for row in run]
        self._run_of = _run_index(self._runs)


def _runs(digests: Sequence[str]) -> list[range]:
    """Maximal ranges of adjacent rows with the same digest."""
    runs: list[range] = []
    start = 0
    for index in range(1, len(digests) + 1):
        if index == len(digests) or digests[index] != digests[start]:
            runs.append(range(start, index))
            start = index
    return runs


def _run_index(runs: Sequence[range]) -> list[int]:
    return [run_index for run_index, run in enumerate(runs) for _ in run]
