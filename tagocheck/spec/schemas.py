"""The contract as data: loading schemas/ and validating instances against it.

Every part of the suite reads the contract through this module, so that there is one reading of
it. Schemas reference each other by `$id` and resolve through an in-memory `referencing` registry:
nothing is ever fetched from the network, and a reference to a schema we do not ship is an error,
not a download.

A schema is named by its file relative to schemas/, without `.schema.json`, optionally followed by
an `$anchor`: `"envelope"`, `"results/data#added"`. The route table uses the file names themselves
(`"results/data.schema.json#added"`); both spellings are accepted everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match, relevance
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tagocheck.judge.findings import DEVIATION, OBSERVATION, VIOLATION, label_of, rank, worst

BASE_URI = "https://tagocheck.invalid/schemas/"
"""Prefix of every schema's `$id`. The `.invalid` top-level domain can never resolve."""

SCHEMA_SUFFIX = ".schema.json"


class ContractDataError(Exception):
    """The files in schemas/ are missing, malformed, or disagree with their own schemas."""


def schema_dir() -> Path:
    """Where the schemas are: inside an installed wheel, else the repository's schemas/."""
    packaged = Path(str(resources.files("tagocheck"))) / "_schemas"
    if packaged.is_dir():
        return packaged
    in_repo = Path(str(resources.files("tagocheck"))).parent / "schemas"
    if in_repo.is_dir():
        return in_repo
    raise ContractDataError(f"no schemas/ directory found (looked in {packaged} and {in_repo})")


def read_json(relative_path: str) -> Any:
    """Read one JSON file below schemas/, with an error that names the file."""
    path = schema_dir() / relative_path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ContractDataError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ContractDataError(f"{path} is not valid JSON: {error}") from None


def schema_files() -> list[str]:
    """Every schema file, relative to schemas/ in POSIX form, sorted."""
    root = schema_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(f"*{SCHEMA_SUFFIX}"))


def schema_names() -> list[str]:
    """Every schema file as a name (`"results/data"`)."""
    return [f.removesuffix(SCHEMA_SUFFIX) for f in schema_files()]


def anchors(name: str) -> list[str]:
    """The `$anchor`s a schema file defines (`results/data#records` names one), in file order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$anchor"), str):
                found.append(node["$anchor"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(read_json(name + SCHEMA_SUFFIX))
    return found


def uri(name: str) -> str:
    """The absolute URI of a named schema or of a route-table reference."""
    path, _, anchor = name.partition("#")
    if not path.endswith(SCHEMA_SUFFIX):
        path += SCHEMA_SUFFIX
    return BASE_URI + path + (f"#{anchor}" if anchor else "")


@cache
def registry() -> Registry:
    """All shipped schemas, keyed by `$id`; checks that each `$id` matches its file's place."""
    pairs = []
    for relative in schema_files():
        contents = read_json(relative)
        expected = BASE_URI + relative
        if contents.get("$id") != expected:
            raise ContractDataError(
                f"schemas/{relative} has $id {contents.get('$id')!r}; expected {expected!r}"
            )
        # Without `$schema`, a `$ref` to a whole file stays with ContractValidator; with it,
        # jsonschema would switch to the plain draft 2020-12 validator, which ignores our keywords.
        dialect = {k: v for k, v in contents.items() if k != "$schema"}
        pairs.append((expected, DRAFT202012.create_resource(dialect)))
    return Registry().with_resources(pairs).crawl()


