"""Entity names in footer lines: where they end (the legal form) and where they start."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.names import before_address, compare_key, find_names, fold, split_name

# (line as on a real page, names expected as written)
LINES = [
    ("Copyright © 2002–2015 The Daring Fireball Company LLC.", ["The Daring Fireball Company LLC"]),
    ("©2005-2015 WebMD, LLC. All rights reserved.", ["WebMD, LLC"]),
    ("© Future Publishing Limited Quay House, The Ambury, Bath", ["Future Publishing Limited"]),
    ("© 2016 ebrosia GmbH + Co. KG W.-C.-Röntgen-Str. 2", ["ebrosia GmbH + Co. KG"]),
    (
        "Derechos Reservados © 2022, Dutriz Hermanos, S.A. de C.V.",
        ["Dutriz Hermanos, S.A. de C.V."],
    ),
    ("Copyright © 2019 Bennett, Coleman & Co. Ltd. All rights", ["Bennett, Coleman & Co. Ltd."]),
    ("©BOOK WALKER Co.,Ltd.", ["BOOK WALKER Co.,Ltd."]),
    ("Copyright © 2020 e-Mídia Informações Ltda", ["e-Mídia Informações Ltda"]),
    ("a trademark of Salon Media Group Inc.", ["Salon Media Group Inc."]),
    ("© 2020 a Reach plc subsidiary", ["Reach plc"]),
    ("©1999-2019 北京创新乐知网络技术有限公司", ["北京创新乐知网络技术有限公司"]),
    ("运营管理中心:半月谈新媒体科技有限公司", ["半月谈新媒体科技有限公司"]),
    ("ITmediaはアイティメディア株式会社の登録商標です。", ["アイティメディア株式会社"]),
    ("株式会社マイナビ", ["株式会社マイナビ"]),
    (
        "Beijing SenseTime Technology Development Co., Ltd.",
        ["Beijing SenseTime Technology Development Co., Ltd."],
    ),
    ("Our company is great. AG and SE are forms.", []),
    ("© 1996–2020 comparis.ch AG, Birmensdorferstrasse 108", ["comparis.ch AG"]),
    ("大公司", []),
    ("a company registered in England & Wales (Company No. 11746352)", []),
]


@pytest.mark.parametrize(("line", "expected"), LINES, ids=[line[:40] for line, _ in LINES])
def test_find_names_spans_whole_legal_names(line: str, expected: list[str]) -> None:
    assert [span.name for span in find_names(line)] == expected


ADDRESSES = [
    ("FINANZCHECK.de Winterstraße 2 22765 Hamburg", "FINANZCHECK.de"),
    ("Brand.de, Musterstrasse 12a, 80331 München", "Brand.de"),
    ("Brand.de, Hauptstr. 5, 04509 Delitzsch", "Brand.de"),
    ("Brand.de 22765 Hamburg", "Brand.de"),
    ("Brand.de D-80331 München", "Brand.de"),
    ("Example Media 90 York Way", "Example Media"),
    ("Example Media, 1 Main St., Springfield", "Example Media"),
    ("Agentur MARKE ICH", "Agentur MARKE ICH"),
    ("Studio 54 Berlin", "Studio 54 Berlin"),
    ("Spring 2 Media", "Spring 2 Media"),
]


@pytest.mark.parametrize(("text", "name"), ADDRESSES, ids=[text for text, _ in ADDRESSES])
def test_before_address_cuts_at_a_street_or_postcode(text: str, name: str) -> None:
    assert before_address(text) == name


def test_split_name_keeps_the_chinese_place_prefix_apart() -> None:
    beijing = split_name("北京市商汤科技开发有限公司")
    shanghai = split_name("上海商汤智能科技有限公司")
    assert (beijing.place, beijing.legal_form) == ("北京市", "有限公司")
    assert (shanghai.place, shanghai.legal_form) == ("上海", "有限公司")
    assert beijing.core == "商汤科技开发"


def test_compare_key_equates_spellings_of_one_legal_form() -> None:
    assert compare_key("BOOK WALKER Co.,Ltd.") == compare_key("Book Walker Co., Ltd")
    assert compare_key("Foo Limited") == compare_key("Foo Ltd.")
    assert compare_key("Foo GmbH") != compare_key("Foo AG")


@given(st.text(max_size=300))
def test_folding_twice_equals_folding_once(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(max_size=300))
def test_find_names_never_raises_and_spans_lie_in_the_line(text: str) -> None:
    for span in find_names(text):
        assert 0 <= span.start < span.end <= len(text)
