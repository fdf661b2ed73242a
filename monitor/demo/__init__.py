"""A RECONSTRUCTION of the 2021 SenseTime footer change, for ``monitor demo`` and the tests.

What is established (Axios, 29 Sep 2021, from an IPVM report of 28 Sep 2021): in July 2021 an
archived copy of the company's main website named Beijing SenseTime in its copyright notice
(北京市商汤科技开发有限公司, the subsidiary on the US Entity List); by 20 August 2021, the day
the Hong Kong IPO prospectus was filed, it named Shanghai SenseTime (上海商汤智能科技有限公司).

What is INVENTED here: the page itself, every footer string, every registration number (the
ICP and public-security filings are well-formed but made of zeros, such as 京ICP备00000001号-1,
so nobody mistakes them for the real ones), the news teasers and every capture timestamp.  The
change is placed between an invented capture on 9 August 2021 and one on 20 August 2021.  Every
page says so in an HTML comment at its top and in a visible banner.

The timeline (about 230 captures, 2019 to 2022, denser in 2021) holds what a real archive
holds: yearly copyright bumps (© 2019 -> 2022), runs of byte-identical captures (one digest),
news teasers that change without any change of owner, and unreadable captures: bot
challenges, a truncated body, a 502 page served with 200, archived 503s and a redirect.

Beside it: :func:`reverted_timeline` (an invented owner change undone months later) and
:func:`synthetic_timeline` (100 to 10,000 distinct captures with 1 to 5 changes) for the
backfill's tests and benchmark.  Each comes with its ground truth: for every ownership fact
that changes, the last readable capture showing the old value and the first showing the new.
"""

from __future__ import annotations

from monitor.demo.pages import NOTICE, Owner
from monitor.demo.timelines import (
    BEIJING_SENSETIME,
    DEMO_EXPECTED_CHANGES,
    DEMO_FIRST_SHANGHAI,
    DEMO_JULY_2021,
    DEMO_LAST_BEIJING,
    DEMO_URL,
    REVERTED_URL,
    SHANGHAI_SENSETIME,
    ExpectedChange,
    Timeline,
    demo_timeline,
    reverted_timeline,
    synthetic_timeline,
)
from monitor.fakearchive import FakeArchive

DEMO_SITE_ID = "sensetime"
DEMO_SITE_NAME = "SenseTime (reconstruction)"

__all__ = [
    "BEIJING_SENSETIME",
    "DEMO_EXPECTED_CHANGES",
    "DEMO_FIRST_SHANGHAI",
    "DEMO_JULY_2021",
    "DEMO_LAST_BEIJING",
    "DEMO_SITE_ID",
    "DEMO_SITE_NAME",
    "DEMO_URL",
    "NOTICE",
    "REVERTED_URL",
    "SHANGHAI_SENSETIME",
    "ExpectedChange",
    "Owner",
    "Timeline",
    "demo_archive",
    "demo_timeline",
    "reverted_timeline",
    "synthetic_timeline",
]


def demo_archive() -> FakeArchive:
    """A fresh fake archive holding the reconstructed timeline of :data:`DEMO_URL`."""
    return demo_timeline().archive
