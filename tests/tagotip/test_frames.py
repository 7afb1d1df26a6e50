"""TagoTiP frames: the specification's own examples parse as it says, every rule with a section
refuses what breaks it with the error code §9.2 gives, and any frame built parses back whole."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagocheck.tagotip import bodies, grammar
from tagocheck.tagotip.bodies import Location, Passthrough, PushBody, Variable, parse_push_body
from tagocheck.tagotip.frames import Ack, Uplink, echoed_counter, parse_ack, parse_uplink
from tagocheck.tagotip.grammar import FrameError
from tagocheck.tagotip.strategies import invalid_bodies, push_bodies

AUTH = "4deedd7bab8817ec"


def body_of(frame: str) -> PushBody:
    body = parse_push_body(parse_uplink(frame).body)
    assert isinstance(body, PushBody)
    return body


# --- the specification's examples (TagoTiP.md §4.1, §6, §11) --------------------------------


def test_typed_values_parse_as_section_11_3_says():
    body = body_of(f"PUSH|{AUTH}|sensor-0A1F|[temperature:=32.5#C;status=online;active?=true]")
    assert [(v.name, v.kind, v.value, v.unit) for v in body.variables] == [
        ("temperature", "number", 32.5, "C"),
        ("status", "string", "online", None),
        ("active", "boolean", True, None),
    ]
    assert body_of(f"PUSH|{AUTH}|s|[temperature:=-15.3#C]").variables[0].value == -15.3


def test_location_with_altitude_section_11_4():
    body = body_of(f"PUSH|{AUTH}|drone-07|[altitude:=305#m;position@=39.74,-104.99,305]")
    assert body.variables[1].value == Location(39.74, -104.99, 305.0)


def test_body_level_defaults_cascade_and_metadata_merges_section_6_4():
    body = body_of(
        f"PUSH|{AUTH}|sensor-01|^batch_42@1694567890000{{firmware=2.1}}[temp:=32#C;humidity:=65#%]"
    )
    assert [(p.group, p.time, dict(p.metadata)) for p in body.points()] == [
        ("batch_42", 1694567890000, {"firmware": "2.1"})
    ] * 2
    merged = body_of(f"PUSH|{AUTH}|s|{{firmware=2.1}}[temp:=32{{source=dht22}};humidity:=65]")
    assert [dict(p.metadata) for p in merged.points()] == [
        {"firmware": "2.1", "source": "dht22"},
        {"firmware": "2.1"},
    ]
    overridden = body_of(f"PUSH|{AUTH}|s|@1694567890000[temp:=32@1694567891000;humidity:=65]")
    assert [p.time for p in overridden.points()] == [1694567891000, 1694567890000]


def test_full_variable_form_section_6_3_3():
    (variable,) = body_of(
        f"PUSH|{AUTH}|s|[temperature:=32.5#C@1694567890000^reading_001"
        "{source=dht22,quality=high}]"
    ).variables
    assert variable == Variable(
        "temperature",
        "number",
        32.5,
        "C",
        1694567890000,
        "reading_001",
        {"source": "dht22", "quality": "high"},
    )


def test_datalogger_repeats_a_variable_section_11_7():
    body = body_of(
        f"PUSH|{AUTH}|datalogger-7|[temp:=32@1694567890000;temp:=33@1694567900000;"
        "temp:=31@1694567910000]"
    )
    assert [v.value for v in body.variables] == [32, 33, 31]


def test_passthrough_section_6_5():
    assert parse_push_body(">xDEADBEEF01020304") == Passthrough("x", "DEADBEEF01020304")
    assert parse_push_body(">b3q2+7wECAwQ=") == Passthrough("b", "3q2+7wECAwQ=")
    with pytest.raises(FrameError, match="invalid_payload"):
        parse_push_body(">xABC")  # odd-length hex


def test_counter_pull_and_ping_section_4_1():
    assert parse_uplink(f"PUSH|!42|{AUTH}|sensor-01|[temperature:=32]").seq == 42
    assert parse_uplink(f"PING|{AUTH}|sensor-01") == Uplink("PING", AUTH, "sensor-01")
    assert parse_uplink(f"PING|!5|{AUTH}|sensor-01\n").seq == 5  # §3: LF optional
    pull = parse_uplink(f"PULL|!7|{AUTH}|weather-denver|[temperature;humidity]")
    assert bodies.parse_pull_body(pull.body) == ("temperature", "humidity")


def test_acks_of_section_9_3():
    for text in (
        "ACK|OK|2",
        "ACK|OK|[temperature:=32#F@1694567890000]",
        "ACK|PONG",
        "ACK|CMD|reboot",
        "ACK|CMD|ota=https://example.com/v2.1.bin",
        "ACK|ERR|invalid_token",
        "ACK|!6|ERR|invalid_seq",
        "ACK|!3|PONG",
    ):
        assert parse_ack(text).text() == text
    assert parse_ack("ACK|!1|OK|2") == Ack("OK", "2", 1)
    assert parse_ack("ACK|!1|OK|2").count == 2


def test_escapes_decode_section_4_4():
    (variable,) = body_of(f"PUSH|{AUTH}|s|[note=a\\|b\\;c\\]d\\nnew\\\\e,f]").variables
    assert variable.value == "a|b;c]d\nnew\\e,f"
    (meta,) = body_of(f"PUSH|{AUTH}|s|[n=x{{k=a\\,b=c}}]").variables
    assert meta.metadata == {"k": "a,b=c"}  # split on the first = (§12.2)


# --- the docs' forms the specification lacks ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "variant"),
    [
        (
            "@=39.74,-104.99@1694567890000^batch_01{firmware=2.1}[temperature:=25.5#C]",
            bodies.DOCS_LOCATION_MODIFIER,
        ),
        ("[speed:=45.2#km/h@=39.74,-104.99]", bodies.DOCS_LOCATION_SUFFIX),
        ("@1694567890000^batch_42[temp:=32#C]", bodies.DOCS_MODIFIER_ORDER),
    ],
)
def test_documented_forms_parse_named_and_strict_refuses_them(body, variant):
    parsed = parse_push_body(body)
    assert variant in parsed.variants
    with pytest.raises(FrameError, match="invalid_payload"):
        parse_push_body(body, strict=True)


# --- refusals, each with its code ------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (f"POST|{AUTH}|s|[a:=1]", "invalid_method"),
        (f"push|{AUTH}|s|[a:=1]", "invalid_method"),  # §1.3 case-sensitive
        ("PUSH|4deedd7b|s|[a:=1]", "invalid_token"),
        (f"PUSH|{AUTH}|s|[]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a:=01]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a:=1e3]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a=]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a?=True]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[p@=1,2#m]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a:=1{{}}]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a:=1^g#C]", "invalid_payload"),  # suffixes out of order
        (f"PUSH|{AUTH}|s|^a^b[a:=1]", "invalid_payload"),  # a modifier twice
        (f"PUSH|{AUTH}|s|[Temp:=1]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a:=1#{'u' * 26}]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[{'a' * 101}:=1]", "invalid_payload"),
        (f"PUSH|{AUTH}|{'s' * 101}|[a:=1]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[" + ";".join(["a:=1"] * 101) + "]", "invalid_payload"),
        (
            f"PUSH|{AUTH}|s|[a:=1{{" + ",".join(f"k{i}=v" for i in range(33)) + "}]",
            "invalid_payload",
        ),
        (f"PUSH|!01|{AUTH}|s|[a:=1]", "invalid_payload"),
        (f"PUSH|!4294967296|{AUTH}|s|[a:=1]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a=x\\q]", "invalid_payload"),  # no such escape
        (f"PUSH|{AUTH}|s", "invalid_payload"),
        (f"PING|{AUTH}|s|[a:=1]", "invalid_payload"),
        (f"PUSH|{AUTH}|s|[a=" + "x" * 16_384 + "]", "payload_too_large"),
    ],
)
def test_each_rule_refuses_with_its_code(frame, code):
    with pytest.raises(FrameError) as refused:
        uplink = parse_uplink(frame)
        if uplink.method == "PUSH":
            parse_push_body(uplink.body)
    assert refused.value.code == code
    assert refused.value.rule.startswith("§")


def test_a_frame_of_exactly_the_limit_is_taken():
    head = f"PUSH|{AUTH}|s|[a="
    frame = head + "x" * (grammar.MAX_FRAME_BYTES - len(head) - 1) + "]"
    assert len(frame) == grammar.MAX_FRAME_BYTES
    assert parse_uplink(frame + "\n").method == "PUSH"  # the LF is not counted (§4.5)


# --- round trips ----------------------------------------------------------------------------


def _same(parsed: PushBody, built: PushBody) -> bool:
    def plain(body: PushBody):
        return (
            [
                (
                    v.name,
                    v.kind,
                    float(v.value) if v.kind == "number" else v.value,
                    v.unit,
                    v.time,
                    v.group,
                    dict(v.metadata),
                )
                for v in body.variables
            ],
            body.group,
            body.time,
            dict(body.metadata),
        )

    return plain(parsed) == plain(built)


@given(
    push_bodies,
    st.none() | st.integers(0, grammar.MAX_COUNTER),
    st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
)
def test_any_push_frame_built_parses_back_whole(body, seq, serial):
    frame = Uplink("PUSH", AUTH, serial, body.text(), seq).text()
    uplink = parse_uplink(frame)
    assert (uplink.seq, uplink.serial, uplink.auth) == (seq, serial, AUTH)
    parsed = parse_push_body(uplink.body, strict=True)
    assert _same(parsed, body), (frame, parsed)


@given(st.sampled_from(["OK", "ERR", "CMD", "PONG"]), st.none() | st.integers(0, 2**32 - 1))
def test_any_ack_built_parses_back(status, seq):
    detail = {"OK": "3", "ERR": "rate_limited", "CMD": "reboot", "PONG": None}[status]
    assert parse_ack(Ack(status, detail, seq).text()) == Ack(status, detail, seq)


@given(invalid_bodies)
def test_each_break_of_a_valid_body_is_refused(broken):
    rule, body = broken
    with pytest.raises(FrameError) as refused:
        parse_push_body(body, strict=True)
    assert refused.value.code == "invalid_payload", rule


def test_the_counter_to_echo_is_read_from_the_head_of_any_uplink():
    """§9.5: a refused uplink's ACK still echoes its `!N`, read without parsing the rest."""
    assert echoed_counter(b"PUSH|!42|" + AUTH.encode() + b"|s|[a=" + b"x" * 20_000, 1) == 42
    assert echoed_counter(b"!4294967295|\xff\xfe", 0) == 4_294_967_295  # MQTT's payload
    assert echoed_counter(b"PUSH|" + AUTH.encode() + b"|s|[a:=1]", 1) is None
    assert echoed_counter(b"!007|[a:=1]", 0) is None  # not a counter (§10.3): nothing to echo
    assert echoed_counter(b"!12", 0) is None  # no body after it
