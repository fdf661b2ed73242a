"""What a change of entity or registration means, in one word and one line.

``classify(field, old, new)`` reads two values of one fact (the operator's name before and
after, two ICP filing numbers) and says which kind of change it is:

* ``relocation``: the same brand registered in another place (北京市商汤科技开发有限公司 →
  上海商汤智能科技有限公司, "Beijing X Co., Ltd." → "Shanghai X Co., Ltd.").  In China a
  company's registered name opens with its place, so a new place is a new legal entity even
  when the rest of the name barely moves; the brand (商汤, SenseTime) is the anchor, because
  the words after it change with the entity (科技开发 → 智能科技).
* ``legal_form``: the same name with another legal form ("Foo Ltd" → "Foo plc").
* ``rename``: a recognisably related name: a shared brand, or distinctive words at least
  ``RELATED_THRESHOLD`` similar.
* ``switch``: an unrelated entity.
* ``registration``: another registration number, with the provinces the numbers name.
* ``cosmetic``: case, whitespace, punctuation, years or the spelling of the same legal form
  (Ltd/Limited); never alerted.
* ``inconsistent`` is reserved for pages of one site naming different operators on one day;
  it is decided across pages, never here.

The comparison primitives (``shape``, ``same_place``, ``forms_compatible``, ``similarity``)
are shared with ``screening``, so a change and a list match read names by the same rules.
The rules and their limits in plain words: ``docs/matching.md``.  Pure functions.  The
module runs past 500 lines because the word and city tables stay beside the rules that
read them (about 60 lines).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from rapidfuzz import fuzz
from rigour.names.org_types import extract_org_types

from monitor.facts import RegistrationKind
from monitor.names import fold, has_cjk, split_name
from monitor.places import CN_PROVINCES, is_latin_city, place_prefix, province_of
from monitor.registrations import find_registrations

__all__ = [
    "REGISTRATION_FIELDS",
    "RELATED_THRESHOLD",
    "ChangeKind",
    "Classification",
    "NameShape",
    "classify",
    "distinctive_similarity",
    "forms_compatible",
    "same_place",
    "shape",
    "shared_brand",
    "similarity",
]

# Distinctive words (generic ones removed) at least this similar make two names "related"
# (rename rather than switch) when they share no brand.  rapidfuzz scores 0-100; related
# names without a shared leading brand score 80-100 here (Salon Media Group → Salon Media:
# 100), unrelated ones below 40 (创新乐知网络技术 → 酷睿奥思科技发展: 0, Fortinet → GitHub:
# 29).  75 leaves room for a re-spelt brand (Sense Time / SenseTime) without joining
# unrelated names.
RELATED_THRESHOLD = 75.0

# A shared Chinese brand is at least this many characters: one character (中, 华, 新) opens
# thousands of unrelated names.
MIN_CJK_BRAND = 2

REGISTRATION_FIELDS = frozenset({"registration", *(kind.value for kind in RegistrationKind)})
"""Fields whose values are registration numbers rather than entity names."""

# Words that say what a company does or where it belongs, not who it is.  They are removed
# before deciding whether two names are related, and never count as a shared brand: 中国电子
# and 中国电信 share only 中国, "China Mobile" and "China Unicom" only "china".  Latin words
# are listed singular (plurals are folded: technologies → technology).
# fmt: off
GENERIC_LATIN = frozenset((
    "the", "a", "of", "and", "china", "chinese", "international", "global", "world",
    "technology", "tech", "network", "information", "intelligent", "intelligence", "data",
    "digital", "electronic", "development", "industrial", "industry", "holding", "investment",
    "group", "trading", "trade", "culture", "media", "software", "communication", "service",
    "management", "consulting", "engineering", "internet", "computer", "innovation", "new",
    "national", "general", "united", "american", "asia", "pacific", "science", "system",
    "solution", "product", "enterprise", "venture", "research", "institute", "import",
    "export", "shipping", "logistic", "energy", "power", "electric", "machinery", "equipment",
    "manufacturing", "chemical", "petroleum", "resource", "aviation", "aerospace",
))
GENERIC_CJK: tuple[str, ...] = tuple(sorted((
    "中国", "中华", "国际", "全球", "科技", "技术", "网络", "信息", "智能", "数据",
    "数字", "电子", "发展", "开发", "实业", "控股", "投资", "集团", "贸易", "文化",
    "传媒", "新媒体", "媒体", "软件", "通信", "通讯", "电子商务", "商务", "服务", "管理",
    "咨询", "工程", "互联网", "计算机", "创新", "云计算", "系统", "产业", "研究院",
    "研究所", "有限", "股份",
), key=len, reverse=True))  # longest first, so 电子商务 goes before 电子
# fmt: on
# Legal forms rigour has no code for, and spellings of one form that it codes apart.
_FORM_ALIASES = {
    "corporation": "corp",
    "corp": "corp",
    "incorporated": "inc",
    "inc": "inc",
    "company": "co",
}
# "Co., Ltd.", "Company Limited" and "Limited" are one form in practice: Chinese 有限公司 is
# translated all three ways, and rigour codes them coltd or ltd.
_LIMITED_FAMILY = frozenset({"ltd", "coltd"})
_COMPANY_WORDS = frozenset({"company", "co"})
_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")
# A bracketed part of a name (names reach here with full-width brackets made ASCII).
_BRACKET = re.compile(r"\(([^()]{1,40})\)")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_PLACE_SUFFIXES = ("特别行政区", "自治区", "省", "市", " province", " city", " shi")
_REGISTRATION_NOISE = re.compile(r"[\s|｜:：]+")


class ChangeKind(StrEnum):
    """What a change of an entity or a registration means."""

    RELOCATION = "relocation"
    LEGAL_FORM = "legal_form"
    RENAME = "rename"
    SWITCH = "switch"
    REGISTRATION = "registration"
    COSMETIC = "cosmetic"
    INCONSISTENT = "inconsistent"  # pages of one site disagree on one day; set across pages

    @property
    def alerts(self) -> bool:
        """Whether a change of this kind is alerted and listed by default (all but cosmetic)."""
        return self is not ChangeKind.COSMETIC


@dataclass(frozen=True, slots=True)
class Classification:
    """A change's kind and a one-line explanation ("relocation: 北京市 → 上海 (same brand 商汤)").

    ``similarity`` is the 0-100 score of the two names' distinctive words (None for
    registrations); ``brand`` the brand both names share; ``old_place``/``new_place`` the
    place prefixes as written (北京市, 上海) or a registration's province character (京, 沪);
    ``old_region``/``new_region`` the English provinces they lie in (Beijing, Shanghai).
    """

    kind: ChangeKind
    explanation: str
    similarity: float | None = None
    brand: str | None = None
    old_place: str | None = None
    new_place: str | None = None
    old_region: str | None = None
    new_region: str | None = None


@dataclass(frozen=True, slots=True)
class NameShape:
    """A name reduced to what comparison needs.

    ``words`` are the core's words (no place, no legal form), case-folded and singular; a
    Chinese or Japanese core is one word.  ``form`` is the canonical legal form (``ltd``,
    ``coltd``, ``gmbh``, ``corp``...), ``form_written`` the form as written.
    """

    name: str
    cjk: bool
    place: str | None
    core: str
    words: tuple[str, ...]
    form: str | None
    form_written: str | None
    digits: frozenset[str]
    key: str  # the words without spaces: "Sense Time" = "SenseTime"
    text: str  # the words joined by spaces, for word-order-blind scores


def classify(field: str, old: str | None, new: str | None) -> Classification:
    """The kind of change from ``old`` to ``new`` of ``field`` (operator, an entity role, or a
    registration kind such as ``icp_filing``), with a one-line explanation.

    A value that appears or vanishes (``None`` on one side) is a ``switch`` for a name and a
    ``registration`` for a number.
    """
    if field in REGISTRATION_FIELDS:
        return _classify_registration(old, new)
    if old is None or new is None:
        if old == new:
            return Classification(ChangeKind.COSMETIC, "cosmetic: no value before or after")
        return Classification(ChangeKind.SWITCH, f"switch: {old or '(none)'} → {new or '(none)'}")
    old_shape = shape(_strip_years(old), bracketed_place=True)
    return _classify_names(old_shape, shape(_strip_years(new), bracketed_place=True))


@lru_cache(maxsize=65536)
def shape(name: str, *, bracketed_place: bool = False) -> NameShape:
    """The comparable shape of ``name``: place, core words, canonical legal form, digits.

    ``bracketed_place``: also read a place written in brackets ("Huawei Technologies
    (Shenzhen)", 华为技术(北京)), as classifying a change does.  Screening does not: the lists
    spell the same entity with and without such a bracket, and a name with a city and one
    without are different entities, which its place rules would then let match.
    """
    parts = split_name(name)
    cjk = has_cjk(parts.core)
    place, core, written = parts.place, parts.core, parts.legal_form
    form = _form_code(parts.legal_form_code, written)
    if written is None and not cjk:
        form, written, core = _listed_form(core)
    if place is None and not cjk:
        place, core = _latin_city(core)
    if place is None and bracketed_place:
        place, core = _bracketed_place(core, cjk)
    words = _core_words(core, cjk)
    # "Foo Company Limited" is "Foo Co., Ltd.": the company word belongs to the form.
    if not cjk and form == "ltd" and len(words) > 1 and words[-1] in _COMPANY_WORDS:
        words, form = words[:-1], "coltd"
    return NameShape(
        name=parts.name,
        cjk=cjk,
        place=place,
        core=core,
        words=words,
        form=form,
        form_written=written,
        digits=frozenset(_DIGITS.findall(core)),
        key="".join(words),
        text=" ".join(words),
    )


def same_place(a: str | None, b: str | None) -> bool:
    """Whether two place prefixes name one place (北京 = 北京市; Beijing = 北京 by province).

    Places in one script are compared as spelled, without their 市/省 suffix, so 深圳 and
    广州 differ although both lie in Guangdong; across scripts only the province is known.
    """
    if a is None or b is None:
        return a is b
    if _place_key(a) == _place_key(b):
        return True
    if has_cjk(a) != has_cjk(b):
        province = _region_of_place(a)
        return province is not None and province == _region_of_place(b)
    return False


def forms_compatible(a: str | None, b: str | None) -> bool:
    """Whether two canonical legal forms may belong to one company (Ltd ~ Co., Ltd.).

    A missing form is compatible with any: a brand written without its form.
    """
    if a is None or b is None or a == b:
        return True
    return a in _LIMITED_FAMILY and b in _LIMITED_FAMILY


def similarity(a: NameShape, b: NameShape, cutoff: float = 0.0) -> float:
    """0-100: how alike two cores are, blind to word order and to spaces inside words.

    Scores below ``cutoff`` come back as 0 (rapidfuzz then stops early).
    """
    by_words = fuzz.token_sort_ratio(a.text, b.text, score_cutoff=cutoff)
    return float(max(by_words, fuzz.ratio(a.key, b.key, score_cutoff=cutoff)))


def distinctive_similarity(a: NameShape, b: NameShape) -> float:
    """0-100: how alike two cores are once generic words go (商汤科技开发 ~ 商汤智能科技: 100;
    "Kake Energy International" ~ "Keti Energy International": 50, not 92)."""
    if a.cjk:
        left, right = _without_generic_cjk(a.key), _without_generic_cjk(b.key)
        return float(fuzz.ratio(left or a.key, right or b.key))
    left_words = tuple(w for w in a.words if w not in GENERIC_LATIN) or a.words
    right_words = tuple(w for w in b.words if w not in GENERIC_LATIN) or b.words
    return _words_score(left_words, right_words)


def shared_brand(a: NameShape, b: NameShape) -> str | None:
    """The brand two names open with (商汤, SenseTime), generic words aside, or None."""
    if a.cjk != b.cjk:
        return None
    if a.cjk:
        left, right = _strip_generic_cjk(a.key, leading=True), _strip_generic_cjk(b.key, True)
        common = left[: _common_length(left, right)]
        brand = _strip_generic_cjk(common, leading=False)
        return brand if len(brand) >= MIN_CJK_BRAND else None
    left_words, right_words = _distinctive_prefix(a.words), _distinctive_prefix(b.words)
    shared = list(left_words[: _common_length(left_words, right_words)])
    while shared and shared[-1] in GENERIC_LATIN:
        shared.pop()
    return _display_words(b, shared) if shared else None


def _classify_names(a: NameShape, b: NameShape) -> Classification:
    base = Classification(
        ChangeKind.SWITCH,
        "",
        old_place=a.place,
        new_place=b.place,
        old_region=_region_of_place(a.place),
        new_region=_region_of_place(b.place),
    )
    if a.cjk != b.cjk:
        return _across_scripts(a, b, base)
    score = distinctive_similarity(a, b)
    brand = shared_brand(a, b)
    base = replace(base, similarity=score, brand=brand)
    same_core, placed_alike = a.words == b.words, same_place(a.place, b.place)
    if placed_alike and same_core and a.form == b.form:
        why = "cosmetic: same name; only case, spacing, punctuation, years or form spelling"
        return replace(base, kind=ChangeKind.COSMETIC, explanation=why)
    related = brand is not None or score >= RELATED_THRESHOLD
    anchor = f"same brand {brand}" if brand else f"similar names, score {score:.0f}"
    if not related:
        line = f"switch: unrelated names (score {score:.0f}): {a.name} → {b.name}"
        return replace(base, explanation=line)
    if a.place and b.place and not placed_alike:
        line = f"relocation: {a.place} → {b.place} ({anchor})"
        if a.form != b.form:
            line += f"; legal form {_form_text(a)} → {_form_text(b)}"
        return replace(base, kind=ChangeKind.RELOCATION, explanation=line)
    if same_core and placed_alike:
        line = f"legal_form: {_form_text(a)} → {_form_text(b)} (same name {b.core})"
        return replace(base, kind=ChangeKind.LEGAL_FORM, explanation=line)
    return replace(base, kind=ChangeKind.RENAME, explanation=f"rename: {anchor}{_place_note(a, b)}")


def _across_scripts(a: NameShape, b: NameShape, base: Classification) -> Classification:
    """A Chinese name against an English one: spelling says nothing, provinces a little."""
    if base.old_region is not None and base.old_region == base.new_region:
        line = f"rename: written in another script, same province {base.new_region} (not compared)"
        return replace(base, kind=ChangeKind.RENAME, explanation=line)
    line = f"switch: {a.name} → {b.name} (names in different scripts cannot be compared)"
    return replace(base, explanation=line)


def _classify_registration(old: str | None, new: str | None) -> Classification:
    if old is None or new is None:
        verb = "added" if old is None else "removed"
        line = f"registration: {new if old is None else old} {verb}"
        return Classification(
            ChangeKind.REGISTRATION if old != new else ChangeKind.COSMETIC,
            line,
            old_region=_registration_region(old),
            new_region=_registration_region(new),
        )
    if _registration_key(old) == _registration_key(new):
        line = "cosmetic: same registration number, spelled differently"
        return Classification(ChangeKind.COSMETIC, line)
    old_region, new_region = _registration_region(old), _registration_region(new)
    old_prefix, new_prefix = _province_prefix(old), _province_prefix(new)
    if old_region and new_region and old_region != new_region:
        line = f"registration: {old_region} → {new_region}"
        if old_prefix and new_prefix:
            line = f"registration: {old_prefix} → {new_prefix} ({old_region} → {new_region})"
    elif old_region and old_region == new_region:
        line = f"registration: new number in the same province ({new_region})"
    else:
        line = f"registration: {fold(old)} → {fold(new)}"
    return Classification(
        ChangeKind.REGISTRATION,
        line,
        old_place=old_prefix,
        new_place=new_prefix,
        old_region=old_region,
        new_region=new_region,
    )


def _form_code(code: str | None, written: str | None) -> str | None:
    if written is None:
        return None
    bare = _WORD.findall(fold(written).casefold())
    joined = "".join(bare)
    return _FORM_ALIASES.get(joined) or code or joined or None


def _listed_form(core: str) -> tuple[str | None, str | None, str]:
    """A form the footer table in ``names`` lacks but rigour knows, at either end of a name:
    "Nabo Export JSC", "OOO Foo" (sanctions lists spell Russian forms first)."""
    lowered = core.casefold()
    for written, code in extract_org_types(lowered):
        if lowered.endswith(" " + written):
            return str(code), core[-len(written) :], core[: -len(written)].strip(" ,")
        if lowered.startswith(written + " "):
            return str(code), core[: len(written)], core[len(written) :].strip(" ,")
    return None, None, core


def _core_words(core: str, cjk: bool) -> tuple[str, ...]:
    words = _WORD.findall(fold(core).casefold())
    if cjk:
        return ("".join(words),) if words else ()
    singular = tuple(_singular(word) for word in words)
    # "The Jodel Venture GmbH" is "Jodel Venture GmbH".
    return singular[1:] if len(singular) > 1 and singular[0] == "the" else singular


def _singular(word: str) -> str:
    """Technologies → technology, services → service; short words and -ss, -us, -is stay."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _strip_years(text: str) -> str:
    return _YEAR.sub(" ", text)


@lru_cache(maxsize=4096)
def _place_key(place: str) -> str:
    key = unicodedata.normalize("NFKC", place).casefold().strip()
    for suffix in _PLACE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix)].strip()
    return key


