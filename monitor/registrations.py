"""Registration numbers printed on pages, and the Chinese places they and company names name.

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

* ``region``: the province a Chinese prefix names (京 -> Beijing, from ``CN_PROVINCES``); the
  division code's province for a public-security filing or credit code without a prefix; the
  jurisdiction for a UK number; the register court for a Handelsregister number.
* ``label``: the licence's own name for ``cn_license`` and telecom licences
  (互联网新闻信息服务许可证, 沪ICP证); for public-security filings and credit codes, the Chinese
  place the number's administrative division code names (北京市朝阳区), from python-stdnum.
* ``valid``: python-stdnum's verdict (credit code, VAT, register court); for a public-security
  filing, whether the division code is known and lies in the province the prefix names.

The places come from python-stdnum's ``cn/loc`` table (GB/T 2260 division codes with the
names of provinces, prefecture-level cities and counties, current and historical); only the
English names of the 34 province-level divisions are written here, because no dependency has
them; the English names of prefecture-level cities (Shenzhen, Hangzhou) are their pinyin, from
pypinyin.

The module runs past 500 lines because each number's pattern and the place tables it is
checked against belong together; about a third of it is the tables and the patterns.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType

from stdnum import numdb
from stdnum.cn import uscc
from stdnum.de import handelsregisternummer
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, ValidationError

from monitor.facts import Registration, RegistrationKind

__all__ = [
    "CN_PROVINCES",
    "KNOWN_CN_LICENCES",
    "PROVINCE_NAMES",
    "Division",
    "division_of",
    "find_registrations",
    "place_prefix",
    "province_of",
]

# GB/T 2260 province-level division codes (the first two digits of a public-security filing,
# a credit code's region part or an identity card) with their usual English names and the
# one-character abbreviations that open ICP and public-security numbers (蜀, 黔, 滇, 秦 and 陇
# are older alternatives still seen on filings).
# fmt: off
_PROVINCES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "11": ("Beijing", "京"), "12": ("Tianjin", "津"), "13": ("Hebei", "冀"),
    "14": ("Shanxi", "晋"), "15": ("Inner Mongolia", "蒙"), "21": ("Liaoning", "辽"),
    "22": ("Jilin", "吉"), "23": ("Heilongjiang", "黑"), "31": ("Shanghai", "沪"),
    "32": ("Jiangsu", "苏"), "33": ("Zhejiang", "浙"), "34": ("Anhui", "皖"),
    "35": ("Fujian", "闽"), "36": ("Jiangxi", "赣"), "37": ("Shandong", "鲁"),
    "41": ("Henan", "豫"), "42": ("Hubei", "鄂"), "43": ("Hunan", "湘"),
    "44": ("Guangdong", "粤"), "45": ("Guangxi", "桂"), "46": ("Hainan", "琼"),
    "50": ("Chongqing", "渝"), "51": ("Sichuan", "川蜀"), "52": ("Guizhou", "贵黔"),
    "53": ("Yunnan", "云滇"), "54": ("Tibet", "藏"), "61": ("Shaanxi", "陕秦"),
    "62": ("Gansu", "甘陇"), "63": ("Qinghai", "青"), "64": ("Ningxia", "宁"),
    "65": ("Xinjiang", "新"), "71": ("Taiwan", ""), "81": ("Hong Kong", ""),
    "82": ("Macau", ""),
})
# fmt: on

PROVINCE_NAMES: Mapping[str, str] = MappingProxyType(
    {code: english for code, (english, _) in _PROVINCES.items()}
)
"""GB/T 2260 province-level division code (11, 31, 44...) -> English name."""

_PREFIX_CODES: Mapping[str, str] = MappingProxyType(
    {prefix: code for code, (_, prefixes) in _PROVINCES.items() for prefix in prefixes}
)
CN_PROVINCES: Mapping[str, str] = MappingProxyType(
    {prefix: PROVINCE_NAMES[code] for prefix, code in _PREFIX_CODES.items()}
)
"""Registration prefix character (京, 沪, 粤...) -> English province name."""

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
_PREFIX = "[" + "".join(_PREFIX_CODES) + "]"
_ICP = r"(?i:icp)"

_WHITESPACE = re.compile(r"\s{2,}|[^\S ]")
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

_KANA = re.compile("[\u3040-\u30ff]")
# Leading words that look like a place but are not one: 北海道 is Hokkaido (北海 is a city in
# Guangxi), 德州仪器 is Texas Instruments (德州 is a city in Shandong).
_NOT_PLACE_STARTS = ("北海道", "德州仪器")
# stdnum's table names some grouping rows that are not places.
_PLACEHOLDER_NAMES = frozenset(
    {"市辖区", "县", "省直辖县级行政单位", "省直辖行政单位", "自治区直辖县级行政单位"}
)
_PROVINCE_SUFFIXES = ("特别行政区", "特別行政區", "自治区", "省", "市")
_ETHNIC_QUALIFIERS = ("维吾尔", "壮族", "回族")
_ENGLISH_SUFFIXES = re.compile(
    r"\s+(?:province|city|municipality|autonomous\s+region|special\s+administrative\s+region"
    r"|sar|shi|sheng)$",
    re.IGNORECASE,
)
_ENGLISH_ALIASES = {
    "xizang": "54",
    "nei mongol": "15",
    "macao": "82",
    "guangxi zhuang": "45",
    "ningxia hui": "64",
    "xinjiang uygur": "65",
    "xinjiang uyghur": "65",
}
# "Shenzhen DJI ...": a capitalised first word followed by more of the name.
_LATIN_FIRST_WORD = re.compile(r"(?P<place>[A-Z][a-z]+(?:['’][a-z]+)?)\s+\S")
_ENGLISH_PLACE = re.compile(
    r"(?:the\s+)?(?P<place>"
    + "|".join(sorted((*PROVINCE_NAMES.values(), "Macao"), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Division:
    """A Chinese administrative division named by a GB/T 2260 code.

    ``province`` is the English name as in ``CN_PROVINCES``; ``name`` the Chinese names of
    province, prefecture and county that python-stdnum knows, joined (北京市朝阳区).
    """

    code: str
    province: str
    name: str


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


@dataclass(frozen=True, slots=True)
class _PlaceIndex:
    """Chinese place names from stdnum's cn/loc table, for ``province_of`` and ``place_prefix``."""

    provinces: Mapping[str, frozenset[str]]  # name -> division codes of its provinces
    leading: frozenset[str]  # names that may open a company name
    longest: int


