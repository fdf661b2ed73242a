"""The extractor against real pages: the labelled corpus, the unlabelled pages, hostile input.

Every expectation comes from ``tests/data/footers/labels.tsv`` as read by ``tests/corpus.py``;
the first tests here check that reading, so a reader can see how each label is interpreted.
Names are compared after NFKC, whitespace folding and casefolding, never fuzzily.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from corpus import (
    CORPUS_DIR,
    WAYBACK_TOOLBAR,
    ExpectedOperator,
    ExpectedRegistration,
    Label,
    describe,
    entity_names,
    fold_name,
    fold_number,
    load_labels,
    operator_problems,
    parse_operator_label,
    parse_registration,
    parse_years,
    registration_problem,
    unlabelled_pages,
    wanted_entities,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract import extract
from monitor.facts import Facts, RegistrationKind

LABELS = load_labels()
UNLABELLED = unlabelled_pages()

# Distractors on unlabelled pages, which have no notes column to name them:
# (file, name, id, why it is never the operator).
UNLABELLED_DISTRACTORS = [
    ("cn-gsc.html", "北京智联软件技术有限公司", "vendor", "技术支持 web vendor in the footer"),
    ("cn-netease-leihuo.html", "Comsenz Inc.", "forum-engine", "Discuz! <meta name=copyright>"),
    ("cn-netease-leihuo.html", "Evernote Corporation", "extension", "browser add-on's CSS comment"),
    ("cn-toutiao.html", "中国互联网举报中心", "reporting-centre", "state reporting centre's link"),
]


def _labels_where(keep: Callable[[Label], bool]) -> list[Label]:
    return [label for label in LABELS if keep(label)]


def _ids(labels: Sequence[Label]) -> list[str]:
    return [label.file for label in labels]


@functools.cache
def facts_of(path: Path) -> Facts:
    """Extract a corpus page once, however many tests ask about it."""
    return extract(path.read_bytes())


# The opening tags the archive inserts after; `<head` alone would also match `<header>`.
_HEAD_TAG = rb"<head(?:\s[^>]*)?>"
_BODY_TAG = rb"<body(?:\s[^>]*)?>"


def _insert_after(page: bytes, tag: bytes, insert: bytes) -> bytes:
    match = re.search(tag, page, re.IGNORECASE)
    assert match is not None, f"no {tag!r} in page"
    return page[: match.end()] + insert + page[match.end() :]


# --- how the labels are read ---------------------------------------------------------------


def test_labels_cover_every_labelled_page_once() -> None:
    files = [label.file for label in LABELS]
    assert len(files) == 35
    assert len(set(files)) == len(files)
    assert all(label.path.is_file() for label in LABELS)


def test_sources_list_every_unlabelled_page() -> None:
    assert len(UNLABELLED) == 21
    assert all(path.is_file() for path in UNLABELLED)
    assert not {p.name for p in UNLABELLED} & {label.file for label in LABELS}


OPERATOR_LABELS = [
    ("Docker Inc.", ExpectedOperator(names=("Docker Inc.",))),
    (
        "Mynavi Corporation (株式会社マイナビ)",
        ExpectedOperator(
            names=("Mynavi Corporation", "株式会社マイナビ"), notes=("株式会社マイナビ",)
        ),
    ),
    (
        "ITmedia, Inc. (= アイティメディア株式会社)",
        ExpectedOperator(
            names=("ITmedia, Inc.", "アイティメディア株式会社"),
            notes=("= アイティメディア株式会社",),
        ),
    ),
    (
        "FFG Finanzcheck Finanzportale GmbH (JSON-LD only)",
        ExpectedOperator(names=("FFG Finanzcheck Finanzportale GmbH",), notes=("JSON-LD only",)),
    ),
    (
        "(unnamed subsidiary of Reach plc)",
        ExpectedOperator(
            names=(), parents=("Reach plc",), notes=("(unnamed subsidiary of Reach plc)",)
        ),
    ),
    (
        "半月谈新媒体科技有限公司 (operator); 半月谈杂志社 (copyright holder/sponsor)",
        ExpectedOperator(
            names=("半月谈新媒体科技有限公司",),
            also_named=("半月谈杂志社",),
            notes=("operator", "copyright holder/sponsor"),
        ),
    ),
    (
        "Agentur MARKE ICH (sole trader Anika Schön)",
        ExpectedOperator(
            names=("Agentur MARKE ICH",),
            persons=("Anika Schön",),
            notes=("sole trader Anika Schön",),
        ),
    ),
    (
        "共青团中央网络影视中心 (承办/operator; 主办 = 共青团中央)",
        ExpectedOperator(
            names=("共青团中央网络影视中心",), notes=("承办/operator; 主办 = 共青团中央",)
        ),
    ),
]


@pytest.mark.parametrize(
    ("label", "expected"), OPERATOR_LABELS, ids=[label for label, _ in OPERATOR_LABELS]
)
def test_operator_label_is_read_as_documented(label: str, expected: ExpectedOperator) -> None:
    assert parse_operator_label(label) == expected


@pytest.mark.parametrize(
    "label",
    ["Example Ltd (formerly Sample Ltd)", "Example Ltd (operator", "Example (Ltd) plc"],
    ids=["unknown-note", "unbalanced", "parenthesis-inside-name"],
)
def test_operator_label_of_unknown_shape_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match="operator label"):
        parse_operator_label(label)


@pytest.mark.parametrize("label", LABELS, ids=_ids(LABELS))
def test_every_corpus_operator_label_names_an_operator_or_its_parent(label: Label) -> None:
    expected = label.operator
    assert expected.names or expected.parents
    assert all(name and "(" not in name for name in expected.names)


REGISTRATION_LABELS = [
    ("UK company no. 01176085", ExpectedRegistration("01176085", RegistrationKind.UK_COMPANY)),
    ("DE VAT DE246292916", ExpectedRegistration("DE246292916", RegistrationKind.DE_VAT)),
    (
        "京ICP备14027177号-1",
        ExpectedRegistration("京ICP备14027177号-1", RegistrationKind.ICP_FILING),
    ),
    (
        "京公网安备 11010502030071号",
        ExpectedRegistration("京公网安备11010502030071号", RegistrationKind.PSB_FILING),
    ),
    (
        "京｜ICP备11020872号－17",
        ExpectedRegistration("京|ICP备11020872号-17", RegistrationKind.ICP_FILING),
    ),
    (
        "互联网新闻信息服务许可证：1012014004",
        ExpectedRegistration("互联网新闻信息服务许可证:1012014004", RegistrationKind.CN_LICENSE),
    ),
    ("京ICP证030173号", ExpectedRegistration("京ICP证030173号", RegistrationKind.ICP_LICENSE)),
    ("沪B2-20180235", ExpectedRegistration("沪B2-20180235", RegistrationKind.TELECOM_LICENSE)),
]


@pytest.mark.parametrize(
    ("text", "expected"), REGISTRATION_LABELS, ids=[text for text, _ in REGISTRATION_LABELS]
)
def test_registration_label_is_read_as_documented(
    text: str, expected: ExpectedRegistration
) -> None:
    assert parse_registration(text) == expected


YEAR_TEXTS = [
    ("Copyright © 2002–2015 The Daring Fireball Company LLC.", (2002, 2015)),
    ("©2005-2015 WebMD, LLC. All rights reserved.", (2005, 2015)),
    ("Copyright (C) 半月谈杂志社 2010-2018, All Rights Reserved", (2010, 2018)),
    ("杭州网易雷火科技有限公司版权所有©1997~2020", (1997, 2020)),
    ("© 2019 Guardian News & Media Limited", (2019, 2019)),
    ("© Bauer Consumer Media Ltd, company number: 01176085", None),
    ("© 2016 ebrosia GmbH + Co. KG W.-C.-Röntgen-Str. 2, 04509 Delitzsch", (2016, 2016)),
]


@pytest.mark.parametrize(("text", "years"), YEAR_TEXTS, ids=[t for t, _ in YEAR_TEXTS])
def test_years_are_read_from_label_text(text: str, years: tuple[int, int] | None) -> None:
    assert parse_years(text) == years


def test_name_folding_is_exact_up_to_width_space_and_case() -> None:
    assert fold_name("ＧｉｔＨｕｂ,\u3000 Inc.") == fold_name("github, inc.")
    assert fold_name("WebMD, LLC") != fold_name("WebMD LLC")
    assert fold_number("京公网安备 11010502030071号") == "京公网安备11010502030071号"


def test_distractors_are_read_from_the_notes() -> None:
    distractors = {label.file: label.distractors for label in LABELS if label.distractors}
    assert distractors == {"de-impressum-markeich.html": ("Gothaer Allgemeine Versicherung AG",)}


# --- the labelled pages --------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS, ids=_ids(LABELS))
def test_operator_matches_label(label: Label) -> None:
    # Where the page names only a parent ("a Reach plc subsidiary") the operator must be None:
    # reporting the parent as operator would claim more than the page says.
    facts = facts_of(label.path)
    assert operator_problems(label, facts) == [], describe(facts)


@pytest.mark.parametrize("label", LABELS, ids=_ids(LABELS))
def test_labelled_entities_are_found(label: Label) -> None:
    # wanted_entities leaves out the persons the label's notes name: a sole trader's own name
    # (Anika Schön behind Agentur MARKE ICH) is a person, not a legal entity.
    facts = facts_of(label.path)
    wanted = wanted_entities(label)
    assert wanted, "the label names no entity to look for"
    missing = wanted - entity_names(facts)
    assert not missing, f"missing {sorted(missing)}; {describe(facts)}"


DISTRACTORS = [
    (label.file, name, "notes", "named as DISTRACTOR in the notes")
    for label in LABELS
    for name in label.distractors
] + UNLABELLED_DISTRACTORS


@pytest.mark.parametrize(
    ("file", "distractor", "why"),
    [(file, name, why) for file, name, _, why in DISTRACTORS],
    ids=[f"{file}:{slug}" for file, _, slug, _ in DISTRACTORS],
)
def test_distractor_is_never_the_operator(file: str, distractor: str, why: str) -> None:
    facts = facts_of(CORPUS_DIR / file)
    operator = fold_name(facts.operator or "")
    assert fold_name(distractor) not in operator, f"{why}: {describe(facts)}"


REGISTERED = _labels_where(lambda label: bool(label.registrations))


@pytest.mark.parametrize("label", REGISTERED, ids=_ids(REGISTERED))
def test_labelled_registrations_are_found(label: Label) -> None:
    facts = facts_of(label.path)
    problems = [registration_problem(r, facts) for r in label.expected_registrations]
    assert [p for p in problems if p] == [], describe(facts)


WITH_COPYRIGHT = _labels_where(lambda label: label.has_copyright_line)
WITH_YEARS = _labels_where(lambda label: label.first_block_years is not None)


@pytest.mark.parametrize("label", WITH_COPYRIGHT, ids=_ids(WITH_COPYRIGHT))
def test_copyright_line_is_found(label: Label) -> None:
    facts = facts_of(label.path)
    assert facts.copyright, f"expected a line like {label.copyright_blocks[0]!r}"


@pytest.mark.parametrize("label", WITH_YEARS, ids=_ids(WITH_YEARS))
def test_copyright_years_match_first_block(label: Label) -> None:
    facts = facts_of(label.path)
    years = [line.years for line in facts.copyright]
    assert label.first_block_years in years, f"{label.copyright_blocks[0]!r}: got {years}"


HOLDERS_LABELLED = _labels_where(lambda label: label.has_copyright_line and label.operator.names)


@pytest.mark.parametrize("label", HOLDERS_LABELLED, ids=_ids(HOLDERS_LABELLED))
def test_copyright_holders_stand_in_the_labelled_ownership_text(label: Label) -> None:
    # A holder that ran on into the next element ("FINANZCHECK.de Winterstraße 222765 Hamburg")
    # or lost its line ("©" alone) is not in the text the label quotes.
    facts = facts_of(label.path)
    text = fold_name(" ".join(label.copyright_blocks))
    holders = [line.holders for line in facts.copyright]
    assert any(h and all(fold_name(n) in text for n in h) for h in holders), holders


def test_finanzcheck_holder_is_the_brand_and_operator_the_jsonld_legal_name() -> None:
    # The footer's brand, street and town are sibling <span>s with nothing between them.
    facts = facts_of(CORPUS_DIR / "de-finanzcheck-jsonld.html")
    assert [line.holders for line in facts.copyright] == [("FINANZCHECK.de",)]
    assert facts.operator == "FFG Finanzcheck Finanzportale GmbH"


# --- the unlabelled pages ------------------------------------------------------------------


@pytest.mark.parametrize("path", UNLABELLED, ids=[p.name for p in UNLABELLED])
def test_unlabelled_page_extracts_a_plausible_operator(path: Path) -> None:
    facts = facts_of(path)
    assert isinstance(facts, Facts)
    if facts.operator is not None:
        assert _is_plausible_name(facts.operator), describe(facts)


# A contact field's label ("地址:", "Tel.:") inside a name means the address or phone number
# that follows the name on the page was swallowed with it.
_CONTACT_FIELD = re.compile(
    r"(地址|邮编|电话|传真|e-?mail|tel\.?|fax|address)\s*[:：]", re.IGNORECASE
)


def _is_plausible_name(name: str) -> bool:
    folded = name.casefold()
    return (
        0 < len(name.strip()) < 200
        and "\n" not in name
        and "internet archive" not in folded
        and not _CONTACT_FIELD.search(name)
    )


@pytest.mark.parametrize(
    ("name", "plausible"),
    [
        ("Bennett, Coleman & Co. Ltd.", True),
        ("中国地理学会 地址:北京市朝阳区大屯路甲11号", False),
        ("Example GmbH Tel.: 0221 123", False),
        ("Internet Archive", False),
        ("Example\nLtd", False),
        ("", False),
    ],
    ids=["comma-and-ampersand", "address-field", "phone-field", "archive", "newline", "empty"],
)
def test_plausible_name_check_refuses_swallowed_text(name: str, plausible: bool) -> None:
    assert _is_plausible_name(name) is plausible


# --- hostile input -------------------------------------------------------------------------


@given(body=st.binary(max_size=4096))
@settings(deadline=None)
def test_extraction_of_arbitrary_bytes_never_raises_and_is_deterministic(body: bytes) -> None:
    first = extract(body)
    assert isinstance(first, Facts)
    assert extract(body) == first


# Fragments that steer random input towards the extractor's own patterns.
_FRAGMENTS = st.sampled_from(
    [
        "<html>", "<head>", "<body>", "<footer>", "</footer>", "<div>", "</div>", "<p>",
        "<script>", "</script>", "<!--", "-->", '<meta charset="shift_jis">',
        '<meta name="copyright" content="', '">', '<script type="application/ld+json">',
        '{"@type": "Organization", "legalName": "', '"}', "©", "&copy;", "(C)", "Copyright",
        " 2019", "–2020", " Example Ltd", " GmbH & Co. KG", "株式会社", "有限公司", "版权所有",
        "京ICP备12025439号-3", "京公网安备 11010502030071号", " a subsidiary of ", "Powered by",
        "技术支持：", "\x00", "\ufeff", " ", "\n",
    ]
)  # fmt: skip


@given(parts=st.lists(_FRAGMENTS | st.text(max_size=8), max_size=40))
@settings(deadline=None)
def test_extraction_is_deterministic_on_html_like_input(parts: list[str]) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    first = extract(body)
    assert isinstance(first, Facts)
    assert extract(body) == first


def _guardian() -> bytes:
    return next(label for label in LABELS if label.file == "uk-guardian.html").path.read_bytes()


GUARDIAN = "Guardian News & Media Limited"
_FOOTER = b"<footer>&copy; 2020 Example Ltd</footer>"
_FILLER = b"<p>" + b"lorem ipsum dolor sit amet " * 40 + b"</p>\n"


def _hostile_inputs() -> Iterator[tuple[str, bytes, str | None, bool]]:
    """(name, body, operator expected, readable expected) for input meant to break a parser.

    Non-HTML bytes give unreadable facts, never an exception: the extractor does not raise
    InputError for them (a caller decides what an unreadable capture means).
    """
    yield "empty", b"", None, False
    yield "nul-bytes", b"\x00" * 1000, None, False
    yield "png-header", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), None, False
    deep = b"<div>" * 100_000 + _FOOTER + b"</div>" * 100_000
    yield "footer-under-100000-divs", b"<html><body>" + deep, "Example Ltd", True
    ten_mb = _FILLER * (10_000_000 // len(_FILLER))
    yield "10mb", _insert_after(_guardian(), _BODY_TAG, ten_mb), GUARDIAN, True
    # The Guardian's footer is in the second half: the first half states no owner.
    yield "truncated", _guardian()[: len(_guardian()) // 2], None, False
    script = b"<footer><script>alert(1)</script></footer>"
    yield "script-footer", b"<html><body><p>Hello</p>" + script, None, False
    script_line = b"<footer><script>alert(1)</script>&copy; 2020 Example Ltd</footer>"
    yield "script-in-copyright-line", b"<html><body>" + script_line, "Example Ltd", True


HOSTILE = list(_hostile_inputs())


@pytest.mark.parametrize(
    ("name", "body", "operator", "readable"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_input_gives_unreadable_facts_or_the_real_owner(
    name: str, body: bytes, operator: str | None, readable: bool
) -> None:
    facts = extract(body)
    assert (facts.operator, facts.readable) == (operator, readable), describe(facts)
    assert not any("alert" in e.name for e in facts.entities), describe(facts)
    assert not any("alert" in line.text for line in facts.copyright), describe(facts)


# --- archive artefacts ---------------------------------------------------------------------

_HEAD_END = "<!-- End Wayback Rewrite JS Include -->"
_BAR_START = "<!-- BEGIN WAYBACK TOOLBAR INSERT -->"
_BAR_END = "<!-- END WAYBACK TOOLBAR INSERT -->"


def _wayback_parts() -> tuple[bytes, bytes, bytes]:
    """The archive's head scripts, toolbar and trailing comment, as it inserts them."""
    text = WAYBACK_TOOLBAR.read_text(encoding="utf-8")
    head = text[text.index("<script") : text.index(_HEAD_END) + len(_HEAD_END)]
    bar = text[text.index(_BAR_START) : text.index(_BAR_END) + len(_BAR_END)]
    tail = text[text.index(_BAR_END) + len(_BAR_END) :]
    return head.encode(), bar.encode(), tail.encode()


