"""CPU placement: the layouts and their parsing (no server needed)."""

from __future__ import annotations

import pytest

from harness.core.errors import BadInput
from harness.stack.placement import (
    explicit,
    machine_cores,
    parse_cores,
    plan_layout,
    validate_layout,
)


def test_split_layout_puts_the_two_sides_on_disjoint_halves() -> None:
    cores = sorted(machine_cores())
    layout = plan_layout("split", {"write": "write", "read": "read"})
    if len(cores) < 2:
        assert layout.name == "shared"
        return
    write, read = layout.of("write"), layout.of("read")
    assert write is not None
    assert read is not None
    assert write.isdisjoint(read)
    assert write | read == frozenset(cores)
    # one database (the baseline) gets the same total as the two sides together
    assert plan_layout("split", {"db": "both"}).of("db") == frozenset(cores)
    assert plan_layout("shared", {"write": "write"}).of("write") is None


@pytest.mark.parametrize(
    ("text", "cores"), [("0", {0}), ("0-1", {0, 1}), ("0,1", {0, 1}), ("1-1", {1})]
)
def test_cores_are_parsed_from_lists_and_ranges(text: str, cores: set[int]) -> None:
    assert parse_cores(text) == frozenset(cores)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("write", "takes split, shared or NAME=CORES"),
        ("write=a", "is not a list of cores"),
        ("write=1-0", "runs backwards"),
        ("write=999", "not available to this process"),
        ("=0", "takes split, shared or NAME=CORES"),
    ],
)
def test_a_bad_layout_is_refused_before_anything_starts(spec: str, message: str) -> None:
    with pytest.raises(BadInput) as info:
        validate_layout(spec)
    assert message in str(info.value)


def test_an_explicit_layout_names_each_component() -> None:
    first = min(machine_cores())
    assert explicit(f"write={first};app={first}") == {
        "write": frozenset({first}),
        "app": frozenset({first}),
    }
    layout = plan_layout(f"write={first}", {"write": "write", "read": "read"})
    assert layout.name == "explicit"
    assert layout.of("read") is None  # not named: any core
    assert layout.to_json(["write", "read"])["components"] == {"write": [first], "read": "any"}
