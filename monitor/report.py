"""Readable renderings of an export: the HTML report, Markdown, and timelines in the terminal.

Everything here is pure: an :class:`~monitor.export.Export` in, text out.  All text from pages
(names, copyright lines, notes, URLs) is attacker-controlled, so:

- HTML escapes every such string with :func:`html.escape`, wraps it in ``<bdi>`` so that a
  right-to-left override in a name cannot reorder the text around it, links only ``http(s)``
  URLs, and carries a Content-Security-Policy that forbids scripts and every network request
  (``default-src 'none'``), so even a string that escaped escaping could run nothing;
- Markdown backslash-escapes the characters that would make links, emphasis or raw HTML;
- the terminal shows page text as :class:`rich.text.Text`, never as rich markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from monitor import PROJECT_URL, __version__

if TYPE_CHECKING:
    from monitor.export import Export, ExportedChange, UrlTimeline
    from monitor.store import ReviewEvent, StoredCapture, StoredChange

# No scripts, no fetches of any kind (fonts, images, frames, prefetch); inline styles and data:
# images only.  base-uri and form-action are not covered by default-src, so they are closed too.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
LINK_SCHEMES = ("http://", "https://")
# Latin words diff as words; everything else (Han, kana, punctuation) character by character, so
# 北京市商汤科技 -> 上海商汤智能科技 highlights the place and not the whole name.
_TOKENS = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+|\s+|.", re.DOTALL)
# Beyond this many tokens a side the texts are shown without highlighting (difflib is quadratic).
DIFF_MAX_TOKENS = 4000
NO_EXTRACTION = "(no extraction stored)"
NO_LINES = "(no copyright line)"
# Characters that start Markdown syntax (emphasis, links, code, raw HTML, tables, headings).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")
HEADING = "Changes in the legal entities named by watched websites"


# --------------------------------------------------------------------------- shared


def shown_value(value: Any) -> str:
    """A change's JSON value as one line of text: names joined by "; ", registrations as
    ``kind: number``, None as "(none)"."""
    if value is None:
        return "(none)"
    if isinstance(value, dict):
        return "; ".join(
            f"{kind}: {', '.join(map(str, nums)) or '(none)'}" for kind, nums in value.items()
        )
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "(none)"
    return str(value)


def when(moment: datetime) -> str:
    """A time as the reports print it: ``2021-08-09 06:15:40 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _copyright_text(lines: tuple[str, ...] | None) -> str:
    if lines is None:
        return NO_EXTRACTION
    return "\n".join(lines) or NO_LINES


def _intro(export: Export) -> str:
    selection = export.selection
    parts = [
        "sites " + ", ".join(selection.site_ids) if selection.site_ids else "all sites",
        f"changes first seen since {when(selection.since)}" if selection.since else "",
        f"status {selection.status.value}" if selection.status else "any status",
    ]
    sites = len(export.site_ids())
    return (
        f"Generated {when(export.generated_at)} by monitor {__version__} ({PROJECT_URL}). "
        f"Selection: {', '.join(p for p in parts if p)}. {len(export.changes)} changes at "
        f"{sites} site{'' if sites == 1 else 's'}. Each change is bracketed by the last stored "
        "capture showing the old value and the first showing the new one; the change happened "
        "between them. Times are UTC; SHA-256 is of the raw bytes kept."
    )


# --------------------------------------------------------------------------- Markdown


def markdown(export: Export) -> str:
    """A section per site, a subsection per change, for pasting into a case file."""
    lines = [f"# {HEADING}", "", _md(_intro(export)), ""]
    for site_id in export.site_ids():
        items = [item for item in export.changes if item.change.site_id == site_id]
        lines += [f"## {_md(site_id)}", ""]
        for item in items:
            lines += _md_change(item)
    return "\n".join(lines)


def _listing_note(change: StoredChange) -> str | None:
    """ "operator moved from a listed entity (...)", after a `monitor screen`; else None."""
    return change.screening.note if change.screening else None


def _md_change(item: ExportedChange) -> list[str]:
    change = item.change
    kind = f" ({_md(change.kind)})" if change.kind else ""
    review = change.status.value + (f": {_md(change.note)}" if change.note else "")
    lines = [
        f"### #{change.id} {change.field.value}{kind}",
        "",
        f"- URL: {_md_link(change.url, change.url)}",
        *([f"- Screening: {_md(note)}"] if (note := _listing_note(change)) else []),
        f"- Old: {_md(shown_value(change.old))}",
        f"- New: {_md(shown_value(change.new))}",
        f"- Last capture with the old value: {_md_capture(change.before)}",
        f"- First capture with the new value: {_md_capture(change.after)}",
        "- Copyright lines before:",
        *_md_lines(item.before_copyright),
        "- Copyright lines after:",
        *_md_lines(item.after_copyright),
        f"- Review: {review}",
    ]
    if change.archive_copy_url:
        lines.append(f"- Save Page Now copy: {_md_link(change.archive_copy_url, 'archived')}")
    return [*lines, ""]


