"""Chinese places: the provinces that registration prefixes and division codes name, and the
places company names open with.

* ``CN_PROVINCES``: the one-character prefix of an ICP or public-security number (京, 沪,
  粤...) -> the English province name; ``PROVINCE_NAMES``: the GB/T 2260 province code (11,
  31, 44...) -> the same names.
* ``division_of``: the division a GB/T 2260 code names (a public-security filing's, a credit
  code's region part), with its Chinese name (北京市朝阳区).
* ``place_prefix``: the place a company name opens with, as spelled (北京市商汤... -> 北京市;
  "Shenzhen DJI ..." -> Shenzhen); ``province_of``: the English province a Chinese or English
  place name lies in (深圳 -> Guangdong); ``is_latin_city``: whether a word is the pinyin name
  of a prefecture-level city.

The places come from python-stdnum's ``cn/loc`` table (GB/T 2260 division codes with the
names of provinces, prefecture-level cities and counties, current and historical); only the
English names of the 34 province-level divisions are written here, because no dependency has
them; the English names of prefecture-level cities (Shenzhen, Hangzhou) are their pinyin, from
pypinyin.  The tables are built on first use and cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from stdnum import numdb

__all__ = [
    "CN_PROVINCES",
    "PROVINCE_NAMES",
    "Division",
    "division_of",
    "is_latin_city",
    "normalise",
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

_WHITESPACE = re.compile(r"\s{2,}|[^\S ]")

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
class _PlaceIndex:
    """Chinese place names from stdnum's cn/loc table, for ``province_of`` and ``place_prefix``."""

    provinces: Mapping[str, frozenset[str]]  # name -> division codes of its provinces
    leading: frozenset[str]  # names that may open a company name
    longest: int


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
    name = normalise(text).strip()
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
    text = normalise(name).strip()
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


def normalise(text: str) -> str:
    """``text`` in NFKC with its whitespace folded (a run of it, a tab or a newline becomes one
    space): the spelling that place names and registration numbers are read in."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text)


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