def _as_viewed_in_wayback(page: bytes) -> bytes:
    """The page as the Wayback Machine's view mode serves it (the toolbar is ASCII)."""
    head, bar, tail = _wayback_parts()
    page = _insert_after(page, _HEAD_TAG, head)
    return _insert_after(page, _BODY_TAG, bar) + tail


def _assert_archive_not_named(facts: Facts) -> None:
    assert "internet archive" not in fold_name(facts.operator or ""), describe(facts)
    assert not any("internet archive" in name for name in entity_names(facts)), describe(facts)


def test_wayback_snippet_holds_the_archive_copyright_claim() -> None:
    head, bar, tail = _wayback_parts()
    assert b"__wm.wombat" in head
    assert bar.startswith(_BAR_START.encode())
    assert b"COPYRIGHT INTERNET ARCHIVE" in tail


def test_wayback_toolbar_alone_names_no_operator() -> None:
    head, bar, tail = _wayback_parts()
    page = b"<html><head>" + head + b"</head><body>" + bar + b"<p>Hello</p></body></html>" + tail
    facts = extract(page)
    assert facts.operator is None, describe(facts)
    _assert_archive_not_named(facts)


@pytest.mark.parametrize("label", LABELS, ids=_ids(LABELS))
def test_wayback_toolbar_leaves_operator_unchanged(label: Label) -> None:
    viewed = _as_viewed_in_wayback(label.path.read_bytes())
    assert _BAR_START.encode() in viewed
    facts = extract(viewed)
    _assert_archive_not_named(facts)
    assert facts.operator == facts_of(label.path).operator, describe(facts)
