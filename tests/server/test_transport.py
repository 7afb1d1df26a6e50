"""Envelopes for every failure, and HTTPS with _ssl=false for plain HTTP."""

from __future__ import annotations

import asyncio

import pytest
import requests

from tagocheck.server import api
from tagocheck.server.accounts import Account
from tagocheck.server.faults import Faults
from tagocheck.server.plans import RateLimiter
from tagocheck.server.store import Store

from .conftest import Client


def test_unknown_route_and_wrong_method_are_envelopes(client: Client):
    missing = client.call("GET", "/no/such/route")
    assert missing.status_code == 404 and missing.json()["status"] is False
    wrong = client.call("PATCH", "/data", client.target.profile_token)
    assert wrong.status_code == 405 and wrong.json()["status"] is False
    assert set(wrong.headers["Allow"].split(", ")) == {"DELETE", "GET", "POST", "PUT"}


def test_an_unexpected_exception_is_a_500_envelope_without_detail(tmp_path, monkeypatch):
    async def explode(app, request):
        raise RuntimeError("secret internal detail")

    async def scenario():
        store = Store(tmp_path / "db.sqlite3")
        store.start(asyncio.get_running_loop())
        account = Account(store)
        app = api.target_app(store, account, RateLimiter("unlimited"), Faults(), plan="unlimited")
        monkeypatch.setitem(
            app._static, ("GET", "/info"), api.Route("GET", "/info", api.Access.ANY_TOKEN, explode)
        )
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        token = account.profile_token.encode()
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/info",
            "query_string": b"",
            "headers": [(b"token", token)],
            "scheme": "http",
        }
        await app(scope, receive, send)
        store.close()
        return sent

    start, body = asyncio.run(scenario())
    assert start["status"] == 500
    assert body["body"] == b'{"status":false,"message":"Internal server error"}'


@pytest.fixture
def tls_target(start):
    return start("--tls")


def test_https_with_the_generated_ca(tls_target):
    info = tls_target.info
    assert info["url"].startswith("https://") and info["ca_cert"]
    response = requests.get(
        info["url"] + "/info", headers={"Token": info["profile_token"]}, verify=info["ca_cert"]
    )
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(info["url"] + "/info", timeout=5)  # verification is on: an unknown CA fails


def test_plain_http_needs_ssl_false(tls_target):
    info = tls_target.info
    headers = {"Token": info["profile_token"]}
    refused = requests.get(info["http_url"] + "/info", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {
        "status": False,
        "message": "HTTPS required: send _ssl=false to use plain HTTP",
    }
    as_header = requests.get(info["http_url"] + "/info", headers={**headers, "_ssl": "false"})
    as_query = requests.get(info["http_url"] + "/info?_ssl=false", headers=headers)
    assert as_header.status_code == 200 and as_query.status_code == 200
    recased = requests.get(info["http_url"] + "/info?_SSL=False", headers=headers)
    assert recased.status_code == 200, "the query key is read case-insensitively, as the header"


def test_the_contract_suite_names_the_ssl_false_refusal_and_passes_with_the_option(tls_target):
    """Against the plain-HTTP port the suite says what the 403 asks for, and --ssl-false sends
    it: the whole run then works over plain HTTP."""
    import subprocess

    from tests.contract_runs import ROOT, contract_command

    info = tls_target.info
    command = contract_command("contract/test_transport.py", plan="starter")
    command += ["--target", info["http_url"], "--profile-token", info["profile_token"]]
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert "pass --ssl-false to send _ssl=false" in refused.stdout + refused.stderr
    accepted = subprocess.run(
        [*command, "--ssl-false", "-k", "ssl_false or headers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert accepted.returncode == 0, accepted.stdout[-2000:]
