"""From fetched bytes to stored evidence: the one path every capture takes.

A capture, archived (backfill) or live (the daemon), is stored with its raw bytes, then read by
the extractor, and the facts are stored beside it.  A capture stored before is found again
rather than stored twice, and its stored facts are reused when the current extractor wrote
them; otherwise the stored bytes are read again (never refetched).

The caller owns the transaction (a session from :meth:`monitor.store.Store.session`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from monitor import blobs, store
from monitor.extract import EXTRACTOR_VERSION, extract
from monitor.facts import Facts
from monitor.store import NewCapture, StoredCapture

# A page answered with another status (an archived 404 or 503, a redirect) is the server's
# page, not the site's, even when it carries a footer: it is kept but never compared.
READABLE_STATUSES = frozenset({200})


@dataclass(frozen=True)
class Observation:
    """A stored capture and the facts read from it.

    ``readable`` is False when the facts are unreadable or the status is not one a page is
    served with; such an observation is kept as evidence but never compared.
    """

    capture_id: int
    sha256: str
    status: int
    facts: Facts
    created: bool  # False: the capture was in the store already

    @property
    def readable(self) -> bool:
        """Whether the capture may be compared with others."""
        return self.facts.readable and self.status in READABLE_STATUSES


def observe(session: Session, capture: NewCapture, body: bytes) -> Observation:
    """Store ``capture`` with ``body`` and the facts the current extractor reads from it.

    Storing the same capture again adds nothing and returns the facts stored the first time.
    """
    ref = store.add_capture(session, capture, body)
    page_url = capture.final_url or capture.url
    if ref.created:  # a capture stored just now has no extraction yet: no need to look
        facts = extract(body, content_type=capture.content_type, url=page_url)
        store.add_extraction(session, ref.id, facts, EXTRACTOR_VERSION)
    else:
        facts = _current_facts(session, ref.id, lambda: body, capture.content_type, page_url)
    return Observation(ref.id, ref.sha256, capture.status, facts, ref.created)


def recall(session: Session, capture: StoredCapture) -> Observation:
    """The observation of a capture already stored, re-extracting its stored bytes only when
    the current extractor has not read them."""

    def body() -> bytes:
        return blobs.read_body(session, capture.sha256)

    page_url = capture.final_url or capture.url
    facts = _current_facts(session, capture.id, body, capture.content_type, page_url)
    return Observation(capture.id, capture.sha256, capture.status, facts, created=False)


def _current_facts(
    session: Session,
    capture_id: int,
    body: Callable[[], bytes],  # read only when the stored facts cannot be reused
    content_type: str | None,
    url: str,
) -> Facts:
    stored = store.latest_extraction(session, capture_id)
    if stored is not None and stored.extractor_version == EXTRACTOR_VERSION:
        return stored.facts
    facts = extract(body(), content_type=content_type, url=url)
    store.add_extraction(session, capture_id, facts, EXTRACTOR_VERSION)
    return facts
