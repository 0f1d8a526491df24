"""The dataset cache and the seed/datasets/calibrate commands, on real clusters."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from harness.core.paths import datasets_dir
from harness.core.polling import wait_until
from harness.providers.binaries import find_binaries
from harness.providers.local import LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS
from harness.seed.datasets import DatasetKind, ensure_dataset, load_into, start_from_dataset
from tests.conftest import cluster_dirs, run_cli
from tests.shopdata import TINY, TINY_ARGS, table_checksums


def cache_entries(home: Path) -> list[str]:
    root = datasets_dir(home)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.slow
def test_seed_builds_once_then_reuses(bench_home: Path) -> None:
    first = run_cli(bench_home, "seed", *TINY_ARGS, "--json")
    assert first.returncode == 0, first.stderr
    built = first.json()
    assert built["reused"] is False
    assert built["rows"]["orders"] == TINY.orders  # type: ignore[index]
    assert built["rows_per_s"] > 0  # type: ignore[operator]
    second = run_cli(bench_home, "seed", *TINY_ARGS, "--json")
    reused = second.json()
    assert reused["reused"] is True
    assert reused["id"] == built["id"]
    assert reused["seconds"] < built["seconds"]  # type: ignore[operator]
    assert cache_entries(bench_home) == [built["id"]]
    assert cluster_dirs(bench_home) == []  # the build cluster is gone

    listing = run_cli(bench_home, "datasets", "list", "--json").json()
    assert [d["id"] for d in listing["datasets"]] == [built["id"]]  # type: ignore[union-attr,index]
    assert run_cli(bench_home, "datasets", "rm", str(built["id"])).returncode == 0
    assert cache_entries(bench_home) == []


@pytest.mark.slow
def test_cached_datadir_clones_carry_the_same_rows_and_a_new_password(
    bench_home: Path, local_provider: LocalProvider
) -> None:
    result = ensure_dataset(bench_home, TINY, DatasetKind.DATADIR, binaries=find_binaries())
    dataset = result.dataset
    checksums = []
    for name in ("baseline", "cqrs"):
        with start_from_dataset(dataset, local_provider.cluster(name)) as cluster:
            assert cluster.endpoint.password != dataset.password
            checksums.append(table_checksums(cluster.endpoint.dsn))
            stale = cluster.endpoint.dsn.replace(cluster.endpoint.password, str(dataset.password))
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(stale, connect_timeout=5)
    assert checksums[0] == checksums[1]
    assert (dataset.data_dir / "PG_VERSION").exists()  # the template itself is untouched


@pytest.mark.slow
def test_portable_copy_files_load_the_same_rows(
    bench_home: Path, local_provider: LocalProvider
) -> None:
    portable = ensure_dataset(bench_home, TINY, DatasetKind.COPY_FILES).dataset
    datadir = ensure_dataset(
        bench_home, TINY, DatasetKind.DATADIR, binaries=find_binaries()
    ).dataset
    with local_provider.cluster("target") as target:
        load_into(portable, target.endpoint)
        from_files = table_checksums(target.endpoint.dsn)
    with start_from_dataset(datadir, local_provider.cluster("clone")) as clone:
        assert table_checksums(clone.endpoint.dsn) == from_files


@pytest.mark.slow
def test_seed_into_an_external_database_then_refuses_to_overwrite(
    bench_home: Path, local_provider: LocalProvider
) -> None:
    with local_provider.cluster("theirs") as theirs:
        dsn = f"db={theirs.endpoint.dsn}"
        loaded = run_cli(bench_home, "seed", *TINY_ARGS, "--dsn", dsn, "--json")
        assert loaded.returncode == 0, loaded.stderr
        assert "db" in loaded.json()["loaded_into"]  # type: ignore[operator]
        with psycopg.connect(theirs.endpoint.dsn) as conn:
            # into the harness's own schema, never the user's tables
            assert conn.execute("SELECT count(*) FROM cqrs_bench.orders").fetchone() == (
                TINY.orders,
            )
        again = run_cli(bench_home, "seed", *TINY_ARGS, "--dsn", dsn)
        assert again.returncode == 2
        assert "does not overwrite" in again.stderr


@pytest.mark.slow
def test_corrupt_cache_entry_is_reported_and_removable(bench_home: Path) -> None:
    built = run_cli(bench_home, "seed", *TINY_ARGS, "--json").json()
    manifest = datasets_dir(bench_home) / str(built["id"]) / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])  # truncated
    result = run_cli(bench_home, "seed", *TINY_ARGS)
    assert result.returncode == 2
    assert f"dataset cache entry {built['id']} is corrupt" in result.stderr
    assert f"cqrs-bench datasets rm {built['id']}" in result.stderr
    listing = run_cli(bench_home, "datasets", "list", "--json").json()
    assert "corrupt" in listing["datasets"][0]  # type: ignore[index]
    assert run_cli(bench_home, "datasets", "rm", "--all").returncode == 0
    assert cache_entries(bench_home) == []


@pytest.mark.slow
def test_missing_data_directory_is_corrupt(bench_home: Path) -> None:
    import shutil

    built = run_cli(bench_home, "seed", *TINY_ARGS, "--json").json()
    shutil.rmtree(datasets_dir(bench_home) / str(built["id"]) / "data")
    result = run_cli(bench_home, "seed", *TINY_ARGS)
    assert result.returncode == 2
    assert "its data directory is missing" in result.stderr


def copying(pid: int) -> bool:
    """A PostgreSQL backend under ``pid`` runs COPY (its process title says so)."""
    try:
        family = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for proc in family:
        with contextlib.suppress(psutil.Error):
            if "COPY" in " ".join(proc.cmdline()):
                return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_build_leaves_nothing_half_written(
    bench_home: Path, sig: signal.Signals
) -> None:
    env = {**os.environ, "CQRS_BENCH_HOME": str(bench_home)}
    builder = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "seed", "--orders", "3000000", "--users", "1000"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: any(n.startswith(".building-") for n in cache_entries(bench_home)),
            timeout=60,
            what="the build to start",
        )
        wait_until(lambda: copying(builder.pid), timeout=60, what="the build's COPY to start")
        builder.send_signal(sig)
        builder.wait(timeout=60)
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait()
    run_cli(bench_home, "datasets", "list")  # the next command cleans what a killed one left
    assert cache_entries(bench_home) == []
    assert cluster_dirs(bench_home) == []


@pytest.mark.slow
def test_calibrate_seed_reports_the_ratios(bench_home: Path) -> None:
    result = run_cli(
        bench_home, "calibrate", "seed", "--orders", "5000", "--naive-orders", "20", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = result.json()
    for key in (
        "seeder_rows_per_s",
        "raw_copy_rows_per_s",
        "naive_rows_per_s",
        "ratio_to_raw_copy",
    ):
        assert report[key] > 0  # type: ignore[operator]
    expected = report["seeder_rows_per_s"] / report["raw_copy_rows_per_s"]  # type: ignore[operator]
    assert report["ratio_to_raw_copy"] == pytest.approx(expected, rel=0.01)
    assert cluster_dirs(bench_home) == []


@pytest.mark.slow
def test_local_provider_settings_do_not_carry_bulk_load_settings(
    bench_home: Path, local_provider: LocalProvider
) -> None:
    dataset = ensure_dataset(
        bench_home, TINY, DatasetKind.DATADIR, binaries=find_binaries()
    ).dataset
    assert local_provider.settings == BENCHMARK_SETTINGS
    with (
        start_from_dataset(dataset, local_provider.cluster("bench")) as cluster,
        psycopg.connect(cluster.endpoint.dsn) as conn,
    ):
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
        assert conn.execute("SHOW wal_level").fetchone() == ("replica",)
        assert conn.execute("SHOW autovacuum").fetchone() == ("on",)