def find_registrations(text: str) -> tuple[Registration, ...]:
    """Every registration number ``text`` states, deduplicated, in page order.

    ``text`` is visible text; NFKC and whitespace folding are applied here, so raw text with
    fullwidth forms (京｜ICP备11020872号－17) gives the same result as normalised text, and
    numbers are reported NFKC-normalised as spelled (京|ICP备11020872号-17).
    """
    text = _normalise(text)
    lowered = text.lower()
    found: list[tuple[int, _Found]] = []
    for priority, rule in enumerate(_RULES):
        if any(trigger in lowered for trigger in rule.triggers):
            found.extend((priority, item) for item in rule.find(text))
    return _dedupe(_drop_overlaps(found))


def division_of(code: str) -> Division | None:
    """The division a GB/T 2260 code names (its first six digits), or None if unknown.

    >>> division_of("110105")
    Division(code='110105', province='Beijing', name='北京市朝阳区')
    """
    code = code[:6]
    if len(code) < 2 or not code.isdigit():
        return None
    parts = _loc_db().info(code)
    province_code, props = parts[0]
    if province_code not in PROVINCE_NAMES or "province" not in props:
        return None
    name = _current_name(props["province"])
    if len(code) == 6:
        for county_code in (code[:4] + "00", code):
            county = _county_name(county_code)
            if county and not name.endswith(county):
                name += county
    return Division(code=code, province=PROVINCE_NAMES[province_code], name=name)


def province_of(text: str) -> str | None:
    """The English province a Chinese or English place name lies in, or None.

    Accepts provinces and cities with or without their suffix (北京, 北京市, 广东省, 深圳 ->
    Guangdong), English province names (Beijing, "Guangdong Province"), and names that open
    with a place (北京市商汤科技开发有限公司).  A name shared by places in different provinces
    gives None.
    """
    name = _normalise(text).strip()
    code = _english_province_code(name)
    if code is None and name in _place_index().provinces:
        code = _unique_province(name)
    elif code is None:
        # Not a place itself: read the place it opens with (北京市商汤... -> 北京市).
        prefix = place_prefix(name)
        if prefix is not None:
            code = _english_province_code(prefix) or _unique_province(prefix)
    return PROVINCE_NAMES[code] if code is not None else None


def place_prefix(name: str) -> str | None:
    """The place a company name opens with, as spelled, or None.

    北京市商汤科技开发有限公司 -> 北京市; 上海商汤智能科技有限公司 -> 上海; "Beijing SenseTime
    Technology Development Co., Ltd." -> Beijing; 当代商报南京网络传媒有限公司 -> None (the city
    is not at the start).  Chinese places are provinces, prefecture-level cities (with or
    without 市) and county-level cities and counties (with their suffix).
    """
    text = _normalise(name).strip()
    english = _ENGLISH_PLACE.match(text)
    if english is not None:
        return english.group("place")
    city = _LATIN_FIRST_WORD.match(text)
    if city is not None and is_latin_city(city.group("place")):
        return city.group("place")
    # A Japanese name (北海道電力株式会社) shares characters with Chinese places.
    if _KANA.search(text) or text.startswith(_NOT_PLACE_STARTS):
        return None
    index = _place_index()
    for size in range(min(index.longest, len(text)), 1, -1):
        if text[:size] in index.leading:
            return text[:size]
    return None


