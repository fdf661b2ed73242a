"""WARC files of stored captures, written and read back with warcio (Webrecorder's library).

Each capture becomes a ``response`` record: WARC-Target-URI is the page's original URL (never
the archive's), WARC-Date the capture time, WARC-Payload-Digest the SHA-256 of the body as
stored, in hex (``sha256:<hex>``), so it can be compared with the store and the JSON export
without conversion.  The HTTP header block is rebuilt from the stored status and content type,
because the store keeps bodies, not headers.  A ``metadata`` record beside each response says
where the bytes were read from (the archived copy's URL) and which capture they are; a
``warcinfo`` record opens the file.  pywb and ReplayWeb.page replay such files.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from monitor.store import StoredCapture

# 1.1 allows fractional seconds in WARC-Date, which live captures have; replay tools read it.
WARC_VERSION = "1.1"
WARC_FILENAME = "captures.warc.gz"
DIGEST_ALGORITHM = "sha256"
FIELDS_TYPE = "application/warc-fields"


@dataclass(frozen=True)
class WarcPayload:
    """A response record read back: its URL and date, the digest it declares and the SHA-256
    of the payload actually read."""

    uri: str
    date: str
    declared: str
    sha256: str

    @property
    def matches(self) -> bool:
        return self.declared.lower() == f"{DIGEST_ALGORITHM}:{self.sha256}"


def write_warc(
    captures: Sequence[tuple[StoredCapture, bytes]], info: Mapping[str, str], created: datetime
) -> bytes:
    """A gzipped WARC: a warcinfo record, then a response and a metadata record per capture."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    writer.write_record(_fields_record(writer, "warcinfo", "", created, info))
    for capture, body in captures:
        response = _response(writer, capture, body)
        writer.write_record(response)
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        writer.write_record(_metadata(writer, capture, record_id))
    return out.getvalue()


def read_payloads(data: bytes) -> list[WarcPayload]:
    """Every response record of a (gzipped) WARC, its payload hashed as read."""
    payloads = []
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type != "response":
            continue
        headers = record.rec_headers
        payloads.append(
            WarcPayload(
                uri=headers.get_header("WARC-Target-URI") or "",
                date=headers.get_header("WARC-Date") or "",
                declared=headers.get_header("WARC-Payload-Digest") or "",
                sha256=hashlib.sha256(record.raw_stream.read()).hexdigest(),
            )
        )
    return payloads


def warc_date(moment: datetime) -> str:
    """WARC-Date: UTC, with the fraction of a second only when there is one."""
    moment = moment.astimezone(UTC)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _response(writer: WARCWriter, capture: StoredCapture, body: bytes) -> Any:
    http_headers = StatusAndHeaders(
        f"{capture.status} {_reason(capture.status)}".strip(),
        [
            ("Content-Type", capture.content_type or "application/octet-stream"),
            ("Content-Length", str(len(body))),
        ],
        protocol="HTTP/1.1",
    )
    digest = hashlib.sha256(body).hexdigest()  # from the bytes written, never from a label
    return writer.create_warc_record(
        capture.url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http_headers,
        warc_headers_dict={
            "WARC-Date": warc_date(capture.captured_at),
            "WARC-Payload-Digest": f"{DIGEST_ALGORITHM}:{digest}",
        },
    )


def _metadata(writer: WARCWriter, capture: StoredCapture, response_id: str) -> Any:
    fields = {
        "capture-id": str(capture.id),
        "capture-source": capture.source.value,
        "archived-copy": capture.archive_url or "",
        "final-url": capture.final_url or "",
        "cdx-digest": capture.digest or "",
    }
    record = _fields_record(writer, "metadata", capture.url, capture.captured_at, fields)
    record.rec_headers.add_header("WARC-Concurrent-To", response_id)
    return record


def _fields_record(
    writer: WARCWriter, kind: str, uri: str, moment: datetime, fields: Mapping[str, str]
) -> Any:
    text = "".join(f"{name}: {_one_line(value)}\r\n" for name, value in fields.items() if value)
    headers = {"WARC-Date": warc_date(moment)}
    if kind == "warcinfo":
        headers["WARC-Filename"] = WARC_FILENAME
    return writer.create_warc_record(
        uri,
        kind,
        payload=io.BytesIO(text.encode()),
        length=len(text.encode()),
        warc_content_type=FIELDS_TYPE,
        warc_headers_dict=headers,
    )


def _one_line(value: str) -> str:
    # A line break inside a value would start a new field.
    return " ".join(value.split())


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
