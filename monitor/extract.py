"""Reduce one page to the facts an investigator cares about: who it says owns and runs it.

Pure: bytes in, :class:`~monitor.facts.Facts` out; no network, no database.  The stages:

1. decode the bytes ourselves (:mod:`monitor.decode`): lxml's own guess mis-decodes real pages;
2. cut the Wayback Machine's viewer toolbar, should a view-mode capture reach us;
3. find *regions* by string search, never parsing the whole page (a full parse alone costs
   what the whole extraction may): footers and copyright blocks (by tag, id and class), blocks
   holding a copyright marker, an Impressum; the page's second half first, the first only when
   the second states no owner; scripts and comments skipped;
4. read each region line by line: copyright lines (holders, years), role cues ("operated by",
   承办, "a subsidiary of", 技术支持...), and every name that ends in a legal form
   (:mod:`monitor.names`);
5. add JSON-LD ``Organization`` names and ``<meta name=copyright>``; registration numbers from
   the regions' text (:mod:`monitor.registrations`);
6. judge the operator from the evidence, scored by how directly the page states it.

This module is longer than the house limit of 500 lines would like; the stages share private
helpers and data tables that would be scattered by a split, so it stays one reading unit.
"""

from __future__ import annotations

import bisect
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from monitor.decode import decode_html
from monitor.facts import CopyrightLine, Entity, Facts, Registration, Role, Source
from monitor.names import (
    WEAK_FORMS,
    NameSpan,
    before_address,
    find_names,
    fold,
    has_cjk,
    name_key,
    split_name,
)
from monitor.registrations import find_registrations

EXTRACTOR_VERSION = "5"  # bump whenever the same bytes can give other facts

# --- what marks a footer, a copyright line, a role -------------------------------------------

# Literal needles, searched with str.find: Python's re does not optimise alternations of
# literals, and scanning a 1 MB page with one big pattern costs several parses.
# Every needle costs a full scan, which on a large page costs about a twentieth of parsing
# it, so the list is short: each entry finds pages the others miss.
FOOTER, MARKER, BOTH, IMPRINT = "footer", "marker", "both", "imprint"
NEEDLES: tuple[tuple[str, str], ...] = (
    ("ooter", FOOTER),  # <footer>, class="site-footer", id="Footer"
    ("opyright", BOTH),  # class="copyright" is a footer; "Copyright ©" a statement
    ("©", MARKER),
    ("&copy;", MARKER),
    ("(C)", MARKER),
    ("(c)", MARKER),
    ("ICP", MARKER),
    ("版", MARKER),  # 版权 and 版權: one character is found fastest
    ("perated by", MARKER),
    ("Angaben gem", IMPRINT),  # "Angaben gemäß § 5 TMG": the Impressum's statutory heading
    ("Impressum</h", IMPRINT),
)
MAX_TAG_CHARS = 300
NO_POSITION = -1  # structured data: no place on the page
SMALL_PAGE_CHARS = 20_000  # below this a whole-page search costs less than deciding
# <noscript> and <template> hold markup a reader may see, so only these three hide text.
HIDDEN_BLOCKS = (("<script", "</script"), ("<style", "</style"), ("<!--", "-->"))
JSONLD_RE = re.compile(r"<script[^>]*?ld\+json[^>]*>(.*?)</script", re.S | re.I)
META_COPYRIGHT_RE = re.compile(
    r"<meta\s[^>]*?name\s*=\s*[\"']?(?:copyright|dc\.rights)[\"']?[^>]*>", re.I
)
META_CONTENT_RE = re.compile(r"content\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.I)
TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.S | re.I)
ATTR_TAIL_RE = re.compile(r"\b(?:id|class|role)\s*=\s*[\"']?[^\"'=<>]*$")
TAG_START_RE = re.compile(
    r"<(?:footer|div|p|li|ul|td|tr|table|section|aside|small|span|address|"
    r"center|dl|dd|font|nav|h[1-6])\b",
    re.I,
)
HIDDEN_LOOKBACK = 20_000
FOOTER_WINDOW = 6000
MARKER_BEFORE = 1200
MARKER_AFTER = 800
IMPRINT_WINDOW = 4000
MAX_WINDOWS_CHARS = 300_000
MAX_HITS_PER_NEEDLE = 60
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "td",
        "th",
        "tr",
        "table",
        "section",
        "footer",
        "header",
        "aside",
        "nav",
        "article",
        "main",
        "address",
        "dd",
        "dt",
        "dl",
        "center",
        "blockquote",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "body",
        "html",
        "hr",
        "pre",
        "figure",
        "figcaption",
    ]
)
_BLOCKS = "|".join(sorted(BLOCK_TAGS | {"br", "option"}))
# Hidden content, dropped whole; an unterminated one runs to the window's end.
HIDDEN_RE = re.compile(
    r"<(script|style|noscript|template|svg|select|head|title)\b.*?(?:</\1\s*>|$)"
    r"|<!--.*?(?:-->|$)",
    re.S | re.I,
)
BLOCK_TAG_RE = re.compile(rf"</?(?:{_BLOCKS})\b[^>]*>", re.I)
# An element closing right where the next opens ("<span>Winterstraße 2</span><span>22765"):
# siblings hold separate texts, which styling sets apart even when no space is written.
SIBLING_RE = re.compile(r"</[a-zA-Z][^>]*>(?=<[a-zA-Z])")
INLINE_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>|<![^>]*>|<\?[^>]*>")
GLUED_RE = re.compile(r"(?<=[a-z0-9])\x00+(?=[A-Z])")
MAX_LINE_CHARS = 400
MAX_BRAND_WORDS = 8