def _normalise(text: str) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text)


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


def _english_province_code(name: str) -> str | None:
    key = _ENGLISH_SUFFIXES.sub("", name).strip().lower()
    for code, english in PROVINCE_NAMES.items():
        if english.lower() == key:
            return code
    alias = _ENGLISH_ALIASES.get(key)
    if alias is not None:
        return alias
    codes = _latin_cities().get(_city_key(key))
    return next(iter(codes)) if codes is not None and len(codes) == 1 else None


def is_latin_city(word: str) -> bool:
    """Whether ``word`` is the English (pinyin) name of a Chinese prefecture-level city."""
    return _city_key(word) in _latin_cities()


def _city_key(word: str) -> str:
    return word.casefold().replace("'", "").replace("’", "").replace("-", "").replace(" ", "")


# Conventional English names that are not the plain pinyin of the Chinese name.
_CONVENTIONAL_CITY_NAMES = {"urumqi": "65", "hohhot": "15", "harbin": "23", "kashgar": "65"}
_CITY_SUFFIXES = ("市", "盟", "地区")


@cache
def _latin_cities() -> Mapping[str, frozenset[str]]:
    """Pinyin names of prefecture-level cities ("shenzhen"), with their provinces' codes.

    Built once, from python-stdnum's division table, by pypinyin, whose phrase dictionary
    reads the cities ICU transliterates wrongly (厦门 xiamen, 长沙 changsha, 重庆 chongqing).
    """
    from pypinyin import lazy_pinyin  # noqa: PLC0415  (its tables take 0.3 s to load: only when needed)

    cities: defaultdict[str, set[str]] = defaultdict(set)
    for _, code, _, _props, children in _loc_db().prefixes:
        if code not in PROVINCE_NAMES:
            continue
        for _, sub, _, sub_props, _ in children:
            if not sub.endswith("00"):
                continue
            for name in _all_names(sub_props.get("county", "")):
                if name.endswith(_CITY_SUFFIXES):
                    short = name.removesuffix("市").removesuffix("盟").removesuffix("地区")
                    if len(short) >= 2:
                        cities["".join(lazy_pinyin(short)).lower()].add(code)
    for conventional, code in _CONVENTIONAL_CITY_NAMES.items():
        cities[conventional].add(code)
    return MappingProxyType({name: frozenset(codes) for name, codes in cities.items()})


def _unique_province(name: str) -> str | None:
    codes = _place_index().provinces.get(name)
    if codes is not None and len(codes) == 1:
        return next(iter(codes))
    return None


@cache
def _loc_db() -> numdb.NumDB:
    return numdb.get("cn/loc")


@cache
def _county_name(code: str) -> str | None:
    parts = _loc_db().info(code)
    if len(parts) < 2 or "county" not in parts[1][1]:
        return None
    name = _current_name(parts[1][1]["county"])
    return None if name in _PLACEHOLDER_NAMES else name


def _current_name(names: str) -> str:
    # stdnum keeps history as "[-1991]东郊区,[1992-]东丽区": the last entry is the newest.
    return _all_names(names)[-1]


def _all_names(names: str) -> list[str]:
    return [re.sub(r"^\[[^\]]*\]", "", name) for name in names.split(",")]


@cache
def _place_index() -> _PlaceIndex:
    provinces: defaultdict[str, set[str]] = defaultdict(set)
    leading: set[str] = set()

    def add(name: str, code: str, *, opens_names: bool) -> None:
        if len(name) < 2 or name in _PLACEHOLDER_NAMES:
            return
        provinces[name].add(code)
        if opens_names:
            leading.add(name)

    for _, code, _, props, children in _loc_db().prefixes:
        if code not in PROVINCE_NAMES:
            continue
        for name in _all_names(props.get("province", "")):
            add(name, code, opens_names=True)
            add(_short_province(name), code, opens_names=True)
        for _, sub, _, sub_props, _ in children:
            for name in _all_names(sub_props.get("county", "")):
                prefecture = sub.endswith("00")
                add(name, code, opens_names=prefecture or name.endswith(("市", "县", "旗")))
                # Short forms only for cities and leagues: 阿里 (阿里地区) opens 阿里巴巴.
                if prefecture and name.endswith(("市", "盟")):
                    add(name[:-1], code, opens_names=True)
    return _PlaceIndex(
        provinces=MappingProxyType({name: frozenset(codes) for name, codes in provinces.items()}),
        leading=frozenset(leading),
        longest=max(len(name) for name in leading),
    )


def _short_province(name: str) -> str:
    for suffix in _PROVINCE_SUFFIXES:
        name = name.removesuffix(suffix)
    for qualifier in _ETHNIC_QUALIFIERS:
        name = name.removesuffix(qualifier)
    return name


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
