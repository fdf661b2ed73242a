"""Live checks against local HTTP servers (127.0.0.1 only): the site, a fake Save Page Now 2
API and a webhook receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from test_lists import BEIJING as LISTED_BEIJING
from test_lists import OPERATOR_NOTE, write_csl
from test_lists import SHANGHAI as UNLISTED_SHANGHAI
from test_ratelimit import FakeClock  # Save Page Now's pacing without waiting

from monitor import spn
from monitor.check import FetchBounds, UrlCheck, assess, run_check
from monitor.cli import cli
from monitor.config import Settings
from monitor.extract import extract
from monitor.lists import import_list
from monitor.models import CaptureSource, ChangeField, CheckOutcome
from monitor.pipeline import Observation
from monitor.status import url_states
from monitor.store import Store, StoredChange, captures_for_url, list_changes, sync_sites
from monitor.watchlist import AlertTarget, AlertType, Site

OPERATOR = "Acme Widgets Co., Ltd."
BEIJING_ICP = "京ICP备12345678号-1"
SHANGHAI_ICP = "沪ICP备87654321号-1"
SPN_TIMESTAMP = "20260820093000"
# Short, so that a slow site is given up quickly; long enough for loopback on a loaded
# machine (at 0.5 s a fetch timed out with three test runs sharing two cores).
FETCH_TIMEOUT = 2.0


def footer_page(operator: str = OPERATOR, icp: str = BEIJING_ICP) -> bytes:
    """A page whose footer names ``operator`` and an ICP filing."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Acme</title></head>\n'
        "<body><main><h1>Acme widgets</h1><p>News of the week.</p></main>\n"
        f"<footer><p>© 2024 {operator} All rights reserved.</p>"
        f'<p><a href="https://beian.miit.gov.cn/">{icp}</a></p></footer></body></html>'
    ).encode()


CHALLENGE = b"<html><body><h1>Checking your browser before accessing</h1></body></html>"


@dataclass(frozen=True)
class Answer:
    """What the local server answers on a path: status, body, headers, and a delay first."""

    body: bytes = b""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    """One HTTP server on 127.0.0.1 for a test: site pages, fake SPN and webhooks.

    ``answers`` maps a path to an :class:`Answer` (or a function of the request giving one);
    every request is kept in ``seen``.
    """

    port: int = 0
    answers: dict[str, Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path)]

    def answer(self, seen: Seen) -> Answer:
        self.seen.append(seen)
        found = self.answers.get(seen.path.split("?")[0])
        if found is None:
            return Answer(b"not found", 404)
        return found(seen) if callable(found) else found


