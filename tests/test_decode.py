"""Decoding page bytes: the WHATWG order, labels that lie, and bytes that are not a page."""

from __future__ import annotations

import codecs
import random
import time
from pathlib import Path

import lxml.html
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from monitor.decode import (
    LABEL_TO_CODEC,
    PRESCAN_BYTES,
    DecodedPage,
    DecodeMethod,
    PageKind,
    codec_for_label,
    decode_html,
    strip_for_parse,
)

DATA = Path(__file__).parent / "data" / "decode"
FOOTERS = Path(__file__).parent / "data" / "footers"
MEGABYTE = 1024 * 1024

# Characters strip_for_parse must remove, one of each kind lxml cannot take.
UNPARSEABLE = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ud800", "\udfff", "\ufffe"]


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


# --- the decoding rules -----------------------------------------------------------------------

# (file, Content-Type, encoding, declared, method, text the page must contain)
PAGE_FILES = [
    ("windows-1252-declared-latin1.html", None, "cp1252", "iso-8859-1", "meta",
     "„Unser Brot“ – © 2019 Bäckerei Müller GmbH • Preise in €"),
    ("shift_jis.html", None, "cp932", "Shift_JIS", "meta", "① 本社：東京都千代田区"),
    ("shift_jis.html", None, "cp932", "Shift_JIS", "meta", "株式会社髙島屋サンプル"),
    ("gb2312.html", None, "gb18030", "gb2312", "meta", "联系人：王喆"),
    ("gb2312.html", None, "gb18030", "gb2312", "meta",
     "北京市商汤科技开发有限公司 京ICP备12025439号-3"),
    ("utf8-meta-after-title.html", None, "utf-8", "utf-8", "meta",
     "© 2019 Guardian News &amp; Media Limited"),
    ("utf8-declared-cp1252-bytes.html", None, "cp1252", "utf-8", "fallback",
     "© 2019 Café Zürich GmbH – Alle"),
    ("bom-over-wrong-meta.html", None, "utf-8", "iso-8859-1", "bom", "© 2020 Société Générale"),
    ("react-ssr-comments.html", None, "utf-8", "utf-8", "meta",
     "© <!-- -->2020<!-- --> FINANZCHECK.de"),
    ("entities-shift-jis-label.html", None, "cp932", "shift_jis", "meta",
     "Copyright &#xA9; ITmedia, Inc."),
    ("shift_jis.html", "text/html; charset=Shift_JIS", "cp932", "Shift_JIS", "header", "①"),
    ("utf8-declared-cp1252-bytes.html", "text/html; charset=windows-1252", "cp1252",
     "windows-1252", "header", "© 2019 Café Zürich GmbH"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content_type", "encoding", "declared", "method", "expected"),
    PAGE_FILES,
    ids=[f"{row[0]}-{row[4]}-{row[5][:12]}" for row in PAGE_FILES],
)
def test_decodes_pages_as_browsers_read_them(
    name: str, content_type: str | None, encoding: str, declared: str, method: str, expected: str
) -> None:
    decoded = decode_html((DATA / name).read_bytes(), content_type)
    assert expected in decoded.text
    assert (decoded.encoding, decoded.declared, decoded.method) == (encoding, declared, method)
    assert decoded.replaced == 0
    assert decoded.kind == "html"


LATE_CYRILLIC = (
    page("", "<title>Новости</title><!-- " + "x" * 1500 + " --><meta charset=windows-1251>")
    .replace("</body>", "<p>Привет, мир</p></body>")
    .encode("cp1251")
)

# (id, body, Content-Type, text the result must contain, encoding, declared, method)
SNIPPETS = [
    ("meta-declares-after-1024-bytes", LATE_CYRILLIC, None, "Привет, мир", "cp1251",
     "windows-1251", "meta"),
    ("header-overrides-meta", b"<meta charset=koi8-r><p>\xcf\xf0\xe8\xe2\xe5\xf2",
     "text/html; charset=windows-1251", "Привет", "cp1251", "windows-1251", "header"),
    ("quoted-header-charset", b"<p>\x93q\x94", 'text/html;charset="ISO-8859-1"', "“q”", "cp1252",
     "ISO-8859-1", "header"),
    ("valid-utf8-beats-legacy-header", "<p>© Café</p>".encode(), "text/html; charset=iso-8859-1",
     "© Café", "utf-8", "iso-8859-1", "sniffed"),
    ("valid-utf8-beats-legacy-meta", '<meta charset="Shift_JIS"><p>エレコム'.encode(), None,
     "エレコム", "utf-8", "Shift_JIS", "sniffed"),
    ("utf16-bom-le", codecs.BOM_UTF16_LE + "<p>北京</p>".encode("utf-16-le"), None, "<p>北京</p>",
     "utf-16-le", None, "bom"),
    ("utf16-bom-be", codecs.BOM_UTF16_BE + "<p>北京</p>".encode("utf-16-be"), None, "<p>北京</p>",
     "utf-16-be", None, "bom"),
    ("utf16-without-bom", "<html><p>北京</p></html>".encode("utf-16-le"), None, "<p>北京</p>",
     "utf-16-le", None, "sniffed"),
    ("utf16-label-in-meta-means-utf8", '<meta charset="utf-16"><p>Ü'.encode(), None, "Ü", "utf-8",
     "utf-16", "meta"),
    ("x-user-defined-in-meta-means-windows-1252", b"<meta charset=x-user-defined><p>\x80", None,
     "€", "cp1252", "x-user-defined", "meta"),
    ("http-equiv-content-type", b'<meta http-equiv="Content-Type" content="text/html; '
     b'charset=euc-kr"><p>\xc7\xd1\xb1\xb9', None, "한국", "cp949", "euc-kr", "meta"),
    ("content-without-http-equiv-is-ignored", b'<meta content="text/html; charset=koi8-r">'
     b"<p>\xa9 2020", None, "© 2020", "cp1252", None, "fallback"),
    ("meta-inside-comment-is-ignored", b"<!-- <meta charset=koi8-r> --><p>caf\xe9", None, "café",
     "cp1252", None, "fallback"),
    ("unknown-label-is-recorded-and-ignored", b'<meta charset="x-klingon"><p>caf\xe9', None,
     "café", "cp1252", "x-klingon", "fallback"),
    ("replacement-label-is-ignored", b"<meta charset=iso-2022-kr><p>caf\xe9", None, "café",
     "cp1252", "iso-2022-kr", "fallback"),
    ("xml-declaration", b'<?xml version="1.0" encoding="ISO-8859-2"?><p>\xb1', None, "ą",
     "iso8859-2", "ISO-8859-2", "meta"),
    ("big5-label-reads-hkscs", "<meta charset=big5><p>香港有限公司".encode("big5hkscs"), None,
     "香港有限公司", "big5hkscs", "big5", "meta"),
    ("euc-kr-label-reads-cp949", "<meta charset=euc-kr><p>똠방각하".encode("cp949"), None,
     "똠방각하", "cp949", "euc-kr", "meta"),
    ("undeclared-utf8", "<p>© 2021 Ελληνικά".encode(), None, "© 2021 Ελληνικά", "utf-8", None,
     "sniffed"),
    ("undeclared-windows-1252", b"<p>\xa9 2019 Caf\xe9 GmbH", None, "© 2019 Café GmbH", "cp1252",
     None, "fallback"),
    ("undeclared-gbk-with-lang", '<html lang="zh-CN"><p>版权所有 新浪公司'.encode("gbk"), None,
     "版权所有 新浪公司", "gb18030", None, "sniffed"),
    ("undeclared-big5-with-lang", '<html lang="zh-TW"><p>版權所有 有限公司'.encode("big5"), None,
     "版權所有 有限公司", "big5hkscs", None, "sniffed"),
    ("undeclared-gbk-by-byte-pairs", "<p>北京市商汤科技开发有限公司 版权所有".encode("gbk"), None,
     "北京市商汤科技开发有限公司", "gb18030", None, "sniffed"),
    ("undeclared-german-is-not-taken-for-gbk",
     "<p>Müller Bäckerei für Geschäftsführer Grüße Größe Übersicht Straße".encode("cp1252"),
     None, "Müller Bäckerei für Geschäftsführer", "cp1252", None, "fallback"),
    ("declared-utf8-actually-gbk-with-lang", '<html lang="zh"><meta charset=utf-8><p>新浪公司'
     .encode("gbk"), None, "新浪公司", "gb18030", "utf-8", "sniffed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "expected", "encoding", "declared", "method"),
    [row[1:] for row in SNIPPETS],
    ids=[row[0] for row in SNIPPETS],
)
def test_chooses_the_encoding_by_bom_header_meta_then_bytes(
    body: bytes,
    content_type: str | None,
    expected: str,
    encoding: str,
    declared: str | None,
    method: str,
) -> None:
    decoded = decode_html(body, content_type)
    assert expected in decoded.text
    assert (decoded.encoding, decoded.declared, decoded.method) == (encoding, declared, method)


def test_mostly_utf8_page_reads_a_stray_latin1_byte_as_windows_1252() -> None:
    body = "<p>Über uns – Impressum</p><footer>".encode() + b"\xa9 2020 Foo GmbH</footer>"
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.text == "<p>Über uns – Impressum</p><footer>© 2020 Foo GmbH</footer>"
    assert (decoded.encoding, decoded.method, decoded.replaced) == ("utf-8", "header", 1)


def test_truncated_multibyte_tail_becomes_one_replacement_character() -> None:
    body = "<p>北京市商汤科技开发有限公司".encode()[:-1]
    for declared in (None, "text/html; charset=gbk"):
        decoded = decode_html(body, declared)
        assert decoded.text == "<p>北京市商汤科技开发有限公\ufffd"
        assert (decoded.encoding, decoded.method, decoded.replaced) == ("utf-8", "sniffed", 1)


def test_counts_replacements_but_not_replacement_characters_the_page_spells_out() -> None:
    decoded = decode_html("<meta charset=utf-8><p>\ufffd ok ü".encode() + b" \xff")
    assert decoded.replaced == 1
    assert decoded.text.endswith("<p>\ufffd ok ü ÿ")


def test_garbage_in_a_declared_legacy_encoding_is_counted() -> None:
    decoded = decode_html(b"<meta charset=shift_jis><p>" + b"\x81 " * 50)  # lead byte, no trail
    assert decoded.encoding == "cp932"
    assert decoded.replaced == 50


# --- labels -----------------------------------------------------------------------------------

LABELS = [
    ("iso-8859-1", "cp1252"), ("latin1", "cp1252"), ("ascii", "cp1252"), ("us-ascii", "cp1252"),
    ("windows-1252", "cp1252"), (" ISO-8859-1 ", "cp1252"), ("shift_jis", "cp932"),
    ("sjis", "cp932"), ("x-sjis", "cp932"), ("Shift-JIS", "cp932"), ("gb2312", "gb18030"),
    ("gbk", "gb18030"), ("GB18030", "gb18030"), ("big5", "big5hkscs"), ("euc-kr", "cp949"),
    ("utf8", "utf-8"), ("UTF-8", "utf-8"), ("euc-jp", "euc_jp"), ("koi8-r", "koi8-r"),
    ("utf-16", "utf-16-le"), ("utf-16be", "utf-16-be"), ("utf-7", None), ("x-klingon", None),
    ("iso-2022-kr", None), ("", None),
]  # fmt: skip


@pytest.mark.parametrize(("label", "codec"), LABELS, ids=[row[0] or "empty" for row in LABELS])
def test_maps_labels_as_browsers_do(label: str, codec: str | None) -> None:
    assert codec_for_label(label) == codec


@pytest.mark.parametrize("label", ["utf-16", "utf-16le", "UTF-16BE"])
def test_utf16_labels_in_a_meta_mean_utf8(label: str) -> None:
    assert codec_for_label(label, in_meta=True) == "utf-8"


@pytest.mark.parametrize("codec", sorted(set(LABEL_TO_CODEC.values())))
def test_every_label_names_an_installed_codec_by_its_canonical_name(codec: str) -> None:
    assert codecs.lookup(codec).name == codec


@pytest.mark.parametrize("codec", sorted(set(LABEL_TO_CODEC.values()) - {"utf-16-le", "utf-16-be"}))
def test_every_byte_oriented_codec_reads_printable_ascii_unchanged(codec: str) -> None:
    # The round-trip property below relies on this: ASCII bytes under any meta label decode
    # to themselves.
    ascii_text = "".join(map(chr, range(0x20, 0x7F))) + "\t\n\r"
    assert ascii_text.encode("ascii").decode(codec) == ascii_text


# --- what the body is -------------------------------------------------------------------------

KINDS = [
    ("nothing", b"", "empty"),
    ("whitespace", b" \r\n\t ", "empty"),
    ("bom-with-nothing-after", codecs.BOM_UTF8, "empty"),
    ("utf16-bom-with-nothing-after", codecs.BOM_UTF16_LE, "empty"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary"),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj", "binary"),
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03<html>", "binary"),
    ("zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "binary"),
    ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "binary"),
    ("mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "binary"),
    ("nul-only", b"\x00" * 4096, "binary"),
    ("nul-heavy", b"abc \x00\x01\x02\x03 <p>" * 200, "binary"),
    ("plain-text", b"Forbidden\n", "text"),
    ("json", b'{"copyright": "Foo Inc."}', "text"),
    ("html", b"<!DOCTYPE html><title>x</title>", "html"),
    ("html-fragment", b"\xa9 2020 <b>Foo GmbH</b>", "html"),
    ("comment-only", b"<!-- -->", "html"),
    ("xml-declaration-only", b'<?xml version="1.0" encoding="utf-8"?>', "empty"),
    ("html-with-trailing-nul-padding", b"<html><p>\xc2\xa9 Foo</p></html>" + b"\x00" * 8192,
     "html"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "kind"), [row[1:] for row in KINDS], ids=[r[0] for r in KINDS])
def test_classifies_what_the_body_is(body: bytes, kind: str) -> None:
    assert decode_html(body).kind == kind


def test_random_bytes_are_binary_and_cost_no_more_than_a_second() -> None:
    body = random.Random(2).randbytes(MEGABYTE)
    started = time.perf_counter()
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert time.perf_counter() - started < 1.0
    assert decoded.kind == "binary"
    assert strip_for_parse(decoded.text) == decoded.text


def test_ten_megabyte_page_decodes_whole() -> None:
    footer = "<footer>© 2024 Beispiel GmbH</footer>"
    text = page("<p>" + "Grüße aus Köln. " * (10 * MEGABYTE // 17) + "</p>" + footer)
    decoded = decode_html(text.encode(), "text/html; charset=utf-8")
    assert decoded.text == text
    assert (decoded.kind, decoded.replaced) == ("html", 0)


HOSTILE_HEADS = [
    ("meta-without-end", b"<meta " * (MEGABYTE // 6)),
    ("meta-with-open-quote", b'<meta "' * (MEGABYTE // 7)),
    ("comments-never-closed", b"<!--" * (MEGABYTE // 4)),
    ("html-lang-without-end", b"<html \xff" * (MEGABYTE // 7)),
    ("tags-without-end", b"<a" * (MEGABYTE // 2)),
    ("xml-declaration-without-end", b"<?xml" + b" " * MEGABYTE),
    ("charset-spam", b"<meta charset=" * (MEGABYTE // 14)),
]


@pytest.mark.parametrize(
    "body", [row[1] for row in HOSTILE_HEADS], ids=[r[0] for r in HOSTILE_HEADS]
)
def test_hostile_heads_cost_linear_time(body: bytes) -> None:
    # Quadratic scanning of a megabyte would take minutes; linear takes milliseconds.
    started = time.perf_counter()
    decoded = decode_html(body, "text/html; charset=" + "x" * MEGABYTE)
    strip_for_parse(decoded.text)
    assert time.perf_counter() - started < 2.0


# --- strip_for_parse --------------------------------------------------------------------------


@pytest.mark.parametrize("char", UNPARSEABLE, ids=[f"U+{ord(c):04X}" for c in UNPARSEABLE])
def test_strip_for_parse_removes_what_lxml_cannot_take(char: str) -> None:
    html = f"<p>before{char}after</p><p>© Foo GmbH</p>"
    doc = lxml.html.document_fromstring(strip_for_parse(html))
    assert doc.text_content() == "beforeafter© Foo GmbH"


def test_lxml_loses_the_rest_of_the_page_after_a_lone_surrogate() -> None:
    # Why strip_for_parse exists: lxml does not raise here, it silently drops the footer.
    doc = lxml.html.document_fromstring("<p>a\ud800b</p><footer>© Foo GmbH</footer>")
    assert "Foo GmbH" not in doc.text_content()


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<?xml version='1.0' encoding='x'?><?xml version='1.0' encoding='y'?>",
    ],
    ids=["one", "two-in-a-row"],
)
def test_strip_for_parse_drops_leading_xml_declarations_lxml_refuses(declaration: str) -> None:
    html = declaration + "<html><body><p>© Foo GmbH</p></body></html>"
    with pytest.raises(ValueError, match="encoding declaration"):
        lxml.html.document_fromstring(html)
    assert strip_for_parse(html) == "<html><body><p>© Foo GmbH</p></body></html>"


def test_strip_for_parse_keeps_xml_declarations_after_the_start() -> None:
    html = "\n<?xml version='1.0' encoding='y'?><p>© Foo GmbH</p>"
    assert strip_for_parse(html) == html
    assert lxml.html.document_fromstring(html).text_content() == "© Foo GmbH"


def test_strip_for_parse_keeps_tab_newline_return_and_c1_controls() -> None:
    text = "<p>a\tb\nc\rd\x7fe\x85f\ufeffg\U0001f600</p>"
    assert strip_for_parse(text) == text


def test_decoded_text_is_ready_for_lxml() -> None:
    decoded = decode_html(b"\x00<p>a\x0cb\x1fc</p>" + "<p>\ufffe©</p>".encode())
    assert decoded.text == "<p>abc</p><p>©</p>"
    assert decoded.kind == "html"


# --- the corpus -------------------------------------------------------------------------------

# (page, encoding, declared, method, text the page must contain)
CORPUS = [
    ("uk-guardian.html", "utf-8", "utf-8", "meta", "© 2019 Guardian News &amp; Media Limited"),
    ("de-automobilwoche.html", "cp1252", "windows-1252", "meta", "Weßling, Germany"),
    ("jp-itmedia.html", "cp932", "shift_jis", "meta", "Copyright &#xA9; ITmedia, Inc."),
    ("jp-elecom.html", "utf-8", "Shift_JIS", "sniffed", "エレコム製品・サービス情報"),
    ("de-finanzcheck-jsonld.html", "utf-8", "utf-8", "meta", "© <!-- -->2020<!-- --> FINANZCHECK"),
    ("cn-youth.html", "utf-8", "utf-8", "meta", "京｜ICP备11020872号－17"),
    ("us-wsj.html", "utf-8", None, "sniffed", "Dow Jones"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "encoding", "declared", "method", "expected"), CORPUS, ids=[row[0] for row in CORPUS]
)
def test_decodes_real_pages(
    name: str, encoding: str, declared: str | None, method: str, expected: str
) -> None:
    path = FOOTERS / name
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    decoded = decode_html(path.read_bytes())
    assert expected in decoded.text
    assert (decoded.encoding, decoded.declared, decoded.method) == (encoding, declared, method)
    assert (decoded.replaced, decoded.kind) == (0, "html")


# --- properties -------------------------------------------------------------------------------

content_types = st.none() | st.sampled_from(sorted(LABEL_TO_CODEC)).map(
    lambda label: f"text/html; charset={label}"
)
metas = st.sampled_from([*sorted(LABEL_TO_CODEC), "x-user-defined", "bogus"]).map(
    lambda label: f'<meta charset="{label}">'
)


@given(st.binary(max_size=2048), content_types)
@settings(max_examples=500)
def test_never_raises_and_always_gives_parseable_text(
    body: bytes, content_type: str | None
) -> None:
    decoded = decode_html(body, content_type)
    assert isinstance(decoded, DecodedPage)
    assert strip_for_parse(decoded.text) == decoded.text
    assert decoded.replaced >= 0
    assert isinstance(decoded.method, DecodeMethod)
    assert isinstance(decoded.kind, PageKind)
    assert codecs.lookup(decoded.encoding).name == decoded.encoding


@given(st.binary(max_size=1024), metas, content_types)
def test_decoding_is_deterministic(body: bytes, meta: str, content_type: str | None) -> None:
    body = meta.encode() + body
    assert decode_html(body, content_type) == decode_html(body, content_type)


parseable_text = st.text().filter(lambda s: strip_for_parse(s) == s and not s.startswith("\ufeff"))


@given(parseable_text, st.none() | metas)
def test_utf8_of_any_parseable_text_decodes_to_itself(text: str, meta: str | None) -> None:
    # The promise, precisely: for every str s that strip_for_parse leaves alone and that
    # does not open with U+FEFF (read as a byte-order mark), and for any <meta charset> it
    # may carry (none, known, unknown), decode_html(s.encode("utf-8")).text == s: valid
    # UTF-8 with non-ASCII beats any label, and ASCII reads the same under all of them.
    s = (meta or "") + text
    assert decode_html(s.encode()).text == s


@given(st.text())
def test_strip_for_parse_leaves_text_lxml_takes(text: str) -> None:
    stripped = strip_for_parse(text)
    assert strip_for_parse(stripped) == stripped
    element = etree.Element("p")
    element.text = stripped  # lxml's setters refuse controls and noncharacters
    element.set("title", stripped)
    try:
        lxml.html.document_fromstring(stripped)
    except etree.ParserError:  # "Document is empty" is not a refusal of characters
        assert not stripped.strip() or "<" in stripped


@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(UNPARSEABLE)))
def test_strip_for_parse_removes_exactly_the_unparseable_characters(text: str) -> None:
    assume(not text.startswith("<?xml"))
    unparseable = {*map(chr, range(0x20)), *map(chr, range(0xD800, 0xE000)), "\ufffe", "\uffff"}
    kept = "".join(c for c in text if c not in unparseable or c in "\t\n\r")
    assert strip_for_parse(text) == kept


def test_prescan_window_is_bounded() -> None:
    body = b"<p>" + b" " * PRESCAN_BYTES + b"<meta charset=koi8-r><p>caf\xe9"
    assert decode_html(body).declared is None
