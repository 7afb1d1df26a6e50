"""TagoTiP/S and the credentials: the specification's test vectors byte for byte, every cipher
suite round-trips, and a wrong key, a touched byte or an unknown version is refused with the
fallback code TagoTiPs §9 gives."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tagocheck.tagotip import credentials, envelope
from tagocheck.tagotip.envelope import EnvelopeError, open_envelope, seal

TOKEN = "ate2bd319014b24e0a8aca9f00aea4c0d0"  # the specification's example token
KEY = bytes.fromhex("fe09da81bc4400ee12ab56cd78ef9012")  # TagoTiPs §11.1
VECTOR = bytes.fromhex(  # TagoTiPs §11.1, the complete envelope
    "000000002a4deedd7bab8817ecab7788d22eb7372f"
    "c8c5aa56d755582bacea13bb572493bb8cb10803"
    "cf826fdb833b79c6"
)


def test_authorization_and_device_hashes_match_the_specification():
    assert credentials.authorization_hash(TOKEN) == "4deedd7bab8817ec"  # TagoTiP §2
    assert credentials.device_hash("sensor-01").hex() == "ab7788d22eb7372f"  # TagoTiPs §2.2
    assert credentials.mqtt_credentials("4deedd7bab8817ec") == ("4deedd7b", "ab8817ec")


def test_derived_key_matches_the_test_vector():
    derived = credentials.derive_key(TOKEN, "sensor-01", 32)  # TagoTiPs §2.4
    assert derived.hex() == "e505f03cc9e93fdbcc382844cca3e17fdf0bb31318585395ceaaa39a5d141964"
    assert credentials.derive_key(TOKEN, "sensor-01", 16) == derived[:16]


def test_the_aes_128_ccm_vector_byte_for_byte():
    sealed = seal(
        "sensor-01|[temp:=32]",
        key=KEY,
        method="PUSH",
        counter=42,
        auth_hash="4deedd7bab8817ec",
        serial="sensor-01",
    )
    assert sealed == VECTOR
    header, inner, _key = open_envelope(VECTOR, [KEY])
    assert (header.method, header.counter, header.suite.name) == ("PUSH", 42, "AES-128-CCM")
    assert inner == b"sensor-01|[temp:=32]"
    assert envelope.parse_inner_uplink("PUSH", inner) == ("sensor-01", "[temp:=32]")


def test_a_wrong_key_or_a_touched_byte_fails_auth_failed():
    with pytest.raises(EnvelopeError) as wrong:
        open_envelope(VECTOR, [bytes(16)])
    assert wrong.value.code == "auth_failed"
    for index in (1, 5, 13, 21, len(VECTOR) - 1):  # header (AAD), ciphertext, tag
        touched = bytearray(VECTOR)
        touched[index] ^= 1
        with pytest.raises(EnvelopeError, match="auth_failed"):
            open_envelope(bytes(touched), [KEY])


def test_a_second_candidate_key_opens_it():
    # devices sharing a device hash, or a key being rotated (TagoTiPs §12 step 9)
    assert open_envelope(VECTOR, [bytes(16), KEY])[2] == KEY


@pytest.mark.parametrize(
    ("first", "code"),
    [(0b000_01_000, "unsupported_version"), (0b101_00_000, "unsupported_cipher")],
)
def test_unsupported_version_and_cipher(first, code):
    with pytest.raises(EnvelopeError) as refused:
        open_envelope(bytes([first]) + VECTOR[1:], [KEY])
    assert refused.value.code == code


def test_oversized_and_plaintext_fallbacks_are_no_envelopes():
    with pytest.raises(EnvelopeError, match="envelope_too_large"):
        envelope.read_header(VECTOR[:21] + bytes(16_384 + 9))
    with pytest.raises(EnvelopeError, match="auth_failed"):
        envelope.read_header(b"ACK|ERR|auth_failed")
    with pytest.raises(ValueError, match="0x41"):
        envelope.flags(2, "PULL")  # reserved (TagoTiPs §5.1)


def test_the_chacha20_nonce_layout_of_section_11_3():
    device = credentials.device_hash("sensor-01")
    assert envelope.nonce(0x80, device, 1, 12).hex() == "80000000ab7788d200000001"


@given(
    st.sampled_from(sorted(envelope.SUITES)),
    st.sampled_from(["PUSH", "PULL", "PING", "ACK"]),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=300),
    st.randoms(use_true_random=False),
)
def test_every_suite_round_trips(suite_id, method, counter, inner, random):
    # AES-256-CCM PULL is flags 0x41, reserved; §5.1 sends it to version 1, which §5.1 also
    # calls reserved and receivers refuse: no version-0 form exists [?, open in the facts]
    assume((suite_id, method) != (2, "PULL"))
    suite = envelope.SUITES[suite_id]
    key = random.randbytes(suite.key_bytes)
    sealed = seal(
        inner,
        key=key,
        method=method,
        counter=counter,
        auth_hash="00" * 8,
        serial="d",
        suite=suite_id,
    )
    assert len(sealed) == envelope.HEADER + len(inner) + suite.tag_bytes  # §5: no padding
    header, opened, _ = open_envelope(sealed, [key])
    assert (opened, header.method, header.counter) == (inner, method, counter)
