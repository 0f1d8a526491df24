"""What every command does first: clean up after runs that died (killed, crashed)."""

from __future__ import annotations

from pathlib import Path

from harness.providers.docker import reap_orphan_containers
from harness.providers.local import reap_orphans
from harness.seed.datasets import clean_abandoned_builds
from harness.stack.stacks import reap_dead_stacks


def clean_up_after_dead_runs(home: Path) -> list[str]:
    """Stop stacks and clusters whose owner died, drop unfinished builds; say what was done."""
    said = []
    stacks = reap_dead_stacks(home)
    if stacks:
        said.append(f"stopped {len(stacks)} stack(s) left by a dead run: {', '.join(stacks)}")
    clusters = reap_orphans(home)
    if clusters:
        said.append(f"stopped {len(clusters)} cluster(s) left by a dead run: {', '.join(clusters)}")
    containers = reap_orphan_containers()
    if containers:
        said.append(
            f"removed {len(containers)} container(s) left by a dead run: {', '.join(containers)}"
        )
    builds = clean_abandoned_builds(home)
    if builds:
        said.append(f"removed {len(builds)} unfinished dataset build(s) of a dead run")
    return said
