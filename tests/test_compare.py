"""What counts as a change: the compared fields, their canonical values, and what is ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.compare import Field, FieldChange, diff, fingerprint
from monitor.demo import BEIJING_SENSETIME, SHANGHAI_SENSETIME
from monitor.demo.pages import Brand, homepage
from monitor.extract import extract
from monitor.facts import CopyrightLine, Entity, Facts, Registration, RegistrationKind, Role, Source
from monitor.models import ChangeField

BRAND = Brand("商汤科技", "SenseTime", "www.sensetime.com")


def facts(
    operator: str | None = "Acme Co., Ltd.",
    *,
    entities: tuple[tuple[str, Role], ...] = (("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER),),
    registrations: tuple[tuple[RegistrationKind, str], ...] = (),
    copyright: tuple[tuple[str, tuple[str, ...], int], ...] = (
        ("© 2020 Acme Co., Ltd.", ("Acme Co., Ltd.",), 2020),
    ),
) -> Facts:
    return Facts(
        operator=operator,
        entities=tuple(Entity(name, None, role, Source.FOOTER) for name, role in entities),
        registrations=tuple(Registration(kind, number) for kind, number in registrations),
        copyright=tuple(
            CopyrightLine(text, holders, (year, year)) for text, holders, year in copyright
        ),
    )


ICP = RegistrationKind.ICP_FILING
PSB = RegistrationKind.PSB_FILING

NOT_CHANGES = [
    pytest.param(
        facts(copyright=(("© 2020 Acme Co., Ltd.", ("Acme Co., Ltd.",), 2020),)),
        facts(copyright=(("Copyright 2021 Acme Co., Ltd.", ("Acme Co., Ltd.",), 2021),)),
        id="copyright-year-bump-and-rewording",
    ),
    pytest.param(
        facts("Acme Co., Ltd."),
        facts("ACME CO.,LTD"),
        id="operator-case-and-punctuation",
    ),
    pytest.param(
        facts("Acme Limited"),
        facts("Acme Ltd."),
        id="operator-same-legal-form-spelled-out",
    ),
    pytest.param(
        facts(registrations=((PSB, "京公网安备 11010800000001号"),)),
        facts(registrations=((PSB, "京公网安备11010800000001号"),)),
        id="registration-whitespace",
    ),
    pytest.param(
        facts(entities=(("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER), ("Web Co Ltd", Role.VENDOR))),
        facts(entities=(("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER), ("Other Ltd", Role.VENDOR))),
        id="web-vendor-replaced",
    ),
    pytest.param(
        facts(entities=(("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER),)),
        facts(
            entities=(
                ("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER),
                ("ACME CO LTD", Role.COPYRIGHT_HOLDER),
            )
        ),
        id="entity-named-twice",
    ),
    pytest.param(
        facts(registrations=((ICP, "京ICP备1号"), (PSB, "京公网安备 1号"))),
        facts(registrations=((PSB, "京公网安备 1号"), (ICP, "京ICP备1号"))),
        id="registrations-reordered",
    ),
]


@pytest.mark.parametrize(("old", "new"), NOT_CHANGES)
def test_cosmetic_differences_are_not_changes(old: Facts, new: Facts) -> None:
    assert diff(old, new) == ()
    assert fingerprint(old) == fingerprint(new)


CHANGES = [
    pytest.param(
        facts("Beijing Acme Co., Ltd."),
        facts("Shanghai Acme Co., Ltd."),
        [FieldChange(Field.OPERATOR, "Beijing Acme Co., Ltd.", "Shanghai Acme Co., Ltd.")],
        id="operator-place",
    ),
    pytest.param(
        facts("Acme Co., Ltd."),
        facts(None),
        [FieldChange(Field.OPERATOR, "Acme Co., Ltd.", None)],
        id="operator-no-longer-named",
    ),
    pytest.param(
        facts(registrations=((ICP, "京ICP备00000001号-1"), (PSB, "京公网安备 1号"))),
        facts(registrations=((ICP, "沪ICP备00000002号-1"), (PSB, "京公网安备 1号"))),
        [
            FieldChange(
                Field.REGISTRATION,
                {"icp_filing": ["京ICP备00000001号-1"]},
                {"icp_filing": ["沪ICP备00000002号-1"]},
                "icp_filing",
            )
        ],
        id="icp-filing-moves-province",
    ),
    pytest.param(
        facts(registrations=((ICP, "京ICP备1号"),)),
        facts(registrations=((ICP, "京ICP备1号"), (PSB, "京公网安备 2号"))),
        [
            FieldChange(
                Field.REGISTRATION,
                {"psb_filing": []},
                {"psb_filing": ["京公网安备 2号"]},
                "psb_filing",
            )
        ],
        id="registration-added",
    ),
    pytest.param(
        facts(entities=(("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER),)),
        facts(entities=(("Acme Co., Ltd.", Role.COPYRIGHT_HOLDER), ("Holdco Inc.", Role.PARENT))),
        [
            FieldChange(
                Field.ENTITIES,
                ["Acme Co., Ltd. (copyright_holder)"],
                ["Acme Co., Ltd. (copyright_holder)", "Holdco Inc. (parent)"],
            )
        ],
        id="parent-named",
    ),
    pytest.param(
        facts(copyright=(("© 2020 Acme Co., Ltd.", ("Acme Co., Ltd.",), 2020),)),
        facts(copyright=(("© 2020 Other Co., Ltd.", ("Other Co., Ltd.",), 2020),)),
        [FieldChange(Field.COPYRIGHT, ["Acme Co., Ltd."], ["Other Co., Ltd."])],
        id="copyright-holder",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CHANGES)
def test_ownership_differences_are_changes(
    old: Facts, new: Facts, expected: list[FieldChange]
) -> None:
    assert list(diff(old, new)) == expected
    assert fingerprint(old) != fingerprint(new)


def test_the_demo_move_changes_every_compared_field_and_one_value_per_registration_kind() -> None:
    old = extract(homepage(BRAND, BEIJING_SENSETIME, 2021, "news"))
    new = extract(homepage(BRAND, SHANGHAI_SENSETIME, 2021, "news"))
    changes = diff(old, new)
    assert [(c.field, c.kind) for c in changes] == [
        (Field.OPERATOR, None),
        (Field.ENTITIES, None),
        (Field.REGISTRATION, "icp_filing"),
        (Field.REGISTRATION, "psb_filing"),
        (Field.COPYRIGHT, None),
    ]
    assert changes[0].old == BEIJING_SENSETIME.zh
    assert changes[0].new == SHANGHAI_SENSETIME.zh
    assert changes[2].old == {"icp_filing": [BEIJING_SENSETIME.icp]}


def test_a_year_bump_and_new_news_on_the_demo_page_is_no_change() -> None:
    old = extract(homepage(BRAND, BEIJING_SENSETIME, 2020, "News 01"))
    new = extract(homepage(BRAND, BEIJING_SENSETIME, 2021, "News 02"))
    assert old.copyright != new.copyright  # the years differ ...
    assert diff(old, new) == ()  # ... and that is no change


@pytest.mark.parametrize("side", ["old", "new"])
def test_unreadable_facts_are_never_compared(side: str) -> None:
    unreadable = Facts(operator=None, readable=False)
    pair = (unreadable, facts()) if side == "old" else (facts(), unreadable)
    with pytest.raises(ValueError, match="never compared"):
        diff(*pair)
    with pytest.raises(ValueError, match="never compared"):
        fingerprint(unreadable)


def test_compared_fields_are_the_fields_the_store_records() -> None:
    assert [f.value for f in Field] == [f.value for f in ChangeField]


_NAME_WORDS = st.sampled_from(["Acme", "Shili", "Nord", "Blue", "River", "商汤", "示例"])
_FORMS = st.sampled_from(["Co., Ltd.", "Limited", "GmbH", "Inc.", "有限公司"])
_ROLES = st.sampled_from(list(Role))
_KINDS = st.sampled_from(list(RegistrationKind))


@st.composite
def any_facts(draw: st.DrawFn) -> Facts:
    def name() -> str:
        return " ".join(draw(st.lists(_NAME_WORDS, min_size=1, max_size=3))) + " " + draw(_FORMS)

    names = [name() for _ in range(draw(st.integers(0, 4)))]
    return facts(
        draw(st.none() | st.sampled_from(names or ["Solo Ltd"])),
        entities=tuple((n, draw(_ROLES)) for n in names),
        registrations=tuple(
            (draw(_KINDS), draw(st.from_regex(r"[京沪ICP备 ]{0,4}[0-9]{1,6}号?", fullmatch=True)))
            for _ in range(draw(st.integers(0, 3)))
        ),
        copyright=tuple((f"© {n}", (n,), draw(st.integers(1995, 2030))) for n in names[:2]),
    )


@given(any_facts())
def test_facts_compared_with_themselves_yield_no_change(page: Facts) -> None:
    assert diff(page, page) == ()


@given(any_facts(), any_facts())
def test_fingerprints_are_equal_exactly_when_diff_finds_nothing(a: Facts, b: Facts) -> None:
    assert (fingerprint(a) == fingerprint(b)) == (diff(a, b) == ())


@given(
    st.text(st.characters(categories=["Lu", "Ll"], max_codepoint=0x17F), min_size=2, max_size=12),
    st.integers(1995, 2030),
    st.integers(1995, 2030),
)
def test_a_page_compared_with_itself_or_its_year_bump_yields_no_change(
    word: str, year: int, other_year: int
) -> None:
    def page(year: int) -> bytes:
        return (
            f"<html><body><main>news</main><footer><p>© {year} {word.title()} Holdings Ltd. "
            "All rights reserved.</p></footer></body></html>"
        ).encode()

    first, again, bumped = extract(page(year)), extract(page(year)), extract(page(other_year))
    if not first.readable:
        assert not bumped.readable  # the year alone never makes a page readable
        return
    assert diff(first, again) == ()
    assert diff(first, bumped) == ()
