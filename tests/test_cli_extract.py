"""`monitor extract` through click's CliRunner: output, JSON contract, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

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
