"""Registration numbers printed on pages.

``find_registrations`` reads visible text (a footer, an imprint or a whole page) and returns
the registrations it states, deduplicated, in page order:

* China: ICP filings (京ICP备12025439号-3) and licences (京ICP证030173号), value-added telecom
  licences (沪B2-20180235), public-security filings (京公网安备 11010502030071号), other
  ``...许可证`` licences (labelled with the licence's name) and unified social credit codes.
* UK company numbers, German and other EU VAT IDs, German Handelsregister numbers.

Every pattern is anchored on its keyword (ICP, 公网安备, 许可证, HRB, VAT, "company number"...),
uses bounded repetition only, and runs only when a cheap substring test finds the keyword, so
a page without registrations costs a few substring scans.

What ``Registration`` carries per kind:

* ``region``: the province a Chinese prefix names (京 -> Beijing, from
  :data:`monitor.places.CN_PROVINCES`); the division code's province for a public-security
  filing or credit code without a prefix; the jurisdiction for a UK number; the register court
  for a Handelsregister number.
* ``label``: the licence's own name for ``cn_license`` and telecom licences
  (互联网新闻信息服务许可证, 沪ICP证); for public-security filings and credit codes, the Chinese
  place the number's administrative division code names (北京市朝阳区), from
  :func:`monitor.places.division_of`.
* ``valid``: python-stdnum's verdict (credit code, VAT, register court); for a public-security
  filing, whether the division code is known and lies in the province the prefix names.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from stdnum.cn import uscc
from stdnum.de import handelsregisternummer
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, ValidationError

from monitor.facts import Registration, RegistrationKind
from monitor.places import CN_PROVINCES, division_of, normalise

__all__ = ["KNOWN_CN_LICENCES", "find_registrations"]

# Licence names seen on Chinese footers; when the text before 许可证 runs on without a break
# (版权所有中国青年网信息网络传播视听节目许可证), the longest known name ending there is the label.
KNOWN_CN_LICENCES: tuple[str, ...] = (
    "互联网新闻信息服务许可证",
    "信息网络传播视听节目许可证",
    "网络文化经营许可证",
    "出版物经营许可证",
    "广播电视节目制作经营许可证",
    "增值电信业务经营许可证",
    "电信业务经营许可证",
    "网络出版服务许可证",
    "互联网出版许可证",
    "互联网宗教信息服务许可证",
    "营业性演出许可证",
    "食品经营许可证",
    "药品经营许可证",
    "医疗器械经营许可证",
)

# How far around a number to look for the words that qualify it (a UK jurisdiction, a
# register court, a licence name): footers state them within a sentence of the number.
_CONTEXT_BEFORE = 200
_CONTEXT_AFTER = 200
_LABEL_LOOKBACK = 24
_VAT_LOOKAHEAD = 100
# Pages repeat their footer and imprint lines; validating each spelling once is enough.
_CACHE_SIZE = 1024

_CJK = "\u4e00-\u9fff"
_PREFIX = "[" + "".join(CN_PROVINCES) + "]"
_ICP = r"(?i:icp)"

_ICP_FILING = re.compile(
    rf"(?P<prefix>{_PREFIX})\s?\|?\s?{_ICP}\s?备\s?(?:案\s?)?(?:号\s?)?:?\s?"
    r"\d{6,12}(?:\s?号)?(?:\s?-\s?\d{1,3})?(?!\d)",
    re.ASCII,
)
_ICP_LICENSE = re.compile(
    rf"(?P<prefix>{_PREFIX})\s?\|?\s?{_ICP}\s?证\s?(?:号\s?)?:?\s?\d{{4,8}}(?:\s?号)?(?!\d)",
    re.ASCII,
)
_TELECOM_LICENSE = re.compile(
    rf"(?P<prefix>{_PREFIX})\s?[AB][12]\s?-\s?\d{{6,8}}(?:\s?-\s?\d{{1,3}})?(?!\d)", re.ASCII
)
# Anchored on 公网安备 itself (the prefix is read backwards) so the scan is a literal search.
_PSB_FILING = re.compile(r"公网安备\s?(?:号\s?)?:?\s?(?P<code>\d{12,14})(?:\s?号)?(?!\d)", re.ASCII)
_PSB_PREFIX = re.compile(rf"(?P<prefix>{_PREFIX})\s?$")
_CN_LICENSE = re.compile(
    r"许可证(?:编号|号码|证号|号)?\s?:?\s?(?P<number>"
    r"(?:[A-Z]{1,4})?\d[\d-]{4,24}(?<!-)(?![\d-])(?:\s?号)?"
    rf"|[{_CJK}(\[〔【][{_CJK}()\[\]〔〕【】\d-]{{1,30}}?号)",
    re.ASCII,
)
_USCC = re.compile(r"社会信用代码\s?(?:[:：]\s?)?(?P<number>[0-9A-Z]{18})(?![0-9A-Za-z])", re.ASCII)
_LICENCE_LABEL = re.compile(
    rf"(?P<name>[{_CJK}]{{2,20}}许可证|(?:{_PREFIX}\s?)?{_ICP}\s?(?:经营许可)?证)"
    r"(?:编号|号码|号)?\s?:?\s?$"
)
_LABEL_BEFORE = re.compile(rf"[{_CJK}]{{0,20}}$")
_YEARS = re.compile(r"(?:19|20)\d\d(?:-(?:19|20)\d\d)?")

# UK: "company number", "Company No.", "company registration number", "Registered number",
# "Registered in England and Wales No."; the number is 8 characters, sometimes written without
# its leading zeros, with a two-letter prefix for Scotland, Northern Ireland, LLPs and others.
_UK_PREFIXES_SCOTLAND = ("SC", "SO", "SL")
_UK_PREFIXES_NI = ("NI", "NC", "NL", "R0")
_UK_PREFIXES = (*_UK_PREFIXES_SCOTLAND, *_UK_PREFIXES_NI, "OC", "LP", "FC", "IP", "RC", "ZC")
_UK_COMPANY = re.compile(
    r"\b(?:(?P<company>compan(?:y|ies\shouse))(?:\s(?:registration|registered|reg\.?))?"
    r"|(?P<bare>registered|registration)(?:\scompany)?"
    r"|registered\sin\s(?:england|wales|scotland|northern\sireland)[a-z&\s]{0,12}?"
    r"(?:,?\s(?:under|with))?(?:\s(?:company|registration))*)"
    r"\s?(?:number|no\b\.?|nr\b\.?|num\b\.?)\s?(?:is\s)?[:.#]?\s?"
    rf"(?P<number>(?-i:{'|'.join(_UK_PREFIXES)})\s?\d{{6}}|\d{{5,8}})(?![\w-]|[.,/]\d)",
    re.IGNORECASE | re.ASCII,
)
_JURISDICTION = re.compile(
    r"\b(?:(?P<ew>england\s?(?:and|&)\s?wales)|(?P<ni>northern\sireland)"
    r"|(?P<foreign>new\ssouth\swales|ireland|jersey|guernsey|isle\sof\sman|gibraltar|cyprus"
    r"|malta|hong\skong|singapore|india|australia|new\szealand|south\safrica)"
    r"|(?P<ew_part>england|wales)|(?P<scotland>scotland))\b",
    re.IGNORECASE | re.ASCII,
)
_JURISDICTION_NAMES = {
    "ew": "England and Wales",
    "ew_part": "England and Wales",
    "ni": "Northern Ireland",
    "scotland": "Scotland",
}
# A bare "registration number" belongs to something else when one of these precedes it.
_NOT_COMPANY_REGISTRATION = re.compile(
    r"(?i:charity|vat|tax|trade\s?mark|patent|design|vehicle|firm)\W{0,3}$"
)

_VAT_KEYWORD = re.compile(
    r"\b(?:ust\b|ust-?id|umsatzsteuer|vat\b|tva\b|iva\b|btw\b|mwst\b|uid\b)",
    re.IGNORECASE | re.ASCII,
)
_VAT_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    + "|".join(sorted(code.upper() for code in eu_vat.MEMBER_STATES if code != "gr"))
    + r")(?:\s?[0-9A-Z]){2,14}",
    re.ASCII,
)

_HR_NUMBER = re.compile(
    r"(?<![A-Za-z])(?P<registry>HR[AB])[\s-]?(?:Nr\.?\s?)?(?P<digits>\d{1,6})"
    r"(?:\s?(?P<suffix>B|HL|KI|FL|PI)\b)?(?!\d)"
)
_COURT_WORD = r"[A-ZÄÖÜ(][A-Za-zÄÖÜäöüß.()/-]*"
_COURT = re.compile(
    r"\b(?P<keyword>Amtsgerichts?|Registergerichts?|AG)\b\s?:?\s?(?:Amtsgericht\s)?"
    rf"(?P<court>(?!HR[AB]\b){_COURT_WORD}"
    rf"(?:\s(?!HR[AB]\b)(?:{_COURT_WORD}|a\.|am|an|der|i\.|im|in|d\.)){{0,3}})"
)


@dataclass(frozen=True, slots=True)
class _Found:
    """A registration with the span of its number, to order and de-overlap candidates."""

    start: int
    end: int
    registration: Registration


@dataclass(frozen=True, slots=True)
class _Rule:
    """One family of numbers: it runs only when one of its lower-case triggers is present."""

    triggers: tuple[str, ...]
    find: Callable[[str], Iterator[_Found]]


def find_registrations(text: str) -> tuple[Registration, ...]:
    """Every registration number ``text`` states, deduplicated, in page order.

    ``text`` is visible text; NFKC and whitespace folding are applied here, so raw text with
    fullwidth forms (京｜ICP备11020872号－17) gives the same result as normalised text, and
    numbers are reported NFKC-normalised as spelled (京|ICP备11020872号-17).
    """
    text = normalise(text)
    lowered = text.lower()
    found: list[tuple[int, _Found]] = []
    for priority, rule in enumerate(_RULES):
        if any(trigger in lowered for trigger in rule.triggers):
            found.extend((priority, item) for item in rule.find(text))
    return _dedupe(_drop_overlaps(found))


def _drop_overlaps(found: list[tuple[int, _Found]]) -> list[_Found]:
    # Two rules can read the same characters (a licence name before a B2 number); the rule
    # listed first in _RULES wins.
    found.sort(key=lambda pair: (pair[1].start, pair[0]))
    kept: list[tuple[int, _Found]] = []
    for priority, item in found:
        if kept and item.start < kept[-1][1].end:
            if priority < kept[-1][0]:
                kept[-1] = (priority, item)
            continue
        kept.append((priority, item))
    return [item for _, item in kept]


def _dedupe(found: list[_Found]) -> tuple[Registration, ...]:
    seen: set[tuple[RegistrationKind, str]] = set()
    result: list[Registration] = []
    for item in found:
        registration = item.registration
        key = (registration.kind, registration.number.replace(" ", "").upper())
        if key not in seen:
            seen.add(key)
            result.append(registration)
    return tuple(result)


def _find_icp_filings(text: str) -> Iterator[_Found]:
    for match in _ICP_FILING.finditer(text):
        region = CN_PROVINCES[match["prefix"]]
        yield _whole_match(match, RegistrationKind.ICP_FILING, region=region)


def _find_icp_licenses(text: str) -> Iterator[_Found]:
    for match in _ICP_LICENSE.finditer(text):
        region = CN_PROVINCES[match["prefix"]]
        yield _whole_match(match, RegistrationKind.ICP_LICENSE, region=region)


def _find_telecom_licenses(text: str) -> Iterator[_Found]:
    for match in _TELECOM_LICENSE.finditer(text):
        label = _LICENCE_LABEL.search(text, max(0, match.start() - _LABEL_LOOKBACK), match.start())
        region = CN_PROVINCES[match["prefix"]]
        yield _whole_match(
            match,
            RegistrationKind.TELECOM_LICENSE,
            region=region,
            label=_licence_name(label["name"]) if label else None,
        )


def _find_psb_filings(text: str) -> Iterator[_Found]:
    for match in _PSB_FILING.finditer(text):
        prefix = _PSB_PREFIX.search(text, max(0, match.start() - 2), match.start())
        start = prefix.start() if prefix else match.start()
        division = division_of(match["code"])
        if prefix:
            region: str | None = CN_PROVINCES[prefix["prefix"]]
            valid = division is not None and division.province == region
        else:
            region = division.province if division else None
            valid = division is not None
        registration = Registration(
            kind=RegistrationKind.PSB_FILING,
            number=text[start : match.end()],
            region=region,
            label=division.name if division else None,
            valid=valid,
        )
        yield _Found(start, match.end(), registration)


def _find_cn_licenses(text: str) -> Iterator[_Found]:
    for match in _CN_LICENSE.finditer(text):
        number = match["number"]
        if not _plausible_licence_number(number):
            continue
        before = _LABEL_BEFORE.search(text, max(0, match.start() - _LABEL_LOOKBACK), match.start())
        name = (before.group() if before else "") + "许可证"
        registration = Registration(
            kind=RegistrationKind.CN_LICENSE, number=number, label=_licence_name(name)
        )
        yield _Found(match.start("number"), match.end("number"), registration)


def _find_credit_codes(text: str) -> Iterator[_Found]:
    for match in _USCC.finditer(text):
        number = match["number"]
        division = division_of(number[2:8])
        registration = Registration(
            kind=RegistrationKind.CN_USCC,
            number=number,
            region=division.province if division else None,
            label=division.name if division else None,
            valid=uscc.is_valid(number),
        )
        yield _Found(match.start("number"), match.end("number"), registration)


def _find_uk_companies(text: str) -> Iterator[_Found]:
    for match in _UK_COMPANY.finditer(text):
        number = match["number"]
        region = _uk_region_from_prefix(number)
        foreign = False
        if region is None:
            region, foreign = _nearest_jurisdiction(text, match.start(), match.end())
        if foreign:
            continue
        if match["bare"] and (
            region is None
            or _NOT_COMPANY_REGISTRATION.search(text, max(0, match.start() - 20), match.start())
        ):
            continue
        registration = Registration(kind=RegistrationKind.UK_COMPANY, number=number, region=region)
        yield _Found(match.start("number"), match.end("number"), registration)


def _find_vat_ids(text: str) -> Iterator[_Found]:
    # Windows after consecutive keywords overlap; each character is scanned once, so a page
    # full of "VAT" stays linear.
    scanned = 0
    for keyword in _VAT_KEYWORD.finditer(text):
        start = max(keyword.end(), scanned)
        scanned = max(scanned, keyword.end() + _VAT_LOOKAHEAD)
        for candidate in _VAT_NUMBER.finditer(text, start, scanned):
            resolved = _resolve_vat(candidate.group())
            if resolved is None:
                continue
            number, valid = resolved
            kind = RegistrationKind.DE_VAT if number.startswith("DE") else RegistrationKind.EU_VAT
            registration = Registration(kind=kind, number=number, valid=valid)
            scanned = candidate.start() + len(number)
            yield _Found(candidate.start(), scanned, registration)
            break


def _find_register_numbers(text: str) -> Iterator[_Found]:
    # Court mentions are read once for the whole text, then the nearest is found by bisection.
    courts = list(_COURT.finditer(text)) if "gericht" in text or "AG" in text else []
    positions = [court.start() for court in courts]
    for match in _HR_NUMBER.finditer(text):
        first = bisect_left(positions, match.start() - _CONTEXT_BEFORE)
        last = bisect_left(positions, match.end() + _CONTEXT_AFTER)
        nearby = sorted(courts[first:last], key=lambda court: abs(court.start() - match.start()))
        court, valid = _register_court(nearby, match)
        registration = Registration(
            kind=RegistrationKind.DE_HRB, number=match.group(), region=court, valid=valid
        )
        yield _Found(match.start(), match.end(), registration)


def _whole_match(
    match: re.Match[str], kind: RegistrationKind, region: str | None, label: str | None = None
) -> _Found:
    registration = Registration(kind=kind, number=match.group(), region=region, label=label)
    return _Found(match.start(), match.end(), registration)


def _licence_name(name: str) -> str:
    name = name.replace(" ", "")
    for known in _LICENCES_LONGEST_FIRST:
        if name.endswith(known):
            return known
    return name


def _plausible_licence_number(number: str) -> bool:
    digits = sum(char.isdigit() for char in number)
    if number[0].isascii() and number[0].isalnum():
        # A bare year or year range after 许可证 is a date, not a number.
        return digits >= 6 and not _YEARS.fullmatch(number.rstrip("号 "))
    return digits >= 3


def _uk_region_from_prefix(number: str) -> str | None:
    if number.startswith(_UK_PREFIXES_SCOTLAND):
        return "Scotland"
    if number.startswith(_UK_PREFIXES_NI):
        return "Northern Ireland"
    return None


def _nearest_jurisdiction(text: str, start: int, end: int) -> tuple[str | None, bool]:
    """The UK jurisdiction named nearest the number, and whether a foreign one is nearer."""
    best: tuple[int, str | None, bool] | None = None
    window_start = max(0, start - _CONTEXT_BEFORE)
    for match in _JURISDICTION.finditer(text, window_start, end + _CONTEXT_AFTER):
        distance = start - match.end() if match.end() <= start else match.start() - end
        group = match.lastgroup or ""
        candidate = (abs(distance), _JURISDICTION_NAMES.get(group), group == "foreign")
        if best is None or candidate[0] < best[0]:
            best = candidate
    return (best[1], best[2]) if best else (None, False)


@lru_cache(maxsize=_CACHE_SIZE)
def _resolve_vat(candidate: str) -> tuple[str, bool] | None:
    """The longest leading part of ``candidate`` that has the form of an EU VAT ID."""
    tokens = candidate.split(" ")
    for size in range(len(tokens), 0, -1):
        number = " ".join(tokens[:size])
        try:
            eu_vat.validate(number)
        except InvalidChecksum:
            return number, False
        except ValidationError:
            continue
        return number, True
    return None


def _register_court(
    courts: list[re.Match[str]], number: re.Match[str]
) -> tuple[str | None, bool | None]:
    """The register court of the nearest mention python-stdnum knows, and its verdict."""
    register = f"{number['registry']} {number['digits']} {number['suffix'] or ''}".strip()
    for court in courts:
        canonical = _canonical_court(court["court"])
        if canonical is not None:
            return canonical, handelsregisternummer.is_valid(f"{canonical} {register}")
        if court["keyword"] != "AG":  # "AG" is also a legal form: only a known court counts
            return court["court"].split(" ")[0].rstrip(",."), False
    return None, None


@lru_cache(maxsize=_CACHE_SIZE)
def _canonical_court(written: str) -> str | None:
    """stdnum's name for the court that the longest leading words of ``written`` name."""
    words = written.split(" ")
    for size in range(len(words), 0, -1):
        for spelling in _court_spellings(" ".join(words[:size])):
            try:
                canonical: str = handelsregisternummer.validate(f"{spelling} HRB 1")
            except ValidationError:
                continue
            return canonical.removesuffix(" HRB 1")
    return None


def _court_spellings(written: str) -> tuple[str, ...]:
    # "Berlin-Charlottenburg" is spelled with a hyphen where stdnum knows either half.
    written = written.rstrip(",.")
    return (written, *written.split("-")) if "-" in written else (written,)


_LICENCES_LONGEST_FIRST = tuple(sorted(KNOWN_CN_LICENCES, key=len, reverse=True))

# Earlier rules win where two read the same characters (see _drop_overlaps).
_RULES: tuple[_Rule, ...] = (
    _Rule(("icp",), _find_icp_filings),
    _Rule(("icp",), _find_icp_licenses),
    _Rule(("a1", "a2", "b1", "b2"), _find_telecom_licenses),
    _Rule(("公网安备",), _find_psb_filings),
    _Rule(("信用代码",), _find_credit_codes),
    _Rule(("许可证",), _find_cn_licenses),
    _Rule(("company", "companies", "registered", "registration"), _find_uk_companies),
    _Rule(("ust", "umsatzsteuer", "vat", "tva", "iva", "btw", "mwst", "uid"), _find_vat_ids),
    _Rule(("hra", "hrb"), _find_register_numbers),
)
