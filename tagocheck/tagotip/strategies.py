"""Hypothesis strategies for TagoTiP: valid push bodies, and invalid ones made from a valid one
by one change each, named by the rule it breaks. The frame tests and the conformance checks
(contract/test_tagotip.py) draw from the same ones."""

from __future__ import annotations

from hypothesis import strategies as st

from tagocheck.tagotip.bodies import Location, PushBody, Variable

names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda x: round(x, 6)),
)
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
units = st.from_regex(r"[A-Za-z%/°]{1,10}", fullmatch=True)
locations = st.builds(
    Location,
    st.floats(-90, 90).map(lambda x: round(x, 5)),
    st.floats(-180, 180).map(lambda x: round(x, 5)),
    st.none() | st.integers(-400, 9000).map(float),
)
metadata = st.dictionaries(names, texts, max_size=4)
times = st.none() | st.integers(1_600_000_000_000, 1_900_000_000_000)  # 2020 to 2030, in ms


@st.composite
def variables(draw: st.DrawFn) -> Variable:
    kind = draw(st.sampled_from(["number", "string", "boolean", "location"]))
    value = {"number": numbers, "string": texts, "boolean": st.booleans(), "location": locations}
    return Variable(
        draw(names),
        kind,
        draw(value[kind]),
        None if kind == "location" else draw(st.none() | units),
        draw(times),
        draw(st.none() | names),
        draw(metadata),
    )


push_bodies = st.builds(
    PushBody,
    st.lists(variables(), min_size=1, max_size=5).map(tuple),
    st.none() | names,
    times,
    metadata,
)
"""Structured PUSH bodies in the specification's own forms (no docs variants)."""

BREAKS = {
    "a number with a leading zero (§6.3.1)": lambda b: b.replace("[", "[zz:=01;", 1),
    "a number in exponent form (§6.3.1)": lambda b: b.replace("[", "[zz:=1e3;", 1),
    "an empty string value (§6.3.1)": lambda b: b.replace("[", "[zz=;", 1),
    "a boolean not true/false (§6.3.1)": lambda b: b.replace("[", "[zz?=True;", 1),
    "a unit on a location (§6.3.2)": lambda b: b.replace("[", "[zz@=1,2#m;", 1),
    "an upper-case variable name (§1.3)": lambda b: b.replace("[", "[Zz:=1;", 1),
    "an empty metadata block (§6.3)": lambda b: b.replace("[", "[zz:=1{};", 1),
    "a suffix out of order (§6.3)": lambda b: b.replace("[", "[zz:=1^g#C;", 1),
    "an escape of a plain letter (§4.4)": lambda b: b.replace("[", "[zz=a\\q;", 1),
    "a variable with no operator (§6.3.1)": lambda b: b.replace("[", "[zz;", 1),
    "a block left open (§6.2)": lambda b: b[:-1],
    "an empty variable block (§6.3)": lambda b: b[: b.index("[")] + "[]",
    "101 variables in one block (§4.5.1)": lambda b: b.replace("[", "[" + "zz:=1;" * 100, 1),
}
"""One change each that makes a valid body invalid: the frame is refused whole (§6.3: a PUSH is
atomic), with invalid_payload."""

invalid_bodies = st.tuples(push_bodies, st.sampled_from(sorted(BREAKS))).map(
    lambda pair: (pair[1], BREAKS[pair[1]](pair[0].text()))
)
"""(the rule broken, a body breaking it and nothing else)."""