@contextmanager
def local_server() -> Iterator[LocalServer]:
    """A :class:`LocalServer` listening on 127.0.0.1 for the duration of the block."""
    state = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._reply(b"")

        def do_POST(self) -> None:
            self._reply(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def _reply(self, body: bytes) -> None:
            answer = state.answer(Seen(self.command, self.path, dict(self.headers), body))
            if answer.delay and state.stopping.wait(answer.delay):
                return
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output clean."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client that gave up on a slow answer is expected here."""

    httpd = Server(("127.0.0.1", 0), Handler)
    state.port = httpd.server_port
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as state:
        yield state


def fake_spn(server: LocalServer, error: dict[str, str] | None = None) -> None:
    """Answer SPN2's ``POST /save`` and ``GET /save/status/<job>`` on ``server``: every job
    succeeds at :data:`SPN_TIMESTAMP`, or fails with ``error`` (``status_ext``, ``message``)."""

    def save(seen: Seen) -> Answer:
        url = parse_qs(seen.body.decode())["url"][0]
        job = len(server.requests("POST", "/save"))
        server.answers[f"/save/status/job-{job}"] = _json_answer(
            {"status": "error", **error}
            if error
            else {"status": "success", "timestamp": SPN_TIMESTAMP, "original_url": url}
        )
        return _json_answer({"url": url, "job_id": f"job-{job}"})

    server.answers["/save"] = save


def _json_answer(value: object) -> Answer:
    return Answer(json.dumps(value).encode(), headers=(("Content-Type", "application/json"),))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Harness:
    """A store, the local server and settings pointing Save Page Now at it."""

    store: Store
    server: LocalServer
    settings: Settings
    clock: FakeClock = field(default_factory=FakeClock)
    sites: list[Site] = field(default_factory=list)

    def site(self, site_id: str, *paths: str, **options: Any) -> Site:
        """A site of pages on the local server (or of ``urls``), synced into the store."""
        urls = options.pop("urls", ()) or tuple(self.server.url(p) for p in paths)
        site = Site(site_id, site_id.title(), urls, **options)
        self.sites.append(site)
        with self.store.session() as session:
            sync_sites(session, self.sites)
        return site

    def check(self, *sites: Site, alerts: tuple[AlertTarget, ...] = ()) -> tuple[UrlCheck, ...]:
        limiter = spn.SpnLimiter(clock=self.clock.time, sleep=self.clock.sleep)
        return run_check(self.store, self.settings, sites, alerts, spn_limiter=limiter)

    def changes(self) -> list[StoredChange]:
        with self.store.session(write=False) as session:
            return list_changes(session)


@pytest.fixture
def harness(store: Store, server: LocalServer) -> Harness:
    fake_spn(server)
    settings = Settings(
        fetch_timeout=FETCH_TIMEOUT,
        spn_access_key="access",
        spn_secret_key="secret",
        spn_url=server.url(""),
    )
    return Harness(store, server, settings)


def webhook(server: LocalServer) -> AlertTarget:
    server.answers["/hook"] = Answer(b"", 204)
    return AlertTarget(AlertType.WEBHOOK, server.url("/hook"))


# --- a change, and no change -----------------------------------------------------------------


def test_footer_change_between_two_checks_is_one_evidence_item_saved_and_alerted(
    harness: Harness, server: LocalServer
) -> None:
    site, alerts = harness.site("acme", "/"), (webhook(server),)
    server.answers["/"] = Answer(footer_page(icp=BEIJING_ICP))
    (first,) = harness.check(site, alerts=alerts)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
    (second,) = harness.check(site, alerts=alerts)

    (change,) = harness.changes()
    assert (first.outcome, second.outcome) == (CheckOutcome.BASELINE, CheckOutcome.CHANGED)
    assert change.field is ChangeField.REGISTRATION
    assert (change.old, change.new) == (
        {"icp_filing": [BEIJING_ICP]},
        {"icp_filing": [SHANGHAI_ICP]},
    )
    assert (change.before.id, change.after.id) == (first.capture_id, second.capture_id)
    assert change.before.source is change.after.source is CaptureSource.LIVE
    saved = f"{server.url('')}/web/{SPN_TIMESTAMP}/{site.urls[0]}"
    assert change.archive_copy_url == saved == second.archive_copy_url
    (submitted,) = server.requests("POST", "/save")
    assert parse_qs(submitted.body.decode())["url"] == [site.urls[0]]
    assert submitted.headers["Authorization"] == "LOW access:secret"
    (delivered,) = server.requests("POST", "/hook")
    payload = json.loads(delivered.body)
    assert (payload["id"], payload["archive_copy_url"]) == (change.id, saved)
    assert SHANGHAI_ICP in payload["message"]


def test_unchanged_page_records_no_change_submission_or_alert(
    harness: Harness, server: LocalServer
) -> None:
    site, alerts = harness.site("acme", "/"), (webhook(server),)
    server.answers["/"] = Answer(footer_page())
    harness.check(site, alerts=alerts)
    (again,) = harness.check(site, alerts=alerts)

    assert again.outcome is CheckOutcome.UNCHANGED
    assert again.operator == OPERATOR
    assert harness.changes() == []
    assert server.requests("POST", "/") == []
    with harness.store.session(write=False) as session:
        assert len(captures_for_url(session, site.urls[0], CaptureSource.LIVE)) == 2


def test_changes_found_together_share_one_save_page_now_copy(
    harness: Harness, server: LocalServer
) -> None:
    site = harness.site("acme", "/")
    server.answers["/"] = Answer(footer_page())
    harness.check(site)
    server.answers["/"] = Answer(footer_page(operator="Acme Gadgets Co., Ltd."))
    (checked,) = harness.check(site)

    changes = harness.changes()
    assert {c.field for c in changes} == {
        ChangeField.OPERATOR,
        ChangeField.ENTITIES,
        ChangeField.COPYRIGHT,
    }
    assert len(server.requests("POST", "/save")) == 1
    assert {c.archive_copy_url for c in changes} == {checked.archive_copy_url}


def test_a_move_away_from_a_listed_entity_says_so_in_its_alert(
    harness: Harness, server: LocalServer, tmp_path: Path
) -> None:
    import_list(harness.store, write_csl(tmp_path / "consolidated.csv"))
    site, alerts = harness.site("sensetime", "/"), (webhook(server),)
    server.answers["/"] = Answer(footer_page(LISTED_BEIJING))
    harness.check(site, alerts=alerts)
    server.answers["/"] = Answer(footer_page(UNLISTED_SHANGHAI))
    harness.check(site, alerts=alerts)

    payloads = {
        payload["field"]: payload
        for payload in (json.loads(seen.body) for seen in server.requests("POST", "/hook"))
    }
    operator = payloads["operator"]  # the copyright line moved too, and has its own alert
    assert operator["kind"] == "relocation"
    assert OPERATOR_NOTE in operator["message"]
    assert [match["name"] for match in operator["screening"]["old"]] == [LISTED_BEIJING]


def test_an_alert_a_target_refused_is_sent_again_by_the_next_pass(
    harness: Harness, server: LocalServer
) -> None:
    site, alerts = harness.site("acme", "/"), (webhook(server),)
    server.answers["/"] = Answer(footer_page(icp=BEIJING_ICP))
    harness.check(site, alerts=alerts)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
    server.answers["/hook"] = Answer(b"bad gateway config", 400)  # final: no retry this pass
    (refused,) = harness.check(site, alerts=alerts)
    server.answers["/hook"] = Answer(b"", 204)
    (unchanged,) = harness.check(site, alerts=alerts)
    harness.check(site, alerts=alerts)  # nothing owed any more

    (change,) = harness.changes()
    assert (refused.alerts_failed, unchanged.outcome) == (1, CheckOutcome.UNCHANGED)
    first, second = server.requests("POST", "/hook")
    assert json.loads(first.body)["id"] == json.loads(second.body)["id"] == change.id
    with harness.store.session(write=False) as session:
        rounds = session.execute(text("SELECT ok, error FROM alert_deliveries ORDER BY id"))
        assert [(bool(ok), error) for ok, error in rounds] == [
            (False, "HTTP 400 Bad Request"),
            (True, None),
        ]


def test_save_page_now_failure_is_recorded_on_the_change(
    harness: Harness, server: LocalServer
) -> None:
    fake_spn(server, {"status_ext": "error:blocked-url", "message": "This URL is excluded."})
    site = harness.site("acme", "/")
    server.answers["/"] = Answer(footer_page(icp=BEIJING_ICP))
    harness.check(site)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
    (checked,) = harness.check(site)

    (change,) = harness.changes()
    assert change.archive_copy_url is None
    assert change.archive_copy_error == "error:blocked-url: This URL is excluded."
    assert checked.archive_copy_error == change.archive_copy_error


def test_without_save_page_now_keys_the_change_is_kept_and_nothing_submitted(
    harness: Harness, server: LocalServer
) -> None:
    harness.settings = Settings(fetch_timeout=FETCH_TIMEOUT, spn_url=server.url(""))
    site = harness.site("acme", "/")
    server.answers["/"] = Answer(footer_page(icp=BEIJING_ICP))
    harness.check(site)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
    harness.check(site)

    (change,) = harness.changes()
    assert (change.archive_copy_url, change.archive_copy_error) == (None, None)
    assert server.requests("POST", "/save") == []
    assert spn.missing_credentials_reported()


# --- pages that cannot be compared, sites that fail ------------------------------------------


def test_unreadable_page_is_stored_but_never_compared(
    harness: Harness, server: LocalServer
) -> None:
    site = harness.site("acme", "/")
    server.answers["/"] = Answer(footer_page(icp=BEIJING_ICP))
    (first,) = harness.check(site)
    server.answers["/"] = Answer(CHALLENGE)
    (challenged,) = harness.check(site)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP))
    (moved,) = harness.check(site)

    assert challenged.outcome is CheckOutcome.UNREADABLE
    assert challenged.capture_id is not None
    (change,) = harness.changes()  # the challenge page is skipped, not a change
    assert (change.before.id, change.after.id) == (first.capture_id, moved.capture_id)