def _md_capture(capture: StoredCapture) -> str:
    where = _md_link(capture.archive_url, "archived copy") if capture.archive_url else "live"
    return f"{when(capture.captured_at)}, {where}, SHA-256 `{capture.sha256}`"


def _md_lines(lines: tuple[str, ...] | None) -> list[str]:
    return [f"  - {_md(line)}" for line in _copyright_text(lines).splitlines()]


def _md(text: str) -> str:
    """Page text made inert in Markdown: one line, syntax characters backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_link(url: str, label: str) -> str:
    if url.startswith(LINK_SCHEMES) and not re.search(r"[\s<>]", url):
        return f"[{_md(label)}](<{url}>)"
    return _md(url)


# --------------------------------------------------------------------------- HTML


def html_report(export: Export) -> str:
    """One self-contained HTML page: per site, who it named when, then each change."""
    title = f"monitor report: {len(export.changes)} changes"
    parts = [
        _HEAD.format(csp=html.escape(CSP), title=html.escape(title), style=_STYLE),
        f"<header><h1>{html.escape(HEADING)}</h1><p>{html.escape(_intro(export))}</p>",
        _site_index(export),
        "</header><main>",
    ]
    for site_id in export.site_ids():
        parts.append(_site_section(export, site_id))
    parts.append("</main>")
    parts.append(f"<footer><p>{html.escape(_VERIFY_NOTE)}</p></footer></body></html>\n")
    return "\n".join(parts)


_HEAD = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head><body>"""

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem}
h1{font-size:1.5rem}h2{border-bottom:2px solid #333;margin-top:2.5rem}h3{margin-top:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2;font-weight:600}
td.text{white-space:pre-wrap;overflow-wrap:anywhere}td.when{white-space:nowrap}
code{font-size:.8rem;overflow-wrap:anywhere}
del{background:#ffd7d5;text-decoration:line-through}ins{background:#ccf0d0;text-decoration:none}
.change{border:1px solid #999;border-radius:4px;padding:.2rem 1rem 1rem;margin:1.2rem 0}
.status{font-size:.8rem;padding:.1rem .4rem;border-radius:3px;background:#eee}
.status-confirmed{background:#ccf0d0}.status-dismissed{background:#ddd;color:#555}
.status-new{background:#fff2b3}.muted{color:#555;font-size:.9rem}
"""

_VERIFY_NOTE = (
    "To check a capture: its SHA-256 is of the raw bytes the tool kept; "
    "sha256sum on the body from the WARC export (or the evidence store) must print the same. "
    "Archived copies are the archive's own; first and last seen are the captures the tool "
    "stored, which sample the archive's history."
)


def _site_index(export: Export) -> str:
    items = []
    for site_id in export.site_ids():
        count = sum(1 for item in export.changes if item.change.site_id == site_id)
        items.append(f'<li><a href="#site-{_anchor(site_id)}">{_t(site_id)}</a> ({count})</li>')
    return f"<nav><ul>{''.join(items)}</ul></nav>" if items else "<p>No changes match.</p>"


def _site_section(export: Export, site_id: str) -> str:
    parts = [f'<section id="site-{_anchor(site_id)}"><h2>{_t(site_id)}</h2>']
    for timeline in export.timelines:
        if timeline.site_id == site_id:
            parts.append(_timeline_html(timeline))
    parts.append("<h3>Changes</h3>")
    parts += [_change_html(item) for item in export.changes if item.change.site_id == site_id]
    parts.append("</section>")
    return "\n".join(parts)


def _timeline_html(timeline: UrlTimeline) -> str:
    rows = "".join(
        f"<tr><td>{i.fact.value}</td><td class=text>{_t(i.value)}</td>"
        f"<td class=when>{_capture_link(i.first)}</td><td class=when>{_capture_link(i.last)}</td>"
        f"<td>{i.captures}</td></tr>"
        for i in timeline.intervals
    )
    return (
        f"<h3>Who {_t(timeline.url)} named, and when</h3>"
        "<table><thead><tr><th>fact</th><th>value</th><th>first seen</th><th>last seen</th>"
        f"<th>captures</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<p class="muted">{timeline.readable} readable captures stored; {timeline.skipped} '
        "unreadable or not extracted, skipped. A value that comes back after an absence "
        "starts a new row.</p>"
    )


def _change_html(item: ExportedChange) -> str:
    change = item.change
    old, new = diff_html(shown_value(change.old), shown_value(change.new))
    before, after = diff_html(
        _copyright_text(item.before_copyright), _copyright_text(item.after_copyright)
    )
    kind = f" · {_t(change.kind)}" if change.kind else ""
    status = change.status.value
    note = _listing_note(change)
    listed = f'<p class="listed">{_t(note)}</p>' if note else ""
    rows = [
        ("value", old, new),
        ("copyright line", before, after),
        ("captured", *(_captured(c) for c in (change.before, change.after))),
        ("archived copy", *(_archive(c) for c in (change.before, change.after))),
        ("SHA-256", *(f"<code>{c.sha256}</code>" for c in (change.before, change.after))),
    ]
    body = "".join(
        f"<tr><th>{h}</th><td class=text>{a}</td><td class=text>{b}</td></tr>" for h, a, b in rows
    )
    return (
        f'<article class="change" id="change-{change.id}">'
        f"<h4>#{change.id} · {change.field.value}{kind} "
        f'<span class="status status-{status}">{status}</span></h4>'
        f"<p>{_t(change.url)}: changed between {when(change.before.captured_at)} and "
        f"{when(change.after.captured_at)}</p>{listed}"
        "<table><thead><tr><th></th><th>before: last capture with the old value</th>"
        f"<th>after: first capture with the new value</th></tr></thead><tbody>{body}</tbody>"
        f"</table>{_review_html(item)}</article>"
    )


def _review_html(item: ExportedChange) -> str:
    change = item.change
    parts = [
        f"Review: {change.status.value}" + (f". Note: {_t(change.note)}" if change.note else "")
    ]
    if change.archive_copy_url:
        parts.append(
            f"Save Page Now copy: {_link(change.archive_copy_url, change.archive_copy_url)}"
        )
    elif change.archive_copy_error:
        parts.append(f"Save Page Now failed: {_t(change.archive_copy_error)}")
    return "".join(f'<p class="muted">{part}</p>' for part in parts)


def _captured(capture: StoredCapture) -> str:
    return f"{when(capture.captured_at)} ({capture.source.value}, HTTP {capture.status})"


def _archive(capture: StoredCapture) -> str:
    if capture.archive_url is None:
        return "(live fetch; no archived copy)"
    return _link(capture.archive_url, capture.archive_url)


def _capture_link(capture: StoredCapture) -> str:
    label = when(capture.captured_at)
    return _link(capture.archive_url, label) if capture.archive_url else html.escape(label)


def diff_html(old: str, new: str) -> tuple[str, str]:
    """Both texts escaped, with what only the old has in ``<del>`` and only the new in ``<ins>``."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    if a == b or max(len(a), len(b)) > DIFF_MAX_TOKENS:
        return _t(old), _t(new)
    left: list[str] = []
    right: list[str] = []
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        was, now = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(was)
            right.append(now)
            continue
        if was:
            left.append(f"<del>{was}</del>")
        if now:
            right.append(f"<ins>{now}</ins>")
    return f"<bdi>{''.join(left)}</bdi>", f"<bdi>{''.join(right)}</bdi>"


def _t(text: str) -> str:
    """Page text as inert HTML, isolated from the direction of its surroundings."""
    return f"<bdi>{html.escape(text)}</bdi>"


def _link(url: str | None, label: str) -> str:
    if url is None or not url.startswith(LINK_SCHEMES):
        return _t(url or label)
    return f'<a href="{html.escape(url)}" rel="noopener noreferrer">{_t(label)}</a>'


def _anchor(site_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", site_id)


# --------------------------------------------------------------------------- terminal


def review_lines(change: StoredChange, history: Sequence[ReviewEvent]) -> list[str]:
    """A change's review state and every review of it, one line each, oldest first."""
    lines = [
        f"change #{change.id} {change.site_id} {change.field.value}: {change.status.value}"
        + (f"; note: {change.note}" if change.note else "")
    ]
    for event in history:
        note = f"; note: {event.new_note}" if event.new_note != event.old_note else ""
        lines.append(
            f"  {when(event.at)}  {event.who}: {event.old_status.value} -> "
            f"{event.new_status.value}{note}"
        )
    if not history:
        lines.append("  not reviewed yet")
    return lines


def timeline_renderables(timelines: Iterable[UrlTimeline]) -> list[Table | Text]:
    """Per URL a rich table (each value with its first and last capture and their number),
    then the archived copies the table's ``[n]`` marks point to, one whole URL a line."""
    shown: list[Table | Text] = []
    for timeline in timelines:
        links: dict[str, int] = {}
        table = Table(
            "fact",
            "value",
            "first seen",
            "last seen",
            "captures",
            title=Text(timeline.url),
            caption=Text(
                f"{timeline.readable} readable captures; {timeline.skipped} unreadable or not "
                "extracted, skipped"
            ),
        )
        for column in table.columns:
            column.overflow = "fold"  # evidence is shown whole, never cut with an ellipsis
        for i in timeline.intervals:
            first, last = _capture_cell(i.first, links), _capture_cell(i.last, links)
            table.add_row(Text(i.fact.value), Text(i.value), first, last, Text(str(i.captures)))
        shown.append(table)
        shown += [Text(f"[{number}] {url}") for url, number in links.items()]
    return shown


def _capture_cell(capture: StoredCapture, links: dict[str, int]) -> Text:
    if capture.archive_url is None:
        return Text(f"{when(capture.captured_at)} ({capture.source.value})")
    number = links.setdefault(capture.archive_url, len(links) + 1)
    return Text(f"{when(capture.captured_at)} [{number}]")
