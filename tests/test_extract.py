"""The extractor's own rules, on small hand-made pages (real pages: test_extract_corpus.py)."""

from __future__ import annotations

import pytest

from monitor.extract import CUE_HINTS, CUE_TABLE, extract
from monitor.facts import Role, Source

FILLER = "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>\n"


def page(body: str, head: str = "") -> bytes:
    html = f"<!doctype html><html><head><meta charset=utf-8>{head}</head><body>{body}</body></html>"
    return html.encode()


CUE_PHRASES = [
    "Operated by Foo Ltd",
    "Betreiber: Foo GmbH",
    "主办单位：某某",
    "a subsidiary of Foo plc",
    "ein Unternehmen der Foo Group",
    "published under licence from Foo Inc.",
    "Powered by Foo Inc.",
    "技术支持：某某科技有限公司",
    "a trademark of Foo Inc.",
    "Angaben zur Berufshaftpflichtversicherung",
    "公司名称：某某有限公司",
    "运营管理中心：某某有限公司",
]


@pytest.mark.parametrize("phrase", CUE_PHRASES, ids=CUE_PHRASES)
def test_cue_hints_cover_every_cue(phrase: str) -> None:
    # The cheap substring test must let through every line one of the cue patterns matches.
    assert any(pattern.search(phrase) for pattern, _, _ in CUE_TABLE)
    assert any(hint in phrase.lower() for hint in CUE_HINTS)


def test_copyright_in_first_half_is_found_when_the_second_states_no_owner() -> None:
    body = "<div class=top>© 2021 Early Statement Ltd</div>" + FILLER * 40 + "<p>Contact</p>"
    facts = extract(page(body))
    assert facts.operator == "Early Statement Ltd"


def test_footer_at_the_end_wins_over_a_header_statement() -> None:
    body = (
        "<header>© 2020 Header Brand Inc.</header>"
        + FILLER * 40
        + "<footer>© 2020 Footer Owner GmbH. All rights reserved.</footer>"
    )
    assert extract(page(body)).operator == "Footer Owner GmbH"


def test_markers_inside_scripts_and_comments_are_ignored() -> None:
    body = (
        "<script>var s = '© 2020 Script Corp';</script><!-- © Comment Ltd -->"
        "<footer>© 2020 Real Owner Limited</footer>"
    )
    facts = extract(page(body))
    assert facts.operator == "Real Owner Limited"
    assert all("Script" not in e.name and "Comment" not in e.name for e in facts.entities)


def test_wayback_toolbar_never_names_the_archive() -> None:
    toolbar = (
        "<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id=wm-ipp>© Internet Archive</div>"
        "<!-- END WAYBACK TOOLBAR INSERT -->"
    )
    facts = extract(page(toolbar + "<footer>© 2017 Site Owner LLC</footer>"))
    assert facts.operator == "Site Owner LLC"
    assert all("Internet Archive" not in e.name for e in facts.entities)


def test_inline_elements_do_not_glue_words_into_a_holder() -> None:
    facts = extract(page("<footer><span>© 2020 Brand.de</span><span>Mainstreet 2</span></footer>"))
    assert facts.copyright[0].text == "© 2020 Brand.de Mainstreet 2"


# One footer in the shapes real pages give it: the brand, then the street, then the town.
ADDRESS_FOOTERS = {
    "br": "© 2020 Brand.de<br>Winterstraße 2<br/>22765 Hamburg",
    "p": "<p>© 2020 Brand.de</p><p>Winterstraße 2</p><p>22765 Hamburg</p>",
    "div": "<div>© 2020 Brand.de</div><div>Winterstraße 2</div><div>22765 Hamburg</div>",
    "li": "<ul><li>© 2020 Brand.de</li><li>Winterstraße 2</li><li>22765 Hamburg</li></ul>",
    "td": "<table><tr><td>© 2020 Brand.de</td><td>Winterstraße 2</td><td>22765 Hamburg</td>",
    "sibling-spans": (
        "<span>© 2020 Brand.de</span><span>Winterstraße 2</span><span>22765 Hamburg</span>"
    ),
}


@pytest.mark.parametrize("markup", ADDRESS_FOOTERS.values(), ids=ADDRESS_FOOTERS.keys())
def test_holder_ends_where_the_address_begins(markup: str) -> None:
    facts = extract(page(f"<footer>{markup}</footer>"))
    assert [line.holders for line in facts.copyright] == [("Brand.de",)]
    assert [(e.name, e.role) for e in facts.entities] == [("Brand.de", Role.COPYRIGHT_HOLDER)]


def test_sibling_elements_never_glue_their_digits() -> None:
    # "Winterstraße 2</span><span>22765" once read as "Winterstraße 222765"
    facts = extract(page("<footer>" + ADDRESS_FOOTERS["sibling-spans"] + "</footer>"))
    assert facts.copyright[0].text == "© 2020 Brand.de Winterstraße 2 22765 Hamburg"


def test_markup_inside_a_word_joins_it() -> None:
    facts = extract(page("<footer>© 2020 <b>E</b>xample Ltd</footer>"))
    assert facts.operator == "Example Ltd"


def test_a_line_break_in_the_source_is_only_a_space() -> None:
    facts = extract(page("<footer><p>&copy;\r\nExample Publishing Limited Quay House</p></footer>"))
    assert [line.holders for line in facts.copyright] == [("Example Publishing Limited",)]


def test_bot_challenge_is_unreadable() -> None:
    facts = extract(
        page("<footer>© Cloudflare, Inc.</footer>", head="<title>Just a moment...</title>")
    )
    assert facts.readable is False
    assert facts.operator is None


def test_forum_engine_meta_copyright_is_a_vendor() -> None:
    facts = extract(
        page(
            "<footer>© 2020 Board Owner Ltd</footer>",
            head='<meta name="copyright" content="2001-2013 Comsenz Inc.">',
        )
    )
    assert facts.operator == "Board Owner Ltd"
    vendors = [e for e in facts.entities if e.role is Role.VENDOR]
    assert [(e.name, e.source) for e in vendors] == [("Comsenz Inc.", Source.META)]


def test_jsonld_legal_name_differing_from_footer_is_a_conflict() -> None:
    jsonld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "Organization", "name": "Brand", "legalName": "Other Holding AG"}</script>'
    )
    facts = extract(page("<footer>© 2020 Visible Owner GmbH</footer>", head=jsonld))
    assert facts.operator == "Visible Owner GmbH"
    assert facts.conflicts == (
        "visible text names 'Visible Owner GmbH'; JSON-LD legalName names 'Other Holding AG'",
    )


def test_page_without_ownership_statement_is_unreadable() -> None:
    facts = extract(page("<p>Just an article about nothing.</p>"))
    assert facts.readable is False
    assert facts.warnings == ("no ownership statement found",)
