"""Screening lists: the publishers' file formats, exact and fuzzy matching, near misses.

The files are written here from the publishers' documented headers.  Their rows are a
reconstruction for tests: the names are the real listed parties, but ids, aliases,
addresses and notices are simplified or invented (the Chinese alias of Beijing SenseTime is
its registered name, which the real Entity List entry does not spell out).
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from monitor.classify import ChangeKind, classify
from monitor.demo.timelines import DEMO_EXPECTED_CHANGES
from monitor.errors import InputError, ScreeningListError
from monitor.screening import (
    CSL_COLUMNS,
    FUZZY_THRESHOLD,
    OPENSANCTIONS_COLUMNS,
    ListEntry,
    ListFormat,
    Match,
    Matcher,
    MatchMethod,
    listing_note,
    load_list,
    parse_list,
)

# trade.gov consolidated.csv, header line as published.
CSL_HEADER_LINE = (
    "_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,"
    "start_date,end_date,standard_order,license_requirement,license_policy,call_sign,"
    "vessel_type,gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,"
    "source_list_url,alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,"
    "source_information_url,ids"
)
CSL_HEADER = CSL_HEADER_LINE.split(",")
# OpenSanctions targets.simple.csv, header line as published.
OPENSANCTIONS_HEADER_LINE = (
    "id,schema,name,aliases,birth_date,countries,addresses,identifiers,sanctions,phones,"
    "emails,dataset,first_seen,last_seen,last_change"
)
OPENSANCTIONS_HEADER = OPENSANCTIONS_HEADER_LINE.split(",")
ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"
CSL_ROWS = [
    {
        "_id": "el-sensetime",
        "source": ENTITY_LIST,
        "programs": "EAR",
        "name": "Beijing SenseTime Technology Development Co., Ltd.",
        "addresses": "Haidian District, Beijing, CN",
        "federal_register_notice": "84 FR 54002",
        "start_date": "2019-10-09",
        "license_requirement": "For all items subject to the EAR.",
        "alt_names": "北京市商汤科技开发有限公司",
    },
    {
        "_id": "el-huawei",
        "source": ENTITY_LIST,
        "programs": "EAR",
        "name": "Huawei Technologies Co., Ltd.",
        "addresses": "Bantian, Longgang District, Shenzhen, CN",
        "start_date": "2019-05-16",
        "alt_names": "Huawei; 华为技术有限公司",
    },
    {
        "_id": "el-cetc14",
        "source": ENTITY_LIST,
        "name": "China Electronics Technology Group Corporation 14th Research Institute",
        "addresses": "Nanjing, CN",
        "start_date": "2018-08-01",
        "alt_names": "CETC 14; Nanjing Research Institute of Electronics Technology",
    },
    {
        "_id": "dpl-foo",
        "source": "Denied Persons List (DPL) - Bureau of Industry and Security",
        "name": "Foo Handels GmbH",
        "addresses": "Hamburg, DE",
        "start_date": "2020-03-02",
    },
    {
        "_id": "sdn-vessel",
        "source": "Specially Designated Nationals (SDN) - Treasury Department",
        "type": "Vessel",
        "programs": "IRAN",
        "name": "SEA STAR",
    },
]
OPENSANCTIONS_ROWS = [
    {
        "id": "NK-sensetime-group",
        "schema": "Company",
        "name": "SenseTime Group Limited",
        "aliases": '商汤集团股份有限公司;"SenseTime Group Inc.; formerly"',
        "countries": "cn;ky",
        "sanctions": "NS-CMIC List - Chinese Military-Industrial Complex - 2021-12-10",
        "dataset": "US OFAC Non-SDN Chinese Military-Industrial Complex Companies List",
        "first_seen": "2021-12-11T00:00:00",
        "last_seen": "2024-05-01T06:00:00",
        "last_change": "2022-01-01T00:00:00",
    },
    {
        "id": "btc-wallet",
        "schema": "CryptoWallet",
        "name": "1AbCdEf",
        "dataset": "US OFAC Specially Designated Nationals (SDN) List",
        "last_seen": "2024-05-02T06:00:00",
    },
]


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def csl_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "consolidated.csv", CSL_HEADER, CSL_ROWS)


@pytest.fixture
def opensanctions_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "targets.simple.csv", OPENSANCTIONS_HEADER, OPENSANCTIONS_ROWS)


@pytest.fixture
def matcher(csl_csv: Path, opensanctions_csv: Path) -> Matcher:
    return Matcher([*load_list(csl_csv).entries, *load_list(opensanctions_csv).entries])


# --- Reading the files ------------------------------------------------------------------------


def test_csl_csv_gives_names_aliases_programmes_and_listing_date(csl_csv: Path) -> None:
    screening_list = load_list(csl_csv)
    assert screening_list.format is ListFormat.CSL_CSV
    assert screening_list.name == "csl"
    assert screening_list.entries[0] == ListEntry(
        list_name="csl",
        entry_id="el-sensetime",
        name="Beijing SenseTime Technology Development Co., Ltd.",
        aliases=("北京市商汤科技开发有限公司",),
        programs=("EAR",),
        listed_on=date(2019, 10, 9),
        source=ENTITY_LIST,
        country="CN",
    )
    assert screening_list.entries[1].aliases == ("Huawei", "华为技术有限公司")


def test_vessels_and_crypto_wallets_are_skipped(csl_csv: Path, opensanctions_csv: Path) -> None:
    csl, opensanctions = load_list(csl_csv), load_list(opensanctions_csv)
    assert (len(csl.entries), csl.skipped) == (4, 1)
    assert (len(opensanctions.entries), opensanctions.skipped) == (1, 1)


def test_csl_json_reads_like_the_csv(tmp_path: Path, csl_csv: Path) -> None:
    results = []
    for row in CSL_ROWS:
        result = {**row, "id": row["_id"], "programs": [p for p in [row.get("programs")] if p]}
        result["alt_names"] = row.get("alt_names", "").split("; ") if row.get("alt_names") else []
        country = row.get("addresses", "").rsplit(", ", 1)[-1]
        result["addresses"] = [{"address": row.get("addresses", ""), "country": country}]
        del result["_id"]
        results.append(result)
    path = tmp_path / "consolidated.json"
    path.write_text(json.dumps({"total": len(results), "results": results}), encoding="utf-8")
    from_json = load_list(path)
    assert from_json.format is ListFormat.CSL_JSON
    assert from_json.entries == load_list(csl_csv).entries


def test_opensanctions_csv_gives_aliases_sanctions_and_dataset(opensanctions_csv: Path) -> None:
    screening_list = load_list(opensanctions_csv, name="os-default")
    entry = screening_list.entries[0]
    assert screening_list.format is ListFormat.OPENSANCTIONS_CSV
    assert screening_list.published == date(2024, 5, 2)
    assert entry.list_name == "os-default"
    assert entry.aliases == ("商汤集团股份有限公司", "SenseTime Group Inc.; formerly")
    assert entry.listed_on == date(2021, 12, 10)
    assert entry.country == "CN"
    assert (
        entry.label
        == "US OFAC Non-SDN Chinese Military-Industrial Complex Companies List, since 2021-12-10"
    )


def test_an_unreadable_start_date_is_a_warning_not_an_error(tmp_path: Path) -> None:
    row = {**CSL_ROWS[3], "start_date": "03/02/2020"}
    screening_list = load_list(write_csv(tmp_path / "c.csv", CSL_HEADER, [row]))
    assert screening_list.entries[0].listed_on is None
    assert screening_list.warnings == (
        f"{tmp_path / 'c.csv'}: line 2: start_date '03/02/2020' is not a date; kept without it",
    )


def _csl_text(*rows: str) -> str:
    return "\n".join([CSL_HEADER_LINE, *rows]) + "\n"


_EMPTY_ROW = "," * (len(CSL_HEADER) - 1)
MALFORMED = [
    ("", "list.csv: empty file"),
    ("id,name,city\n1,Foo,Bar\n", "list.csv: line 1: not a Consolidated Screening List or"),
    (_csl_text("x,y,z"), "list.csv: line 2: 3 fields where the header has 29"),
    (_csl_text("a" + _EMPTY_ROW), "list.csv: line 2: empty name"),
    (_csl_text(_EMPTY_ROW, ",EL,,,,Foo Ltd" + "," * 23), "list.csv: line 3: no _id"),
    ('{"results": [', "list.csv: line 1: bad JSON"),
    ('{"total": 0}', "list.csv: no 'results' list"),
    ('{"results": [{"id": "1", "name": "Foo"}, 7]}', "list.csv: results[1]: not an object"),
    ('{"results": [{"id": "1", "name": ""}]}', "list.csv: results[0]: empty name"),
    (
        OPENSANCTIONS_HEADER_LINE + '\nx,Company,"Foo\n',
        "list.csv: line 2: bad CSV",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), MALFORMED, ids=[message[10:50] for _, message in MALFORMED]
)
def test_malformed_files_fail_with_one_line_naming_file_and_row(text: str, message: str) -> None:
    with pytest.raises(ScreeningListError) as raised:
        parse_list(text, "list.csv")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, InputError)


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "consolidated.csv"
    path.write_bytes(CSL_HEADER_LINE.encode() + b"\n\xff\xfe")
    with pytest.raises(ScreeningListError, match=r"consolidated.csv: not UTF-8 text \(byte"):
        load_list(path)


# --- Matching -----------------------------------------------------------------------------------

# (name as a page writes it, entry id, method, the list's spelling that matched)
TRUE_MATCHES = [
    ("Beijing SenseTime Technology Development Co., Ltd.", "el-sensetime", "exact", None),
    ("北京市商汤科技开发有限公司", "el-sensetime", "exact", "北京市商汤科技开发有限公司"),
    ("BEIJING SENSETIME TECHNOLOGY DEVELOPMENT CO LTD", "el-sensetime", "exact", None),
    ("Beijing SenseTime Technology Development Co.,Ltd", "el-sensetime", "exact", None),
    ("Beijing Sense Time Technology Development Company Limited", "el-sensetime", "fuzzy", None),
    ("SenseTime Technology Development Co., Ltd.", "el-sensetime", "fuzzy", None),
    ("Huawei Technology Co Ltd", "el-huawei", "fuzzy", "Huawei Technologies Co., Ltd."),
    ("华为技术有限公司", "el-huawei", "exact", "华为技术有限公司"),
    ("Foo Handels GmbH.", "dpl-foo", "exact", "Foo Handels GmbH"),
    ("FOO HANDELS", "dpl-foo", "fuzzy", "Foo Handels GmbH"),
    ("SenseTime Group Ltd", "NK-sensetime-group", "exact", "SenseTime Group Limited"),
    ("商汤集团股份有限公司", "NK-sensetime-group", "exact", "商汤集团股份有限公司"),
    ("CETC-14", "el-cetc14", "exact", "CETC 14"),
]


@pytest.mark.parametrize(
    ("name", "entry_id", "method", "alias"), TRUE_MATCHES, ids=[m[0][:40] for m in TRUE_MATCHES]
)
def test_names_match_through_aliases_punctuation_and_form_spellings(
    matcher: Matcher, name: str, entry_id: str, method: str, alias: str | None
) -> None:
    best = matcher.match(name)[0]
    assert (best.entry.entry_id, best.method.value) == (entry_id, method)
    assert best.score >= FUZZY_THRESHOLD
    assert best.matched_alias == (alias or best.entry.name)


NEAR_MISSES = [
    # The sibling the operator moved to: same brand, another city.
    ("Shanghai SenseTime Intelligent Technology Co., Ltd.", "same brand, other city"),
    ("上海商汤智能科技有限公司", "same brand, other city (Chinese)"),
    ("Shanghai SenseTime Technology Development Co., Ltd.", "same core, other city"),
    ("Shenzhen SenseTime Technology Development Co., Ltd.", "English city name, other city"),
    ("Beijing SenseTime Intelligent Technology Co., Ltd.", "sibling in the same city"),
    ("SenseTime", "brand alone"),
    ("Huawei Device Co., Ltd.", "sibling company"),
    ("华为终端有限公司", "sibling company (Chinese)"),
    # A city in brackets names a subsidiary, not the listed company (classify reads it as a
    # place only to say what a change means).
    ("华为技术（北京）有限公司", "the city in brackets (Chinese)"),
    ("Huawei Technologies (Shenzhen) Co., Ltd.", "the city in brackets"),
    ("Foo Handels AG", "the list names a GmbH"),
    ("Foo Handels SE", "the list names a GmbH"),
    (
        "China Electronics Technology Group Corporation 38th Research Institute",
        "another institute number",
    ),
]


@pytest.mark.parametrize(("name", "why"), NEAR_MISSES, ids=[why for _, why in NEAR_MISSES])
def test_near_miss_names_are_not_matched(matcher: Matcher, name: str, why: str) -> None:
    assert matcher.match(name) == ()


def test_a_name_without_its_legal_form_matches_with_a_lower_score(matcher: Matcher) -> None:
    with_form = matcher.match("Beijing SenseTime Technology Development Co., Ltd.")[0]
    without = matcher.match("Beijing SenseTime Technology Development")[0]
    assert without.method is MatchMethod.FUZZY
    assert FUZZY_THRESHOLD <= without.score < with_form.score


def test_fuzzy_matches_survive_thousands_of_names_sharing_common_words() -> None:
    crowd = [
        ListEntry("csl", str(i), f"Beijing Kexin{i} Technology Co., Ltd.", (), (), None, "EL", None)
        for i in range(3000)
    ]
    target = ListEntry(
        "csl", "t", "Beijing SenseTime Technology Development Co., Ltd.", (), (), None, "EL", None
    )
    matches = Matcher([*crowd, target]).match("Beijing Sensetime Technologies Development Co Ltd")
    assert [m.entry.entry_id for m in matches] == ["t"]


def test_demo_change_is_a_relocation_away_from_a_listed_entity(csl_csv: Path) -> None:
    operator = next(c for c in DEMO_EXPECTED_CHANGES if c.field == "operator")
    matcher = Matcher(load_list(csl_csv).entries)
    old, new = matcher.match(operator.old), matcher.match(operator.new)
    assert classify(operator.field, operator.old, operator.new).kind is ChangeKind.RELOCATION
    assert [m.entry.entry_id for m in old] == ["el-sensetime"]
    assert new == ()
    assert listing_note("operator", old, new) == (
        "operator moved from a listed entity (Entity List, since 2019-10-09) to an unlisted one"
    )


def _match(entry_id: str, source: str, listed_on: date | None) -> Match:
    entry = ListEntry("csl", entry_id, entry_id, (), (), listed_on, source, None)
    return Match(entry, 100.0, MatchMethod.EXACT, entry_id)


EL_MATCH = _match("a", ENTITY_LIST, date(2019, 10, 9))
CMIC_MATCH = _match("b", "NS-CMIC List (CMIC) - Treasury Department", None)
NOTES = [
    ((), (), None),
    (
        (EL_MATCH,),
        (),
        "operator moved from a listed entity (Entity List, since 2019-10-09) to an unlisted one",
    ),
    ((), (CMIC_MATCH,), "operator moved from an unlisted entity to a listed one (NS-CMIC List)"),
    (
        (EL_MATCH,),
        (CMIC_MATCH,),
        "operator moved between listed entities (Entity List, since 2019-10-09 → NS-CMIC List)",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "note"), NOTES, ids=["neither", "from-listed", "to-listed", "both"]
)
def test_listing_note_says_which_side_is_listed(
    old: tuple[Match, ...], new: tuple[Match, ...], note: str | None
) -> None:
    assert listing_note("operator", old, new) == note


def test_documented_headers_are_the_ones_the_module_knows() -> None:
    assert tuple(CSL_HEADER) == CSL_COLUMNS
    assert tuple(OPENSANCTIONS_HEADER) == OPENSANCTIONS_COLUMNS
