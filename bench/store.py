"""Benchmark the evidence store: captures stored per second, and bytes on disk per capture.

Replays 10,000 captures of slowly changing pages, as the daemon and the backfill produce them:
real pages of 20-70 KB from ``tests/data/footers``, each watched URL captured in turn, where a
member counter changes in about one capture in five, the copyright year now and then and the
operator once.  Most captures are byte-identical to the one before, so content addressing
stores them once.  ``--nonce`` adds a token that differs in every capture (as CSRF tokens do),
the worst case: every body is new.  Each capture is its own transaction, as in the pipeline.

    python bench/store.py                  # SQLite file in a temporary folder
    python bench/store.py --nonce
    python bench/store.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from monitor.store import CaptureSource, NewCapture, Store, add_capture, open_store, sync_sites

PAGES = Path(__file__).parent.parent / "tests" / "data" / "footers"
PAGE_SIZES = range(20_000, 70_000)
CAPTURES = 10_000
URLS = 20
COUNTER_CHANGE = 0.2  # chance that a capture shows a new member count
YEAR_EVERY = 73  # captures between copyright-year bumps (five-day captures: yearly)
SEED = 20210801


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    url: str
    at: datetime
    body: bytes


def templates() -> list[bytes]:
    """The real pages the benchmark varies."""
    pages = [p.read_bytes() for p in sorted(PAGES.glob("*.html"))]
    chosen = [page for page in pages if len(page) in PAGE_SIZES]
    if not chosen:
        raise SystemExit(f"no pages of {PAGE_SIZES.start}-{PAGE_SIZES.stop} bytes in {PAGES}")
    return chosen


def plan(captures: int, urls: int, nonce: bool) -> Iterator[Planned]:
    """The captures, in time order, each URL in turn."""
    rng = random.Random(SEED)
    pages = templates()
    counters = [rng.randrange(10_000, 90_000) for _ in range(urls)]
    switch_at = [rng.randrange(captures // urls) for _ in range(urls)]
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for n in range(captures):
        index, round_ = n % urls, n // urls
        if rng.random() < COUNTER_CHANGE:
            counters[index] += rng.randrange(1, 50)
        year = 2019 + round_ // YEAR_EVERY
        operator = "Beijing Example Co., Ltd." if round_ < switch_at[index] else "Shanghai Example"
        token = f'<meta name="csrf" content="{rng.getrandbits(128):032x}">' if nonce else ""
        tail = f"{token}<p>{counters[index]:,} members</p><footer>© 2015-{year} {operator}</footer>"
        page = pages[index % len(pages)].replace(b"</body>", tail.encode() + b"</body>", 1)
        at = start + timedelta(days=5 * round_, minutes=index)
        yield Planned(f"https://site{index}.example/", at, page)


def store_all(store: Store, planned: list[Planned]) -> float:
    """Store every capture in its own transaction; the seconds it took."""
    began = time.perf_counter()
    for capture in planned:
        with store.session() as session:
            new = NewCapture(capture.url, CaptureSource.WAYBACK, capture.at, 200)
            add_capture(session, new, capture.body)
    return time.perf_counter() - began


def bytes_on_disk(store: Store, sqlite_path: Path | None) -> int:
    """The SQLite file with its WAL, or PostgreSQL's size of the store's tables and indexes."""
    if sqlite_path is not None:
        store.close()  # the last connection checkpoints the WAL into the file
        suffixes = ("", "-wal", "-shm")
        return sum(p.stat().st_size for s in suffixes if (p := Path(f"{sqlite_path}{s}")).exists())
    tables = ("sites", "urls", "blobs", "captures", "extractions", "changes", "review_events")
    query = " + ".join(f"pg_total_relation_size('{t}')" for t in tables)
    with store.session() as session:
        return int(session.scalar(text(f"SELECT {query}")) or 0)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=CAPTURES)
    parser.add_argument("--urls", type=int, default=URLS)
    parser.add_argument("--nonce", action="store_true", help="make every body differ")
    parser.add_argument("--db", help="a SQLAlchemy URL of an empty database (default: SQLite)")
    args = parser.parse_args()
    planned = list(plan(args.captures, args.urls, args.nonce))
    with tempfile.TemporaryDirectory() as folder:
        sqlite_path = None if args.db else Path(folder) / "bench.db"
        store = open_store(args.db or f"sqlite:///{sqlite_path}")
        with store.session() as session:
            urls = sorted({p.url for p in planned})
            sync_sites(session, [Site(f"site{i}", f"Site {i}", (u,)) for i, u in enumerate(urls)])
        seconds = store_all(store, planned)
        disk = bytes_on_disk(store, sqlite_path)
        store.close()
    raw = sum(len(p.body) for p in planned)
    distinct = len({p.body for p in planned})
    n = len(planned)
    print(f"backend                {'PostgreSQL' if args.db else 'SQLite (WAL, synchronous=FULL)'}")
    print(f"captures stored        {n:,} in {seconds:.1f} s: {n / seconds:,.0f} captures/s")
    print(f"distinct bodies        {distinct:,} ({distinct / n:.1%} of captures)")
    print(f"raw bytes per capture  {raw / n:,.0f}")
    print(f"on disk per capture    {disk / n:,.0f} ({disk / raw:.1%} of raw; {disk / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