def _max_utf8_bytes(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[Any]:
    """`maxUtf8Bytes`: TagoIO's limits are sizes ("6 kB"), which maxLength cannot say."""
    if validator.is_type(instance, "string"):
        size = len(instance.encode("utf-8"))
        if size > limit:
            yield ValidationError(f"{size} bytes of UTF-8 is more than the {limit} allowed")


def _max_json_bytes(validator: Any, limit: int, instance: Any, schema: Any) -> Iterator[Any]:
    """`maxJsonBytes`: the size of an object or body as compact JSON, the least it can take."""
    size = len(json.dumps(instance, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > limit:
        yield ValidationError(f"{size} bytes of JSON is more than the {limit} allowed")


def _graded(severity: str):
    def keyword(validator: Any, subschema: Any, instance: Any, schema: Any) -> Iterator[Any]:
        for error in validator.descend(instance, subschema):
            if not hasattr(error, "severity"):
                error.severity = severity
            yield error

    return keyword


def _unshown_form(validator: Any, text: str, instance: Any, schema: Any) -> Iterator[Any]:
    """`unshownForm`: a shape accepted only as a deviation; the text says how it differs."""
    error = ValidationError(text)
    error.severity = DEVIATION
    yield error


def _report_extra_keys(validator: Any, enabled: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """`reportExtraKeys`: keys beside the documented `properties` are observations, by name."""
    if not enabled or not validator.is_type(instance, "object"):
        return
    known = set(schema.get("properties", {}))
    for key in instance:
        if key not in known:
            error = ValidationError(f"undocumented key {key!r}", path=[key])
            error.severity = OBSERVATION
            yield error


OWN_KEYWORDS = {
    "maxUtf8Bytes": _max_utf8_bytes,
    "maxJsonBytes": _max_json_bytes,
    "asShown": _graded(DEVIATION),
    "leftOpen": _graded(OBSERVATION),
    "reportExtraKeys": _report_extra_keys,
    "unshownForm": _unshown_form,
}
ContractValidator = validators.extend(Draft202012Validator, OWN_KEYWORDS)
"""Draft 2020-12 plus the keywords of our own the schemas use: two sizes, and three that grade
a constraint below a violation (`asShown`: a form the docs show by example, a deviation;
`leftOpen`: what the docs leave open, an observation; `reportExtraKeys`: undocumented keys of an
object, observations; `unshownForm`: a shape no source shows, still readable, a deviation)."""


def severity(error: ValidationError) -> str:
    """How serious a validation error is: its grading keyword's, else a violation. An error of
    `anyOf` is as serious as its least serious branch: an instance that misses a branch by a
    deviation only has the documented shape in all but a documented-by-example form."""
    own = getattr(error, "severity", None)
    if own is not None:
        return own
    if not error.context:
        return VIOLATION
    by_branch: dict[Any, list[str]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(severity(sub))
    # A branch is as serious as its most serious error; the instance as its closest branch.
    per_branch = [worst(found) for found in by_branch.values()]
    return max(per_branch, key=rank)


APPLICATORS = (
    "$ref",
    "$dynamicRef",
    "properties",
    "patternProperties",
    "additionalProperties",
    "items",
    "prefixItems",
    "contains",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "dependentSchemas",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "asShown",
    "leftOpen",
)
"""The keywords an error passes through on its way out of the schema that states the rule."""


def _labelling(keyword: Any):
    """A keyword that gives each error passing through it the source label of the innermost
    schema on its way with one in its description (the rule it broke, then what encloses it)."""

    def labelled(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        for error in keyword(validator, value, instance, schema):
            if getattr(error, "label", None) is None:
                for where in (error.schema, schema):
                    text = where.get("description", "") if isinstance(where, dict) else ""
                    if found := label_of(text):
                        error.label = found
                        break
            yield error

    return labelled


_LabellingValidator = validators.extend(
    ContractValidator,
    {k: _labelling(ContractValidator.VALIDATORS[k]) for k in APPLICATORS},
)
"""ContractValidator that also labels errors: slower, so used only once an instance fails."""


def label(error: ValidationError) -> str | None:
    """The source label of the rule an error of `errors()` broke (findings.LABELS)."""
    own = getattr(error, "label", None)
    if own is not None or not isinstance(error.schema, dict):
        return own
    return label_of(error.schema.get("description", ""))


@cache
def validator(name: str, *, labelling: bool = False) -> Validator:
    """A validator for a named schema or anchor, resolving references offline; `labelling`:
    the slower one that labels its errors (errors() uses it once an instance has failed)."""
    kind = _LabellingValidator if labelling else ContractValidator
    return kind(
        {"$ref": uri(name)},
        registry=registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def resolve(name: str) -> Any:
    """The schema (or anchored subschema) a name points to."""
    return registry().resolver().lookup(uri(name)).contents


def errors(name: str, instance: Any) -> list[ValidationError]:
    """Every way the instance breaks the named schema, the most relevant first, each with the
    source label of the rule it broke (`label`)."""
    if validator(name).is_valid(instance):
        return []
    found = validator(name, labelling=True).iter_errors(instance)
    return sorted(found, key=relevance, reverse=True)


def explain(error: ValidationError) -> str:
    """One line for a person: where in the instance, and why, naming each rejected variant."""
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    if not error.context:
        return f"{where}: {error.message}"
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    graded = severity(error)
    if graded != VIOLATION:  # the instance has a documented shape but for this: say only that
        by_branch = {
            k: subs for k, subs in by_branch.items() if worst(severity(s) for s in subs) == graded
        }
        subs = [s for found in by_branch.values() for s in found]
        return (
            f"{where}: {best_match(subs).message}"
            if len(subs) == 1
            else (f"{where}: " + "; ".join(s.message for s in subs))
        )
    reasons = []
    for subs in by_branch.values():
        best = best_match(subs)
        sub_where = "/" + "/".join(str(p) for p in best.absolute_path)
        reasons.append(best.message if sub_where == where else f"{sub_where}: {best.message}")
    return f"{where}: matches none of the accepted shapes ({'; '.join(reasons)})"


def is_valid(name: str, instance: Any) -> bool:
    return validator(name).is_valid(instance)


def variants(name: str, instance: Any) -> list[str]:
    """Which documented variants of a schema the instance matches, most specific first.

    Where official sources disagree, a schema offers each variant as an anchored reference, in an
    `anyOf` (`#failure-message-top`, `#failure-message-in-result`) or as the `then` of a
    discriminator, alone or in an `allOf` (`#success`, `#failure`). This follows the references
    the instance matches down to the innermost ones and returns their anchors, so a run can count
    which variant a target uses instead of guessing.
    """
    base = uri(name).partition("#")[0].removeprefix(BASE_URI)
    matched = []
    for ref in _alternatives(resolve(name)):
        anchored = f"{base}{ref}"
        if is_valid(anchored, instance):
            matched.extend(variants(anchored, instance) or [ref[1:]])
    return matched


def _alternatives(schema: Any) -> list[str]:
    """The local anchored references a schema chooses between."""
    if not isinstance(schema, dict):
        return []
    branches = [schema, *schema.get("allOf", [])]
    candidates = [*schema.get("anyOf", [])]
    candidates += [b.get(k) for b in branches if isinstance(b, dict) for k in ("then", "else")]
    return [
        ref
        for c in candidates
        if isinstance(c, dict) and isinstance(ref := c.get("$ref"), str) and ref.startswith("#")
    ]


def load_contract_data(data_file: str, schema_name: str) -> Any:
    """Read a data file of schemas/ (routes.json, ...) and check it against its own schema."""
    data = read_json(data_file)
    problems = errors(schema_name, data)
    if problems:
        first = problems[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ContractDataError(
            f"schemas/{data_file} breaks {schema_name}{SCHEMA_SUFFIX} at {where}: {first.message}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    return data