def _latin_city(core: str) -> tuple[str | None, str]:
    """A Chinese city opening an English name, and the rest: ("Shenzhen", "Huawei ...")."""
    first, _, rest = core.partition(" ")
    if rest and is_latin_city(first):
        return first, rest.strip()
    return None, core


def _bracketed_place(core: str, cjk: bool) -> tuple[str | None, str]:
    """A place written in brackets inside the name, and the name without it: Chinese
    companies often name their city so ("Huawei Technologies (Shenzhen)",
    百度在线网络技术(北京)), and (北京) → (上海) is a relocation like 北京… → 上海….  Only a
    bracket holding a place and nothing else counts: "(Europe)", "(Pty)" stay in the name."""
    for bracket in _BRACKET.finditer(core):
        inner = bracket.group(1).strip()
        if is_latin_city(inner) or place_prefix(inner) == inner:
            joint = "" if cjk else " "
            rest = f"{core[: bracket.start()].strip()}{joint}{core[bracket.end() :].strip()}"
            return inner, rest.strip()
    return None, core


def _region_of_place(place: str | None) -> str | None:
    if place is None:
        return None
    return province_of(place)


def _words_score(left: tuple[str, ...], right: tuple[str, ...]) -> float:
    by_words = fuzz.token_sort_ratio(" ".join(left), " ".join(right))
    return float(max(by_words, fuzz.ratio("".join(left), "".join(right))))


