"""Benchmark the exports: seconds to export 10,000 changes in each format.

Builds a store with the store's own functions (sync_sites, add_capture, add_extraction,
record_change): 100 watched URLs, each a real page of 20-70 KB from ``tests/data/footers``
whose appended footer switches between two owners at every capture, as a site caught moving
back and forth would.  Each switch changes up to four facts (operator, entities, copyright
holders, ICP filing; fewer where the page's own footer outranks the appended one), and each
URL is captured until it holds its 100 changes: 10,000 in all, over about 3,000 captures.
Facts come from the real extractor, changes from ``compare.diff``, as the backfill records
them.  Then every format is exported ``--repeat`` times: reading the store (with the
timelines for html and bundle, the bodies for warc and bundle) and rendering, as
``monitor export`` does.

    python bench/export.py
    python bench/export.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from monitor import compare, export, extract
from monitor.export import ExportFormat, Selection
from monitor.facts import Facts
from monitor.store import (
    CaptureSource,
    ChangeField,
    NewCapture,
    NewChange,
    Store,
    add_capture,
    add_extraction,
    open_store,
    record_change,
    sync_sites,
)

PAGES = Path(__file__).parent.parent / "tests" / "data" / "footers"
PAGE_SIZES = range(20_000, 70_000)
URLS = 100
CHANGES = 10_000
OWNERS = (
    ("北京市示例{n}科技有限公司", "京ICP备{n:08d}号-1"),
    ("上海示例{n}智能科技有限公司", "沪ICP备{n:08d}号-1"),
)
START = datetime(2019, 1, 1, tzinfo=UTC)
TARGET_SECONDS = 60  # "seconds, not minutes" (issue 6)


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


def templates() -> list[bytes]:
    """The real pages the benchmark varies."""
    pages = [p.read_bytes() for p in sorted(PAGES.glob("*.html"))]
    return [page for page in pages if len(page) in PAGE_SIZES]


def body(template: bytes, url_number: int, owner: int) -> bytes:
    """The template with a footer naming one of the two owners of this URL."""
    name, filing = (text.format(n=url_number) for text in OWNERS[owner])
    footer = f"<footer>© 2021 {name} 版权所有 {filing}</footer>"
    return template.replace(b"</body>", footer.encode() + b"</body>", 1)


def build(store: Store, urls: int, changes: int) -> tuple[int, int]:
    """Store every URL's history until it holds its share of the changes; the changes
    recorded and the captures stored."""
    pages = templates()
    with store.session() as session:
        sites = [Site(f"site{n}", f"Site {n}", (f"https://site{n}.example/",)) for n in range(urls)]
        sync_sites(session, sites)
    recorded = captures = 0
    for n, site in enumerate(sites):
        bodies = [body(pages[n % len(pages)], n, owner) for owner in (0, 1)]
        facts = [extract.extract(b, url=site.urls[0]) for b in bodies]
        quota = changes * (n + 1) // urls - recorded
        with store.session() as session:
            done, stored = store_url(session, site.urls[0], bodies, facts, quota)
        recorded, captures = recorded + done, captures + stored
    return recorded, captures


def store_url(
    session: Session, url: str, bodies: list[bytes], facts: list[Facts], quota: int
) -> tuple[int, int]:
    """Captures of one URL, alternating owners, each extracted, and the changes between them,
    until ``quota`` changes are recorded; the changes and captures stored."""
    recorded, previous, number = 0, None, 0
    while recorded < quota:
        owner = number % 2
        at = START + timedelta(days=30 * number)
        stamp = at.strftime("%Y%m%d%H%M%S")
        archive_url = f"https://web.archive.org/web/{stamp}id_/{url}"
        capture = NewCapture(url, CaptureSource.WAYBACK, at, 200, url, "text/html", archive_url)
        ref = add_capture(session, capture, bodies[owner])
        add_extraction(session, ref.id, facts[owner], extract.EXTRACTOR_VERSION)
        found = compare.diff(facts[1 - owner], facts[owner]) if previous is not None else ()
        if previous is not None and not found:
            raise SystemExit(f"{url}: the two owners' pages do not differ")
        for item in found[: quota - recorded]:
            field = ChangeField(item.field.value)
            change = NewChange(url, field, item.old, item.new, previous or 0, ref.id)
            recorded += record_change(session, change) is not None
        previous, number = ref.id, number + 1
    return recorded, number


def time_format(store: Store, fmt: ExportFormat) -> tuple[float, int]:
    """Seconds to read and render one export, and its size in bytes."""
    began = time.perf_counter()
    found = export.collect(store, Selection(), timelines=export.needs_timelines(fmt))
    captures = found.captures() if export.needs_bodies(fmt) else []
    data = export.render(found, fmt, export.read_bodies(store, captures))
    return time.perf_counter() - began, len(data)


def main() -> None:
    """Build the store, export it in every format and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=URLS)
    parser.add_argument("--changes", type=int, default=CHANGES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="a SQLAlchemy URL of an empty database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(args.db or f"sqlite:///{Path(folder) / 'bench.db'}")
        began = time.perf_counter()
        changes, captures = build(store, args.urls, args.changes)
        print(f"backend   {'PostgreSQL' if args.db else 'SQLite'}")
        print(f"changes   {changes:,} over {captures:,} captures of {args.urls} URLs "
              f"(built in {time.perf_counter() - began:.1f} s)")  # fmt: skip
        print(f"{'format':8} {'seconds (min-max of ' + str(args.repeat) + ')':>28} {'MB':>8}")
        slowest = 0.0
        for fmt in ExportFormat:
            runs = [time_format(store, fmt) for _ in range(args.repeat)]
            seconds = [s for s, _ in runs]
            slowest = max(slowest, *seconds)
            print(f"{fmt.value:8} {min(seconds):>19.2f} - {max(seconds):5.2f} "
                  f"{runs[0][1] / 1e6:8.1f}")  # fmt: skip
        store.close()
    verdict = "met" if slowest < TARGET_SECONDS else "MISSED"
    print(f"slowest export {slowest:.1f} s; target under {TARGET_SECONDS} s: {verdict}")
    if slowest >= TARGET_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
