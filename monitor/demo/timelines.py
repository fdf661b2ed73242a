"""Capture timelines for the demo, the tests and the benchmark, with their ground truth.

A timeline is a list of captures of one URL, each showing one owner (or nothing readable).
Its ground truth lists, for every ownership fact that changes, the last readable capture
with the old value and the first with the new one: unreadable captures (bot challenges,
error pages, truncated bodies, redirects) are skipped over, never read as the owner vanishing.
Everything is generated from a fixed seed, so two runs build byte-identical archives.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import groupby

from monitor.demo import pages
from monitor.demo.pages import Brand, Owner
from monitor.fakearchive import FakeArchive, FakeCapture

TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
HTML_HEADERS = (("Content-Type", "text/html; charset=utf-8"), ("Server", "nginx"))
# A news teaser changes every few weeks: page changes that are not ownership changes.
NEWS_EVERY_DAYS = 40


class Shape(StrEnum):
    """What a capture holds; everything but PAGE has no readable footer."""

    PAGE = "page"
    TRUNCATED = "truncated"  # cut off before the footer
    BOT_CHALLENGE = "bot_challenge"  # a CDN's browser check, served with 200
    SOFT_ERROR = "soft_error"  # a 502 page served with status 200
    ARCHIVED_ERROR = "archived_error"  # a 5xx response, archived with its status
    REDIRECT = "redirect"  # a 302 to a page the archive never captured


@dataclass(frozen=True)
class ExpectedChange:
    """One true change of one ownership fact, bracketed by two readable captures.

    ``field`` is ``"operator"`` (the Chinese name as written) or a registration kind
    (``"icp_filing"``, ``"psb_filing"``); ``before`` and ``after`` are 14-digit timestamps.
    """

    field: str
    old: str
    new: str
    before: str
    after: str


@dataclass(frozen=True, eq=False)
class Timeline:
    """Captures of one URL in a fresh :class:`FakeArchive`, with the changes they hold.

    ``unreadable`` holds the timestamps of captures without a readable footer;
    ``shortest_run`` is the fewest consecutive captures any owner kept (unreadable ones
    included), so a benchmark knows which sample spacings must miss nothing.
    """

    url: str
    archive: FakeArchive
    changes: tuple[ExpectedChange, ...]
    unreadable: frozenset[str]
    shortest_run: int

    @property
    def captures(self) -> tuple[FakeCapture, ...]:
        """The timeline's captures, oldest first."""
        return self.archive.captures(self.url)


@dataclass(frozen=True)
class _Slot:
    timestamp: str
    owner: Owner  # shown by a PAGE; for other shapes, the owner of that time
    shape: Shape
    capture: FakeCapture


def ground_truth(slots: Iterable[tuple[str, Owner | None]]) -> tuple[ExpectedChange, ...]:
    """The changes in ``(timestamp, owner or None if unreadable)`` pairs, oldest first."""
    changes: list[ExpectedChange] = []
    previous: tuple[str, Owner] | None = None
    for timestamp, owner in slots:
        if owner is None:
            continue
        if previous is not None and owner != previous[1]:
            for (name, old), (_, new) in zip(previous[1].fields(), owner.fields(), strict=True):
                if old != new:
                    changes.append(ExpectedChange(name, old, new, previous[0], timestamp))
        previous = (timestamp, owner)
    return tuple(changes)


def _timeline(url: str, slots: Sequence[_Slot]) -> Timeline:
    readable = [(s.timestamp, s.owner if s.shape is Shape.PAGE else None) for s in slots]
    runs = [len(list(run)) for _, run in groupby(slots, key=lambda s: s.owner)]
    return Timeline(
        url=url,
        archive=FakeArchive(s.capture for s in slots),
        changes=ground_truth(readable),
        unreadable=frozenset(s.timestamp for s in slots if s.shape is not Shape.PAGE),
        shortest_run=min(runs),
    )


def _ts(moment: datetime) -> str:
    return moment.strftime(TIMESTAMP_FORMAT)


