"""Registration numbers: ``monitor.registrations``.

The snippets in the tables are copied from the visible text of the pages in the shared footer
corpus (the page is named in each id) or written in the shapes real footers use; expected
numbers are compared after NFKC, as the corpus labels spell some in fullwidth forms.
"""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_places import PREFIXES

from monitor.facts import Registration, RegistrationKind
from monitor.places import CN_PROVINCES
from monitor.registrations import KNOWN_CN_LICENCES, find_registrations

K = RegistrationKind
# A 2 MB page is the largest text the extractor is expected to read; the time bound is
# generous on purpose (a slow CI machine must not fail it): it only catches runaway regexes.
LARGE_TEXT_CHARS = 2_000_000
LARGE_TEXT_SECONDS = 10.0
_SPACES = re.compile(r"\s+")

Found = tuple[str, str, str | None]


def normalise(text: str) -> str:
    """NFKC with whitespace folded to single spaces, as the extractor hands text over."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text))


def summary(found: tuple[Registration, ...]) -> list[Found]:
    return [(r.kind.value, r.number, r.region) for r in found]


def nfkc_all(expected: list[Found]) -> list[Found]:
    return [
        (kind, unicodedata.normalize("NFKC", number), region) for kind, number, region in expected
    ]


# (corpus page, text copied from it, expected (kind, number, region) in page order)
PAGE_SNIPPETS: list[tuple[str, str, list[Found]]] = [
    (
        "cn-banyuetan",
        "主办：半月谈杂志社 互联网新闻信息服务许可证：1012014004"
        " 网站备案：京公网安备11010702001529号 京ICP备16044242号 期刊订阅电话：400-081-2017"
        " 客服电话：400-851-5558",
        [
            ("cn_license", "1012014004", None),
            ("psb_filing", "京公网安备11010702001529号", "Beijing"),
            ("icp_filing", "京ICP备16044242号", "Beijing"),
        ],
    ),
    (
        "cn-cjddsb",
        "Copyright © 当代商报南京网络传媒有限公司 版权所有 苏ICP备17065836号"
        " 值班邮箱：1736993283@qq.com",
        [("icp_filing", "苏ICP备17065836号", "Jiangsu")],
    ),
    (
        "cn-csdn",
        "客服论坛 400-660-0108 工作时间 8:30-22:00 百度提供站内搜索 京ICP备19004658号 ©1999-2019"
        " 北京创新乐知网络技术有限公司 版权申诉 家长监护 经营性网站备案信息",
        [("icp_filing", "京ICP备19004658号", "Beijing")],
    ),
    (
        "cn-qdaily",
        "版权声明 2014 北京酷睿奥思科技发展有限公司 京ICP备14027177号-1"
        " 京公网安备 11010502030071号",
        [
            ("icp_filing", "京ICP备14027177号-1", "Beijing"),
            ("psb_filing", "京公网安备 11010502030071号", "Beijing"),
        ],
    ),
    (
        "cn-xds",
        "网站地图 ©2018 厦门市鑫鼎盛控股有限公司 闽ICP备11019844号-1 | 理财有风险，投资需谨慎",
        [("icp_filing", "闽ICP备11019844号-1", "Fujian")],
    ),
    (
        "cn-youth",
        "共青团中央主办 共青团中央网络影视中心承办 版权所有：中国青年网"
        " 信息网络传播视听节目许可证0105108号 京｜ICP备11020872号－17 京公网安备110105007246",
        [
            ("cn_license", "0105108号", None),
            ("icp_filing", "京｜ICP备11020872号－17", "Beijing"),
            ("psb_filing", "京公网安备110105007246", "Beijing"),
        ],
    ),
    (
        "cn-ednchina",
        "eMedia Asia Ltd. All rights reserved. 北京科能广告有限公司深圳分公司 版权所有"
        " 粤ICP备16057936号-4",
        [("icp_filing", "粤ICP备16057936号-4", "Guangdong")],
    ),
    (
        "cn-gsc",
        "E-mail：gsc@igsnrr.ac.cn 备案/许可证号码：京ICP备18020997号-6"
        " 技术支持：北京智联软件技术有限公司",
        [("icp_filing", "京ICP备18020997号-6", "Beijing")],
    ),
    (
        "cn-netease-leihuo",
        "杭州网易雷火科技有限公司版权所有©1997-2020 点击查看家长关爱平台 > 粤B2-20090191-2"
        " 粤公网安备44010602006299号 违法和不良信息举报中心",
        [
            ("telecom_license", "粤B2-20090191-2", "Guangdong"),
            ("psb_filing", "粤公网安备44010602006299号", "Guangdong"),
        ],
    ),
    (
        "cn-thepaper",
        "Copyright © 2014~2019 The Paper All rights reserved.上海东方报业有限公司"
        " | 沪ICP证：沪B2-20170116 | 沪ICP备14003370号 | 互联网新闻信息服务许可证：31120170006"
        " 沪公网安备 31010602000299号 站长统计",
        [
            ("telecom_license", "沪B2-20170116", "Shanghai"),
            ("icp_filing", "沪ICP备14003370号", "Shanghai"),
            ("cn_license", "31120170006", None),
            ("psb_filing", "沪公网安备 31010602000299号", "Shanghai"),
        ],
    ),
    (
        "cn-toutiao",
        "© 2019 今日头条 www.toutiao.com 中国互联网举报中心 京ICP证140141号 京ICP备12025439号-3"
        " 京公网安备 11000002002023号 网络文化经营许可证 跟帖评论自律管理承诺书"
        " 违法和不良信息举报电话：400-140-2108 公司名称：北京字节跳动科技有限公司",
        [
            ("icp_license", "京ICP证140141号", "Beijing"),
            ("icp_filing", "京ICP备12025439号-3", "Beijing"),
            ("psb_filing", "京公网安备 11000002002023号", "Beijing"),
        ],
    ),
    (
        "uk-grazia",
        "© Bauer Consumer Media Ltd, company number: 01176085 registered office 1 Lincoln Court,"
        " Lincoln Road, Peterborough PE1 2RF registered in England and Wales.",
        [("uk_company", "01176085", "England and Wales")],
    ),
    (
        "uk-tomshardware",
        "Future Publishing Limited Quay House, The Ambury, Bath BA1 1UA. All rights reserved."
        " England and Wales company registration number 2008885.",
        [("uk_company", "2008885", "England and Wales")],
    ),
    (
        "uk-topicseed",
        "All rights reserved. Operated by TOPICSEED LIMITED, a company registered in England &"
        " Wales (Company No. 11746352)",
        [("uk_company", "11746352", "England and Wales")],
    ),
    (
        "de-impressum-markeich",
        "Mail info@markeich.de Umsatzsteuer-ID Umsatzsteuer-Identifikationsnummer gemäß §27 a"
        " Umsatzsteuergesetz: DE246292916 Angaben zur Berufshaftpflichtversicherung",
        [("de_vat", "DE246292916", None)],
    ),
]

# (text, expected) in the other shapes the issue lists and real footers use.
SHAPES: list[tuple[str, list[Found]]] = [
    ("京ICP备12025439号-3", [("icp_filing", "京ICP备12025439号-3", "Beijing")]),
    ("粤ICP备 12345678号", [("icp_filing", "粤ICP备 12345678号", "Guangdong")]),
    ("ICP备案号：京ICP备05070602号", [("icp_filing", "京ICP备05070602号", "Beijing")]),
    ("备案号:浙icp备2021012345号-1", [("icp_filing", "浙icp备2021012345号-1", "Zhejiang")]),
    ("京ICP备１２０２５４３９号－３", [("icp_filing", "京ICP备12025439号-3", "Beijing")]),
    ("京ICP证030173号", [("icp_license", "京ICP证030173号", "Beijing")]),
    ("沪B2-20180235", [("telecom_license", "沪B2-20180235", "Shanghai")]),
    (
        "增值电信业务经营许可证：沪B2-20180235",
        [("telecom_license", "沪B2-20180235", "Shanghai")],
    ),
    ("京公网安备 11010502030071号", [("psb_filing", "京公网安备 11010502030071号", "Beijing")]),
    ("京公网安备：11010502030071号", [("psb_filing", "京公网安备:11010502030071号", "Beijing")]),
    ("京公网安备110105007246", [("psb_filing", "京公网安备110105007246", "Beijing")]),
    ("公网安备 44030502000001号", [("psb_filing", "公网安备 44030502000001号", "Guangdong")]),
    ("互联网新闻信息服务许可证：1012014004", [("cn_license", "1012014004", None)]),
    (
        "网络文化经营许可证：京网文[2019]1234-123号",
        [("cn_license", "京网文[2019]1234-123号", None)],
    ),
    (
        "出版物经营许可证：新出发京零字第朝140027号",
        [("cn_license", "新出发京零字第朝140027号", None)],
    ),
    ("广播电视节目制作经营许可证：（京）字第00938号", [("cn_license", "(京)字第00938号", None)]),
    (
        "统一社会信用代码：91110108551385082Q",
        [("cn_uscc", "91110108551385082Q", "Beijing")],
    ),
    ("Company No. 11746352", [("uk_company", "11746352", None)]),
    (
        "Registered in England and Wales No. 1234567",
        [("uk_company", "1234567", "England and Wales")],
    ),
    ("Registered in Scotland No. SC123456", [("uk_company", "SC123456", "Scotland")]),
    ("Company number NI012345", [("uk_company", "NI012345", "Northern Ireland")]),
    ("Partnership company number OC301234", [("uk_company", "OC301234", None)]),
    (
        "Registered in England and Wales. Registered number: 4567890",
        [("uk_company", "4567890", "England and Wales")],
    ),
    ("USt-IdNr.: DE246292916", [("de_vat", "DE246292916", None)]),
    ("TVA intracommunautaire : FR 61 954 506 077", [("eu_vat", "FR 61 954 506 077", None)]),
    ("UID-Nr. ATU13585627", [("eu_vat", "ATU13585627", None)]),
    ("Handelsregister: HRB 12345", [("de_hrb", "HRB 12345", None)]),
    ("HRA 123 B", [("de_hrb", "HRA 123 B", None)]),
    ("Amtsgericht München HRB 123456", [("de_hrb", "HRB 123456", "München")]),
    (
        "Registergericht: Amtsgericht Charlottenburg, HRB 150148 B",
        [("de_hrb", "HRB 150148 B", "Berlin (Charlottenburg)")],
    ),
    (
        "Eingetragen im Handelsregister des Amtsgerichts Frankfurt am Main, HRB 12345",
        [("de_hrb", "HRB 12345", "Frankfurt am Main")],
    ),
    ("Sitz Allendorf, AG Marburg HRA 3117", [("de_hrb", "HRA 3117", "Marburg")]),
]

# Text that carries numbers or keywords but no registration.
NOT_REGISTRATIONS: list[tuple[str, str]] = [
    ("phone", "客服电话：400-851-5558 Tel. +44 20 7946 0000 Fax 05191 979228"),
    ("postcode-and-year", "Peterborough PE1 2RF © 2019-2024 10115 Berlin"),
    ("digit-run", "订单号 1234567890123456 编号 20190101123456"),
    ("icp-without-number", "ICP备案 京ICP备 查询"),
    ("licence-without-number", "网络文化经营许可证 跟帖评论自律管理承诺书"),
    ("licence-year", "许可证 2019年 许可证：2019-2020"),
    ("psb-too-short", "京公网安备 11010502号"),
    ("company-phone", "Company phone number: 02079460000"),
    ("charity", "Registered Charity No. 1034567; charity registration number 1034567, England"),
    ("irish-company", "Registered in Ireland, company number 123456"),
    ("australian-company", "Registered in New South Wales, company number 123456"),
    ("vat-without-number", "Alle Preise inkl. 19 % Umsatzsteuer und VAT, zzgl. Versand"),
    ("vat-wrong-format", "VAT DE 12 and IVA ES"),
    ("hrb-legal-form", "Musterfirma AG, Sitz Köln"),
]


def _ids(table: list[tuple[str, list[Found]]]) -> list[str]:
    return [text[:24] for text, _ in table]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in PAGE_SNIPPETS],
    ids=[page for page, _, _ in PAGE_SNIPPETS],
)
def test_finds_the_registrations_of_corpus_footers(text: str, expected: list[Found]) -> None:
    assert summary(find_registrations(text)) == nfkc_all(expected)


@pytest.mark.parametrize(("text", "expected"), SHAPES, ids=_ids(SHAPES))
def test_finds_registrations_in_every_listed_shape(text: str, expected: list[Found]) -> None:
    assert summary(find_registrations(text)) == nfkc_all(expected)


@pytest.mark.parametrize(
    "text", [text for _, text in NOT_REGISTRATIONS], ids=[name for name, _ in NOT_REGISTRATIONS]
)
def test_reports_nothing_for_numbers_that_are_not_registrations(text: str) -> None:
    assert find_registrations(text) == ()


@pytest.mark.parametrize(("prefix", "province"), PREFIXES, ids=[p for p, _ in PREFIXES])
def test_every_prefix_names_its_province(prefix: str, province: str) -> None:
    found = find_registrations(f"{prefix}ICP备12345678号 {prefix}B2-20180235")
    assert [r.region for r in found] == [province, province]
    assert CN_PROVINCES[prefix] == province


def test_fullwidth_and_normalised_text_give_the_same_numbers() -> None:
    raw = "京｜ICP备11020872号－17　京公网安备：１１０１０５００７２４６"
    assert find_registrations(raw) == find_registrations(normalise(raw))
    assert [r.number for r in find_registrations(raw)] == [
        "京|ICP备11020872号-17",
        "京公网安备:110105007246",
    ]


def test_licences_carry_their_name_as_label() -> None:
    text = (
        "版权所有中国青年网信息网络传播视听节目许可证0105108号 互联网新闻信息服务许可证：1012014004"
        " 沪ICP证：沪B2-20170116 增值电信业务经营许可证：沪B2-20180235 某某数据许可证：123456789"
    )
    assert [r.label for r in find_registrations(text)] == [
        "信息网络传播视听节目许可证",
        "互联网新闻信息服务许可证",
        "沪ICP证",
        "增值电信业务经营许可证",
        "某某数据许可证",
    ]
    assert set(KNOWN_CN_LICENCES) >= {"信息网络传播视听节目许可证", "互联网新闻信息服务许可证"}


@pytest.mark.parametrize(
    ("text", "region", "label", "valid"),
    [
        ("京公网安备 11010502030071号", "Beijing", "北京市朝阳区", True),
        ("粤公网安备44010602006299号", "Guangdong", "广东省广州市天河区", True),
        ("京公网安备 11000002002023号", "Beijing", "北京市", True),
        # The prefix names Shanghai but the division code is in Beijing: worth an analyst's eye.
        ("沪公网安备 11010502030071号", "Shanghai", "北京市朝阳区", False),
        ("京公网安备 99010502030071号", "Beijing", None, False),
    ],
    ids=["beijing-district", "guangzhou-district", "beijing-city", "mismatch", "unknown-code"],
)
def test_public_security_filings_cross_check_the_division_code(
    text: str, region: str, label: str | None, valid: bool
) -> None:
    (found,) = find_registrations(text)
    assert (found.kind, found.region, found.label, found.valid) == (
        K.PSB_FILING,
        region,
        label,
        valid,
    )


@pytest.mark.parametrize(
    ("text", "kind", "valid"),
    [
        ("统一社会信用代码：91110108551385082Q", K.CN_USCC, True),
        ("统一社会信用代码：91110108551385082A", K.CN_USCC, False),
        ("USt-IdNr.: DE246292916", K.DE_VAT, True),
        ("USt-IdNr.: DE246292917", K.DE_VAT, False),
        ("VAT No. FR 61 954 506 077", K.EU_VAT, True),
        ("Amtsgericht München HRB 123456", K.DE_HRB, True),
        ("Amtsgericht Atlantis HRB 123456", K.DE_HRB, False),
    ],
    ids=["uscc", "uscc-bad-check", "de-vat", "de-vat-bad-check", "fr-vat", "court", "no-court"],
)
def test_checksums_and_courts_are_validated_with_stdnum(
    text: str, kind: RegistrationKind, valid: bool
) -> None:
    (found,) = find_registrations(text)
    assert (found.kind, found.valid) == (kind, valid)


def test_a_number_repeated_on_the_page_is_reported_once_in_page_order() -> None:
    footer = "京ICP备14027177号-1 京公网安备 11010502030071号 "
    found = find_registrations(footer + "正文 " + footer.replace("安备 ", "安备") + footer)
    assert [r.number for r in found] == ["京ICP备14027177号-1", "京公网安备 11010502030071号"]


def test_large_text_of_near_misses_is_read_quickly() -> None:
    near_misses = (
        "京ICP备 京|ICP证: 沪B2- 京公网安备 号 许可证：许可证编号 京网文[2019 统一社会信用代码"
        " company number registered in England VAT DE 1 2 3 USt-IdNr. HRB Amtsgericht München AG "
        "1234567 "
    )
    text = near_misses * (LARGE_TEXT_CHARS // len(near_misses))
    started = time.perf_counter()
    found = find_registrations(text)
    assert time.perf_counter() - started < LARGE_TEXT_SECONDS
    assert {r.kind for r in found} <= {K.DE_HRB}  # "HRB Amtsgericht" has no number


# Text built from the pieces registrations are made of, so the properties reach the patterns.
_PIECES = [
    *"京沪粤ICPicp备证号公网安备许可证:：｜|－-\u3000 0123456789B2HRBSCDEVATUSt.",
    "company number ",
    "Amtsgericht ",
    "统一社会信用代码",
    "\n",
]
_KEYWORDY = st.lists(st.sampled_from(_PIECES), max_size=120).map("".join)


@given(st.one_of(st.text(max_size=300), _KEYWORDY))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    assert isinstance(find_registrations(text), tuple)


@given(st.one_of(st.text(max_size=300), _KEYWORDY))
def test_normalising_the_input_first_changes_nothing(text: str) -> None:
    once = normalise(text)
    assert find_registrations(once) == find_registrations(text)
    assert find_registrations(normalise(once)) == find_registrations(once)


@given(
    st.text(alphabet="abcdefghij ABCDEFG.,", max_size=40),
    st.text(alphabet="abcdefghij ABCDEFG.,", max_size=40),
)
def test_surrounding_prose_does_not_hide_a_registration(before: str, after: str) -> None:
    found = find_registrations(f"{before} 京ICP备14027177号-1 {after}")
    assert ("icp_filing", "京ICP备14027177号-1", "Beijing") in summary(found)
