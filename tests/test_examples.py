"""Each documented example passes its schema, and each negative one fails it where it says."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError

from tagocheck.spec import examples, routes, schemas

EXAMPLES = examples.examples()
POSITIVE = [e for e in EXAMPLES if e.valid]
NEGATIVE = [e for e in EXAMPLES if not e.valid]


def pointer(error: ValidationError) -> str:
    return "".join(
        "/" + str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path
    )


def error_places(errors):
    """Where every error in the tree points, descending into anyOf/oneOf alternatives."""
    for error in errors:
        yield pointer(error)
        yield from error_places(error.context or ())


@pytest.mark.parametrize("example", POSITIVE, ids=[e.id for e in POSITIVE])
def test_positive_example_passes(example):
    problems = schemas.errors(example.schema, example.instance)
    assert not problems, schemas.explain(problems[0])


@pytest.mark.parametrize("example", NEGATIVE, ids=[e.id for e in NEGATIVE])
def test_negative_example_fails_where_it_says(example):
    problems = schemas.errors(example.schema, example.instance)
    assert problems, f"{example.id} should fail: {example.why}"
    places = set(error_places(problems))
    assert example.error_at in places, (
        f"{example.id} fails, but not at {example.error_at!r} ({example.why}); "
        f"it fails at {sorted(places)}"
    )


def test_example_ids_are_unique():
    ids = [e.id for e in EXAMPLES]
    assert len(ids) == len(set(ids))


def test_each_examples_file_is_about_its_own_schema():
    for example in EXAMPLES:
        assert examples.examples_file_for(example.schema_file.removesuffix(".schema.json")) == (
            example.file
        ), example.id


@pytest.mark.parametrize("name", schemas.schema_names())
def test_every_schema_has_positive_and_negative_examples(name):
    file = examples.examples_file_for(name)
    mine = [e for e in EXAMPLES if e.file == file]
    assert any(e.valid for e in mine), f"schemas/examples/{file}: no positive example"
    assert any(not e.valid for e in mine), f"schemas/examples/{file}: no negative example"


def route_schema_refs():
    table = routes.route_table()
    refs = {table.envelope, *table.status_bodies.values()}
    for route in table:
        refs.add(route.result)
        refs.update(case.result for case in route.result_cases)
        if route.request_body:
            refs.add(route.request_body)
    return sorted(refs)


@pytest.mark.parametrize("ref", route_schema_refs())
def test_every_schema_the_route_table_uses_has_both_kinds_of_example(ref):
    name = ref.replace(".schema.json", "")
    mine = [e for e in EXAMPLES if e.schema == name]
    assert any(e.valid for e in mine), f"no positive example of {name}"
    assert any(not e.valid for e in mine), f"no negative example of {name}"


def test_the_examples_the_issue_names_are_rejected():
    rejected = {e.name for e in NEGATIVE}
    assert {
        "status-as-string",
        "success-without-result",
        "id-25-chars",
        "sent-variable-with-dash",
        "sent-lat-91",
    } <= rejected


def test_repeat_expands_strings_and_lists():
    assert examples.expand({"$repeat": ["ab", 3]}) == "ababab"
    assert examples.expand({"v": {"$repeat": [{"x": 1}, 2]}}) == {"v": [{"x": 1}, {"x": 1}]}
    assert examples.expand({"$repeat": ["x", 2], "other": 1}) == {
        "$repeat": ["x", 2],
        "other": 1,
    }