def _without_generic_cjk(text: str) -> str:
    for word in GENERIC_CJK:
        text = text.replace(word, "")
    return text


def _strip_generic_cjk(text: str, leading: bool) -> str:
    """Generic words off the start (leading) or the end of a Chinese core."""
    changed = True
    while changed and text:
        changed = False
        for word in GENERIC_CJK:
            if leading and text.startswith(word):
                text, changed = text[len(word) :], True
            elif not leading and text.endswith(word):
                text, changed = text[: -len(word)], True
    return text


def _distinctive_prefix(words: tuple[str, ...]) -> tuple[str, ...]:
    start = 0
    while start < len(words) and words[start] in GENERIC_LATIN:
        start += 1
    return words[start:]


def _common_length(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading characters (or words) ``a`` and ``b`` share."""
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def _display_words(name: NameShape, words: list[str]) -> str:
    """The shared words as the newer name spells them (SenseTime, not sensetime)."""
    written = _WORD.findall(fold(name.core))
    for start in range(len(written)):
        window = written[start : start + len(words)]
        if [_singular(w.casefold()) for w in window] == words:
            return " ".join(window)
    return " ".join(words)


def _form_text(name: NameShape) -> str:
    return name.form_written or "(none)"


def _place_note(a: NameShape, b: NameShape) -> str:
    if a.place == b.place or same_place(a.place, b.place):
        return ""
    if a.place is None:
        return f"; place {b.place} added"
    return f"; place {a.place} dropped"


def _registration_key(number: str) -> str:
    return _REGISTRATION_NOISE.sub("", fold(number)).casefold()


def _province_prefix(number: str) -> str | None:
    head = fold(number)[:1]
    return head if head in CN_PROVINCES else None


def _registration_region(number: str | None) -> str | None:
    if number is None:
        return None
    found = find_registrations(number)
    if found and found[0].region:
        return found[0].region
    prefix = _province_prefix(number)
    return CN_PROVINCES[prefix] if prefix else None
