"""Turn a page's raw bytes into text, the way a browser would, and refuse what is not a page.

Pages are hostile input: live sites and Wayback captures hand us any bytes at all, and the
labels they carry lie.  The order follows the WHATWG encoding sniffing algorithm
(https://html.spec.whatwg.org/multipage/parsing.html#determining-the-character-encoding):

1. a byte-order mark;
2. the ``charset`` of the HTTP ``Content-Type``;
3. a prescan for ``<meta charset>`` / ``<meta http-equiv=Content-Type content="...">``, then
   an XML declaration's ``encoding``; we scan the first :data:`PRESCAN_BYTES`, not the
   1,024 the spec suggests, because real pages declare after ``<title>``, long comments or
   inline scripts (tomshardware.co.uk at byte 19,843);
4. sniffing: UTF-16 by its NULs; valid UTF-8 is UTF-8; otherwise the encoding the
   ``<html lang>`` makes likely, or gb18030 for bytes in GBK's pairs; finally windows-1252,
   the browsers' default.

Labels map as browsers map them (iso-8859-1 and ascii are windows-1252, gb2312 is gb18030,
shift_jis is cp932 ...; https://encoding.spec.whatwg.org/#names-and-labels).  Where we part
from browsers it is because pages lie and an investigator wants the text, not a faithful
rendering of the server's mistake:

- valid, non-ASCII UTF-8 wins over a legacy declaration (Apache's default
  ``charset=iso-8859-1`` header on UTF-8 pages; re-serialised pages that kept
  ``charset=Shift_JIS``): legacy text almost never validates as UTF-8 by chance;
- a UTF-8 declaration that fails on most non-ASCII bytes is ignored (the bytes are legacy);
- a mostly-UTF-8 page with a few stray bytes (a footer template saved as Latin-1) reads those
  bytes as windows-1252, so a ``\\xa9`` still becomes the © the extractor looks for.

The text comes back ready for lxml (:func:`strip_for_parse` applied).  The common case (a
UTF-8 page that says so) costs one bounded regex scan of the head, one ``bytes.decode`` and a
scan of the bytes for control characters: about 15 % of an lxml parse of the same bytes over
the footer corpus.  The heavier guesses run only when that decode fails.

The module passes 500 lines because it is one algorithm: each step above hands the next what
it found (the head, the declaration, a partial decode) through private helpers, and the WHATWG
label table and the file signatures, some 90 lines of data, sit beside the only code that reads
them.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from enum import StrEnum

PRESCAN_BYTES = 64 * 1024
"""How far into the body to look for a ``<meta>`` charset (WHATWG suggests 1,024)."""

MAX_META_TAG_BYTES = 2048
"""A ``<meta>`` tag longer than this is not read: it bounds the prescan's work per tag."""

UTF16_SNIFF_BYTES = 1024
"""How much of an undeclared body is checked for the NUL pattern of UTF-16 without a BOM."""

KIND_SNIFF_CHARS = 4096
"""How much of the text decides whether control characters make the body binary."""

MARKUP_SNIFF_CHARS = 64 * 1024
"""How far into the text a tag must appear for the body to count as HTML."""

BINARY_CONTROL_SHARE = 0.01
"""Share of control characters above which a body is binary (text has almost none)."""

UTF8_LIE_SHARE = 0.25
"""Share of non-ASCII bytes that fail as UTF-8 above which a UTF-8 label is a lie."""

LEGACY_MISS_SHARE = 0.01
"""A guessed legacy encoding is taken only if it fails on at most this share of non-ASCII
bytes (a truncated tail, a stray byte)."""

EUC_PAIR_SHARE = 0.9
"""Share of non-ASCII bytes in A1-FE pairs that makes undeclared bytes look like GBK."""

MIN_EUC_PAIRS = 8
"""Fewer pairs than this are too few to tell GBK from a Western name or two."""

MAX_STRAY_BYTES = 4096
"""Stray bytes in a UTF-8 page read as windows-1252 at most; beyond that they become U+FFFD,
because each one costs a Python call."""

