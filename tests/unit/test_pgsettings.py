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