COPYRIGHT_MARK_RE = re.compile(r"©|\((?:c|C)\)|\bCopyright\b|\bCOPYRIGHT\b|\bcopyright\b|Copr\.")
CJK_RIGHTS_RE = re.compile(r"版权所有|版權所有|著作権所有")
YEAR_RANGE_RE = re.compile(
    r"(?<!\d)((?:19[89]|20[0-4])\d)(?:\s*(?:-|–|—|~|〜|～|至|to|bis|a)\s*((?:19[89]|20[0-4])\d)"
    r"|\s*(?:-|–)\s*(?:present|heute|now|今))?(?!\d)"
)
_PREFIX_JUNK_RE = re.compile(
    r"^(?:[\s:：,.\-–—]|©|\((?:c|C)\)|Copyright|COPYRIGHT|copyright|Copr\.|"
    r"(?:19[89]|20[0-4])\d(?:\s*(?:-|–|—|~|〜|～|至|to)\s*(?:(?:19[89]|20[0-4])\d|present))?)+"
)
TERMINATOR_RE = re.compile(
    r"(?i:all\s+rights\s+reserved|alle\s+rechte\s+vorbehalten|tous\s+droits|todos\s+los\s+derechos"
    r"|derechos\s+reservados|direitos\s+reservados|tutti\s+i\s+diritti|no\s+reproduction"
    r"|(?:and/)?or\s+its\s+(?:affiliat|subsidiar|licensor)|and\s+its\s+affiliat|powered\s+by"
    r"|operated\s+by|registered\s+(?:in|office|number|trademark)|company\s+(?:number|no\b|reg)"
    r"|privacy|terms\s+of|impressum|datenschutz|contact\s+us|kontakt|\bICP\b)"
    r"|版权所有|版權所有|保留所有权利|不得转载|未经|公网安备|京ICP|沪ICP|粤ICP|\||·|•|║|│|\s[-–—]\s|。"
    r"|地址|电话|邮编|传真|(?i:\b(?:tel|fax|phone|address|adresse|e-?mail)\b\.?\s*[:：])"
    r"|\.\s+(?=[A-Z])(?<!\b[A-Z]\.\s)(?<!Co\.\s)(?<!Inc\.\s)(?<!St\.\s)"
)

OPERATOR_AFTER_RE = re.compile(
    r"(?i:operated\s+by|run\s+by|betrieben\s+von|betreiber(?:in)?\s*[:：]|anbieter\s*[:：]"
    r"|herausgeber\s*[:：]|diensteanbieter\s*[:：]?|this\s+(?:web)?site\s+is\s+(?:owned|run)\s+by"
    r"|owned\s+and\s+operated\s+by|exploité\s+par|éditeur\s*[:：])"
    r"|运营(?:管理)?(?:中心|单位|主体|商|方)?\s*[:：]|承办(?:单位)?\s*[:：]|经营(?:者|单位|主体)\s*[:：]"
    r"|运营者\s*[:：]|主体\s*[:：]|公司名称\s*[:：]|单位名称\s*[:：]"
)
OPERATOR_BEFORE_RE = re.compile(r"承办|运营$")
SPONSOR_AFTER_RE = re.compile(r"主办(?:单位)?\s*[:：]|主管(?:单位)?\s*[:：]")
SPONSOR_BEFORE_RE = re.compile(r"主办|主管")
PARENT_AFTER_RE = re.compile(
    r"(?i:(?:a|an)?\s*(?:wholly[- ]owned\s+)?subsidiary\s+of|a\s+division\s+of|\bpart\s+of"
    r"|a\s+member\s+of(?:\s+the)?|ein(?:e)?\s+(?:Unternehmen|Marke|Tochter(?:gesellschaft)?)"
    r"\s+der|une\s+filiale\s+de|una\s+empresa\s+de)"
)
PARENT_AROUND_RE = re.compile(r"(?i:\b(?:a|an)\s+$)")
PARENT_TRAIL_RE = re.compile(r"(?i:^\s*(?:subsidiary|company|group\s+company|brand)\b)")
LICENSOR_AFTER_RE = re.compile(
    r"(?i:under\s+licen[cs]e\s+(?:from|by)|licen[cs]ed\s+(?:from|by)|in\s+lizenz\s+von)"
)
VENDOR_AFTER_RE = re.compile(
    r"(?i:powered\s+by|website\s+by|site\s+by|designed\s+by|design\s+by|developed\s+by"
    r"|hosted\s+by|built\s+by|web\s+design\s*[:：]?|realisiert\s+von|umsetzung\s*[:：]"
    r"|made\s+by|technical\s+support\s*[:：]?)"
    r"|技术支持\s*[:：]?|网站建设\s*[:：]?|设计制作\s*[:：]?|网站设计\s*[:：]?|技术服务\s*[:：]?"
)
OTHER_AFTER_RE = re.compile(
    r"(?i:trademarks?\s+of|eingetragene\s+marke\s+der|marke\s+der|versicher(?:ung|er)"
    r"|haftpflicht|insurer|insurance|name\s+und\s+sitz\s+der\s+gesellschaft)"
)
TRADEMARK_AFTER_NAME_RE = re.compile(r"^\s*の(?:登録)?商標")
VENDOR_ENGINES_RE = re.compile(
    r"(?i:discuz|comsenz|phpwind|phpbb|vbulletin|dedecms|织梦|wordpress|joomla|drupal|typecho"
    r"|z-blog|empirecms|帝国cms|powered|xenforo|invision|mybb|smf\b|simple machines)"
)
IMPRINT_HEAD_RE = re.compile(
    r"(?i:angaben\s+gem(?:ä|ae)(?:ß|ss)\s*§\s*5|^\s*impressum\s*$|^\s*imprint\s*$"
    r"|anbieterkennzeichnung|^\s*legal\s+notice\s*$|mentions\s+l[ée]gales)"
)
CHALLENGE_RE = re.compile(
    r"(?i:just\s+a\s+moment|attention\s+required|access\s+denied|are\s+you\s+a\s+robot|captcha"
    r"|checking\s+your\s+browser|security\s+check|ddos\s+protection|verify\s+you\s+are\s+human"
    r"|request\s+unsuccessful)|安全验证|请稍候|验证码"
)
ARCHIVE_NAMES_RE = re.compile(r"(?i:internet\s+archive|wayback\s+machine)")
TOOLBAR_RE = re.compile(
    r"<!--\s*BEGIN WAYBACK TOOLBAR INSERT\s*-->.*?<!--\s*END WAYBACK TOOLBAR INSERT\s*-->",
    re.S,
)
ORG_TYPES = (
    "Organization",
    "Corporation",
    "LocalBusiness",
    "OnlineBusiness",
    "OnlineStore",
    "NGO",
    "GovernmentOrganization",
    "NewsMediaOrganization",
    "EducationalOrganization",
)
JSONLD_ROLES: dict[str, Role] = {
    "": Role.OPERATOR,
    "@graph": Role.OPERATOR,
    "publisher": Role.OPERATOR,
    "provider": Role.OPERATOR,
    "copyrightHolder": Role.COPYRIGHT_HOLDER,
    "parentOrganization": Role.PARENT,
    "sourceOrganization": Role.OTHER,
}