MAX_LABEL_CHARS = 64
"""A declared label is kept for the record up to this length (the longest real one has 19)."""


class DecodeMethod(StrEnum):
    """What decided the encoding."""

    BOM = "bom"  # a byte-order mark
    HEADER = "header"  # the HTTP Content-Type charset
    META = "meta"  # a <meta> charset or an XML declaration in the page
    SNIFFED = "sniffed"  # the bytes: valid UTF-8, UTF-16 by its NULs, <html lang>, GBK pairs
    FALLBACK = "fallback"  # nothing fitted: windows-1252, the browsers' default


class PageKind(StrEnum):
    """What the body is, so the extractor can answer "not an HTML page" without parsing."""

    HTML = "html"  # text with markup in it
    TEXT = "text"  # text without a single tag
    BINARY = "binary"  # a file signature (PNG, PDF, gzip ...) or control-heavy bytes
    EMPTY = "empty"  # nothing, or only whitespace


@dataclass(frozen=True, slots=True)
class DecodedPage:
    """A body decoded to text, with how the encoding was chosen.

    ``text`` is the decoded body without what :func:`strip_for_parse` removes, so it can go
    to ``lxml.html`` as it is.  ``encoding`` is the Python codec used (``utf-8``, ``cp1252``,
    ``cp932`` ...); ``declared`` the label the header or page gave, as written, even when it
    was overruled or unknown; ``replaced`` how many undecodable byte sequences (usually
    single bytes) there were: each became U+FFFD, or in a UTF-8 page was read as
    windows-1252.
    """

    text: str
    encoding: str
    declared: str | None
    method: DecodeMethod
    replaced: int
    kind: PageKind


# --- labels ---------------------------------------------------------------------------------

UTF8 = "utf-8"
WINDOWS_1252 = "cp1252"

