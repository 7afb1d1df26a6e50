"""The embedded target's TagoTiP HTTP binding: what it acknowledges is what GET /data reads back,
each error code comes on its cause with TagoTipServers §2.5's status, TagoTiP/S envelopes open
and answer sealed, and the fault modes break what they say."""

from __future__ import annotations

import pytest
import requests

from tagocheck.server.launcher import start_target
from tagocheck.tagotip import credentials, envelope
from tagocheck.tagotip.bodies import parse_variable_list

SERIAL = "sensor-01"


class Tip:
    """A target with one device of serial SERIAL, and the binding's URL and header."""

    def __init__(self, target) -> None:
        info = target.info
        self.target = target
        self.url = f"{info['tagotip_http_url']}/v1/tip/{SERIAL}"
        self.envelope_url = f"{info['tagotip_http_url']}/v1/tips"
        self.auth = {"Authorization": f"TagoTiP {info['tagotip_auth_hash']}"}
        self.hash = info["tagotip_auth_hash"]
        self.key = credentials.derive_key(info["authorization"], SERIAL, 16)
        made = requests.post(
            f"{info['url']}/device",
            json={"name": "tip", "type": "mutable", "serie_number": SERIAL},
            headers={"Profile-Token": target.profile_token},
            timeout=10,
        ).json()["result"]
        self.device_token = made["token"]

    def push(self, body: str, **headers: str) -> requests.Response:
        return requests.post(
            self.url, data=body.encode(), headers={**self.auth, **headers}, timeout=10
        )

    def stored(self) -> list[dict]:
        return requests.get(
            f"{self.target.url}/data",
            params={"qty": 10_000},
            headers={"Device-Token": self.device_token},
            timeout=10,
        ).json()["result"]

    def sealed(self, inner: str, counter: int, method: str = "PUSH", key: bytes | None = None):
        return envelope.seal(
            inner,
            key=key or self.key,
            method=method,
            counter=counter,
            auth_hash=self.hash,
            serial=SERIAL,
        )


@pytest.fixture(scope="module")
def tip(tmp_path_factory):
    with start_target(tmp_path_factory.mktemp("tip"), "--plan", "unlimited") as target:
        yield Tip(target)


def test_what_is_acknowledged_is_read_back_through_get_data(tip):
    before = len(tip.stored())
    answers = [
        tip.push("[temperature:=32.5#C;status=online;active?=true;position@=39.74,-104.99,305]"),
        tip.push("^batch_42@1694567890000{firmware=2.1}[temp:=32#C;humidity:=65#%]"),
        tip.push(">xDEADBEEF01020304"),
    ]
    assert [(a.status_code, a.text) for a in answers] == [(200, "4"), (200, "2"), (200, "1")]
    stored = tip.stored()
    assert len(stored) - before == 7
    by_name = {r["variable"]: r for r in stored}
    assert by_name["temperature"]["value"] == 32.5 and by_name["temperature"]["unit"] == "C"
    assert by_name["active"]["value"] is True
    assert by_name["humidity"]["group"] == "batch_42"
    assert by_name["humidity"]["time"] == "2023-09-13T01:18:10.000Z"
    assert by_name["humidity"]["metadata"] == {"firmware": "2.1"}
    assert by_name["payload"]["value"] == "DEADBEEF01020304"


def test_pull_answers_the_last_values_found_and_only_those(tip):
    tip.push("[pulled:=1@1000000000000]")
    tip.push("[pulled:=2@2000000000000;word=a\\;b]")
    answer = requests.get(tip.url, params={"variables": "pulled,word,absent"}, headers=tip.auth)
    assert answer.status_code == 200
    values = {v.name: v.value for v in parse_variable_list(answer.text)}
    assert values == {"pulled": 2, "word": "a;b"}
    none = requests.get(tip.url, params={"variables": "absent"}, headers=tip.auth)
    assert (none.status_code, none.text) == (404, "variable_not_found")


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda t: t.push("[a:=01]"), 400, "invalid_payload"),
        (lambda t: t.push("[]"), 400, "invalid_payload"),
        (lambda t: t.push("[a=" + "x" * 16_400 + "]"), 413, "payload_too_large"),
        (
            lambda t: t.push("[a:=1]", Authorization="TagoTiP 0000000000000000"),
            401,
            "invalid_token",
        ),
        (lambda t: t.push("[a:=1]", Authorization="Bearer x"), 401, "invalid_token"),
        (
            lambda t: requests.post(t.url.replace(SERIAL, "nobody"), data="[a:=1]", headers=t.auth),
            404,
            "device_not_found",
        ),
    ],
)
def test_each_error_on_its_cause_with_its_status(tip, send, status, code):
    before = len(tip.stored())
    answer = send(tip)
    assert (answer.status_code, answer.text) == (status, code)
    assert len(tip.stored()) == before  # atomic: nothing of a refused frame is kept


def test_head_is_a_ping(tip):
    assert requests.head(tip.url, headers=tip.auth).status_code == 204


def test_an_envelope_opens_answers_sealed_and_its_counter_is_held(tip):
    answer = requests.post(tip.envelope_url, data=tip.sealed(f"{SERIAL}|[sealed:=7]", 100))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    header, inner, _ = envelope.open_envelope(answer.content, [tip.key])
    assert (header.method, inner) == ("ACK", b"OK|1")
    replay = requests.post(tip.envelope_url, data=tip.sealed(f"{SERIAL}|[sealed:=8]", 100))
    assert envelope.open_envelope(replay.content, [tip.key])[1] == b"ERR|invalid_seq"
    seeds = [envelope.read_header(sealed.content).counter for sealed in (answer, replay)]
    assert seeds[0] != seeds[1]  # the server's own nonce seeds: a replay's answer reuses none
    wrong = requests.post(tip.envelope_url, data=tip.sealed(f"{SERIAL}|[x:=1]", 101, key=bytes(16)))
    assert (wrong.status_code, wrong.text) == (400, "ACK|ERR|auth_failed")


def test_the_plan_limits_uplinks_per_minute(tmp_path):
    with start_target(tmp_path, "--plan", "free") as target:
        tip = Tip(target)
        codes = [tip.push("[n:=1]").status_code for _ in range(65)]
    assert codes[:60] == [200] * 60  # Free: 60 a minute [D] (one window, well under a minute)
    assert set(codes[60:]) == {429}


@pytest.mark.parametrize(
    ("fault", "broken"),
    [
        ("wrong-count", lambda tip: tip.push("[a:=1;b:=2]").text == "3"),
        (
            "ignore-seq",
            lambda tip: (
                [
                    envelope.open_envelope(
                        requests.post(
                            tip.envelope_url, data=tip.sealed(f"{SERIAL}|[a:=1]", 5)
                        ).content,
                        [tip.key],
                    )[1]
                    for _ in range(2)
                ]
                == [b"OK|1", b"OK|1"]
            ),
        ),
    ],
)
def test_fault_modes_break_what_they_say(tmp_path, fault, broken):
    with start_target(tmp_path, "--plan", "unlimited", "--fault", fault) as target:
        assert broken(Tip(target))


def test_no_rate_limit_takes_every_uplink(tmp_path):
    with start_target(tmp_path, "--plan", "free", "--fault", "no-rate-limit") as target:
        tip = Tip(target)
        assert {tip.push("[n:=1]").status_code for _ in range(65)} == {200}