# Substrings every cue above contains one of, lower-cased: a cheap test that spares most lines
# the six patterns of CUE_TABLE. test_cue_hints_cover_every_cue keeps the two in step.
CUE_HINTS = (
    " by",
    "betr",
    "anbieter",
    "herausgeber",
    "subsidiary",
    "division",
    "part of",
    "member of",
    "der ",
    "tochter",
    "filiale",
    "empresa",
    "licen",
    "lizenz",
    "umsetzung",
    "design",
    "technical",
    "trademark",
    "versicher",
    "haftpflicht",
    "insur",
    "éditeur",
    "exploité",
    "web",
    "运营",
    "承办",
    "经营",
    "主体",
    "名称",
    "主办",
    "主管",
    "技术",
    "建设",
    "设计",
    "服务",
)

# --- scoring ---------------------------------------------------------------------------------
# How directly a statement names the operator. An explicit "operated by" beats a copyright
# holder, which beats structured data, which beats an entity merely standing in the footer.
SCORE_CUE_OPERATOR = 100
SCORE_FOOTER_HOLDER_FORM = 60
SCORE_STANDALONE_FOOTER = 40
SCORE_STANDALONE_INSTITUTION = 8
SCORE_JSONLD_LEGALNAME = 45
SCORE_FOOTER_HOLDER_BRAND = 30
SCORE_SPONSOR = 25
SCORE_JSONLD_NAME_FORM = 25
SCORE_META = 20
SCORE_BODY_CUE = 20
SCORE_BODY_HOLDER_FORM = 15
SCORE_BODY_HOLDER_BRAND = 5
BONUS_LEGAL_FORM = 10
BONUS_MARK = 5
BONUS_YEARS = 3
PENALTY_IN_ARTICLE = 20

CUE_TABLE: tuple[tuple[re.Pattern[str], Role, int], ...] = (
    (OPERATOR_AFTER_RE, Role.OPERATOR, SCORE_CUE_OPERATOR),
    (SPONSOR_AFTER_RE, Role.OTHER, SCORE_SPONSOR),
    (PARENT_AFTER_RE, Role.PARENT, 0),
    (LICENSOR_AFTER_RE, Role.LICENSOR, 0),
    (VENDOR_AFTER_RE, Role.VENDOR, 0),
    (OTHER_AFTER_RE, Role.OTHER, 0),
)


@dataclass(frozen=True, slots=True)
class Region:
    """A block of the page read as lines, with where it sits (``order``: its offset)."""

    lines: tuple[str, ...]
    source: Source
    order: int
    in_article: bool = False


@dataclass(slots=True)
class _Finding:
    """An entity found with the evidence for it; scored for the operator judgement."""

    name: str
    role: Role
    source: Source
    score: int
    order: int
    legal_form: str | None = None


