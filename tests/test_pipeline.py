"""From bytes to a stored capture and its facts, once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor import pipeline
from monitor.demo import BEIJING_SENSETIME
from monitor.demo.pages import Brand, homepage, server_error
from monitor.extract import EXTRACTOR_VERSION
from monitor.facts import Facts
from monitor.models import CaptureSource
from monitor.store import (
    NewCapture,
    Store,
    add_capture,
    add_extraction,
    captures_for_url,
    latest_extraction,
)

PAGE = homepage(Brand("商汤科技", "SenseTime", "www.sensetime.com"), BEIJING_SENSETIME, 2021, "n")
AT = datetime(2021, 8, 9, 6, 15, 40, tzinfo=UTC)


def capture(url: str, status: int = 200) -> NewCapture:
    return NewCapture(
        url=url,
        source=CaptureSource.WAYBACK,
        captured_at=AT,
        status=status,
        content_type="text/html; charset=utf-8",
        archive_url=f"https://web.archive.org/web/20210809061540id_/{url}",
    )


def test_observe_stores_the_capture_and_the_facts_the_extractor_reads(
    store: Store, watched_url: str
) -> None:
    with store.session() as session:
        seen = pipeline.observe(session, capture(watched_url), PAGE)
    assert seen.created
    assert seen.readable
    assert seen.facts.operator == BEIJING_SENSETIME.zh
    with store.session() as session:
        stored = latest_extraction(session, seen.capture_id)
    assert stored is not None
    assert stored.extractor_version == EXTRACTOR_VERSION
    assert stored.facts == seen.facts


def test_observing_the_same_capture_again_stores_nothing_new(
    store: Store, watched_url: str
) -> None:
    with store.session() as session:
        first = pipeline.observe(session, capture(watched_url), PAGE)
        first_extraction = latest_extraction(session, first.capture_id)
    with store.session() as session:
        again = pipeline.observe(session, capture(watched_url), PAGE)
        again_extraction = latest_extraction(session, again.capture_id)
        stored = captures_for_url(session, watched_url)
    assert not again.created
    assert again.capture_id == first.capture_id
    assert len(stored) == 1
    assert first_extraction is not None
    assert again_extraction is not None
    assert again_extraction.extracted_at == first_extraction.extracted_at


def test_recall_reuses_facts_the_current_extractor_wrote(store: Store, watched_url: str) -> None:
    with store.session() as session:
        seen = pipeline.observe(session, capture(watched_url), PAGE)
        before = latest_extraction(session, seen.capture_id)
    with store.session() as session:
        (stored,) = captures_for_url(session, watched_url)
        recalled = pipeline.recall(session, stored)
        after = latest_extraction(session, seen.capture_id)
    assert recalled.facts == seen.facts
    assert not recalled.created
    assert before is not None
    assert after is not None
    assert after.extracted_at == before.extracted_at


def test_recall_reads_the_stored_bytes_again_when_the_extractor_changed(
    store: Store, watched_url: str
) -> None:
    stale = Facts(operator="Stale Reading Ltd.", extractor_version="0")
    with store.session() as session:
        ref = add_capture(session, capture(watched_url), PAGE)
        add_extraction(session, ref.id, stale, "0")
    with store.session() as session:
        (stored,) = captures_for_url(session, watched_url)
        recalled = pipeline.recall(session, stored)
        latest = latest_extraction(session, ref.id)
    assert recalled.facts.operator == BEIJING_SENSETIME.zh
    assert latest is not None
    assert latest.extractor_version == EXTRACTOR_VERSION


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, PAGE), (200, server_error("502 Bad Gateway"))],
    ids=["archived-503-with-a-footer", "error-page-served-with-200"],
)
def test_an_error_status_or_a_page_without_footer_is_kept_but_not_readable(
    store: Store, watched_url: str, status: int, body: bytes
) -> None:
    with store.session() as session:
        seen = pipeline.observe(session, capture(watched_url, status), body)
    assert seen.created
    assert not seen.readable
