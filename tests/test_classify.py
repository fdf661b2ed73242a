"""Classifying changes: relocation, legal form, rename, switch, registration, cosmetic.

Names are real ones from tests/data/footers (the footer corpus) and the demo's reconstructed
SenseTime timeline; pairs that no real page shows side by side are marked as constructed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.classify import ChangeKind, classify, shape
from monitor.demo.timelines import (
    BEIJING_SENSETIME,
    DEMO_EXPECTED_CHANGES,
    HAINAN_SHILI,
    SHANGHAI_SENSETIME,
    SHENZHEN_SHILI,
)

# (field, old, new, kind, explanation)
CASES = [
    # The demo case, both languages: same brand, another city, another legal entity.
    (
        "operator",
        BEIJING_SENSETIME.zh,
        SHANGHAI_SENSETIME.zh,
        ChangeKind.RELOCATION,
        "relocation: 北京市 → 上海 (same brand 商汤)",
    ),
    (
        "operator",
        BEIJING_SENSETIME.en,
        SHANGHAI_SENSETIME.en,
        ChangeKind.RELOCATION,
        "relocation: Beijing → Shanghai (same brand SenseTime)",
    ),
    (
        "operator",
        SHENZHEN_SHILI.zh,
        HAINAN_SHILI.zh,
        ChangeKind.RELOCATION,
        "relocation: 深圳市 → 海南 (same brand 示例)",
    ),
    (
        "operator",
        SHENZHEN_SHILI.en,
        HAINAN_SHILI.en,
        ChangeKind.RELOCATION,
        "relocation: Shenzhen → Hainan (same brand Shili)",
    ),
    # The city in brackets, as many Chinese companies write it (constructed names).
    (
        "operator",
        "示例技术（北京）有限公司",
        "示例技术（上海）有限公司",
        ChangeKind.RELOCATION,
        "relocation: 北京 → 上海 (same brand 示例)",
    ),
    (
        "operator",
        "Shili Technologies (Shenzhen) Co., Ltd.",
        "Shili Technologies (Hangzhou) Co., Ltd.",
        ChangeKind.RELOCATION,
        "relocation: Shenzhen → Hangzhou (same brand Shili)",
    ),
    # A bracket that holds no place stays part of the name.
    (
        "operator",
        "Foo (Europe) GmbH",
        "Foo (Asia) GmbH",
        ChangeKind.RENAME,
        "rename: same brand Foo",
    ),
    # Legal form: constructed from corpus names.
    (
        "operator",
        "Foo Ltd",
        "Foo plc",
        ChangeKind.LEGAL_FORM,
        "legal_form: Ltd → plc (same name Foo)",
    ),
    (
        "operator",
        "Viessmann Climate Solutions GmbH",
        "Viessmann Climate Solutions SE",
        ChangeKind.LEGAL_FORM,
        "legal_form: GmbH → SE (same name Viessmann Climate Solutions)",
    ),
    (
        "operator",
        "Reach Ltd",
        "Reach plc",
        ChangeKind.LEGAL_FORM,
        "legal_form: Ltd → plc (same name Reach)",
    ),
    # Cosmetic: case, spacing, punctuation, years, the spelling of one legal form.
    ("operator", "BOOK WALKER Co.,Ltd.", "Book Walker Co., Ltd.", ChangeKind.COSMETIC, None),
    ("operator", "Salon Media Group, Inc.", "Salon Media Group Inc.", ChangeKind.COSMETIC, None),
    ("operator", "WebMD, LLC", "WebMD LLC", ChangeKind.COSMETIC, None),
    ("operator", "TOPICSEED LIMITED", "TopicSeed Ltd", ChangeKind.COSMETIC, None),
    (
        "operator",
        "Bennett,  Coleman & Co. Ltd.",
        "Bennett, Coleman & Co. Ltd.",
        ChangeKind.COSMETIC,
        None,
    ),
    (
        "copyright",
        "Copyright © 2002–2015 The Daring Fireball Company LLC.",
        "Copyright © 2002–2016 The Daring Fireball Company LLC.",
        ChangeKind.COSMETIC,
        None,
    ),
    ("operator", "Mynavi Corporation", "Mynavi Corp.", ChangeKind.COSMETIC, None),
    # Rename: the same family of names.  Both Hearst names stand on one real page.
    (
        "operator",
        "Hearst Communications, Inc.",
        "Hearst Media Services Connecticut, LLC",
        ChangeKind.RENAME,
        "rename: same brand Hearst",
    ),
    (
        "operator",
        "半月谈杂志社",
        "半月谈新媒体科技有限公司",
        ChangeKind.RENAME,
        "rename: same brand 半月谈",
    ),
    (
        "operator",
        "SenseTime Group Limited",
        SHANGHAI_SENSETIME.en,
        ChangeKind.RENAME,
        "rename: same brand SenseTime; place Shanghai added",
    ),
    # Switch: unrelated entities, also in the same city.
    (
        "operator",
        "北京创新乐知网络技术有限公司",
        "北京酷睿奥思科技发展有限公司",
        ChangeKind.SWITCH,
        None,
    ),
    ("operator", "Fortinet, Inc.", "GitHub, Inc.", ChangeKind.SWITCH, None),
    ("operator", "Bauer Consumer Media Ltd", "Future Publishing Limited", ChangeKind.SWITCH, None),
    ("operator", None, "Guardian News & Media Limited", ChangeKind.SWITCH, None),
    # Registrations: the demo's invented numbers, real corpus numbers.
    (
        "icp_filing",
        "京ICP备00000001号-1",
        "沪ICP备00000002号-1",
        ChangeKind.REGISTRATION,
        "registration: 京 → 沪 (Beijing → Shanghai)",
    ),
    (
        "psb_filing",
        "京公网安备 11010800000001号",
        "沪公网安备 31010400000002号",
        ChangeKind.REGISTRATION,
        "registration: 京 → 沪 (Beijing → Shanghai)",
    ),
    (
        "registration",
        "京ICP备19004658号",
        "苏ICP备17065836号",
        ChangeKind.REGISTRATION,
        "registration: 京 → 苏 (Beijing → Jiangsu)",
    ),
    (
        "icp_filing",
        "京ICP备16044242号",
        "京ICP备14027177号-1",
        ChangeKind.REGISTRATION,
        "registration: new number in the same province (Beijing)",
    ),
    ("icp_filing", "京｜ICP备11020872号－17", "京ICP备11020872号-17", ChangeKind.COSMETIC, None),
    (
        "uk_company",
        "01176085",
        "2008885",
        ChangeKind.REGISTRATION,
        "registration: 01176085 → 2008885",
    ),
]


@pytest.mark.parametrize(
    ("field", "old", "new", "kind", "explanation"),
    CASES,
    ids=[f"{kind.value}:{old}→{new}"[:60] for _, old, new, kind, _ in CASES],
)
def test_classify_names_the_kind_of_change(
    field: str, old: str | None, new: str | None, kind: ChangeKind, explanation: str | None
) -> None:
    result = classify(field, old, new)
    assert result.kind is kind, result.explanation
    assert result.explanation.startswith(f"{kind.value}:")
    assert "\n" not in result.explanation
    if explanation is not None:
        assert result.explanation == explanation


def test_relocation_reports_both_places_and_provinces() -> None:
    result = classify("operator", BEIJING_SENSETIME.zh, SHANGHAI_SENSETIME.zh)
    assert (result.old_place, result.new_place) == ("北京市", "上海")
    assert (result.old_region, result.new_region) == ("Beijing", "Shanghai")
    assert result.brand == "商汤"


def test_registration_change_reports_both_provinces() -> None:
    result = classify("icp_filing", BEIJING_SENSETIME.icp, SHANGHAI_SENSETIME.icp)
    assert (result.old_place, result.new_place) == ("京", "沪")
    assert (result.old_region, result.new_region) == ("Beijing", "Shanghai")


def test_demo_timeline_changes_are_a_relocation_and_two_registrations() -> None:
    kinds = [classify(c.field, c.old, c.new).kind for c in DEMO_EXPECTED_CHANGES]
    assert kinds == [ChangeKind.RELOCATION, ChangeKind.REGISTRATION, ChangeKind.REGISTRATION]


def test_the_brand_anchors_a_relocation_whose_cores_differ() -> None:
    # 科技开发 and 智能科技 are not alike (67 of 100), but 商汤 stays: a relocation.
    old, new = shape(BEIJING_SENSETIME.zh), shape(SHANGHAI_SENSETIME.zh)
    assert old.key != new.key
    assert classify("operator", old.name, new.name).kind is ChangeKind.RELOCATION


def test_a_new_place_without_shared_brand_is_a_switch() -> None:
    result = classify("operator", "北京创新乐知网络技术有限公司", "上海酷睿奥思科技发展有限公司")
    assert result.kind is ChangeKind.SWITCH


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (BEIJING_SENSETIME.zh, BEIJING_SENSETIME.en, ChangeKind.RENAME),
        (BEIJING_SENSETIME.zh, SHANGHAI_SENSETIME.en, ChangeKind.SWITCH),
    ],
    ids=["translation-same-province", "translation-other-province"],
)
def test_names_in_two_scripts_are_judged_by_province_only(
    old: str, new: str, kind: ChangeKind
) -> None:
    assert classify("operator", old, new).kind is kind


def test_only_cosmetic_changes_stay_quiet() -> None:
    assert [kind for kind in ChangeKind if not kind.alerts] == [ChangeKind.COSMETIC]


def test_sensetime_group_is_not_a_relocation_of_its_subsidiary() -> None:
    # The holding company names no place: its change to a subsidiary is a rename, not a move.
    result = classify("operator", "SenseTime Group Limited", BEIJING_SENSETIME.en)
    assert result.kind is ChangeKind.RENAME


_NAMES = st.sampled_from(
    [c[1] for c in CASES if c[0] in {"operator", "copyright"} and c[1]]
    + [c[2] for c in CASES if c[0] in {"operator", "copyright"} and c[2]]
)


@given(st.text(max_size=80))
def test_a_value_compared_with_itself_is_cosmetic(text: str) -> None:
    assert classify("operator", text, text).kind is ChangeKind.COSMETIC


@given(_NAMES, _NAMES)
def test_the_kind_does_not_depend_on_the_direction(old: str, new: str) -> None:
    assert classify("operator", old, new).kind is classify("operator", new, old).kind