@dataclass(slots=True)
class _Page:
    findings: list[_Finding] = field(default_factory=list)
    copyright: list[CopyrightLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def extract(body: bytes, *, content_type: str | None = None, url: str | None = None) -> Facts:
    """The ownership facts of one page's raw bytes. Never raises on bad input: a page that
    cannot be read gives ``Facts(readable=False)`` with a warning saying why."""
    del url  # reserved: a future version may use the host to tell self-references apart
    page = decode_html(body, content_type)
    if page.kind in ("empty", "binary"):
        return _unreadable(f"not an HTML page ({page.kind})")
    text = page.text
    if "WAYBACK TOOLBAR INSERT" in text:
        text = TOOLBAR_RE.sub("", text)
    return extract_text(text)  # decode_html's text is already safe for lxml


def _unreadable(why: str) -> Facts:
    return Facts(
        operator=None, readable=False, extractor_version=EXTRACTOR_VERSION, warnings=(why,)
    )


def extract_text(text: str) -> Facts:
    """The facts of a decoded page. Only the blocks that can hold ownership statements are
    parsed: finding them by string search costs a fraction of parsing the whole page."""
    page = _Page()
    title = TITLE_RE.search(text, 0, 50_000)
    if title and CHALLENGE_RE.search(fold(html.unescape(title.group(1)))):
        return _unreadable(f"bot challenge or error page: {fold(title.group(1))[:80]!r}")
    # Footers close the page, so its second half is searched first and the first half only
    # when the second states no owner: every needle costs a full scan, the largest cost here.
    tail = _tail_start(text)
    articles = _ranges(text, (("<article", "</article"),))
    regions = _regions(text, tail, len(text), articles, imprint_from=0)
    for region in regions:
        _read_region(region, page)
    if tail and not _states_owner(page):
        head = _regions(text, 0, tail, articles)
        for region in head:
            _read_region(region, page)
        regions = head + regions
    _read_jsonld(text, page)
    _read_meta(text, page)
    registrations = find_registrations("\n".join(line for r in regions for line in r.lines))
    return _facts(page, registrations, size=len(text))


# --- regions ---------------------------------------------------------------------------------


def _regions(
    text: str,
    start: int,
    stop: int,
    articles: list[tuple[int, int]],
    imprint_from: int | None = None,
) -> list[Region]:
    """Windows around footers, copyright markers and an Impressum between ``start`` and
    ``stop``, merged where they overlap, each read on its own. An Impressum is a page's main
    content, so its search may start elsewhere (``imprint_from``)."""
    hidden = _Hidden(text)
    windows: list[tuple[int, int, Source]] = []
    for needle, role in NEEDLES:
        if role == IMPRINT:
            if imprint_from is not None:
                windows.extend(_windows_for(text, needle, role, hidden, imprint_from, stop))
            continue
        windows.extend(_windows_for(text, needle, role, hidden, start, stop))
    regions = []
    for begin, end, source in _split_at(_merge(windows, len(text)), text):
        lines = _lines_of(text[begin:end])
        if lines:
            regions.append(Region(lines, source, begin, _inside_ranges(begin, articles)))
    return regions


def _states_owner(page: _Page) -> bool:
    """Whether what was read so far names an owner worth judging."""
    return bool(page.copyright) or any(f.score > 0 for f in page.findings)


def _windows_for(
    text: str, needle: str, role: str, hidden: _Hidden, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, int, Source]]:
    """The windows one needle opens. Inside a start tag it marks a footer when it stands in the
    id, class or role; in text it marks a statement. After a window the search resumes past it,
    after a script or comment past its end: later hits there would add nothing."""
    stop = len(text) if stop is None else stop
    at = text.find(needle, start, stop)
    count = 0
    while at != -1 and count < MAX_HITS_PER_NEEDLE:
        resume = at + len(needle)
        window = _window_at(text, at, role)
        if window is not None:
            block_end = hidden.block_end(at)
            if block_end is None:
                yield window
                count += 1
                resume = window[1]
            else:
                resume = block_end
        at = text.find(needle, resume, stop)


def _tail_start(text: str) -> int:
    """Where the search for footers starts: the middle of the page, backed off to a tag."""
    if len(text) < SMALL_PAGE_CHARS:
        return 0
    middle = len(text) // 2
    tag = text.rfind("<", 0, middle)
    return max(tag, 0)


def _window_at(text: str, at: int, role: str) -> tuple[int, int, Source] | None:
    tag_start = text.rfind("<", max(0, at - MAX_TAG_CHARS), at)
    in_tag = tag_start != -1 and ">" not in text[tag_start:at]
    if in_tag:
        if role in (FOOTER, BOTH) and _footer_tag(text, tag_start, at):
            return tag_start, tag_start + FOOTER_WINDOW, Source.FOOTER
        return None  # an attribute such as alt="©" or a meta tag, read elsewhere
    if role == IMPRINT:
        return _block_start(text, at), at + IMPRINT_WINDOW, Source.IMPRINT
    if role in (MARKER, BOTH):
        return _block_start(text, at), at + MARKER_AFTER, Source.BODY
    return None


