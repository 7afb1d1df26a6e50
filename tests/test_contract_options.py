"""The contract suite's options: TLS verification on by default, and bad targets in one line."""

from __future__ import annotations

import subprocess

import pytest

from tagocheck.server.launcher import start_target

from .contract_runs import ROOT, contract_command


def contract(*args: str) -> subprocess.CompletedProcess:
    command = [*contract_command("contract/test_routes.py"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tls_target(tmp_path_factory):
    with start_target(tmp_path_factory.mktemp("tls"), "--tls", "--plan", "starter") as target:
        yield target


def test_https_with_the_targets_ca(tls_target, tmp_path):
    info = tls_target.info
    done = contract(
        "--target",
        info["url"],
        "--profile-token",
        info["profile_token"],
        "--ca-cert",
        info["ca_cert"],
        "--contract-report",
        str(tmp_path / "r.json"),
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_tls_verification_is_on_by_default(tls_target, tmp_path):
    info = tls_target.info
    done = contract(
        "--target",
        info["url"],
        "--profile-token",
        info["profile_token"],
        "--contract-report",
        str(tmp_path / "r.json"),
    )
    assert done.returncode == 2
    assert "TLS verification failed" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_insecure_skips_verification(tls_target, tmp_path):
    info = tls_target.info
    done = contract(
        "--target",
        info["url"],
        "--profile-token",
        info["profile_token"],
        "--insecure",
        "--contract-report",
        str(tmp_path / "r.json"),
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_an_unreachable_target_is_one_line():
    done = contract("--target", "http://127.0.0.1:9", "--profile-token", "p-x")
    assert done.returncode == 2
    assert "cannot reach http://127.0.0.1:9: connection refused" in done.stdout + done.stderr


def test_a_refused_profile_token_is_one_line(tls_target):
    info = tls_target.info
    done = contract(
        "--target",
        info["url"],
        "--profile-token",
        "p-wrong-token-000000",
        "--ca-cert",
        info["ca_cert"],
    )
    assert done.returncode == 2
    assert "refused the profile token (HTTP 401: " in done.stdout + done.stderr


def test_target_without_profile_token(tls_target):
    done = contract("--target", tls_target.info["url"])
    assert done.returncode == 2 and "needs --profile-token" in done.stdout + done.stderr
