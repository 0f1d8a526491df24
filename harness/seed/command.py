"""``cqrs-bench seed`` and ``cqrs-bench datasets``: plain functions behind the CLI."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.console import human
from harness.core.progress import counting
from harness.providers import ProviderConfig, ProviderKind, resolve_kind
from harness.providers.binaries import find_binaries
from harness.providers.external import ExternalProvider
from harness.seed.datasets import (
    CorruptDataset,
    Dataset,
    DatasetKind,
    EnsureResult,
    cached_dataset,
    ensure_dataset,
    list_datasets,
    load_into,
    reading_dataset,
    remove_dataset,
)
from harness.seed.loader import Phase, Progress, expected_rows, refuse_existing_tables
from harness.seed.spec import DatasetSpec


@dataclass(frozen=True)
class SeedConfig:
    provider: ProviderConfig
    spec: DatasetSpec
    rebuild: bool = False
    progress: bool = True


def dataset_kind_for(provider: ProviderKind) -> DatasetKind:
    return DatasetKind.DATADIR if provider is ProviderKind.LOCAL else DatasetKind.COPY_FILES


@contextlib.contextmanager
def _progress(
    enabled: bool, spec: DatasetSpec, what: str
) -> Iterator[tuple[Progress | None, Phase]]:
    def phase(text: str) -> None:
        human.print(f"[dim]{text}...")

    if not enabled:
        yield None, phase
        return
    with counting(what, expected_rows(spec)) as advance:
        yield advance, phase


def prepare_dataset(
    home: Path, provider: ProviderConfig, spec: DatasetSpec, *, rebuild: bool, progress: bool
) -> EnsureResult:
    """The dataset for ``spec`` in the form ``provider`` needs, built if missing."""
    kind = resolve_kind(provider)
    dataset_kind = dataset_kind_for(kind)
    binaries = find_binaries(provider.pg_bin_dir) if dataset_kind is DatasetKind.DATADIR else None
    if not rebuild:
        started = time.perf_counter()
        cached = cached_dataset(home, spec, dataset_kind, binaries)
        if cached is not None:
            return EnsureResult(cached, True, None, time.perf_counter() - started)
    with _progress(progress, spec, f"seeding {spec.orders:,} orders") as (advance, phase):
        return ensure_dataset(
            home,
            spec,
            dataset_kind,
            binaries=binaries,
            rebuild=rebuild,
            progress=advance,
            phase=phase,
        )


def seed(config: SeedConfig) -> dict[str, Any]:
    kind = resolve_kind(config.provider)
    if kind is ProviderKind.EXTERNAL:
        # check every target before spending minutes on a build
        targets = ExternalProvider(dict(config.provider.dsns))
        for name in targets.dsns:
            refuse_existing_tables(targets.cluster(name).start().endpoint)
    result = prepare_dataset(
        config.provider.home,
        config.provider,
        config.spec,
        rebuild=config.rebuild,
        progress=config.progress,
    )
    report = _report(result)
    if kind is ProviderKind.EXTERNAL:
        report["loaded_into"] = {}
        with reading_dataset(result.dataset) as dataset:  # no rebuild removes it meanwhile
            for name in targets.dsns:
                endpoint = targets.cluster(name).endpoint
                with _progress(config.progress, config.spec, f"loading into {name}") as (adv, ph):
                    load = load_into(dataset, endpoint, adv, ph)
                report["loaded_into"][name] = {
                    "seconds": round(load.total_seconds, 3),
                    "rows_per_s": round(load.total_rows / max(load.total_seconds, 1e-9)),
                }
    return report


def _report(result: EnsureResult) -> dict[str, Any]:
    dataset = result.dataset
    report = dataset.summary()
    report["reused"] = result.reused
    report["seconds"] = round(result.seconds, 3)
    if result.load is not None:
        load = result.load
        report["load_seconds"] = round(load.load_seconds, 3)
        report["index_seconds"] = round(load.index_seconds, 3)
        report["rows_per_s"] = round(load.total_rows / max(result.seconds, 1e-9))
        report["load_rows_per_s"] = round(load.total_rows / max(load.load_seconds, 1e-9))
    return report


def datasets_report(home: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for item in list_datasets(home):
        if isinstance(item, CorruptDataset):
            entries.append({"id": item.entry_id, "corrupt": str(item)})
        else:
            entries.append({**item.summary(), "size_bytes": item.size_bytes()})
    return entries


def remove_datasets(home: Path, ids: list[str], remove_all: bool) -> list[str]:
    if remove_all:
        ids = [e.id if isinstance(e, Dataset) else e.entry_id for e in list_datasets(home)]
    for entry_id in ids:
        remove_dataset(home, entry_id)
    return ids