def test_error_page_with_the_footer_is_kept_but_not_compared(
    harness: Harness, server: LocalServer
) -> None:
    site = harness.site("acme", "/")
    server.answers["/"] = Answer(footer_page())
    harness.check(site)
    server.answers["/"] = Answer(footer_page(icp=SHANGHAI_ICP), status=503)
    (erred,) = harness.check(site)
    server.answers["/"] = Answer(footer_page())
    (back,) = harness.check(site)

    assert (erred.outcome, erred.http_status, erred.error) == (
        CheckOutcome.HTTP_ERROR,
        503,
        "HTTP 503",
    )
    assert back.outcome is CheckOutcome.UNCHANGED  # compared with the first page, not the 503
    assert harness.changes() == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        pytest.param(None, "ConnectError", id="dead"),
        pytest.param(Answer(footer_page(), delay=3 * FETCH_TIMEOUT), "timed out", id="slow"),
        pytest.param(Answer(footer_page() + b" " * 2048), "larger than", id="too-large"),
    ],
)
def test_failing_site_records_a_failure_and_no_change_while_the_others_go_on(
    harness: Harness, server: LocalServer, answer: Answer | None, why: str
) -> None:
    harness.settings = replace(harness.settings, fetch_max_bytes=len(footer_page()) + 1024)
    good = harness.site("good", "/good")
    nothing_there = (f"http://127.0.0.1:{closed_port()}/",) if answer is None else ()
    bad = harness.site("bad", "/bad", urls=nothing_there)
    server.answers["/good"] = server.answers["/bad"] = Answer(footer_page(icp=BEIJING_ICP))
    harness.check(good, bad)
    server.answers["/good"] = Answer(footer_page(icp=SHANGHAI_ICP))
    server.answers["/bad"] = answer or server.answers["/bad"]
    started = time.monotonic()
    checked_good, checked_bad = harness.check(good, bad)

    assert time.monotonic() - started < 4 * FETCH_TIMEOUT + 2
    assert checked_good.outcome is CheckOutcome.CHANGED
    assert (checked_bad.outcome, checked_bad.capture_id) == (CheckOutcome.FAILED, None)
    assert why in (checked_bad.error or "")
    assert [c.site_id for c in harness.changes()] == ["good"]
    with harness.store.session(write=False) as session:
        state = url_states(session)[bad.urls[0]]
    assert (state.failures, state.last_error) == (
        1 if nothing_there == () else 2,
        checked_bad.error,
    )


