"""The bracketing planner on timelines written as strings: one letter a capture's value, ``.``
an unreadable capture; equal adjacent letters share a digest unless told otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.bracket import Bracket, Planner

START = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Row:
    captured_at: datetime
    digest: str


@dataclass(frozen=True)
class Outcome:
    brackets: tuple[Bracket, ...]
    reads: list[int]


def rows_of(values: str, digests: list[str] | None = None, step: timedelta = HOUR) -> list[Row]:
    """Rows an hour apart; by default adjacent equal values share a digest."""
    if digests is None:
        digests, run = [], 0
        for index, value in enumerate(values):
            run += index > 0 and value != values[index - 1]
            digests.append(f"d{run}")
    return [Row(START + index * step, digest) for index, digest in enumerate(digests)]


def plan(
    values: str,
    spacing: timedelta | None,
    digests: list[str] | None = None,
    *,
    shown: str | None = None,
) -> Outcome:
    """Run the planner to the end; ``shown`` is what each row really shows (default: values)."""
    shown = shown or values
    planner = Planner(rows_of(values, digests), spacing)
    reads: list[int] = []
    while wanted := planner.wanted():
        for index in wanted:
            reads.append(index)
            planner.observe(index, None if shown[index] == "." else shown[index])
    return Outcome(planner.brackets(), reads)


def reference(values: str) -> tuple[Bracket, ...]:
    """Every change between adjacent readable captures, found by reading them all."""
    found, previous = [], None
    for index, value in enumerate(values):
        if value == ".":
            continue
        if previous is not None and values[previous] != value:
            found.append(Bracket(previous, index))
        previous = index
    return tuple(found)


CASES = [
    pytest.param("AAAAAAAABBBBBBBB", id="one-change"),
    pytest.param("AAAAAAAABBBBBBBBBBBBBBBBAAAAAAAAA", id="reverted"),
    pytest.param("AAAAAAAA....BBBBBBBB", id="unreadable-between"),
    pytest.param(".AAAAAAA.AAA.BBB.BBBB.", id="unreadable-at-the-ends-and-samples"),
    pytest.param("ABBBBBBBBBBBBBBBBBBB", id="change-after-the-first-capture"),
    pytest.param("AAAAAAAAAAAAAAAAAAAB", id="change-at-the-last-capture"),
    pytest.param("AAAABBBBCCCCDDDDAAAA", id="several-changes"),
    pytest.param("AAAAAAAAAAAAAAAAAAAA", id="no-change"),
    pytest.param("....................", id="nothing-readable"),
    pytest.param("A", id="one-capture"),
    pytest.param("", id="no-capture"),
]


@pytest.mark.parametrize("values", CASES)
@pytest.mark.parametrize("spacing", [None, 3 * HOUR], ids=["dense", "sampled"])
def test_every_change_is_bracketed_between_adjacent_readable_captures(
    values: str, spacing: timedelta | None
) -> None:
    assert plan(values, spacing).brackets == reference(values)


def test_a_change_shorter_than_the_spacing_between_equal_samples_is_missed() -> None:
    values = "A" * 10 + "BB" + "A" * 10  # B lasts 1 h; samples every 12 h
    assert plan(values, 12 * HOUR).brackets == ()
    assert plan(values, None).brackets == reference(values)


def test_before_is_the_last_capture_of_a_run_of_identical_captures() -> None:
    outcome = plan("AAAAAAAAAABBBBBBBBBB", 100 * HOUR)
    assert outcome.brackets == (Bracket(9, 10),)
    assert 9 in outcome.reads  # read, so the evidence names bytes actually received
    assert not set(outcome.reads) & set(range(1, 9))  # the rest of the run needs no read


def test_a_run_whose_last_capture_shows_otherwise_is_bisected_row_by_row() -> None:
    # One digest for ten rows, but rows 6-9 show B: the digest grouping was wrong.
    outcome = plan("AAAAAAAAAABBBB", None, ["d0"] * 10 + ["d1"] * 4, shown="AAAAAABBBBBBBB")
    assert outcome.brackets == (Bracket(5, 6),)


def test_an_unreadable_last_capture_of_a_run_moves_before_to_the_last_readable_one() -> None:
    outcome = plan("AAAAAAAABBBB", None, ["d0"] * 8 + ["d1"] * 4, shown="AAAAAA..BBBB")
    assert outcome.brackets == (Bracket(5, 8),)


def test_sampling_reads_a_small_share_of_a_long_timeline() -> None:
    values = "A" * 3000 + "B" * 3000 + "C" * 4000  # distinct captures: every digest differs
    digests = [f"d{index}" for index in range(len(values))]
    outcome = plan(values, timedelta(days=30), digests)
    assert outcome.brackets == reference(values)
    assert len(outcome.reads) < 0.02 * len(values)


def test_unsorted_or_duplicate_times_are_refused() -> None:
    rows = rows_of("AB")
    with pytest.raises(ValueError, match="increasing"):
        Planner([rows[1], rows[0]])
    with pytest.raises(ValueError, match="increasing"):
        Planner([rows[0], rows[0]])


def test_a_spacing_must_be_positive_and_a_row_observed_once() -> None:
    with pytest.raises(ValueError, match="positive"):
        Planner(rows_of("AB"), timedelta(0))
    planner = Planner(rows_of("AB"))
    planner.observe(0, "A")
    with pytest.raises(ValueError, match="observed already"):
        planner.observe(0, "A")


@st.composite
def timelines(draw: st.DrawFn, min_segment: int = 1) -> tuple[str, list[str]]:
    """Values of segments at least ``min_segment`` long (unreadable captures inside), and
    digests that group some equal adjacent values."""
    values = ""
    for _ in range(draw(st.integers(1, 6))):
        letter = draw(st.sampled_from("ABC"))
        length = draw(st.integers(min_segment, min_segment + 12))
        holes = draw(st.lists(st.booleans(), min_size=length, max_size=length))
        # A segment's first and last captures stay readable so its length is what it shows.
        values += "".join(
            "." if hole and 0 < i < length - 1 else letter for i, hole in enumerate(holes)
        )
    digests, run = [], 0
    for index, value in enumerate(values):
        same = index > 0 and value == values[index - 1] and value != "."
        run += not (same and draw(st.booleans()))
        digests.append(f"d{run}")
    return values, digests


@settings(max_examples=300)
@given(timelines())
def test_dense_reading_brackets_every_change(timeline: tuple[str, list[str]]) -> None:
    values, digests = timeline
    assert plan(values, None, digests).brackets == reference(values)


@settings(max_examples=300)
@given(timelines(min_segment=8), st.integers(1, 6))
def test_no_change_lasting_longer_than_the_spacing_is_missed(
    timeline: tuple[str, list[str]], spacing_hours: int
) -> None:
    values, digests = timeline  # every value lasts at least 7 hours, the spacing at most 6
    assert plan(values, spacing_hours * HOUR, digests).brackets == reference(values)


@settings(max_examples=300)
@given(timelines(), st.integers(1, 30))
def test_every_bracket_found_is_a_true_adjacent_change(
    timeline: tuple[str, list[str]], spacing_hours: int
) -> None:
    values, digests = timeline
    assert set(plan(values, spacing_hours * HOUR, digests).brackets) <= set(reference(values))