# The WHATWG label table (https://encoding.spec.whatwg.org/encodings.json) keyed by the Python
# codec that decodes as browsers do: gbk labels use gb18030 (its superset, as the WHATWG gbk
# decoder does), big5 uses big5hkscs, shift_jis cp932 and euc-kr cp949 (the Microsoft
# supersets browsers implement).  The "replacement" labels (iso-2022-kr, hz-gb-2312 ...) are
# left out: browsers decode them to a single U+FFFD, we treat them as unknown and sniff.
# fmt: off
_LABELS: dict[str, tuple[str, ...]] = {
    UTF8: ("unicode-1-1-utf-8", "utf-8", "utf8"),
    "cp866": ("866", "cp866", "csibm866", "ibm866"),
    "iso8859-2": ("csisolatin2", "iso-8859-2", "iso-ir-101", "iso8859-2", "iso88592",
                  "iso_8859-2", "iso_8859-2:1987", "l2", "latin2"),
    "iso8859-3": ("csisolatin3", "iso-8859-3", "iso-ir-109", "iso8859-3", "iso88593",
                  "iso_8859-3", "iso_8859-3:1988", "l3", "latin3"),
    "iso8859-4": ("csisolatin4", "iso-8859-4", "iso-ir-110", "iso8859-4", "iso88594",
                  "iso_8859-4", "iso_8859-4:1988", "l4", "latin4"),
    "iso8859-5": ("csisolatincyrillic", "cyrillic", "iso-8859-5", "iso-ir-144", "iso8859-5",
                  "iso88595", "iso_8859-5", "iso_8859-5:1988"),
    "iso8859-6": ("arabic", "asmo-708", "csiso88596e", "csiso88596i", "csisolatinarabic",
                  "ecma-114", "iso-8859-6", "iso-8859-6-e", "iso-8859-6-i", "iso-ir-127",
                  "iso8859-6", "iso88596", "iso_8859-6", "iso_8859-6:1987"),
    "iso8859-7": ("csisolatingreek", "ecma-118", "elot_928", "greek", "greek8", "iso-8859-7",
                  "iso-ir-126", "iso8859-7", "iso88597", "iso_8859-7", "iso_8859-7:1987",
                  "sun_eu_greek"),
    "iso8859-8": ("csiso88598e", "csisolatinhebrew", "hebrew", "iso-8859-8", "iso-8859-8-e",
                  "iso-ir-138", "iso8859-8", "iso88598", "iso_8859-8", "iso_8859-8:1988",
                  "visual", "csiso88598i", "iso-8859-8-i", "logical"),
    "iso8859-10": ("csisolatin6", "iso-8859-10", "iso-ir-157", "iso8859-10", "iso885910",
                   "l6", "latin6"),
    "iso8859-13": ("iso-8859-13", "iso8859-13", "iso885913"),
    "iso8859-14": ("iso-8859-14", "iso8859-14", "iso885914"),
    "iso8859-15": ("csisolatin9", "iso-8859-15", "iso8859-15", "iso885915", "iso_8859-15",
                   "l9"),
    "iso8859-16": ("iso-8859-16",),
    "koi8-r": ("cskoi8r", "koi", "koi8", "koi8-r", "koi8_r"),
    "koi8-u": ("koi8-u",),
    "mac-roman": ("csmacintosh", "mac", "macintosh", "x-mac-roman"),
    "cp874": ("dos-874", "iso-8859-11", "iso8859-11", "iso885911", "tis-620", "windows-874"),
    "cp1250": ("cp1250", "windows-1250", "x-cp1250"),
    "cp1251": ("cp1251", "windows-1251", "x-cp1251"),
    WINDOWS_1252: ("ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819",
                   "iso-8859-1", "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1",
                   "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252"),
    "cp1253": ("cp1253", "windows-1253", "x-cp1253"),
    "cp1254": ("cp1254", "csisolatin5", "iso-8859-9", "iso-ir-148", "iso8859-9", "iso88599",
               "iso_8859-9", "iso_8859-9:1989", "l5", "latin5", "windows-1254", "x-cp1254"),
    "cp1255": ("cp1255", "windows-1255", "x-cp1255"),
    "cp1256": ("cp1256", "windows-1256", "x-cp1256"),
    "cp1257": ("cp1257", "windows-1257", "x-cp1257"),
    "cp1258": ("cp1258", "windows-1258", "x-cp1258"),
    "mac-cyrillic": ("x-mac-cyrillic", "x-mac-ukrainian"),
    "gb18030": ("chinese", "csgb2312", "csiso58gb231280", "gb2312", "gb_2312", "gb_2312-80",
                "gbk", "iso-ir-58", "x-gbk", "gb18030"),
    "big5hkscs": ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    "euc_jp": ("cseucpkdfmtjapanese", "euc-jp", "x-euc-jp"),
    "iso2022_jp_ext": ("csiso2022jp", "iso-2022-jp"),
    "cp932": ("csshiftjis", "ms932", "ms_kanji", "shift-jis", "shift_jis", "sjis",
              "windows-31j", "x-sjis"),
    "cp949": ("cseuckr", "csksc56011987", "euc-kr", "iso-ir-149", "korean", "ks_c_5601-1987",
              "ks_c_5601-1989", "ksc5601", "ksc_5601", "windows-949"),
    "utf-16-be": ("utf-16be",),
    "utf-16-le": ("utf-16", "utf-16le"),
}
# fmt: on
LABEL_TO_CODEC: dict[str, str] = {
    label: codec for codec, labels in _LABELS.items() for label in labels
}
"""Every WHATWG label we honour, lower-case, to the Python codec that decodes it."""

_UTF16 = frozenset({"utf-16-be", "utf-16-le"})
_X_USER_DEFINED = "x-user-defined"

