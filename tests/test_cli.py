"""The `tagocheck` command: clear output, one-line errors, exit codes a script can trust."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from tagocheck import cli

DEVICE_TOKEN = "2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f"


def run(capsys, monkeypatch, *argv, stdin=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_routes_shows_the_plan_limits(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "routes", "--plan", "starter")
    assert code == 0
    assert "POST /data" in out and "5,000" in out and "not documented" in out


def test_routes_refuses_an_unknown_plan_in_one_line(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "routes", "--plan", "gold")
    assert code == 2
    assert err.strip() == "tagocheck: unknown plan 'gold'; plans are free, starter, scale"


def test_validate_accepts_and_names_the_variant(capsys, monkeypatch):
    body = json.dumps({"status": False, "result": {"message": "Invalid token"}})
    code, out, _ = run(capsys, monkeypatch, "validate", "envelope", stdin=body)
    assert code == 0
    assert "variant: failure-message-in-result" in out


def test_validate_reports_violations_with_place(capsys, monkeypatch, tmp_path):
    file = tmp_path / "body.json"
    file.write_text(json.dumps({"status": "true", "result": 1}))
    code, out, _ = run(capsys, monkeypatch, "validate", "envelope", str(file))
    assert code == 1
    assert "/status: 'true' is not of type 'boolean'" in out


def test_validate_redacts_tokens_in_messages(capsys, monkeypatch):
    body = json.dumps({"device_id": DEVICE_TOKEN, "token": DEVICE_TOKEN})
    code, out, _ = run(capsys, monkeypatch, "validate", "results/device#created", stdin=body)
    assert code == 1
    assert DEVICE_TOKEN not in out
    assert "2b1f…" in out


def test_validate_an_html_body_is_bad_input_not_a_traceback(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "validate", "envelope", stdin="<html>502</html>")
    assert code == 2
    assert err.startswith("tagocheck: - is not JSON")
    assert "Traceback" not in err


def test_validate_unknown_schema_and_missing_file(capsys, monkeypatch, tmp_path):
    code, _, err = run(capsys, monkeypatch, "validate", "nope", "x.json")
    assert code == 2 and "no schema named 'nope'" in err
    code, _, err = run(capsys, monkeypatch, "validate", "envelope", str(tmp_path / "gone.json"))
    assert code == 2 and "cannot read" in err


def test_validate_list(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "validate", "--list")
    assert code == 0
    assert "results/data" in out.split()


def test_a_wrong_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["routes", "--plna", "free"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --plna" in capsys.readouterr().err


def test_the_installed_command_runs():
    done = subprocess.run(
        [sys.executable, "-m", "tagocheck", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("capacity", "routes", "validate"):
        assert command in done.stdout
