from __future__ import annotations

import pytest

from harness.core.errors import BadInput
from harness.providers.settings import BENCHMARK_SETTINGS, merged, parse_setting, parse_settings


def test_parse_setting_normalizes() -> None:
    assert parse_setting(" Work_Mem = 64MB ") == ("work_mem", "64MB")
    assert parse_setting("auto_explain.log_min_duration=10ms")[0] == "auto_explain.log_min_duration"


@pytest.mark.parametrize("text", ["work_mem", "=1", "work_mem=", "a b=1", "x=1\n2", "1abc=2"])
def test_malformed_settings_are_refused(text: str) -> None:
    with pytest.raises(BadInput, match="malformed --pg-setting"):
        parse_setting(text)


def test_user_overrides_win() -> None:
    settings = merged(BENCHMARK_SETTINGS, parse_settings(["work_mem=1MB"]))
    assert settings["work_mem"] == "1MB"
    assert settings["max_connections"] == BENCHMARK_SETTINGS["max_connections"]


@pytest.mark.parametrize(
    "text",
    [
        "listen_addresses=*",
        "LISTEN_ADDRESSES=0.0.0.0",
        "hba_file=/tmp/hba.conf",
        "ident_file=/tmp/ident.conf",
        "config_file=/tmp/pg.conf",
        "data_directory=/",
        "port=5432",
        "unix_socket_directories=/tmp",
        "unix_socket_permissions=0777",
        "archive_command=sh -c 'id'",
        "ssl_passphrase_command=id",
    ],
)
def test_settings_that_undo_the_loopback_set_up_are_refused(text: str) -> None:
    with pytest.raises(BadInput, match=r"the harness sets it itself|runs a shell command"):
        parse_setting(text)


def test_every_cluster_runs_in_utc() -> None:
    """The local provider would otherwise inherit the host's time zone."""
    assert BENCHMARK_SETTINGS["timezone"] == "UTC"
    assert BENCHMARK_SETTINGS["log_timezone"] == "UTC"