# A page's lang makes an undeclared legacy encoding likely: the defaults browsers pick by
# locale.  Consulted only when the bytes are not UTF-8 and no declaration fitted.
_LANG_CODECS: dict[str, str] = {
    "zh": "gb18030", "ja": "cp932", "ko": "cp949", "th": "cp874", "vi": "cp1258",
    "ru": "cp1251", "uk": "cp1251", "be": "cp1251", "bg": "cp1251", "mk": "cp1251",
    "sr": "cp1251", "pl": "cp1250", "cs": "cp1250", "sk": "cp1250", "hu": "cp1250",
    "sl": "cp1250", "hr": "cp1250", "ro": "cp1250", "el": "cp1253", "tr": "cp1254",
    "he": "cp1255", "ar": "cp1256", "fa": "cp1256", "ur": "cp1256", "et": "cp1257",
    "lt": "cp1257", "lv": "cp1257",
}  # fmt: skip
_TRADITIONAL_CHINESE = frozenset({"tw", "hk", "mo", "hant"})


def codec_for_label(label: str, *, in_meta: bool = False) -> str | None:
    """The Python codec for a WHATWG encoding label, or None when browsers would ignore it.

    In a ``<meta>``, UTF-16 labels mean UTF-8 (the page could not have been read to find the
    meta otherwise) and ``x-user-defined`` means windows-1252, as the HTML standard says.
    """
    name = label.strip("\t\n\f\r ").lower()
    if in_meta and name == _X_USER_DEFINED:
        return WINDOWS_1252
    codec = LABEL_TO_CODEC.get(name)
    if in_meta and codec in _UTF16:
        return UTF8
    return codec


# --- the declaration: BOM, header, prescan ----------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;,"']+))""", re.I)
_PRESCAN_TOKEN = re.compile(rb"<!--|<meta(?=[\s/])", re.I)
# Quoted values may hold ">"; an unquoted "<" ends the attempt, so that hostile heads of
# "<meta <meta <meta" cost each byte once.
_META_TAG = re.compile(rb"""<meta((?:[^<>"']++|"[^"]*+"|'[^']*+')*+)>""", re.I)
_ATTRIBUTE = re.compile(rb"""([^\s/>="']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?""")
_CONTENT_CHARSET = re.compile(rb"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))""", re.I)
_XML_DECLARATION = re.compile(rb"""<\?xml[^>]{0,512}?\sencoding\s*=\s*["']([^"'\s>]{1,64})""")
_HTML_LANG = re.compile(
    rb"""<html\b[^<>]{0,2048}?\slang\s*=\s*["']?([a-z]{2,3})(?:[-_]([a-z0-9]{2,8}))?""", re.I
)


@dataclass(frozen=True, slots=True)
class _Declaration:
    label: str  # as written, for the record
    codec: str | None  # None: browsers would ignore the label
    method: DecodeMethod


def _split_bom(body: bytes) -> tuple[str | None, bytes]:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, body[len(bom) :]
    return None, body


def _first_group(match: re.Match[bytes] | re.Match[str]) -> str:
    value = next(g for g in match.groups() if g is not None)
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text.strip("\t\n\f\r ")[:MAX_LABEL_CHARS]


def _header_declaration(content_type: str | None) -> _Declaration | None:
    match = _HEADER_CHARSET.search(content_type or "")
    if match is None:
        return None
    label = _first_group(match)
    codec = None if label.lower() == _X_USER_DEFINED else codec_for_label(label)
    return _Declaration(label, codec, DecodeMethod.HEADER)


def _meta_label(attributes: bytes) -> str | None:
    """The charset one ``<meta>`` declares, per the HTML standard's prescan (need-pragma)."""
    found: dict[bytes, bytes] = {}
    for match in _ATTRIBUTE.finditer(attributes):
        name = match.group(1).lower()
        if name not in found:  # the first of a repeated attribute counts
            found[name] = next((g for g in match.groups()[1:] if g is not None), b"")
    if b"charset" in found:
        return found[b"charset"].decode("latin-1").strip("\t\n\f\r ")[:MAX_LABEL_CHARS]
    if found.get(b"http-equiv", b"").strip().lower() != b"content-type":
        return None
    # postlight/parser fixtures re-serialise content= as value=; browsers would not read it,
    # but the "valid UTF-8 wins" rule guards against a wrong label anyway.
    content = found.get(b"content", found.get(b"value", b""))
    charset = _CONTENT_CHARSET.search(content)
    return _first_group(charset) if charset else None


