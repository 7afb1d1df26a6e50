"""Every rule the contract suite judges by names its source, so a finding's severity can follow it.

A rule with no label would be judged at whatever severity its check asked for; one labelled `?`
(no source states it) can only make an observation. These tests read the suite's code and data:
each contract test states its rule with a label, each finding a check or a test makes has one,
and each documented example says what its acceptance or refusal rests on.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tagocheck.judge.findings import LABELS, label_of
from tagocheck.spec import examples, schemas

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contract"
MODULES = sorted(p.stem for p in CONTRACT.glob("test_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_contract_test_states_its_rule_with_a_label(module):
    tree = ast.parse((CONTRACT / f"{module}.py").read_text())
    tests = {
        node.name: ast.get_docstring(node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    unlabelled = [name for name, doc in tests.items() if not label_of(doc)]
    assert tests
    assert not unlabelled, f"{module}: tests whose docstring names no source label: {unlabelled}"


def _calls(path: Path, name: str) -> list[tuple[int, ast.Call]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == name:
                found.append((node.lineno, node))
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


SOURCES = [*sorted(CONTRACT.glob("*.py")), *sorted((ROOT / "tagocheck").rglob("*.py"))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_finding_made_in_code_names_its_source(path):
    """A recorder's find() and a check's Violation() carry a label: in their expected text or as
    label=."""
    text = path.read_text()
    unlabelled = []
    for name in ("find", "Violation"):
        for line, call in _calls(path, name):
            expected = _keyword(call, "expected")
            if expected is None and name == "find":
                continue  # str.find, re.find...: not a finding
            if _keyword(call, "label") is not None:
                continue
            said = ast.get_source_segment(text, expected) if expected is not None else ""
            if isinstance(expected, ast.Name):  # a module's constant: its text
                said = _constants(path).get(expected.id, said)
            # a label the data gives at run time (a route's or a cell's basis) is written [{...}]
            if not label_of(said or "") and "[{" not in (said or ""):
                unlabelled.append(f"{path.name}:{line}")
    assert not unlabelled, unlabelled


def _constants(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }


CONTRACT_SCHEMAS = ("common", "data-record", "envelope", "too-many-requests", "results/")


def test_every_way_to_break_a_contract_schema_names_its_rule_s_source():
    """Each negative example of a response or record schema fails with labelled errors only."""
    unlabelled = []
    for example in examples.examples():
        if example.valid or not example.schema.startswith(CONTRACT_SCHEMAS):
            continue
        for error in schemas.errors(example.schema, example.instance):
            if schemas.label(error) not in LABELS:
                unlabelled.append((example.name, error.message[:60]))
    assert not unlabelled


def test_every_documented_record_example_says_what_it_rests_on():
    """A positive example's source and a negative one's refusal carry the label of the rule that
    the target's acceptance or refusal is judged by."""
    unlabelled = [
        e.name
        for e in examples.examples()
        if e.schema.startswith("data-record#sent")
        and not label_of(e.source if e.valid else (e.refusal or ""))
    ]
    assert not unlabelled
