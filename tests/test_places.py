"""Chinese places: ``monitor.places``.

The prefix table is written out here independently of the module's; the registration tests
(``test_registrations.py``) read it too.
"""

from __future__ import annotations

import pytest

from monitor.places import (
    CN_PROVINCES,
    PROVINCE_NAMES,
    Division,
    division_of,
    place_prefix,
    province_of,
)
from monitor.registrations import find_registrations

# Every registration prefix the brief lists, with the province it names, written out here
# independently of the module's table.
PREFIXES: list[tuple[str, str]] = [
    ("京", "Beijing"), ("沪", "Shanghai"), ("粤", "Guangdong"), ("闽", "Fujian"),
    ("苏", "Jiangsu"), ("浙", "Zhejiang"), ("津", "Tianjin"), ("渝", "Chongqing"),
    ("冀", "Hebei"), ("晋", "Shanxi"), ("蒙", "Inner Mongolia"), ("辽", "Liaoning"),
    ("吉", "Jilin"), ("黑", "Heilongjiang"), ("皖", "Anhui"), ("赣", "Jiangxi"),
    ("鲁", "Shandong"), ("豫", "Henan"), ("鄂", "Hubei"), ("湘", "Hunan"),
    ("桂", "Guangxi"), ("琼", "Hainan"), ("川", "Sichuan"), ("蜀", "Sichuan"),
    ("贵", "Guizhou"), ("黔", "Guizhou"), ("云", "Yunnan"), ("滇", "Yunnan"),
    ("藏", "Tibet"), ("陕", "Shaanxi"), ("秦", "Shaanxi"), ("甘", "Gansu"),
    ("陇", "Gansu"), ("青", "Qinghai"), ("宁", "Ningxia"), ("新", "Xinjiang"),
]  # fmt: skip

PLACE_PREFIXES: list[tuple[str, str | None]] = [
    ("北京市商汤科技开发有限公司", "北京市"),
    ("上海商汤智能科技有限公司", "上海"),
    ("厦门市鑫鼎盛控股有限公司", "厦门市"),
    ("Beijing SenseTime Technology Development Co., Ltd.", "Beijing"),
    ("Shanghai SenseTime Intelligent Technology Co., Ltd.", "Shanghai"),
    ("当代商报南京网络传媒有限公司", None),
    ("北京酷睿奥思科技发展有限公司", "北京"),
    ("杭州网易雷火科技有限公司", "杭州"),
    ("深圳市腾讯计算机系统有限公司", "深圳市"),
    ("广东省广播电视网络股份有限公司", "广东省"),
    ("内蒙古伊利实业集团股份有限公司", "内蒙古"),
    ("义乌市小商品城有限公司", "义乌市"),
    ("阿里巴巴（中国）有限公司", None),
    ("北海道電力株式会社", None),
    ("德州仪器半导体技术（上海）有限公司", None),
    ("半月谈杂志社", None),
    ("Guardian News & Media Limited", None),
    ("", None),
]

PROVINCES_OF: list[tuple[str, str | None]] = [
    ("北京", "Beijing"),
    ("北京市", "Beijing"),
    ("上海市", "Shanghai"),
    ("广东省", "Guangdong"),
    ("深圳", "Guangdong"),
    ("厦门市", "Fujian"),
    ("内蒙古自治区", "Inner Mongolia"),
    ("新疆", "Xinjiang"),
    ("香港", "Hong Kong"),
    ("Beijing", "Beijing"),
    ("Shanghai", "Shanghai"),
    ("guangdong province", "Guangdong"),
    ("Xizang", "Tibet"),
    ("北京市商汤科技开发有限公司", "Beijing"),
    ("Beijing SenseTime Technology Development Co., Ltd.", "Beijing"),
    ("朝阳区", None),  # districts of Beijing and of Changchun share the name
    ("Atlantis", None),
    ("", None),
]


def test_prefix_table_lists_exactly_the_prefixes_in_use() -> None:
    assert dict(CN_PROVINCES) == dict(PREFIXES)


def test_prefix_provinces_agree_with_stdnum_division_names() -> None:
    # stdnum's cn/loc table names each province in Chinese; the English table must follow it.
    expected_chinese = {"Beijing": "北京市", "Guangdong": "广东省", "Tibet": "西藏自治区"}
    for code, english in PROVINCE_NAMES.items():
        division = division_of(code)
        assert division is not None
        assert division.province == english
        if english in expected_chinese:
            assert division.name == expected_chinese[english]


@pytest.mark.parametrize(
    ("name", "expected"), PLACE_PREFIXES, ids=[n[:12] or "empty" for n, _ in PLACE_PREFIXES]
)
def test_place_prefix_reads_the_leading_place_of_a_company_name(
    name: str, expected: str | None
) -> None:
    assert place_prefix(name) == expected


@pytest.mark.parametrize(
    ("place", "expected"), PROVINCES_OF, ids=[p[:12] or "empty" for p, _ in PROVINCES_OF]
)
def test_province_of_maps_chinese_and_english_places_to_one_name(
    place: str, expected: str | None
) -> None:
    assert province_of(place) == expected


def test_sensetime_entities_and_licence_provinces_compare_by_province() -> None:
    # The motivating case: the footer entity moved from Beijing to Shanghai.
    (licence,) = find_registrations("京ICP备12345678号")
    assert province_of("北京市商汤科技开发有限公司") == licence.region
    assert province_of("上海商汤智能科技有限公司") != licence.region


def test_division_of_names_province_prefecture_and_county() -> None:
    assert division_of("440106") == Division("440106", "Guangdong", "广东省广州市天河区")
    assert division_of("11") == Division("11", "Beijing", "北京市")
    assert division_of("99") is None
    assert division_of("ab") is None


@pytest.mark.parametrize(
    ("name", "place", "province"),
    [
        ("Shenzhen DJI Sciences and Technologies Ltd.", "Shenzhen", "Guangdong"),
        ("Hangzhou Hikvision Digital Technology Co., Ltd.", "Hangzhou", "Zhejiang"),
        ("Xiamen Meiya Pico Information Co., Ltd.", "Xiamen", "Fujian"),
        ("Xi'an Foo Technology Co., Ltd.", "Xi'an", "Shaanxi"),
        ("Urumqi Foo Trading Co., Ltd.", "Urumqi", "Xinjiang"),
        ("Suzhou Foo Ltd", "Suzhou", None),  # 苏州 (Jiangsu) and 宿州 (Anhui): a place, no province
        ("Apple Inc.", None, None),
        ("Meta Platforms, Inc.", None, None),
    ],
    ids=str,
)
def test_english_city_names_open_company_names(
    name: str, place: str | None, province: str | None
) -> None:
    assert place_prefix(name) == place
    assert (province_of(place) if place else None) == province
