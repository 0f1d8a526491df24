"""What every calibration shares: a stack of its own on the local provider."""

from __future__ import annotations

from pathlib import Path

from harness.providers import ProviderConfig, ProviderKind
from harness.seed.spec import DatasetSpec
from harness.stack.stacks import Stack, StackConfig, SystemKind


def local_stack(
    system: SystemKind, home: Path, spec: DatasetSpec, pg_bin_dir: Path | None
) -> Stack:
    """A not-yet-started stack of ``system`` on local clusters from the cached dataset."""
    return Stack(
        StackConfig(
            system=system,
            provider=ProviderConfig(home=home, kind=ProviderKind.LOCAL, pg_bin_dir=pg_bin_dir),
            spec=spec,
        )
    )