def _ranges(text: str, pairs: Iterable[tuple[str, str]]) -> list[tuple[int, int]]:
    found = []
    for opening, closing in pairs:
        at = text.find(opening)
        while at != -1:
            end = text.find(closing, at + len(opening))
            end = len(text) if end == -1 else end
            found.append((at, end))
            at = text.find(opening, end)
    found.sort()
    return found


class _Hidden:
    """Whether a position lies in a script, style or comment, judged by looking back a bounded
    distance: cheaper than mapping every such block of a large page when few positions matter."""

    def __init__(self, text: str) -> None:
        self.text = text

    def block_end(self, at: int) -> int | None:
        """The end of the hidden block holding ``at``, or None when ``at`` is page text."""
        lo = max(0, at - HIDDEN_LOOKBACK)
        for opening, closing in HIDDEN_BLOCKS:
            start = self.text.rfind(opening, lo, at)
            if start != -1 and self.text.find(closing, start, at) == -1:
                end = self.text.find(closing, at)
                return len(self.text) if end == -1 else end
        return None


def _inside_ranges(at: int, ranges: list[tuple[int, int]]) -> bool:
    index = bisect.bisect_right(ranges, (at, _END)) - 1
    return index >= 0 and ranges[index][0] <= at < ranges[index][1]


_END = 1 << 62  # sorts after any real range end


def _footer_tag(text: str, tag_start: int, at: int) -> bool:
    return (
        text.startswith("<footer", tag_start)
        or ATTR_TAIL_RE.search(text, tag_start, at) is not None
    )


def _block_start(text: str, at: int) -> int:
    """The nearest block start tag before ``at``, so a window opens on a whole element."""
    lo = max(0, at - MARKER_BEFORE)
    last = None
    for match in TAG_START_RE.finditer(text, lo, at):
        last = match.start()
    return last if last is not None else text.rfind("<", lo, at) if "<" in text[lo:at] else lo


def _merge(windows: list[tuple[int, int, Source]], size: int) -> list[tuple[int, int, Source]]:
    """Overlapping windows joined; a window touching a footer window is footer too. The
    total is bounded: on a huge page the last windows (nearest the footer) are kept."""
    rank = {Source.IMPRINT: 2, Source.FOOTER: 1, Source.BODY: 0}
    merged: list[list[Any]] = []
    for start, end, source in sorted(windows):
        end = min(end, size)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if rank[source] > rank[merged[-1][2]]:
                merged[-1][2] = source
        else:
            merged.append([start, end, source])
    kept: list[tuple[int, int, Source]] = []
    total = 0
    for start, end, source in reversed(merged):
        total += end - start
        if total > MAX_WINDOWS_CHARS:
            break
        kept.append((start, end, source))
    return kept[::-1]


def _split_at(
    windows: list[tuple[int, int, Source]], text: str, boundary: str = "</article"
) -> list[tuple[int, int, Source]]:
    """Windows cut where an article ends: a print footer inside an article and the site's own
    footer after it are separate statements, scored apart."""
    out = []
    for start, end, source in windows:
        cut = text.find(boundary, start, end)
        if cut == -1:
            out.append((start, end, source))
        else:
            out.extend([(start, cut, source), (cut, end, source)])
    return out


def _lines_of(snippet: str) -> tuple[str, ...]:
    """The visible text of an HTML window, one string per block or <br>, NFKC and whitespace
    folded. Lines follow the markup as a browser lays it out: a line break in the source is
    only a space, sibling inline elements are a space apart and markup inside a word
    ("<b>F</b>oo") joins. Tags are dropped by pattern rather than parsed: windows are small
    and cut on tag boundaries, and this costs a fraction of building a tree and walking it."""
    text = HIDDEN_RE.sub(" ", snippet.replace("\r", " ").replace("\n", " "))
    text = BLOCK_TAG_RE.sub("\n", text)
    text = SIBLING_RE.sub(" ", text)
    text = INLINE_TAG_RE.sub("\x00", text)
    # "© 2020<a>Example Ltd</a>": a lone tag between a word's end and a capital parts words
    text = GLUED_RE.sub(" ", text).replace("\x00", "")
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return tuple(line[:MAX_LINE_CHARS] for line in lines if line)


# --- reading lines ---------------------------------------------------------------------------


def _read_region(region: Region, page: _Page) -> None:
    imprint_operator_done = False
    after_insurance = False
    heading_seen = region.source is not Source.IMPRINT
    for line in region.lines:
        if region.source is Source.IMPRINT:
            if IMPRINT_HEAD_RE.search(line):
                heading_seen = True
                continue
            if not heading_seen:
                continue
            if OTHER_AFTER_RE.search(line):
                after_insurance = True
            if not imprint_operator_done and not after_insurance and _imprint_name(line):
                page.findings.append(
                    _Finding(
                        line,
                        Role.OPERATOR,
                        Source.IMPRINT,
                        SCORE_CUE_OPERATOR,
                        region.order,
                        split_name(line).legal_form,
                    )
                )
                imprint_operator_done = True
                continue
        _read_line(line, region, page, demote=after_insurance)


def _imprint_name(line: str) -> bool:
    """The first line after an Impressum heading names the provider, unless it is an address,
    a phone number or a label."""
    if len(line) > 80 or any(ch.isdigit() for ch in line) or "@" in line or ":" in line:
        return False
    words = len(line.split())
    multiword_or_form = words >= 2 or split_name(line).legal_form is not None
    return bool(line[:1].isalpha()) and words <= MAX_BRAND_WORDS and multiword_or_form