def _prescan(head: bytes) -> _Declaration | None:
    """The first usable ``<meta>`` charset in the head (else the first unknown one, for the
    record), skipping comments; then an XML declaration's encoding."""
    unknown: _Declaration | None = None
    pos = 0
    while token := _PRESCAN_TOKEN.search(head, pos):
        if token.group() == b"<!--":
            end = head.find(b"-->", token.start() + 2)  # "<!-->" closes itself, as in HTML
            if end < 0:
                break  # the rest of the window is a comment
            pos = end + 3
            continue
        tag = _META_TAG.match(head, token.start(), token.start() + MAX_META_TAG_BYTES)
        pos = tag.end() if tag else token.end()
        label = _meta_label(tag.group(1)) if tag else None
        if label is None:
            continue
        codec = codec_for_label(label, in_meta=True)
        if codec is not None:
            return _Declaration(label, codec, DecodeMethod.META)
        unknown = unknown or _Declaration(label, None, DecodeMethod.META)
    xml = _XML_DECLARATION.match(head)
    if xml is not None:
        label = _first_group(xml)
        declaration = _Declaration(label, codec_for_label(label, in_meta=True), DecodeMethod.META)
        return declaration if declaration.codec or unknown is None else unknown
    return unknown


# --- decoding ---------------------------------------------------------------------------------

