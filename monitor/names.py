"""Legal-entity names in running text: where a name ends (its legal form) and where it starts.

The legal form is what tells a company name from a brand, so entity spans are anchored on it.
Two sources of forms are combined:

* ``LATIN_FORMS`` and ``CJK_SUFFIXES`` below: the spellings seen on real footers, including
  the misspellings (``Co,. Ltd.``) and composites (``GmbH & Co. KG``, ``S.A. de C.V.``) that a
  word-level list misses, with case rules so ``AG``/``SE``/``SA`` are not read in prose.
* OpenSanctions' ``rigour`` org-type database (ISO 20275 plus OCCRP's list, maintained), asked
  only about candidate lines: it recognises forms from jurisdictions the table does not list,
  and gives the canonical code (``coltd``, ``gmbh``...) used to compare names.

Pure functions: text in, frozen dataclasses out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rigour.names.org_types import extract_org_types, replace_org_types_compare

from monitor.places import place_prefix

# Abbreviated forms carry their trailing dot ("Inc.", "Ltd."), written-out ones do not, which
# is how the names are spelled in the corpus labels ("WebMD, LLC" but "ScienceAlert Pty Ltd.").
_CI = r"(?i:{})"
LATIN_FORMS: tuple[str, ...] = (
    r"GmbH\s*(?:&|\+|und)\s*Co\.?\s*(?:KGaA|KG|OHG)",
    r"AG\s*(?:&|\+)\s*Co\.?\s*(?:KGaA|KG|OHG)",
    r"S\.?\s?A\.?\s?P\.?\s?I\.?\s+de\s+C\.?\s?V\.?",
    r"S\.?\s?A\.?\s+de\s+C\.?\s?V\.?",
    r"S\.?\s?de\s+R\.?\s?L\.?(?:\s+de\s+C\.?\s?V\.?)?",
    _CI.format(r"co(?:mpany)?\s*[.,]{1,2}\s*,?\s*(?:ltd\.?|limited)"),
    _CI.format(r"co\s+(?:ltd\.?|limited)"),
    _CI.format(r"(?:pty|pte|pvt|private)\.?\s*(?:ltd\.?|limited)"),
    _CI.format(r"sdn\.?\s*bhd\.?"),
    _CI.format(r"public\s+limited\s+company"),
    _CI.format(r"limitada|limited|ltda\.?|ltd\.?"),
    _CI.format(r"incorporated|inc\."),
    r"Inc|INC",
    _CI.format(r"corporation|corp\."),
    r"Corp|CORP",
    _CI.format(r"l\.l\.c\.|llc|l\.l\.p\.|llp"),
    r"PLC|plc|Plc|p\.l\.c\.",
    r"gGmbH|GmbH|GMBH|mbH",
    r"KGaA|OHG|KG|AG|SE|UG(?:\s*\(haftungsbeschränkt\))?|e\.\s?V\.",
    r"S\.A\.S\.|SAS|SARL|S\.A\.R\.L\.|S\.A\.|SA|S\.L\.|S\.p\.A\.|SpA|S\.r\.l\.|Srl",
    r"B\.V\.|BV|N\.V\.|NV|A/S|ApS|AB|ASA|Oyj|Oy|K\.K\.|Kft\.|Zrt\.|s\.r\.o\.|a\.s\.",
    r"Company|Gesellschaft",
)
LATIN_FORM_RE = re.compile(
    r"(?:,\s*)?(?<![\w&.-])(?P<form>" + "|".join(LATIN_FORMS) + r")(?![\w&-])(?!\.\w)"
)

# Han/kana suffixes of organisation names, longest first. 杂志社 and 中心 appear on public
# institutions (magazines, state media centres) that run Chinese sites without a company form.
CJK_SUFFIXES: tuple[str, ...] = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "集团有限公司",
    "有限公司",
    "分公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "公司",
    "杂志社",
    "雜誌社",
    "报社",
    "出版社",
    "研究院",
    "中心",
)
_CJK_CHAR = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u30a0-\u30ff\u3005\u30fc"
CJK_RE = re.compile(rf"[{_CJK_CHAR}]")
# Words that end a Chinese name on their left: role labels and copyright phrases.
CJK_CUES_RE = re.compile(
    r"^.*?(?:版权所有|版權所有|主办单位|主办|承办单位|承办|运营管理中心|运营单位|运营主体|运营商|运营|"
    r"技术支持|网站建设|设计制作|单位名称|公司名称|地址|电话|联系|备案|所有|支持)[:：]?"
)

_CONNECTORS = frozenset(
    {
        "&",
        "+",
        "and",
        "und",
        "of",
        "de",
        "del",
        "der",
        "des",
        "du",
        "la",
        "le",
        "y",
        "e",
        "et",
        "for",
        "für",
        "-",
        "–",
        "van",
        "von",
        "da",
        "do",
        "dos",
        "das",
        "di",
    }
)
_STOP_WORDS = frozenset(
    {
        "copyright",
        "all",
        "rights",
        "reserved",
        "powered",
        "operated",
        "published",
        "designed",
        "hosted",
        "subsidiary",
        "by",
        "a",
        "an",
        "is",
        "are",
        "our",
        "contact",
        "privacy",
        "terms",
        "registered",
        "trademark",
        "trademarks",
        "©",
        "|",
        "under",
        "license",
        "licence",
        "from",
        "owned",
        "run",
        "ein",
        "eine",
        "unternehmen",
        "marke",
        "seit",
        "since",
        "imprint",
        "impressum",
    }
)
# Where a postal address starts: a street and house number ("Winterstraße 2", "Röntgen-Str. 2",
# "90 York Way") or a postcode before a town ("22765 Hamburg", "D-80331 München"). Footers set
# the address beside the holder in sibling elements; with the tags gone, only its shape tells
# where a name without a legal form ends.
ADDRESS_RE = re.compile(
    r"\b(?:\w*(?i:stra(?:ß|ss)e|str\.|gasse|allee|platz|weg)\s*\d{1,4}[a-z]?\b"
    r"|\d{1,5}(?:\s+[A-Z][a-z]+){1,3}\s+(?:(?:Street|Road|Avenue|Lane|Way)\b|(?:St|Rd|Ave)\.)"
    r"|(?:[A-Z]{1,2}-)?\d{5}\s+[A-ZÄÖÜ][a-zäöüß])"
)
_MAX_NAME_TOKENS = 9
_DOMAIN_WORD = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z]{2,6}$")
_WS = re.compile(r"\s+")
_YEAR = re.compile(r"^(?:19|20)\d\d\b")
_PUNCT_KEY = re.compile(r"[\s.,;:'\"’`´()（）\[\]&+\-–—/·・|]+")


@dataclass(frozen=True, slots=True)
class NameSpan:
    """A legal-entity name found in a line: its characters and its legal form as written."""

    start: int
    end: int
    name: str
    legal_form: str | None


@dataclass(frozen=True, slots=True)
class NameParts:
    """A name split into place prefix, core and legal form, for comparison and display."""

    name: str
    place: str | None
    core: str
    legal_form: str | None
    legal_form_code: str | None


def fold(text: str) -> str:
    """NFKC and whitespace folding: the one spelling of a name this package reports."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def name_key(name: str) -> str:
    """A key that two spellings of one name share ("Salon Media Group, Inc." and "... Inc")."""
    return _PUNCT_KEY.sub("", fold(name).casefold())


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Han or katakana characters."""
    return CJK_RE.search(text) is not None


def find_names(line: str) -> list[NameSpan]:
    """Every entity name in ``line`` that ends (or, for 株式会社, starts) with a legal form."""
    spans = _latin_names(line)
    spans.extend(_cjk_names(line))
    spans.sort(key=lambda s: s.start)
    return _drop_overlaps(spans)


def before_address(text: str) -> str:
    """``text`` up to where a postal address starts, all of it when none does:
    "FINANZCHECK.de Winterstraße 2 22765 Hamburg" -> "FINANZCHECK.de"."""
    address = ADDRESS_RE.search(text)
    return text[: address.start()].rstrip(" ,;-–—") if address else text


def legal_form_of(name: str) -> str | None:
    """The legal form at the end of ``name`` (or 株式会社 at its start), as written."""
    cjk = _cjk_form(name)
    if cjk:
        return cjk
    last = None
    for match in LATIN_FORM_RE.finditer(name):
        last = match
    if last is not None and name[last.end() :].strip(" .,") == "":
        return last.group("form")
    return None


def split_name(name: str) -> NameParts:
    """Place prefix, core and legal form of a name, plus rigour's canonical form code."""
    name = fold(name)
    form = legal_form_of(name)
    core = name
    if form:
        core = name.replace(form, "", 1) if name.startswith(form) else name[: name.rfind(form)]
    place = place_prefix(name)
    if place and core.startswith(place):
        core = core[len(place) :]
    return NameParts(
        name=name,
        place=place,
        core=core.strip(" ,.-"),
        legal_form=form,
        legal_form_code=form_code(name) if form else None,
    )


