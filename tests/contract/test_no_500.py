"""No 500, whatever the input: the inputs that used to crash the real apps, then
schemathesis against each real app, from its own OpenAPI document, as a user would.

``st run URL/openapi.json --checks all`` with the repository's schemathesis.toml,
a fixed seed and a bounded number of examples per operation: no 5xx, every
answer as documented (statuses, error shape, headers, 405 with Allow), data the
document calls valid accepted and data it calls invalid refused, and nothing
written by a refused request (tests/contract/fuzz_hooks.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import Shop
from tests.contract.fuzz_hooks import DSN_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 40  # per operation and phase; about 1,000 requests per app, 15-30 s
SEED = "16"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        ("to=0001-01-05", "0001-01-01", "0001-01-05"),
        ("from=9999-12-31&to=9999-12-31", "9999-12-31", "9999-12-31"),
    ],
)
def test_revenue_at_the_ends_of_the_calendar(shop: Shop, query: str, first: str, last: str) -> None:
    response = shop.client.get(f"/dashboard/revenue?{query}")
    assert response.status_code == 200, response.text
    days = response.json()["days"]
    assert (days[0]["date"], days[-1]["date"]) == (first, last)


@pytest.mark.slow
@pytest.mark.parametrize("query", ["search=%00", "category=%00", "search=a%00b", "to=0"])
def test_inputs_the_database_cannot_hold_are_422(shop: Shop, query: str) -> None:
    response = shop.client.get(f"/{'dashboard/revenue' if query == 'to=0' else 'products'}?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.slow
def test_schemathesis_finds_nothing(shop: Shop, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.contract.fuzz_hooks",
        DSN_VARIABLE: shop.write_dsn,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [
            str(st),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "run",
            f"{shop.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            SEED,
            "--generation-database",
            "none",
        ],
        cwd=tmp_path,  # schemathesis's own files stay out of the work tree
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