_UTF8_REPLACEMENT = "\ufffd".encode()
# Python's cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; the WHATWG decoder maps
# them to the C1 controls of the same number, so windows-1252 never fails on any byte.
_WINDOWS_1252_TABLE = "".join(
    bytes([b]).decode(WINDOWS_1252, errors="ignore") or chr(b) for b in range(256)
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_EUC_PAIR = re.compile(rb"[\xa1-\xfe][\xa1-\xfe]")
# Where a legitimate U+FFFD can be encoded (so it is not a replacement); elsewhere none can.
_ENCODED_REPLACEMENT: dict[str, bytes] = {
    UTF8: _UTF8_REPLACEMENT,
    "gb18030": "\ufffd".encode("gb18030"),
    "utf-16-le": "\ufffd".encode("utf-16-le"),
    "utf-16-be": "\ufffd".encode("utf-16-be"),
}
_TRUNCATED = "unexpected end of data"  # the reason Python's UTF-8 decoder gives at a cut-off end
_STRAY_BYTES_HANDLER = "monitor.decode.stray-cp1252"


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str
    codec: str
    method: DecodeMethod
    replaced: int


def _read_stray_as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte UTF-8 cannot read is a windows-1252 character, except an
    incomplete sequence cut off at the very end (a truncated capture), which is U+FFFD."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    if exc.end == len(exc.object) and exc.reason == _TRUNCATED:
        return "\ufffd", exc.end
    return _decode_windows_1252(exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_STRAY_BYTES_HANDLER, _read_stray_as_cp1252)


def _decode_windows_1252(data: bytes) -> str:
    return codecs.charmap_decode(data, "strict", _WINDOWS_1252_TABLE)[0]


def _decode(data: bytes, codec: str) -> tuple[str, int]:
    """``data`` decoded with ``codec``, and how many undecodable sequences became U+FFFD."""
    if codec == WINDOWS_1252:
        return _decode_windows_1252(data), 0
    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        return _decode_replacing(data, codec)


def _decode_replacing(data: bytes, codec: str) -> tuple[str, int]:
    # The C "replace" handler is fast even on megabytes of garbage, where a counting Python
    # handler would be called once per bad byte; so count the U+FFFD it produced, less those
    # the bytes spelled out themselves (exact for UTF-8, which cannot misalign on them).
    text = data.decode(codec, errors="replace")
    legitimate = data.count(_ENCODED_REPLACEMENT[codec]) if codec in _ENCODED_REPLACEMENT else 0
    return text, max(text.count("\ufffd") - legitimate, 0)


def _clean_utf8(data: bytes) -> tuple[str, int] | None:
    """``data`` as UTF-8 if it is valid but for one sequence cut off at the very end (a
    truncated capture, replaced by U+FFFD), else None.  A cut-off sequence is only believed
    after other UTF-8: a lone trailing byte (``caf\\xe9``) is legacy text as likely."""
    try:
        return data.decode(UTF8), 0
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        if exc.end == len(data) and exc.reason == _TRUNCATED and not head.isascii():
            return head.decode(UTF8) + "\ufffd", 1
    return None


def _decode_utf8(data: bytes, method: DecodeMethod, head: bytes) -> _Decoded:
    """UTF-8 if the bytes bear it out: mostly-UTF-8 keeps its stray bytes as windows-1252,
    bytes that are mostly not UTF-8 go to the likely legacy encoding."""
    clean = _clean_utf8(data)
    if clean is not None:
        return _Decoded(clean[0], UTF8, method, clean[1])
    text, replaced = _decode_replacing(data, UTF8)
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    if replaced > high * UTF8_LIE_SHARE:
        return _likely_legacy(data, head, high)
    if replaced <= MAX_STRAY_BYTES:
        text = data.decode(UTF8, errors=_STRAY_BYTES_HANDLER)
    return _Decoded(text, UTF8, method, replaced)


def _likely_legacy(data: bytes, head: bytes, high: int) -> _Decoded:
    """The legacy encoding ``<html lang>`` suggests, or gb18030 for bytes shaped like it, if
    it reads the bytes; else windows-1252 (which reads any bytes)."""
    codec = _lang_codec(head) or ("gb18030" if _euc_shaped(head) else None)
    if codec is not None:
        text, replaced = _decode(data, codec)
        if replaced <= high * LEGACY_MISS_SHARE:
            return _Decoded(text, codec, DecodeMethod.SNIFFED, replaced)
    return _Decoded(_decode_windows_1252(data), WINDOWS_1252, DecodeMethod.FALLBACK, 0)


def _lang_codec(head: bytes) -> str | None:
    lang = _HTML_LANG.search(head)
    if lang is None:
        return None
    language, region = (g.decode("ascii").lower() if g else "" for g in lang.groups())
    codec = _LANG_CODECS.get(language)
    return "big5hkscs" if codec == "gb18030" and region in _TRADITIONAL_CHINESE else codec


def _euc_shaped(head: bytes) -> bool:
    """Non-ASCII that comes almost only in pairs of bytes from A1-FE: GBK/GB2312 text (EUC-KR
    and EUC-JP look the same, but Chinese is what this tool reads most).  Western legacy
    text fails this: its accented letters stand between ASCII ones."""
    high = len(head) - len(head.translate(None, _HIGH_BYTES))
    in_pairs = len(head) - len(_EUC_PAIR.sub(b"", head))
    return in_pairs >= 2 * MIN_EUC_PAIRS and in_pairs >= high * EUC_PAIR_SHARE


def _sniff_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM, told by the NUL half of every ASCII character (markup is ASCII)."""
    sample = data[:UTF16_SNIFF_BYTES]
    half = len(sample) // 2
    if half < 2 or b"\0" not in sample:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if 2 * odd > half and 20 * even < half:
        return "utf-16-le"
    if 2 * even > half and 20 * odd < half:
        return "utf-16-be"
    return None


def _follow(data: bytes, codec: str, method: DecodeMethod, head: bytes) -> _Decoded:
    """Decode by a declaration, unless the bytes prove it wrong."""
    if codec == UTF8:
        return _decode_utf8(data, method, head)
    clean = None if codec in _UTF16 or data.isascii() else _clean_utf8(data)
    if clean is not None:
        return _Decoded(clean[0], UTF8, DecodeMethod.SNIFFED, clean[1])
    text, replaced = _decode(data, codec)
    return _Decoded(text, codec, method, replaced)


def _sniff(data: bytes, head: bytes) -> _Decoded:
    """Decode undeclared bytes: UTF-16 by its NULs, then UTF-8, then a legacy guess."""
    utf16 = _sniff_utf16(data)
    if utf16 is not None:
        text, replaced = _decode(data, utf16)
        return _Decoded(text, utf16, DecodeMethod.SNIFFED, replaced)
    return _decode_utf8(data, DecodeMethod.SNIFFED, head)


# --- what the body is -------------------------------------------------------------------------

BINARY_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"%PDF-", b"\x1f\x8b",
    b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd",
    b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"RIFF", b"\x00\x00\x01\x00", b"\x00asm",
    b"\x7fELF", b"wOFF", b"wOF2", b"OggS", b"fLaC", b"ID3", b"II*\x00", b"MM\x00*",
    b"\xca\xfe\xba\xbe", b"SQLite format 3\x00",
)  # fmt: skip
"""File signatures (PNG, JPEG, GIF, PDF, gzip, zip, bzip2, xz, zstd ...) that make a body a
file, not a page, whatever follows."""

_ISO_MEDIA_BOX = b"ftyp"  # MP4, HEIC, AVIF: the signature sits at offset 4
# The WHATWG MIME sniffing standard's "binary data bytes": no text encoding produces them.
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
# The HTML patterns of the WHATWG MIME sniffing standard ("rules for identifying an unknown
# MIME type"), which it checks before looking for binary bytes.
_HTML_START = re.compile(
    r"\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    r"|!--|\?xml)[\s>]",
    re.I,
)
_MARKUP = re.compile(r"<(?:[a-zA-Z][^\s/<>]*+[\s/>]|!--|![dD][oO][cC][tT][yY][pP][eE]|\?xml)")


def _classify(body: bytes, decoded: str, text: str) -> PageKind:
    """What the body is, by its signature and the ``decoded`` text's controls; ``text`` is
    the decoded text made ready for parsing (empty if nothing parseable is left)."""
    if not decoded or decoded.isspace():
        return PageKind.EMPTY
    if body.startswith(BINARY_SIGNATURES) or body[4:8] == _ISO_MEDIA_BOX:
        return PageKind.BINARY
    if _HTML_START.match(text):  # an HTML start outweighs NUL padding after it
        return PageKind.HTML
    sample = decoded[:KIND_SNIFF_CHARS]
    if len(_BINARY_CONTROLS.findall(sample)) > len(sample) * BINARY_CONTROL_SHARE:
        return PageKind.BINARY
    if not text or text.isspace():
        return PageKind.EMPTY
    if _MARKUP.search(text, 0, MARKUP_SNIFF_CHARS):
        return PageKind.HTML
    return PageKind.TEXT


# --- the public functions ---------------------------------------------------------------------


def decode_html(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode a page's bytes as a browser would, overruling declarations the bytes disprove.

    ``content_type`` is the HTTP ``Content-Type`` header, if any; only its charset is read
    (servers mislabel types too, so ``kind`` comes from the bytes).  Never raises: empty,
    binary or garbled bodies come back with ``kind`` saying so and ``replaced`` counting
    the bytes that could not be decoded.

    UTF-8 round-trips: for every str ``s`` with ``strip_for_parse(s) == s`` that does not
    open with U+FEFF (which is read as a byte-order mark), whatever ``<meta charset>`` it
    carries, ``decode_html(s.encode("utf-8")).text == s``.

    >>> decode_html(b"<meta charset=iso-8859-1><p>\\xa9 2019 Caf\\xe9 GmbH").text[-16:]
    '© 2019 Café GmbH'
    """
    bom_codec, data = _split_bom(body)
    head = data[:PRESCAN_BYTES]
    header = _header_declaration(content_type)
    meta = None if header and header.codec else _prescan(head)
    used = next((d for d in (header, meta) if d and d.codec), None)
    declared = used or header or meta
    if bom_codec is not None:
        text, replaced = _decode(data, bom_codec)
        decoded = _Decoded(text, bom_codec, DecodeMethod.BOM, replaced)
    elif used is not None and used.codec is not None:
        decoded = _follow(data, used.codec, used.method, head)
    else:
        decoded = _sniff(data, head)
    text = _ready_for_parse(decoded.text, data, decoded.codec)
    return DecodedPage(
        text=text,
        encoding=decoded.codec,
        declared=declared.label if declared else None,
        method=decoded.method,
        replaced=decoded.replaced,
        kind=_classify(body, decoded.text, text),
    )


def _ready_for_parse(text: str, data: bytes, codec: str) -> str:
    """``strip_for_parse(text)``, asking the bytes about controls where they tell: in UTF-8
    and windows-1252 a control character is its byte, and finding none among the bytes
    costs a quarter of the same search in a str with any character past U+00FF (0.36
    against 1.3 ms on a 1 MB page).  Neither decoder makes lone surrogates."""
    if codec not in (UTF8, WINDOWS_1252) or any(c in data for c in _CONTROL_BYTES):
        return strip_for_parse(text)
    if not text.isascii() and any(n in text for n in _NONCHARACTERS):
        return strip_for_parse(text)
    return _drop_xml_declarations(text)


# Characters lxml cannot take: C0 controls other than tab, LF and CR, lone surrogates, U+FFFE
# and U+FFFF.  What they do depends on the libxml2 under lxml: a lone surrogate drops the
# rest of the document (lxml 5.3 and 6.1); a leading NUL makes lxml 5.3 answer "Document is
# empty"; lxml 6 reads NUL as U+FFFD and keeps other controls, which its element and
# attribute setters then refuse with ValueError.
_CONTROL_BYTES = tuple(bytes([b]) for b in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
_CONTROLS = tuple(b.decode("ascii") for b in _CONTROL_BYTES)
_CONTROL_BYTE_SET = b"".join(_CONTROL_BYTES)
_NONCHARACTERS = ("\ufffe", "\uffff")
_UTF8_NONCHARACTERS = tuple(n.encode() for n in _NONCHARACTERS)
# lxml refuses str input that opens with an XML declaration naming an encoding ("Unicode
# strings with encoding declaration are not supported", ValueError), and its own check for
# one is quadratic on "<?xml" followed by megabytes of spaces; the HTML parser ignores the
# declaration anyway, so leading declarations go whole.
_LEADING_XML_DECLARATIONS = re.compile(r"\A(?:<\?xml[^>]*+>?)+")


def strip_for_parse(text: str) -> str:
    """``text`` without what makes ``lxml.html.fromstring(text)`` raise or lose content.

    Removes NUL and the other XML-illegal control characters (tab, LF and CR stay), lone
    surrogates, U+FFFE/U+FFFF, and XML declarations at the very start.  Idempotent; text
    without any of these (the common case, found by one memchr-speed scan per character)
    is returned unchanged.
    """
    if _has_unparseable(text):
        text = _remove_unparseable(text)
    return _drop_xml_declarations(text)


def _remove_unparseable(text: str) -> str:
    # Done on UTF-8 bytes: a regex substitution pays per match, 0.8 s for 10 MB of NULs,
    # this takes 40 ms.  Controls are single bytes that never sit inside a multi-byte
    # sequence, and the surrogates "surrogatepass" writes are invalid UTF-8 that "ignore"
    # drops whole, so exactly the unparseable characters go.
    data = text.encode(UTF8, "surrogatepass").translate(None, _CONTROL_BYTE_SET)
    for noncharacter in _UTF8_NONCHARACTERS:
        data = data.replace(noncharacter, b"")
    return data.decode(UTF8, "ignore")


def _has_unparseable(text: str) -> bool:
    # One "in" per character runs at memchr speed: 4x faster than a regex character class
    # over a str holding any non-Latin-1 character (1.3 against 3.5 ms for a 1 MB page).
    if any(c in text for c in _CONTROLS):
        return True
    if text.isascii():  # O(1): CPython stores the widest character's size
        return False
    if any(n in text for n in _NONCHARACTERS):
        return True
    try:
        text.encode("utf-16-le")  # refuses lone surrogates, and only them
    except UnicodeEncodeError:
        return True
    return False


def _drop_xml_declarations(text: str) -> str:
    if text.startswith("<?xml"):
        return _LEADING_XML_DECLARATIONS.sub("", text, count=1)
    return text