def _read_line(line: str, region: Region, page: _Page, *, demote: bool = False) -> None:
    names = find_names(line)
    claimed: set[int] = set()
    footer = region.source in (Source.FOOTER, Source.IMPRINT)
    has_mark = bool(COPYRIGHT_MARK_RE.search(line) or CJK_RIGHTS_RE.search(line))
    years = _years(line) if has_mark else None
    for span, role, score in _cued(line, names):
        claimed.add(span.start)
        if not footer:  # "活动由…承办" in an article names an event's organiser, not the site's
            score = min(score, SCORE_BODY_CUE)
        if demote:
            role, score = Role.OTHER, 0
        page.findings.append(
            _Finding(span.name, role, region.source, score, region.order, span.legal_form)
        )
    if has_mark:
        _read_copyright(line, names, claimed, region, page, years)
    standalone_holders: list[str] = []
    for span in names:
        if span.start in claimed:
            continue
        standalone = footer and not demote and not ARCHIVE_NAMES_RE.search(span.name)
        line_years = years or _years(line)
        role = Role.COPYRIGHT_HOLDER if standalone and (has_mark or line_years) else Role.OTHER
        score = SCORE_STANDALONE_FOOTER if standalone else 0
        if span.legal_form in WEAK_FORMS:  # 中国互联网举报中心: a linked institution, not the site
            score = min(score, SCORE_STANDALONE_INSTITUTION)
        if TRADEMARK_AFTER_NAME_RE.match(line[span.end :]):
            role, score = Role.OTHER, 0
        if role is Role.COPYRIGHT_HOLDER and not has_mark:
            standalone_holders.append(span.name)
        page.findings.append(
            _Finding(span.name, role, region.source, score, region.order, span.legal_form)
        )
    if standalone_holders:  # "2014 北京酷睿奥思科技发展有限公司": an ownership line without ©
        page.copyright.append(
            CopyrightLine(line, tuple(standalone_holders), _years(line), region.source)
        )


def _cued(line: str, names: list[NameSpan]) -> Iterator[tuple[NameSpan, Role, int]]:
    """Names that a role phrase points at: after "operated by", before 承办, and so on."""
    lowered = line.lower()
    if any(hint in lowered for hint in CUE_HINTS):  # most lines hold no cue
        for pattern, role, score in CUE_TABLE:
            for cue in pattern.finditer(line):
                span = _name_after(line, cue.end(), names)
                if span is not None:
                    yield span, role, score
    if not names and not has_cjk(line):
        return
    for span in names:
        before = line[: span.start]
        after = line[span.end :]
        if PARENT_AROUND_RE.search(before) and PARENT_TRAIL_RE.match(after):
            yield span, Role.PARENT, 0
        elif OPERATOR_BEFORE_RE.match(after):
            yield span, Role.OPERATOR, SCORE_CUE_OPERATOR
        elif SPONSOR_BEFORE_RE.match(after):
            yield span, Role.OTHER, SCORE_SPONSOR
    yield from _cjk_cued_without_form(line, names)


def _name_after(line: str, at: int, names: list[NameSpan]) -> NameSpan | None:
    """The name starting right after a cue: a legal-form name, else the words up to a stop."""
    for span in names:
        if at <= span.start <= at + 3:
            return span
    rest = line[at:]
    match = re.match(r"\s*([^\s,;|()（）:：][^,;|()（）。]*)", rest)
    if not match:
        return None
    words = before_address(TERMINATOR_RE.split(match.group(1))[0]).strip(" .")
    words = re.split(r"\s{2,}|(?<=[\u4e00-\u9fff])\s", words)[0]
    if not words or len(words.split()) > MAX_BRAND_WORDS or len(words) > 60:
        return None
    start = at + rest.index(words)
    return NameSpan(start, start + len(words), words, split_name(words).legal_form)


def _cjk_cued_without_form(
    line: str, names: list[NameSpan]
) -> Iterator[tuple[NameSpan, Role, int]]:
    """共青团中央主办: a Chinese name without a company suffix right before 主办 or 承办."""
    if not has_cjk(line):
        return
    known = {span.start for span in names}
    for cue in re.finditer(r"([\u4e00-\u9fff]{2,30}?)(主办|承办)", line):
        name = cue.group(1)
        start = cue.start(1)
        if start in known or any(s.start <= start < s.end for s in names):
            continue
        role, score = (
            (Role.OPERATOR, SCORE_CUE_OPERATOR)
            if cue.group(2) == "承办"
            else (Role.OTHER, SCORE_SPONSOR)
        )
        yield NameSpan(start, cue.end(1), name, None), role, score


