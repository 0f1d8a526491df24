"""The dataset cache: each dataset is built once, then copied in seconds.

An entry is keyed by (schema version, generator version, parameters, seed,
PostgreSQL major). For the local provider it is the data directory of a
cleanly stopped cluster that a new cluster starts from (a file copy, no
reload); for the others it is one COPY file per table. Entries are built in a
``.building-*`` directory and renamed into place only when complete, so an
interrupted build never leaves a half-written entry that looks usable.

An entry in use (its data directory being copied, its COPY files loaded) is
held under a shared per-entry lock (``.lock-<id>``, see :func:`reading_dataset`);
``--rebuild`` and ``datasets rm`` take it exclusively, rename the entry aside
(``.removing-*``) and only then delete it, so a copy under way is never cut short.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.jsonfile import write_json
from harness.core.paths import check_home, datasets_dir
from harness.core.polling import wait_until
from harness.core.processes import ProcessIdentity
from harness.providers.base import Cluster, Endpoint
from harness.providers.binaries import PgBinaries
from harness.providers.local import LocalCluster
from harness.providers.settings import BENCHMARK_SETTINGS, BULK_LOAD_SETTINGS, merged
from harness.seed.loader import (
    LoadResult,
    Phase,
    Progress,
    load_copy_files,
    load_generated,
    write_copy_files,
)
from harness.seed.spec import DatasetSpec

ClusterT = TypeVar("ClusterT", bound=Cluster)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
BUILDING_PREFIX = ".building-"
LOCK_PREFIX = ".lock-"
REMOVING_PREFIX = ".removing-"
# how long a rebuild or rm waits for the commands still copying an entry
LOCK_TIMEOUT_S = 3600.0


class DatasetKind(StrEnum):
    DATADIR = "datadir"  # a stopped cluster's data directory (local provider)
    COPY_FILES = "copy-files"  # portable COPY files (docker, external)


@dataclass(frozen=True)
class Dataset:
    id: str
    kind: DatasetKind
    path: Path
    spec: DatasetSpec
    rows: dict[str, int]
    pg_version: str | None
    build_seconds: float
    created_at: str
    password: str | None  # the superuser's password inside a datadir entry

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "path": str(self.path),
            "spec": self.spec.to_json(),
            "rows": self.rows,
            "total_rows": self.total_rows,
            "pg_version": self.pg_version,
            "build_seconds": round(self.build_seconds, 3),
            "created_at": self.created_at,
        }


class CorruptDataset(BadInput):
    def __init__(self, entry_id: str, problem: str) -> None:
        super().__init__(
            f"dataset cache entry {entry_id} is corrupt ({problem})",
            hint=f"remove it with: cqrs-bench datasets rm {entry_id}",
        )
        self.entry_id = entry_id


def _cache_root(home: Path) -> Path:
    check_home(home)  # never chmod through a planted link or in someone else's directory
    root = datasets_dir(home)
    try:
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # PostgreSQL's account must reach the data directories inside
        probe = tempfile.NamedTemporaryFile(dir=root, prefix=".probe-")  # noqa: SIM115
        probe.close()
    except OSError as exc:
        raise BadInput(f"dataset cache directory {root} is not writable: {exc.strerror}") from None
    return root


def read_manifest(path: Path) -> Dataset:
    entry_id = path.name
    try:
        data = json.loads((path / MANIFEST).read_text())
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise CorruptDataset(
                entry_id,
                f"manifest version {data.get('manifest_version')!r}, "
                f"this harness reads version {MANIFEST_VERSION}",
            )
        spec_data = data["spec"]
        spec = DatasetSpec(
            users=int(spec_data["users"]),
            products=int(spec_data["products"]),
            orders=int(spec_data["orders"]),
            seed=int(spec_data["seed"]),
            end_date=date.fromisoformat(spec_data["end_date"]),
            days=int(spec_data["days"]),
        )
        dataset = Dataset(
            id=str(data["id"]),
            kind=DatasetKind(data["kind"]),
            path=path,
            spec=spec,
            rows={str(k): int(v) for k, v in data["rows"].items()},
            pg_version=data.get("pg_version"),
            build_seconds=float(data["build_seconds"]),
            created_at=str(data["created_at"]),
            password=data.get("password"),
        )
    except CorruptDataset:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptDataset(entry_id, f"unreadable manifest: {exc}") from None
    problem = _missing_parts(dataset)
    if problem is not None:
        raise CorruptDataset(entry_id, problem)
    return dataset


def _missing_parts(dataset: Dataset) -> str | None:
    if dataset.id != dataset.path.name:
        return f"manifest names {dataset.id}"
    if dataset.kind is DatasetKind.DATADIR:
        version_file = dataset.data_dir / "PG_VERSION"
        if not version_file.is_file():
            return "its data directory is missing"
        if dataset.password is None:
            return "its manifest has no password"
        if (
            dataset.pg_version
            and version_file.read_text().strip() != dataset.pg_version.split(".")[0]
        ):
            return "its data directory is from another PostgreSQL major version"
    else:
        for table in dataset.rows:
            if not any(dataset.path.glob(f"{table}.*")):
                return f"its COPY file for {table} is missing"
    return None


def list_datasets(home: Path) -> list[Dataset | CorruptDataset]:
    root = datasets_dir(home)
    if not root.is_dir():
        return []
    found: list[Dataset | CorruptDataset] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(read_manifest(path))
        except CorruptDataset as exc:
            found.append(exc)
    return found


def remove_dataset(home: Path, entry_id: str) -> None:
    root = datasets_dir(home)
    path = root / entry_id
    if "/" in entry_id or entry_id.startswith(".") or not path.is_dir():
        raise BadInput(f"no dataset {entry_id!r} in {root}")
    _remove_entry(path)


def _remove_entry(path: Path) -> None:
    """Remove a finished entry once no command is copying it (see :func:`reading_dataset`)."""
    with _entry_lock(path, exclusive=True) as lock_file:
        aside = path.with_name(f"{REMOVING_PREFIX}{path.name}-{secrets.token_hex(4)}")
        path.rename(aside)
        lock_file.unlink()  # while held: a command waiting on it sees it went and retries
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def _entry_lock(path: Path, *, exclusive: bool) -> Iterator[Path]:
    # beside the entry, not in it: the entry itself is renamed and replaced
    lock_file = path.with_name(f"{LOCK_PREFIX}{path.name}")
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    held: list[int] = []

    def locked() -> bool:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, mode)
            if os.fstat(fd).st_ino != os.stat(lock_file, follow_symlinks=False).st_ino:
                raise BlockingIOError  # a removal unlinked the file we locked: take the new one
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        held.append(fd)
        return True

    wait_until(
        locked,
        timeout=LOCK_TIMEOUT_S,
        what=f"the commands using dataset {path.name} to finish copying it",
        max_interval=0.2,
    )
    try:
        yield lock_file
    finally:
        os.close(held[0])


@contextlib.contextmanager
def reading_dataset(dataset: Dataset) -> Iterator[Dataset]:
    """Hold ``dataset`` while it is copied or loaded: no rebuild or rm removes it meanwhile.

    Yields the entry as it is once held (read again: another command may have
    rebuilt it since ``dataset`` was read); an entry removed meanwhile is an error.
    """
    with _entry_lock(dataset.path, exclusive=False):
        if not dataset.path.is_dir():
            raise EnvironmentProblem(
                f"dataset {dataset.id} was removed by another command while this one started",
                hint="run the command again (it builds the dataset)",
            )
        yield read_manifest(dataset.path)


def clean_abandoned_builds(home: Path) -> list[str]:
    """Remove ``.building-*`` directories whose builder has died."""
    root = datasets_dir(home)
    removed: list[str] = []
    if not root.is_dir():
        return removed
    for path in root.glob(REMOVING_PREFIX + "*"):
        shutil.rmtree(path, ignore_errors=True)  # a removal cut short (no reader holds it)
    for path in root.glob(BUILDING_PREFIX + "*"):
        owner_file = path / "owner.json"
        try:
            owner = ProcessIdentity.from_json(json.loads(owner_file.read_text()))
            if owner.alive():
                continue
        except (OSError, ValueError, KeyError):
            if time.time() - path.stat().st_mtime < 60:
                continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def dataset_id(spec: DatasetSpec, kind: DatasetKind, binaries: PgBinaries | None) -> str:
    if kind is DatasetKind.DATADIR:
        if binaries is None:
            raise ValueError("a datadir dataset needs PostgreSQL binaries")
        return spec.key(binaries.major)
    return spec.key(None)


def cached_dataset(
    home: Path, spec: DatasetSpec, kind: DatasetKind, binaries: PgBinaries | None
) -> Dataset | None:
    """The cache entry for ``spec`` if it exists (a corrupt one raises)."""
    path = datasets_dir(home) / dataset_id(spec, kind, binaries)
    return read_manifest(path) if path.exists() else None


@dataclass(frozen=True)
class EnsureResult:
    dataset: Dataset
    reused: bool
    load: LoadResult | None  # None when reused
    seconds: float


def ensure_dataset(
    home: Path,
    spec: DatasetSpec,
    kind: DatasetKind,
    *,
    binaries: PgBinaries | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> EnsureResult:
    """The cached dataset for ``spec``, built first if it is not there."""
    started = time.perf_counter()
    root = _cache_root(home)
    clean_abandoned_builds(home)
    entry_id = dataset_id(spec, kind, binaries)
    final = root / entry_id
    if final.exists():
        if rebuild:
            _remove_entry(final)
        else:
            dataset = read_manifest(final)
            return EnsureResult(dataset, True, None, time.perf_counter() - started)

    building = Path(tempfile.mkdtemp(prefix=f"{BUILDING_PREFIX}{entry_id}-", dir=root))
    try:
        building.chmod(0o755)
        write_json(building / "owner.json", ProcessIdentity.current().to_json())
        if kind is DatasetKind.DATADIR:
            assert binaries is not None
            load, password = _build_datadir(home, building, spec, binaries, progress, phase)
            rows = load.rows
        else:
            rows = write_copy_files(building, spec, progress)
            load, password = None, None
        seconds = time.perf_counter() - started
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "id": entry_id,
            "kind": kind.value,
            "spec": spec.to_json(),
            "rows": rows,
            "pg_version": binaries.version if kind is DatasetKind.DATADIR and binaries else None,
            "build_seconds": seconds,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "password": password,
        }
        write_json(building / MANIFEST, manifest, private=True)
        os.sync()  # the load ran with fsync=off; make it durable before it is reused
        # owner.json stays until the rename: until then the build is ours, not abandoned
        try:
            building.rename(final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(building)  # another command built the same entry meanwhile
        else:
            (final / "owner.json").unlink(missing_ok=True)
        return EnsureResult(read_manifest(final), False, load, time.perf_counter() - started)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _build_datadir(
    home: Path,
    building: Path,
    spec: DatasetSpec,
    binaries: PgBinaries,
    progress: Progress | None,
    phase: Phase | None,
) -> tuple[LoadResult, str]:
    cluster = LocalCluster(
        name="seed",
        home=home,
        binaries=binaries,
        settings=merged(BENCHMARK_SETTINGS, BULK_LOAD_SETTINGS),
    )
    with cluster:
        load = load_generated(cluster.endpoint, spec, progress, phase)
        password = cluster.endpoint.password
        data = cluster.stop_keep_data()
        data.rename(building / "data")
    return load, password


def start_from_dataset(dataset: Dataset, cluster: ClusterT) -> ClusterT:
    """Point a not-yet-started cluster at a datadir dataset (the local provider)."""
    if dataset.kind is not DatasetKind.DATADIR:
        raise EnvironmentProblem(f"dataset {dataset.id} is not a data directory")
    if not cluster.start_from_copy(dataset.data_dir, dataset.password):
        raise EnvironmentProblem(f"cluster {cluster.name} cannot start from a data directory")
    return cluster


def load_into(
    dataset: Dataset,
    endpoint: Endpoint,
    progress: Progress | None = None,
    phase: Phase | None = None,
) -> LoadResult:
    """Load a portable dataset into a running database (docker, external)."""
    if dataset.kind is not DatasetKind.COPY_FILES:
        raise EnvironmentProblem(f"dataset {dataset.id} has no COPY files")
    return load_copy_files(endpoint, dataset.path, dataset.rows, progress, phase)
