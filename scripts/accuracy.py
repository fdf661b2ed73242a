"""Print the extractor's accuracy on the labelled footer corpus.

One row per labelled page (expected operator, operator found, ok), then operator accuracy,
labelled registrations found and entity recall, then what is wrong on each failing page.
Pages are judged exactly as tests/test_extract_corpus.py judges them (tests/corpus.py): an
operator is right when it is one of the label's spellings after NFKC, whitespace folding and
casefolding, and, where the label asks, the parent or second entity it names was found too.

Usage, from the repository root:

    python scripts/accuracy.py
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

# Run as a script: the corpus loader lives beside the tests, the package at the root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import (
    Label,
    entity_names,
    load_labels,
    operator_problems,
    registration_problem,
    wanted_entities,
)

from monitor.extract import EXTRACTOR_VERSION, extract
from monitor.facts import Facts

NAME_WIDTH = 36


def _width(text: str) -> int:
    """Display width in a terminal: wide and fullwidth characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(text: str, width: int) -> str:
    """``text`` cut and padded to ``width`` display columns."""
    while _width(text) > width:
        text = text[:-2] + "…"
    return text + " " * (width - _width(text))


def _expected(label: Label) -> str:
    expected = label.operator
    if expected.names:
        return " | ".join(expected.names)
    return f"(none; parent {', '.join(expected.parents)})"


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def report(results: list[tuple[Label, Facts]]) -> list[str]:
    """The printed lines: the per-page table, the three figures and the failures."""
    lines = [f"{_cell('file', 28)} {_cell('expected', NAME_WIDTH)} {_cell('got', NAME_WIDTH)} ok"]
    failures = []
    for label, facts in results:
        problems = operator_problems(label, facts)
        got = facts.operator if facts.operator is not None else "(none)"
        lines.append(
            f"{_cell(label.file, 28)} {_cell(_expected(label), NAME_WIDTH)} "
            f"{_cell(got, NAME_WIDTH)} {'yes' if not problems else 'NO'}"
        )
        failures += [f"  {label.file}: {problem}" for problem in problems]
        missing = wanted_entities(label) - entity_names(facts)
        failures += [f"  {label.file}: entity {name!r} not found" for name in sorted(missing)]
    operators_right = sum(not operator_problems(label, facts) for label, facts in results)
    registrations = [
        (expected, registration_problem(expected, facts))
        for label, facts in results
        for expected in label.expected_registrations
    ]
    failures += [f"  registration: {problem}" for _, problem in registrations if problem]
    wanted = sum(len(wanted_entities(label)) for label, _ in results)
    found = sum(len(wanted_entities(label) & entity_names(facts)) for label, facts in results)
    return [
        *lines,
        "",
        f"extractor {EXTRACTOR_VERSION}",
        f"operator right:       {_percent(operators_right, len(results))}",
        f"registrations found:  {sum(p is None for _, p in registrations)}/{len(registrations)}",
        f"entity recall:        {_percent(found, wanted)}",
        *(["", "failures:", *failures] if failures else []),
    ]


def main() -> int:
    """Extract every labelled page and print the report."""
    results = [(label, extract(label.path.read_bytes())) for label in load_labels()]
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