def _read_copyright(
    line: str,
    names: list[NameSpan],
    claimed: set[int],
    region: Region,
    page: _Page,
    years: tuple[int, int] | None,
) -> None:
    holders: list[str] = []
    footer = region.source in (Source.FOOTER, Source.IMPRINT)
    for start, end in _holder_spans(line):
        inside = [s for s in names if start <= s.start < end and s.start not in claimed]
        if inside:
            for span in inside:
                claimed.add(span.start)
                holders.append(span.name)
                # an institution suffix (中心, 杂志社) weighs as a brand, not as a company form
                company = span.legal_form not in WEAK_FORMS
                if footer:
                    score = SCORE_FOOTER_HOLDER_FORM if company else SCORE_FOOTER_HOLDER_BRAND
                else:
                    score = SCORE_BODY_HOLDER_FORM if company else SCORE_BODY_HOLDER_BRAND
                page.findings.append(
                    _Finding(
                        span.name,
                        Role.COPYRIGHT_HOLDER,
                        region.source,
                        _bonus(score, years, region, form=company),
                        region.order,
                        span.legal_form,
                    )
                )
            continue
        brand = _brand(line[start:end])
        if brand and not any(start <= s.start < end for s in names):
            holders.append(brand)
            score = SCORE_FOOTER_HOLDER_BRAND if footer else SCORE_BODY_HOLDER_BRAND
            page.findings.append(
                _Finding(
                    brand,
                    Role.COPYRIGHT_HOLDER,
                    region.source,
                    _bonus(score, years, region, form=False),
                    region.order,
                    None,
                )
            )
    text = line if len(line) <= 300 else _window(line)
    holders = [h for h in holders if not ARCHIVE_NAMES_RE.search(h)]
    page.copyright.append(CopyrightLine(text, tuple(dict.fromkeys(holders)), years, region.source))


def _bonus(score: int, years: tuple[int, int] | None, region: Region, *, form: bool) -> int:
    score += BONUS_MARK + (BONUS_YEARS if years else 0) + (BONUS_LEGAL_FORM if form else 0)
    return score - (PENALTY_IN_ARTICLE if region.in_article else 0)


def _holder_spans(line: str) -> Iterator[tuple[int, int]]:
    """Where the holder of each copyright statement in ``line`` is written."""
    for mark in COPYRIGHT_MARK_RE.finditer(line):
        if mark.start() and COPYRIGHT_MARK_RE.match(line, mark.start() - 2):
            continue
        junk = _PREFIX_JUNK_RE.match(line, mark.start())
        start = junk.end() if junk else mark.end()
        end = _terminator(line, start)
        if line[start:end].strip(" .,"):
            yield start, end
        else:  # "topicseed, 2018-2019 © All rights reserved.": the holder stands before
            before = line[: mark.start()]
            cut = max(before.rfind(ch) for ch in "|•·")
            yield cut + 1, mark.start()
    for rights in CJK_RIGHTS_RE.finditer(line):
        run = re.search(r"([\u3400-\u9fffA-Za-z0-9]+)\s*$", line[: rights.start()])
        if run:
            yield run.start(1), rights.start()
        after = re.match(r"\s*[:：]\s*", line[rights.end() :])
        if after:
            start = rights.end() + after.end()
            yield start, _terminator(line, start)


def _terminator(line: str, start: int) -> int:
    stop = TERMINATOR_RE.search(line, start)
    return stop.start() if stop else len(line)


def _brand(text: str) -> str | None:
    """A holder written without a legal form ("FINANZCHECK.de", "Agentur MARKE ICH")."""
    text = YEAR_RANGE_RE.sub("", before_address(text)).strip(" ,.;:-–—")
    text = re.sub(r"^(?:by|par|von|de)\s+", "", text, flags=re.I)
    if not text or not (text[0].isalnum()) or text[0].isdigit():
        return None
    if len(text) > 60 or len(text.split()) > MAX_BRAND_WORDS or ARCHIVE_NAMES_RE.search(text):
        return None
    if re.fullmatch(r"(?i:all\s+rights.*|reserved|the|inc\.?|ltd\.?)", text):
        return None
    return text


def _years(line: str) -> tuple[int, int] | None:
    found: list[int] = []
    for match in YEAR_RANGE_RE.finditer(line):
        found.append(int(match.group(1)))
        if match.group(2):
            found.append(int(match.group(2)))
    return (min(found), max(found)) if found else None


def _window(line: str) -> str:
    mark = COPYRIGHT_MARK_RE.search(line) or CJK_RIGHTS_RE.search(line)
    start = max(0, (mark.start() if mark else 0) - 100)
    return line[start : start + 300]


# --- structured data -------------------------------------------------------------------------


def _read_jsonld(text: str, page: _Page) -> None:
    for match in JSONLD_RE.finditer(text):
        data = _loads_lenient(match.group(1))
        if data is None:
            continue
        for org, path in _organisations(data, ""):
            _jsonld_org(org, path, page)


def _loads_lenient(raw: str) -> Any:
    text = raw.strip().removeprefix("<!--").removesuffix("-->").strip()
    text = text.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _organisations(data: Any, key: str, depth: int = 0) -> Iterator[tuple[dict[str, Any], str]]:
    if depth > 8:
        return
    if isinstance(data, list):
        for item in data:
            yield from _organisations(item, key, depth + 1)
    elif isinstance(data, dict):
        kinds = data.get("@type", ())
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        if isinstance(kinds, list | tuple) and any(
            isinstance(k, str) and (k in ORG_TYPES or k.endswith("Organization")) for k in kinds
        ):
            yield data, key
        for child_key, value in data.items():
            if isinstance(value, dict | list) and not child_key.startswith("@context"):
                child = child_key if child_key != "@graph" else key or "@graph"
                yield from _organisations(value, child, depth + 1)


