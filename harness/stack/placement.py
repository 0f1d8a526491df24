"""CPU placement: which cores each component of a system may use.

One machine stands in for several only if components do not steal each
other's cores. The default (``split``, on two cores or more) puts the write
side and the read side of a system on disjoint halves of the machine, as on
separate machines, and gives a system with one database (the baseline, CQRS
with read models in the write cluster) the same total: both halves.
``shared`` pins nothing (every component on every core). An explicit layout
names the cores per component: ``write=0;read=1;app=0-1``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from harness.core.errors import BadInput

SPLIT = "split"
SHARED = "shared"


@dataclass(frozen=True)
class CpuLayout:
    name: str  # split, shared, or explicit
    cores: Mapping[str, frozenset[int]]  # component -> its cores; absent: any core

    def of(self, component: str) -> frozenset[int] | None:
        return self.cores.get(component)

    def to_json(self, components: list[str]) -> dict[str, object]:
        return {
            "layout": self.name,
            "machine_cores": sorted(machine_cores()),
            "components": {
                name: sorted(self.cores[name]) if name in self.cores else "any"
                for name in components
            },
        }


def machine_cores() -> frozenset[int]:
    return frozenset(os.sched_getaffinity(0))


def parse_cores(text: str) -> frozenset[int]:
    """``0-3,6`` -> {0, 1, 2, 3, 6}."""
    found: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise BadInput(f"--cpu-layout: {text!r} is not a list of cores like 0-1,3") from None
        if low > high:
            raise BadInput(f"--cpu-layout: {part!r} runs backwards")
        found.update(range(low, high + 1))
    return frozenset(found)


def validate_layout(spec: str) -> str:
    """Check ``--cpu-layout`` before anything starts (components are checked per system)."""
    if spec in (SPLIT, SHARED):
        return spec
    explicit(spec)
    return spec


def explicit(spec: str) -> dict[str, frozenset[int]]:
    available = machine_cores()
    cores: dict[str, frozenset[int]] = {}
    for entry in spec.split(";"):
        name, sep, value = entry.partition("=")
        if not sep or not name.strip():
            raise BadInput(
                f"--cpu-layout takes split, shared or NAME=CORES;... (e.g. write=0;read=1), "
                f"got {spec!r}"
            )
        chosen = parse_cores(value)
        if not chosen <= available:
            missing = ", ".join(str(c) for c in sorted(chosen - available))
            raise BadInput(f"--cpu-layout: core(s) {missing} are not available to this process")
        cores[name.strip()] = chosen
    return cores


def plan_layout(spec: str, sides: Mapping[str, str]) -> CpuLayout:
    """The layout for one system; ``sides`` maps each database to "write", "read" or "both"."""
    if spec == SHARED:
        return CpuLayout(SHARED, {})
    if spec == SPLIT:
        cores = sorted(machine_cores())
        if len(cores) < 2:
            return CpuLayout(SHARED, {})  # nothing to split: say so in the layout's name
        half = len(cores) // 2
        halves = {
            "write": frozenset(cores[:half]),
            "read": frozenset(cores[half:]),
            "both": frozenset(cores),
        }
        return CpuLayout(SPLIT, {name: halves[side] for name, side in sides.items()})
    return CpuLayout("explicit", explicit(spec))
