"""Fixtures that start real components (the tests using them are marked slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.providers.binaries import find_binaries
from harness.providers.local import LocalProvider
from harness.providers.settings import BENCHMARK_SETTINGS


@pytest.fixture
def local_provider(bench_home: Path) -> LocalProvider:
    return LocalProvider(home=bench_home, binaries=find_binaries(), settings=BENCHMARK_SETTINGS)