def _jsonld_org(org: dict[str, Any], path: str, page: _Page) -> None:
    role = JSONLD_ROLES.get(path, Role.OTHER)
    legal = org.get("legalName")
    if isinstance(legal, str) and fold(legal):
        name = fold(legal)
        score = SCORE_JSONLD_LEGALNAME if role in (Role.OPERATOR, Role.COPYRIGHT_HOLDER) else 0
        page.findings.append(
            _Finding(name, role, Source.JSONLD, score, NO_POSITION, split_name(name).legal_form)
        )
    plain = org.get("name")
    if isinstance(plain, str) and fold(plain):
        spans = find_names(fold(plain))
        if spans and spans[-1].end >= len(fold(plain).rstrip(" .")) and spans[0].start == 0:
            score = SCORE_JSONLD_NAME_FORM if role is Role.OPERATOR else 0
            span = spans[0]
            finding = _Finding(span.name, role, Source.JSONLD, score, NO_POSITION, span.legal_form)
            page.findings.append(finding)


def _read_meta(text: str, page: _Page) -> None:
    for tag in META_COPYRIGHT_RE.finditer(text, 0, 100_000):
        content_match = META_CONTENT_RE.search(tag.group())
        if content_match is None:
            continue
        content = html.unescape(content_match.group(1) or content_match.group(2) or "")
        text = fold(content)[:MAX_LINE_CHARS]
        if not text:
            continue
        vendor = bool(VENDOR_ENGINES_RE.search(text))
        names = find_names(text)
        for span in names:
            role = Role.VENDOR if vendor else Role.COPYRIGHT_HOLDER
            page.findings.append(
                _Finding(
                    span.name,
                    role,
                    Source.META,
                    0 if vendor else SCORE_META,
                    NO_POSITION,
                    span.legal_form,
                )
            )
        holders = tuple(span.name for span in names) or (
            (_brand(text) or "",) if not vendor else ()
        )
        page.copyright.append(
            CopyrightLine(text, tuple(h for h in holders if h), _years(text), Source.META)
        )


# --- judgement -------------------------------------------------------------------------------

CANDIDATE_ROLES = frozenset({Role.OPERATOR, Role.COPYRIGHT_HOLDER, Role.OTHER})


def _facts(page: _Page, registrations: tuple[Registration, ...], size: int) -> Facts:
    findings = [f for f in page.findings if not ARCHIVE_NAMES_RE.search(f.name)]
    operator = _choose_operator(findings, size)
    entities = _entities(findings)
    copyright_lines = tuple(_dedupe_lines(page.copyright))
    readable = bool(copyright_lines or entities or registrations)
    return Facts(
        operator=operator,
        copyright=copyright_lines,
        entities=entities,
        registrations=registrations,
        conflicts=_conflicts(operator, findings),
        readable=readable,
        extractor_version=EXTRACTOR_VERSION,
        warnings=tuple(page.warnings) + (() if readable else ("no ownership statement found",)),
    )


def _choose_operator(findings: list[_Finding], size: int) -> str | None:
    best: tuple[float, str] | None = None
    for finding in findings:
        if finding.score <= 0 or finding.role not in CANDIDATE_ROLES:
            continue
        # Ties go to the statement further down the page, where the site's own footer sits.
        position = finding.order / max(size, 1) if finding.order != NO_POSITION else 0
        key = finding.score + position
        if best is None or key > best[0]:
            best = (key, finding.name)
    return best[1] if best else None


def _entities(findings: list[_Finding]) -> tuple[Entity, ...]:
    # A name the page gives a role need not be listed again as merely mentioned ("other").
    with_role = {name_key(f.name) for f in findings if f.role is not Role.OTHER}
    seen: dict[tuple[str, Role, Source], Entity] = {}
    for finding in findings:
        key = (name_key(finding.name), finding.role, finding.source)
        if key in seen or not key[0] or (finding.role is Role.OTHER and key[0] in with_role):
            continue
        parts = split_name(finding.name)
        seen[key] = Entity(
            name=finding.name,
            legal_form=parts.legal_form,
            role=finding.role,
            source=finding.source,
            place=parts.place,
            core=parts.core,
            legal_form_code=parts.legal_form_code,
        )
    return tuple(seen.values())


def _conflicts(operator: str | None, findings: list[_Finding]) -> tuple[str, ...]:
    if operator is None:
        return ()
    visible = {name_key(operator)}
    out: list[str] = []
    if split_name(operator).legal_form is None:  # a brand beside a legal name is no conflict
        return ()
    for finding in findings:
        if (
            finding.source is Source.JSONLD
            and finding.score >= SCORE_JSONLD_LEGALNAME
            and name_key(finding.name) not in visible
        ):
            out.append(f"visible text names {operator!r}; JSON-LD legalName names {finding.name!r}")
    return tuple(dict.fromkeys(out))


def _dedupe_lines(lines: Iterable[CopyrightLine]) -> Iterator[CopyrightLine]:
    seen: set[str] = set()
    for line in lines:
        if line.text not in seen:
            seen.add(line.text)
            yield line
