"""Every schema is valid draft 2020-12, resolves offline, and enforces the size keywords."""

from __future__ import annotations

import json
import re
import socket

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from tagocheck.spec import schemas

SCHEMA_FILES = schemas.schema_files()


def all_refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def test_the_schema_set_is_what_the_contract_needs():
    names = set(schemas.schema_names())
    assert {
        "common",
        "envelope",
        "data-record",
        "too-many-requests",
        "routes",
        "permissions",
        "rate-limits",
        "examples",
        "results/data",
        "results/info",
        "results/device",
        "results/device-token",
        "results/device-params",
        "results/network",
    } <= names


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_schema_is_valid_against_the_2020_12_metaschema(file):
    contents = schemas.read_json(file)
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contents)


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_schema_id_names_its_file(file):
    assert schemas.read_json(file)["$id"] == schemas.BASE_URI + file


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_every_reference_resolves_offline(file):
    contents = schemas.read_json(file)
    resolver = schemas.registry().resolver(base_uri=contents["$id"])
    refs = list(all_refs(contents))
    for ref in refs:
        resolver.lookup(ref)  # raises Unresolvable if the target is not shipped
    assert refs or file in {"common.schema.json", "examples.schema.json"}


def test_a_reference_to_an_unshipped_schema_fails_without_touching_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(Unresolvable):
        schemas.registry().resolver().lookup("https://example.com/schemas/missing.json")
    validator = schemas.ContractValidator(
        {"$ref": "https://example.com/schemas/missing.json"}, registry=schemas.registry()
    )
    with pytest.raises(Unresolvable):
        validator.validate({})


def test_max_utf8_bytes_counts_bytes_not_characters():
    v = schemas.ContractValidator({"maxUtf8Bytes": 4})
    assert v.is_valid("abcd")
    assert v.is_valid("éé")  # 2 characters, 4 bytes
    assert not v.is_valid("ééé")  # 3 characters, 6 bytes
    assert not v.is_valid("abcde")
    assert v.is_valid(123456)  # applies to strings only


def test_max_json_bytes_measures_compact_json():
    v = schemas.ContractValidator({"maxJsonBytes": 10})
    assert len(json.dumps({"a": "bc"}, separators=(",", ":"))) == 10
    assert v.is_valid({"a": "bc"})
    assert not v.is_valid({"a": "bcd"})
    assert v.is_valid(["ééé"])  # 7 characters, 10 bytes
    assert not v.is_valid(["éééé"])  # 8 characters, 12 bytes


def test_variants_tell_the_two_failure_shapes_apart():
    top = {"status": False, "message": "Invalid token"}
    nested = {"status": False, "result": {"message": "Invalid token"}}
    assert schemas.variants("envelope", top) == ["failure-message-top"]
    assert schemas.variants("envelope", nested) == ["failure-message-in-result"]
    assert schemas.variants("envelope", {"status": True, "result": 1}) == ["success"]
    assert schemas.variants("envelope", "<html>") == []


def test_variants_tell_the_create_device_keys_apart():
    token = "2b1f0e8c-5a6d-4c3b-9e7f-0a1b2c3d4e5f"
    device_id = "6010ea3cb1f2e10012c7a4d1"
    assert schemas.variants("results/device#created", {"device_id": device_id, "token": token}) == [
        "created-device_id"
    ]
    assert schemas.variants("results/device#created", {"deviceID": device_id, "token": token}) == [
        "created-deviceID"
    ]


def test_explain_names_the_place_and_each_rejected_shape():
    (error,) = schemas.errors("envelope", {"status": False})
    text = schemas.explain(error)
    assert text.startswith("/: matches none of the accepted shapes")
    assert "'message' is a required property" in text
    assert "'result' is a required property" in text
    (error,) = schemas.errors("envelope", {"status": "true", "result": 1})
    assert schemas.explain(error) == "/status: 'true' is not of type 'boolean'"


def test_contract_data_that_breaks_its_schema_is_reported_with_its_place(tmp_path, monkeypatch):
    broken = tmp_path / "schemas"
    broken.mkdir()
    for file in SCHEMA_FILES:
        target = broken / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((schemas.schema_dir() / file).read_text())
    (broken / "routes.json").write_text(json.dumps({"envelope": "x", "routes": []}))
    monkeypatch.setattr(schemas, "schema_dir", lambda: broken)
    schemas.registry.cache_clear()
    schemas.validator.cache_clear()
    try:
        with pytest.raises(schemas.ContractDataError, match=r"schemas/routes.json breaks routes"):
            schemas.load_contract_data("routes.json", "routes")
    finally:
        schemas.registry.cache_clear()
        schemas.validator.cache_clear()


def test_a_schema_whose_id_does_not_match_its_place_is_refused(tmp_path, monkeypatch):
    (tmp_path / "envelope.schema.json").write_text(
        json.dumps({"$id": "https://tagocheck.invalid/schemas/other.schema.json"})
    )
    monkeypatch.setattr(schemas, "schema_dir", lambda: tmp_path)
    schemas.registry.cache_clear()
    try:
        with pytest.raises(schemas.ContractDataError, match="expected"):
            schemas.registry()
    finally:
        schemas.registry.cache_clear()


CONTRACT_SCHEMAS = ["common", "data-record", "envelope", "too-many-requests"] + [
    n for n in schemas.schema_names() if n.startswith("results/")
]
LABEL = re.compile(r"\[(C|SDK|H|X|\?)[^\]]*\]")


@pytest.mark.parametrize("name", CONTRACT_SCHEMAS)
def test_every_constraint_of_the_contract_names_its_source(name):
    """Each definition of a response or record schema carries its facts-file label; its severity
    is a violation unless an asShown, leftOpen or unshownForm keyword grades it lower."""
    contents = schemas.read_json(f"{name}.schema.json")
    unlabelled = [
        key
        for key, sub in contents.get("$defs", {}).items()
        if not LABEL.search(sub.get("description", ""))
        and not (set(sub) <= {"$anchor", "$ref"})  # an alias names its source where it points
    ]
    assert not unlabelled, f"{name}: definitions without a source label: {unlabelled}"