# --- how pages are fetched -------------------------------------------------------------------


def test_redirects_are_followed_and_the_final_url_recorded(
    harness: Harness, server: LocalServer
) -> None:
    server.answers["/old"] = Answer(b"", 301, (("Location", "/new"),))
    server.answers["/new"] = Answer(footer_page())
    site = harness.site("acme", "/old")
    (checked,) = harness.check(site)

    assert checked.outcome is CheckOutcome.BASELINE
    assert (checked.redirects, checked.final_url) == ((site.urls[0],), server.url("/new"))
    with harness.store.session(write=False) as session:
        (capture,) = captures_for_url(session, site.urls[0])
    assert capture.final_url == server.url("/new")


def test_each_site_is_fetched_with_its_own_headers_and_user_agent(
    harness: Harness, server: LocalServer
) -> None:
    server.answers["/de"] = server.answers["/plain"] = Answer(footer_page())
    german = harness.site(
        "german", "/de", headers={"Accept-Language": "de-DE"}, user_agent="Mozilla/5.0 (case 7)"
    )
    plain = harness.site("plain", "/plain")
    harness.check(german, plain)

    (de,), (other,) = server.requests("GET", "/de"), server.requests("GET", "/plain")
    assert (de.headers["User-Agent"], de.headers["Accept-Language"]) == (
        "Mozilla/5.0 (case 7)",
        "de-DE",
    )
    assert other.headers["User-Agent"].startswith("monitor/")
    assert "Accept-Language" not in other.headers