@lru_cache(maxsize=4096)
def form_code(name: str) -> str | None:
    """rigour's canonical code of the last legal form in ``name`` (``ltd``, ``coltd``...)."""
    found = extract_org_types(fold(name).casefold())
    if found:
        return str(found[-1][1])
    form = _cjk_form(name)
    return {"株式会社": "kk", "有限会社": "yk", "合同会社": "gk"}.get(form or "") or (
        "ltd" if form and "有限" in form else None
    )


def compare_key(name: str) -> str:
    """A comparison key with legal forms canonicalised by rigour (Ltd = Limited)."""
    return _PUNCT_KEY.sub("", replace_org_types_compare(fold(name).casefold()))


def _cjk_form(name: str) -> str | None:
    if name.startswith("株式会社"):
        return "株式会社"
    for suffix in CJK_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def _latin_names(line: str) -> list[NameSpan]:
    found: list[NameSpan] = []
    covered_to = -1
    for match in LATIN_FORM_RE.finditer(line):
        form = match.group("form")
        if match.start() < covered_to or not _form_plausible(form, line, match.start("form")):
            continue
        start = _expand_left(line, match.start(), form)
        if start is None:
            continue
        covered_to = match.end()
        found.append(NameSpan(start, match.end(), fold(line[start : match.end()]), fold(form)))
    return found


