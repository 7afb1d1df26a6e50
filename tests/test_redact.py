from tagocheck.redact import redact_token, scrub


def test_redacted_form_is_short():
    assert redact_token("2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f") == "2b1f…"
    assert redact_token("short") == "…"


def test_scrub_replaces_every_token_kind():
    text = (
        "device 2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f, profile p-0123456789abcdefXYZ, "
        "network n-0123456789abcdef0123, id 6010ea3cb1f2e10012c7a4d1"
    )
    cleaned = scrub(text)
    assert "2b1f0e8c-5a6d" not in cleaned
    assert "0123456789abcdefXYZ" not in cleaned
    assert "0123456789abcdef0123" not in cleaned
    assert "6010ea3cb1f2e10012c7a4d1" in cleaned  # ids are not secrets
