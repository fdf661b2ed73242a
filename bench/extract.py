"""Time the extractor over the footer corpus against a bare lxml parse of the same bytes.

Every page in tests/data/footers (labelled and unlabelled) is extracted and parsed
``--repeat`` times; each page's median counts.  The ratio extraction / parse says what the
extractor costs beyond reading the HTML at all; the target is at most 2x.

Usage, from the repository root:

    python bench/extract.py --repeat 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Run as a script: the corpus loader lives beside the tests, the package at the root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lxml.html
from corpus import all_pages

from monitor.extract import EXTRACTOR_VERSION, extract

TARGET_RATIO = 2.0
DEFAULT_REPEAT = 5
WORST_SHOWN = 5
# A bare parse that serialises back to less than this share of the page's bytes stopped early
# (jp-elecom: a Shift_JIS declaration over ASCII content makes libxml2 give up), so its time is
# no floor for that page and the page's ratio overstates the extractor's cost.
CUT_SHORT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Timing:
    """One page's median times, in seconds."""

    page: str
    size: int
    extract_s: float
    parse_s: float
    parse_cut_short: bool

    @property
    def ratio(self) -> float:
        """Extraction time over bare-parse time."""
        return self.extract_s / self.parse_s


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``run``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_page(path: Path, repeat: int) -> Timing:
    """Time extraction and a bare lxml parse of one page's bytes."""
    body = path.read_bytes()
    extract(body)  # the first call may compile patterns or load data: not what is measured
    parsed = lxml.html.tostring(lxml.html.document_fromstring(body))
    return Timing(
        page=path.name,
        size=len(body),
        extract_s=median_seconds(lambda: extract(body), repeat),
        parse_s=median_seconds(lambda: lxml.html.document_fromstring(body), repeat),
        parse_cut_short=len(parsed) < CUT_SHORT_SHARE * len(body),
    )


def overall_ratio(timings: list[Timing]) -> float:
    """Total extraction time over total bare-parse time."""
    return sum(t.extract_s for t in timings) / sum(t.parse_s for t in timings)


def report(timings: list[Timing], repeat: int) -> list[str]:
    """The benchmark's printed lines: totals, the overall ratio and the worst pages."""
    extract_s = sum(t.extract_s for t in timings)
    parse_s = sum(t.parse_s for t in timings)
    ratio = overall_ratio(timings)
    whole = [t for t in timings if not t.parse_cut_short]
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    megabytes = sum(t.size for t in timings) / 1e6
    lines = [
        f"extractor {EXTRACTOR_VERSION}: {len(timings)} pages, {megabytes:.1f} MB, "
        f"median of {repeat} runs each",
        f"extraction  {extract_s * 1e3:9.1f} ms total  {len(timings) / extract_s:7.1f} pages/s",
        f"lxml parse  {parse_s * 1e3:9.1f} ms total  {len(timings) / parse_s:7.1f} pages/s",
        f"ratio extraction/parse: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: {verdict})",
        f"  without pages lxml cut short ({len(timings) - len(whole)}, marked *): "
        f"{overall_ratio(whole):.2f}x",
        f"worst {WORST_SHOWN} pages by ratio:",
        f"  {'page':<28} {'KB':>6} {'extract ms':>11} {'parse ms':>9} {'ratio':>6}",
    ]
    for t in sorted(timings, key=lambda t: t.ratio, reverse=True)[:WORST_SHOWN]:
        lines.append(
            f"  {t.page:<28} {t.size / 1e3:6.0f} {t.extract_s * 1e3:11.2f} "
            f"{t.parse_s * 1e3:9.2f} {t.ratio:5.2f}x{' *' if t.parse_cut_short else ''}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="runs per page")
    args = parser.parse_args(argv)
    timings = [time_page(path, args.repeat) for path in all_pages()]
    print("\n".join(report(timings, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
