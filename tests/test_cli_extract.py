"""`monitor extract` through click's CliRunner: output, JSON contract, one-line errors."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

FOOTERS = Path(__file__).parent / "data" / "footers"


def test_extract_json_prints_the_contract_fields() -> None:
    result = CliRunner().invoke(cli, ["extract", str(FOOTERS / "uk-guardian.html"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["operator"] == "Guardian News & Media Limited"
    assert data["copyright"][0]["holders"] == ["Guardian News & Media Limited"]
    assert data["copyright"][0]["years"] == [2019, 2019]
    assert {"name", "legal_form", "role", "source"} <= set(data["entities"][0])
    assert data["registrations"] == []


def test_extract_table_names_operator_and_registration_region() -> None:
    result = CliRunner().invoke(cli, ["extract", str(FOOTERS / "cn-csdn.html")])
    assert result.exit_code == 0, result.output
    assert "Operator: 北京创新乐知网络技术有限公司" in result.output
    assert "京ICP备19004658号" in result.output
    assert "Beijing" in result.output


def test_extract_missing_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["extract", str(tmp_path / "nope.html")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'nope.html'}: no such file"]


def test_extract_binary_file_reports_unreadable(tmp_path: Path) -> None:
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = CliRunner().invoke(cli, ["extract", str(png), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["readable"] is False
    assert data["operator"] is None


class _Pages(BaseHTTPRequestHandler):
    """Serves the Guardian corpus page at /guardian and a 500 anywhere else."""

    def do_GET(self) -> None:
        if self.path == "/guardian":
            body = (FOOTERS / "uk-guardian.html").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        else:
            body = b"<html><body>server error</body></html>"
            self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_extract_fetches_a_url(site: str) -> None:
    result = CliRunner().invoke(cli, ["extract", f"{site}/guardian", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["operator"] == "Guardian News & Media Limited"


def test_extract_url_with_server_error_is_one_line_error(site: str) -> None:
    result = CliRunner().invoke(cli, ["extract", f"{site}/missing"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {site}/missing: HTTP 500"]


def test_extract_unreachable_url_is_one_line_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(cli, ["extract", f"http://127.0.0.1:{port}/"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: http://127.0.0.1:{port}/: ConnectError")