def test_fetch_bounds_hold_per_host_and_overall() -> None:
    async def scenario() -> tuple[int, int, int]:
        bounds = FetchBounds(total=3, per_host=2)
        running: dict[str, int] = {}
        most = {"total": 0, "a": 0, "b": 0}

        async def fetch(host: str) -> None:
            async with bounds.slot(f"https://{host}.example/page"):
                running[host] = running.get(host, 0) + 1
                most[host] = max(most[host], running[host])
                most["total"] = max(most["total"], sum(running.values()))
                await asyncio.sleep(0.01)
                running[host] -= 1

        await asyncio.gather(*(fetch(host) for host in "ab" * 5))
        return most["total"], most["a"], most["b"]

    assert asyncio.run(scenario()) == (3, 2, 2)


# --- the comparison, as a table --------------------------------------------------------------

READABLE = extract(footer_page())
MOVED = extract(footer_page(icp=SHANGHAI_ICP))
UNREADABLE = extract(CHALLENGE)


def _seen(facts: Any, status: int = 200) -> Observation:
    return Observation(1, "0" * 64, status, facts, created=True)


@pytest.mark.parametrize(
    ("before", "after", "outcome", "changes"),
    [
        pytest.param(None, _seen(READABLE), CheckOutcome.BASELINE, 0, id="first"),
        pytest.param(_seen(READABLE), _seen(READABLE), CheckOutcome.UNCHANGED, 0, id="same"),
        pytest.param(_seen(READABLE), _seen(MOVED), CheckOutcome.CHANGED, 1, id="moved"),
        pytest.param(_seen(READABLE), _seen(UNREADABLE), CheckOutcome.UNREADABLE, 0, id="blank"),
        pytest.param(_seen(READABLE), _seen(MOVED, 404), CheckOutcome.HTTP_ERROR, 0, id="404"),
        pytest.param(None, _seen(READABLE, 500), CheckOutcome.HTTP_ERROR, 0, id="500-first"),
        pytest.param(_seen(READABLE), _seen(MOVED, 203), CheckOutcome.UNREADABLE, 0, id="203"),
    ],
)
def test_assess_compares_only_readable_pages_against_a_baseline(
    before: Observation | None, after: Observation, outcome: CheckOutcome, changes: int
) -> None:
    assert assess(before, after)[0] is outcome
    assert len(assess(before, after)[1]) == changes


# --- the command -----------------------------------------------------------------------------


def test_check_command_prints_the_table_and_exits_0_though_a_site_fails(
    tmp_path: Path, server: LocalServer
) -> None:
    server.answers["/"] = Answer(footer_page())
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(
        f"[settings]\nfetch_timeout = {FETCH_TIMEOUT}\n\n"
        f'[[site]]\nid = "acme"\nurls = ["{server.url("/")}"]\n\n'
        f'[[site]]\nid = "gone"\nurls = ["http://127.0.0.1:{closed_port()}/"]\n',
        encoding="utf-8",
    )
    args = ["--db", str(tmp_path / "m.db"), "--watchlist", str(watchlist), "check"]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "first capture" in result.output
    assert OPERATOR in result.output
    assert "ConnectError" in result.output
    assert "checked 2 URLs of 2 sites: 1 baseline, 1 failed; 0 changes recorded" in result.output


def test_check_command_names_an_unknown_site_with_exit_2(tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text('[[site]]\nid = "acme"\nurls = ["https://acme.example/"]\n')
    args = ["--db", str(tmp_path / "m.db"), "--watchlist", str(watchlist), "check", "acne"]
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2
    assert "unknown site id 'acne' (did you mean 'acme'?)" in result.output


def test_check_outcomes_as_the_daemon_logs_them() -> None:
    checked = UrlCheck(
        "acme",
        "https://acme.example/",
        CheckOutcome.CHANGED,
        datetime(2026, 8, 20, 9, 29, tzinfo=UTC),
        412,
        http_status=200,
        operator=OPERATOR,
        change_ids=(7,),
        fields=("operator",),
    )
    line = checked.to_json()
    assert {"ts", "site", "url", "status", "operator", "change", "duration_ms", "error"} <= set(
        line
    )
    assert (line["ts"], line["change"], line["status"]) == ("2026-08-20T09:29:00.000Z", True, 200)
