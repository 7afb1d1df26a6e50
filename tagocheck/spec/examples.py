"""The documented examples in schemas/examples/: what each schema accepts and what it rejects.

Positive examples carry their source in the facts file; negative ones say why they must fail and
where in the instance the failure is, so a negative example that fails for some other reason is
caught rather than counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tagocheck.spec.schemas import SCHEMA_SUFFIX, load_contract_data, schema_dir

EXAMPLES_DIR = "examples"


@dataclass(frozen=True)
class Example:
    file: str
    name: str
    schema: str
    valid: bool
    instance: Any
    source: str | None = None
    why: str | None = None
    refusal: str | None = None
    """For a negative record sent to a target: the labelled rule that says it must be refused."""
    error_at: str | None = None
    """JSON pointer into the instance where a negative example's violation must be reported."""

    @property
    def id(self) -> str:
        return f"{self.file.removesuffix('.json')}::{self.name}"

    @property
    def schema_file(self) -> str:
        return self.schema.partition("#")[0] + SCHEMA_SUFFIX


def examples_file_for(schema_name: str) -> str:
    """`results/data` -> `results-data.json`."""
    return schema_name.replace("/", "-") + ".json"


def expand(value: Any) -> Any:
    """Expand `{"$repeat": [x, n]}`: x repeated n times, a string of n copies or a list of n."""
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            item, times = value["$repeat"]
            item = expand(item)
            return item * times if isinstance(item, str) else [item] * times
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


@cache
def examples() -> tuple[Example, ...]:
    """Every example of every file in schemas/examples/, each file checked against its schema."""
    found = []
    for path in sorted((schema_dir() / EXAMPLES_DIR).glob("*.json")):
        data = load_contract_data(f"{EXAMPLES_DIR}/{path.name}", "examples")
        for case in data["cases"]:
            found.append(
                Example(
                    file=path.name,
                    name=case["name"],
                    schema=case["schema"],
                    valid=case["valid"],
                    instance=expand(case["instance"]),
                    source=case.get("source"),
                    why=case.get("why"),
                    refusal=case.get("refusal"),
                    error_at=case.get("error_at"),
                )
            )
    return tuple(found)
