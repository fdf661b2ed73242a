"""The pages of the demo's timelines, rendered from one template (``homepage.html``).

Every page is inert (no scripts) and carries a notice, as an HTML comment at its very top, so
that even a truncated capture still says it is a reconstruction.  The notice names no entity
and no registration number, so an extractor that reads comments cannot mistake it for a
footer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from monitor.facts import RegistrationKind

TEMPLATE_NAME = "homepage.html"
OPERATOR_FIELD = "operator"

NOTICE = (
    "RECONSTRUCTION made for the footer-monitor demo; NOT an archived copy of sensetime.com. "
    "Invented: all footer wording, every registration number (placeholders made of zeros), "
    "the news text and every capture time. Established by public reporting (Axios, 29 Sep "
    "2021, from an IPVM report of 28 Sep 2021): an archived copy from July 2021 named Beijing "
    "SenseTime in the copyright notice at the bottom of the main website; by 20 Aug 2021, the "
    "day the IPO prospectus was filed, it named Shanghai SenseTime."
)
SYNTHETIC_NOTICE = (
    "SYNTHETIC test page made for footer-monitor; every name, registration number, text and "
    "capture time on it is invented."
)
BANNER = (
    "Reconstruction for the footer-monitor demo, not a copy of the real site: the footer "
    "text, registration numbers and capture dates are invented."
)


@dataclass(frozen=True)
class Owner:
    """The legal entity a footer names and the filings shown beside it (placeholders)."""

    zh: str
    en: str
    icp: str
    psb: str

    def fields(self) -> tuple[tuple[str, str], ...]:
        """The ownership facts a change is recorded under: ``(field, value)`` pairs."""
        return (
            (OPERATOR_FIELD, self.zh),
            (RegistrationKind.ICP_FILING.value, self.icp),
            (RegistrationKind.PSB_FILING.value, self.psb),
        )


@dataclass(frozen=True)
class Brand:
    """The site's brand, constant across owners: the move shows only in the footer."""

    zh: str
    en: str
    host: str


@cache
def _template() -> Template:
    text = resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    return Template(text)


def _comment(notice: str) -> str:
    # "--" would end the comment early and spill the notice into the page's text.
    return notice.replace("--", "- -")


def homepage(
    brand: Brand,
    owner: Owner,
    year: int,
    news: str,
    *,
    notice: str = NOTICE,
    banner: str = BANNER,
) -> bytes:
    """The homepage as ``owner`` would serve it in ``year``, with one news teaser."""
    text = _template().substitute(
        notice=_comment(notice),
        banner=banner,
        brand_zh=brand.zh,
        brand_en=brand.en,
        news=news,
        year=year,
        owner_zh=owner.zh,
        owner_en=owner.en,
        icp=owner.icp,
        psb=owner.psb,
    )
    return text.encode("utf-8")


def _bare_page(title: str, body: str, notice: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<!-- {_comment(notice)} -->\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def bot_challenge(host: str, ray_id: str, notice: str = NOTICE) -> bytes:
    """A CDN's "checking your browser" page: the crawler never saw the site itself."""
    body = (
        f"<h1>Checking your browser before accessing {host}.</h1>\n"
        "<p>This process is automatic. Please enable JavaScript and cookies.</p>\n"
        f"<p>Ray ID: {ray_id}</p>"
    )
    return _bare_page("Just a moment...", body, notice)


def server_error(status_line: str, notice: str = NOTICE) -> bytes:
    """A front server's error page (``502 Bad Gateway``), archived instead of the site."""
    body = f"<center><h1>{status_line}</h1></center>\n<hr><center>nginx</center>"
    return _bare_page(status_line, body, notice)


def redirect_page(target: str, notice: str = NOTICE) -> bytes:
    """The short body a server sends with a redirect."""
    return _bare_page(
        "302 Found", f'<p>Found. Redirecting to <a href="{target}">{target}</a></p>', notice
    )


def truncated(page: bytes) -> bytes:
    """``page`` cut off mid-markup before its footer, as an interrupted crawl stores it."""
    cut = page.index(b"</main>") + len(b"</m")
    return page[:cut]