def _moment(ts: str) -> datetime:
    return datetime.strptime(ts, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


# --- Hand-laid timelines (the demo, the reverted change) ----------------------------------


@dataclass(frozen=True)
class _Era:
    owner: Owner
    first: str  # first capture showing this owner
    last: str  # last capture showing this owner


@dataclass(frozen=True)
class _Site:
    url: str
    brand: Brand
    eras: tuple[_Era, ...]
    # Extra captures at fixed times, most of them unreadable (some fall between eras).
    anchors: Mapping[str, Shape]
    filler_per_year: Mapping[int, int]
    seed: int
    epoch: datetime  # day 0 of the news teasers
    redirect_to: str


def _news(site: _Site, ts: str) -> str:
    number = (_moment(ts) - site.epoch).days // NEWS_EVERY_DAYS + 1
    return (
        f"新闻 {number:02d}：演示用占位新闻（虚构） / News {number:02d}: placeholder item, invented"
    )


def _owner_at(site: _Site, ts: str) -> Owner:
    # Between two eras only unreadable anchors exist; they belong to the earlier owner.
    return next((e.owner for e in reversed(site.eras) if e.first <= ts), site.eras[0].owner)


def _in_era(site: _Site, ts: str) -> bool:
    return any(e.first <= ts <= e.last for e in site.eras)


def _filler(site: _Site) -> set[str]:
    rng = random.Random(site.seed)
    stamps: set[str] = set()
    for year, count in sorted(site.filler_per_year.items()):
        start = datetime(year, 1, 1, tzinfo=UTC)
        span = (datetime(year + 1, 1, 1, tzinfo=UTC) - start).total_seconds()
        for _ in range(count):
            ts = _ts(start + timedelta(seconds=int(rng.random() * span)))
            # No filler between eras: the brackets there are laid by hand.
            if _in_era(site, ts):
                stamps.add(ts)
    return stamps


def _capture(site: _Site, ts: str, shape: Shape) -> FakeCapture:
    owner = _owner_at(site, ts)
    page = pages.homepage(site.brand, owner, int(ts[:4]), _news(site, ts))
    body, status = page, 200
    headers: tuple[tuple[str, str], ...] = HTML_HEADERS
    if shape is Shape.TRUNCATED:
        body = pages.truncated(page)
    elif shape is Shape.BOT_CHALLENGE:
        body = pages.bot_challenge(site.brand.host, f"{int(ts):x}")
    elif shape is Shape.SOFT_ERROR:
        body = pages.server_error("502 Bad Gateway")
    elif shape is Shape.ARCHIVED_ERROR:
        body, status = pages.server_error("503 Service Temporarily Unavailable"), 503
    elif shape is Shape.REDIRECT:
        body, status = pages.redirect_page(site.redirect_to), 302
        headers = (*HTML_HEADERS, ("Location", site.redirect_to))
    return FakeCapture(site.url, ts, status, "text/html", body, headers)


def _build(site: _Site) -> Timeline:
    shapes = dict.fromkeys(_filler(site), Shape.PAGE)
    shapes.update({ts: Shape.PAGE for era in site.eras for ts in (era.first, era.last)})
    shapes.update(site.anchors)
    slots = [
        _Slot(ts, _owner_at(site, ts), shape, _capture(site, ts, shape))
        for ts, shape in sorted(shapes.items())
    ]
    return _timeline(site.url, slots)


# All names below are as CASE.md gives them; every number and time is an invented placeholder.
BEIJING_SENSETIME = Owner(
    zh="北京市商汤科技开发有限公司",
    en="Beijing SenseTime Technology Development Co., Ltd.",
    icp="京ICP备00000001号-1",
    psb="京公网安备 11010800000001号",  # 110108: Haidian district, Beijing
)
SHANGHAI_SENSETIME = Owner(
    zh="上海商汤智能科技有限公司",
    en="Shanghai SenseTime Intelligent Technology Co., Ltd.",
    icp="沪ICP备00000002号-1",
    psb="沪公网安备 31010400000002号",  # 310104: Xuhui district, Shanghai
)
DEMO_URL = "https://www.sensetime.com/"
# Invented.  It repeats the bytes of the captures before it, so a CDX listing collapsed by
# digest hides it: only a client that counts identical later captures brackets it exactly.
DEMO_LAST_BEIJING = "20210809061540"
DEMO_FIRST_SHANGHAI = "20210820071256"  # invented time on 20 Aug 2021, the prospectus day
DEMO_JULY_2021 = "20210714102233"  # invented stand-in for the July 2021 copy Axios cites
_DEMO = _Site(
    url=DEMO_URL,
    brand=Brand("商汤科技", "SenseTime", "www.sensetime.com"),
    eras=(
        _Era(BEIJING_SENSETIME, "20190108032911", DEMO_LAST_BEIJING),
        _Era(SHANGHAI_SENSETIME, DEMO_FIRST_SHANGHAI, "20221228163010"),
    ),
    anchors={
        "20190611141820": Shape.TRUNCATED,
        "20200316090412": Shape.BOT_CHALLENGE,
        "20201103221547": Shape.ARCHIVED_ERROR,
        DEMO_JULY_2021: Shape.PAGE,
        # Between the last Beijing and the first Shanghai capture, nothing readable:
        "20210812214405": Shape.BOT_CHALLENGE,
        "20210815003318": Shape.SOFT_ERROR,
        "20210816120951": Shape.ARCHIVED_ERROR,
        "20210817180204": Shape.TRUNCATED,
        "20220309050733": Shape.REDIRECT,
    },
    filler_per_year={2019: 34, 2020: 42, 2021: 96, 2022: 44},
    seed=20210820,
    epoch=datetime(2019, 1, 1, tzinfo=UTC),
    redirect_to="https://www.sensetime.com/cn/",
)
DEMO_EXPECTED_CHANGES = (
    ExpectedChange(
        "operator",
        "北京市商汤科技开发有限公司",
        "上海商汤智能科技有限公司",
        DEMO_LAST_BEIJING,
        DEMO_FIRST_SHANGHAI,
    ),
    ExpectedChange(
        "icp_filing",
        "京ICP备00000001号-1",
        "沪ICP备00000002号-1",
        DEMO_LAST_BEIJING,
        DEMO_FIRST_SHANGHAI,
    ),
    ExpectedChange(
        "psb_filing",
        "京公网安备 11010800000001号",
        "沪公网安备 31010400000002号",
        DEMO_LAST_BEIJING,
        DEMO_FIRST_SHANGHAI,
    ),
)


def demo_timeline() -> Timeline:
    """The reconstructed 2019-2022 SenseTime homepage timeline, in a fresh archive."""
    return _build(_DEMO)


SHENZHEN_SHILI = Owner(
    zh="深圳市示例网络科技有限公司",
    en="Shenzhen Shili Network Technology Co., Ltd.",
    icp="粤ICP备00000003号-1",
    psb="粤公网安备 44030500000003号",
)
HAINAN_SHILI = Owner(
    zh="海南示例网络科技有限公司",
    en="Hainan Shili Network Technology Co., Ltd.",
    icp="琼ICP备00000004号-1",
    psb="琼公网安备 46010000000004号",
)
REVERTED_URL = "https://www.shili.example/"
_REVERTED = _Site(
    url=REVERTED_URL,
    brand=Brand("示例网络", "Shili Network", "www.shili.example"),
    eras=(
        _Era(SHENZHEN_SHILI, "20180104101010", "20190305083000"),
        _Era(HAINAN_SHILI, "20190312140501", "20190918231500"),
        _Era(SHENZHEN_SHILI, "20191002061223", "20200627120000"),
    ),
    anchors={
        "20190308120000": Shape.TRUNCATED,
        "20190601020304": Shape.BOT_CHALLENGE,
        "20190925101112": Shape.SOFT_ERROR,
    },
    filler_per_year={2018: 40, 2019: 50, 2020: 25},
    seed=20190312,
    epoch=datetime(2018, 1, 1, tzinfo=UTC),
    redirect_to="https://www.shili.example/zh/",
)


def reverted_timeline() -> Timeline:
    """An invented site whose owner moves from Shenzhen to Hainan in March 2019 and back in
    October 2019: the second change restores the first owner."""
    return _build(_REVERTED)


# --- Synthetic timelines for the benchmark ------------------------------------------------

SYNTHETIC_START = datetime(2010, 1, 1, tzinfo=UTC)
# Captures come every 3 to 9 hours: 10,000 of them span about seven years.
SYNTHETIC_STEP_HOURS = (3.0, 9.0)
# By default every owner keeps at least a quarter of the average run.
MIN_RUN_DIVISOR = 4
SYNTHETIC_BRAND = Brand("示例数据", "Shili Data", "www.shili-data.example")
SYNTHETIC_OWNERS = tuple(
    Owner(f"{zh}示例数据科技有限公司", f"{en} Shili Data Technology Co., Ltd.", icp, psb)
    for zh, en, icp, psb in (
        ("北京", "Beijing", "京ICP备00000011号-1", "京公网安备 11010800000011号"),
        ("上海", "Shanghai", "沪ICP备00000012号-1", "沪公网安备 31010400000012号"),
        ("深圳市", "Shenzhen", "粤ICP备00000013号-1", "粤公网安备 44030500000013号"),
        ("杭州", "Hangzhou", "浙ICP备00000014号-1", "浙公网安备 33010600000014号"),
        ("海南", "Hainan", "琼ICP备00000015号-1", "琼公网安备 46010000000015号"),
        ("天津", "Tianjin", "津ICP备00000016号-1", "津公网安备 12010100000016号"),
    )
)


def _run_lengths(rng: random.Random, n_captures: int, n_runs: int, min_run: int) -> list[int]:
    weights = [rng.random() + 0.1 for _ in range(n_runs)]
    spare = n_captures - n_runs * min_run
    lengths = [min_run + int(spare * w / sum(weights)) for w in weights]
    lengths[-1] += n_captures - sum(lengths)
    return lengths


def _owner_sequence(rng: random.Random, n_runs: int) -> list[Owner]:
    owners = [rng.choice(SYNTHETIC_OWNERS)]
    while len(owners) < n_runs:
        owners.append(rng.choice([o for o in SYNTHETIC_OWNERS if o != owners[-1]]))
    return owners


def _synthetic_page(owner: Owner, year: int, index: int) -> bytes:
    # The capture number in the teaser makes every capture distinct (its own digest).
    news = f"Capture {index:05d}: placeholder update"
    notice = pages.SYNTHETIC_NOTICE
    return pages.homepage(SYNTHETIC_BRAND, owner, year, news, notice=notice, banner=notice)


def _synthetic_challenge(index: int) -> bytes:
    return pages.bot_challenge(SYNTHETIC_BRAND.host, f"{index:016x}", pages.SYNTHETIC_NOTICE)


def synthetic_timeline(
    n_captures: int,
    n_changes: int,
    seed: int = 0,
    *,
    min_run: int | None = None,
    unreadable_fraction: float = 0.0,
) -> Timeline:
    """``n_captures`` distinct captures in which the owner changes ``n_changes`` times.

    Every owner keeps at least ``min_run`` consecutive captures (default: a quarter of the
    average run), so a sampler whose spacing is below that must find every change.  About
    ``unreadable_fraction`` of the captures are bot challenges, never the first of a run.
    Bodies are rendered only when read.
    """
    n_runs = max(1, n_changes + 1)
    min_run = min_run if min_run is not None else max(1, n_captures // (MIN_RUN_DIVISOR * n_runs))
    if n_changes < 0 or min_run < 1 or n_runs * min_run > n_captures:
        raise ValueError(
            f"cannot fit {n_changes} changes with runs of {min_run} into {n_captures} captures"
        )
    rng = random.Random(seed)
    url = f"https://www.shili-data-{seed}.example/"
    owners = _owner_sequence(rng, n_runs)
    moment, slots = SYNTHETIC_START, list[_Slot]()
    for owner, length in zip(owners, _run_lengths(rng, n_captures, n_runs, min_run), strict=True):
        for position in range(length):
            # The first capture of a run stays readable, so no change is hidden entirely.
            unreadable = position > 0 and rng.random() < unreadable_fraction
            slots.append(_synthetic_slot(url, moment, owner, len(slots), unreadable))
            moment += timedelta(hours=rng.uniform(*SYNTHETIC_STEP_HOURS))
    return _timeline(url, slots)


def _synthetic_slot(
    url: str, moment: datetime, owner: Owner, index: int, unreadable: bool
) -> _Slot:
    ts = _ts(moment)
    if unreadable:
        body = partial(_synthetic_challenge, index)
    else:
        body = partial(_synthetic_page, owner, moment.year, index)
    capture = FakeCapture(url, ts, 200, "text/html", body, HTML_HEADERS)
    return _Slot(ts, owner, Shape.BOT_CHALLENGE if unreadable else Shape.PAGE, capture)