def _form_plausible(form: str, line: str, at: int) -> bool:
    """'Company' followed by 'No.'/'number' is a register label, not a legal form."""
    if form in {"Company", "Gesellschaft"}:
        rest = line[at + len(form) :].lstrip().lower()
        return not rest.startswith(("no", "number", "registration", "reg"))
    return True


_TOKEN = re.compile(r"[©®™|:;•·]|\(C\)|\(c\)|[^\s©®™|:;•·]+")


def _expand_left(line: str, anchor: int, form: str) -> int | None:
    """Where the name that ends at ``anchor`` starts, walking left over its words."""
    tokens = [(m.start(), m.group()) for m in _TOKEN.finditer(line, 0, anchor)]
    start: int | None = None
    taken = 0
    for position, token in reversed(tokens):
        bare = token.strip(",").strip("\"'“”‘’()[]")
        if token.endswith(",") and taken and not _comma_inside_name(line, anchor, position):
            break
        lower = bare.lower()
        if not bare or lower in _STOP_WORDS or _YEAR.match(bare) or _is_boundary(bare):
            break
        if lower in _CONNECTORS:
            # "Bennett, Coleman & Co. Ltd.": '&' may stand right before a Co.-form.
            if not taken and not form.lower().startswith("co"):
                break
            continue
        if _sentence_end(token) or not _name_word(bare, first=taken == 0, form=form):
            break
        start = position + (len(token) - len(token.lstrip("\"'“‘(")))
        taken += 1
        if lower == "the" or taken >= _MAX_NAME_TOKENS:
            break
    return start


