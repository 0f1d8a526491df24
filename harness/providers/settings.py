"""PostgreSQL server settings: one set of defaults, overridable per run.

Both systems under test get the same settings so the comparison is fair; the
bulk-load settings are used only while a dataset is built and never while
load runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from harness.core.errors import BadInput

# Modest values: several clusters share this machine's memory and two cores.
BENCHMARK_SETTINGS: Mapping[str, str] = {
    "max_connections": "200",
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "track_io_timing": "on",
    "log_min_messages": "warning",
    "log_min_duration_statement": "-1",
    "jit": "off",
    # commit times of every transaction: projection lag runs from the write's commit
    # to the read model's commit (on every system, so the settings stay the same)
    "track_commit_timestamp": "on",
    # what a hot standby (the replica system) does when replay meets a long report:
    # PostgreSQL's defaults, written out so run.json records them (change with --pg-setting)
    "hot_standby_feedback": "off",
    "max_standby_streaming_delay": "30s",
    # UTC everywhere: the apps, rebuild and verify count days in UTC; a cluster
    # would otherwise inherit the host's zone
    "timezone": "UTC",
    "log_timezone": "UTC",
}

# Settings a user may not pass: the harness sets them itself (loopback only, its own
# port and authentication file), or they run shell commands as the server's account.
OWNED_BY_THE_HARNESS = frozenset(
    {
        "listen_addresses",
        "port",
        "unix_socket_directories",
        "unix_socket_group",
        "unix_socket_permissions",
        "hba_file",
        "ident_file",
        "config_file",
        "data_directory",
        "external_pid_file",
    }
)
RUNS_A_COMMAND = frozenset(
    {"archive_command", "restore_command", "archive_cleanup_command", "ssl_passphrase_command"}
)

# Known bulk-load settings: no WAL for tables created in the loading
# transaction (COPY FREEZE), nothing forced to disk mid-load, big sort memory
# for index builds. The dataset's cluster is stopped cleanly and synced after
# the load, so durability is restored before anyone benchmarks on it.
BULK_LOAD_SETTINGS: Mapping[str, str] = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "maintenance_work_mem": "1GB",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "1h",
}

_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def parse_setting(text: str) -> tuple[str, str]:
    """Parse one ``--pg-setting name=value``."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    value = value.strip()
    if not sep or not name or not value:
        raise BadInput(f"malformed --pg-setting {text!r}: expected name=value, e.g. work_mem=64MB")
    if not _NAME.match(name):
        raise BadInput(f"malformed --pg-setting {text!r}: {name!r} is not a setting name")
    if name in OWNED_BY_THE_HARNESS:
        raise BadInput(
            f"--pg-setting {name} is refused: the harness sets it itself"
            " (clusters listen on 127.0.0.1 only, with its own authentication)"
        )
    if name in RUNS_A_COMMAND:
        raise BadInput(f"--pg-setting {name} is refused: it runs a shell command on the server")
    if any(ch in value for ch in "\n\r\0"):
        raise BadInput(f"malformed --pg-setting {text!r}: the value has a control character")
    return name, value


def parse_settings(texts: Iterable[str]) -> dict[str, str]:
    return dict(parse_setting(text) for text in texts)


def merged(*layers: Mapping[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for layer in layers:
        result.update(layer)
    return result