def _comma_inside_name(line: str, anchor: int, position: int) -> bool:
    """A comma inside a firm name: "Bennett, Coleman & Co. Ltd." (an '&' follows it)."""
    rest = line[position:anchor]
    return "&" in rest or " and " in rest


def _is_boundary(token: str) -> bool:
    return token in {"©", "®", "™", "|", ":", ";", "•", "·", "-", "–", "—", "(C)", "(c)"}


def _name_word(word: str, *, first: bool, form: str) -> bool:
    """Capitalised, digit-led or camel-case words; one lower-case word right before a distinct
    form ("ebrosia GmbH"), but not before a two-letter one ("... are AG"), which prose has."""
    head = word[0]
    if head.isupper() or head.isdigit() or word.lower() == "the":
        return True
    if any(ch.isupper() for ch in word) or _DOMAIN_WORD.match(word):
        return True  # "e-Mídia", "comparis.ch AG": a brand written as a domain name
    return first and head.isalpha() and len(form.replace(".", "")) > 2


def _sentence_end(token: str) -> bool:
    """A word closing a sentence ("great."), not an initial ("W.") or abbreviation ("U.S.")."""
    return token.endswith(".") and len(token) > 2 and "." not in token[:-1]


_STRONG_CJK = CJK_SUFFIXES[: CJK_SUFFIXES.index("公司") + 1]
# Institution suffixes: a name ending so is no company, and often a linked authority.
WEAK_FORMS = frozenset(CJK_SUFFIXES[CJK_SUFFIXES.index("公司") + 1 :])
_WEAK_CJK = CJK_SUFFIXES[CJK_SUFFIXES.index("公司") + 1 :]
_CJK_RUN = re.compile(rf"[{_CJK_CHAR}A-Za-z0-9（）()·&]+")
_STRONG_RE = re.compile("|".join(_STRONG_CJK))
_WEAK_END_RE = re.compile(rf"(?:{'|'.join(_WEAK_CJK)})(?=$|主办|承办|运营|版权所有|版權所有)")


def _cjk_names(line: str) -> list[NameSpan]:
    """Names in runs of Han/katakana text, split after each company suffix."""
    if not CJK_RE.search(line):
        return []
    spans: list[NameSpan] = []
    for run in _CJK_RUN.finditer(line):
        if CJK_RE.search(run.group()):
            spans.extend(_names_in_run(run.group(), run.start()))
    return spans


def _names_in_run(run: str, offset: int) -> list[NameSpan]:
    # 株式会社 at the start of a run is a prefix form (株式会社マイナビ), not a name's end.
    ends = [m.end() for m in _STRONG_RE.finditer(run) if m.start() or m.group() != "株式会社"]
    if not ends:
        weak = _WEAK_END_RE.search(run)
        ends = [weak.end()] if weak else []
    if not ends and run.startswith("株式会社") and len(run) > len("株式会社"):
        ends = [len(run)]
    spans = []
    begin = 0
    for end in ends:
        segment = run[begin:end]
        cut = CJK_CUES_RE.match(segment)
        start = begin + (cut.end() if cut else 0)
        name = run[start:end].lstrip("（(&·")
        start = end - len(name)
        begin = end
        form = _cjk_form(name)
        # 大公司 ("big companies", a menu entry) is no name: two characters before the form at least
        if len(name) >= len(form or "") + 2 and CJK_RE.search(name.replace(form or "", "")):
            spans.append(NameSpan(offset + start, offset + end, fold(name), form))
    return spans


def _drop_overlaps(spans: list[NameSpan]) -> list[NameSpan]:
    kept: list[NameSpan] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            if span.end - span.start > kept[-1].end - kept[-1].start:
                kept[-1] = span
            continue
        kept.append(span)
    return kept
