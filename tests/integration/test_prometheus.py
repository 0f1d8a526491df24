"""A real Prometheus scrapes a CQRS stack's app and projector; the sampler reads the same text.

Prometheus is Debian's ``prometheus`` binary (``.ci/run`` installs it when
missing), started here on 127.0.0.1 with its own config and storage in a
temporary directory; never the system's service.
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from harness.core.polling import wait_until
from harness.core.ports import free_port
from harness.run.sampler import PROJECTOR_FILE, Sampler
from tests.integration.test_cqrs_faults import cqrs_stack
from tests.shopdata import TINY
from tests.unit.test_grafana_dashboard import expressions

PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="no prometheus binary on PATH (Debian: apt-get install -y prometheus; .ci/run does)",
)


def scrape_config(targets: dict[str, str]) -> str:
    """prometheus.yml scraping each ``job -> /metrics URL`` once a second."""
    lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
    for job, url in targets.items():
        parts = urlsplit(url)
        lines += [
            f"  - job_name: {job}",
            f"    metrics_path: {parts.path}",
            "    static_configs:",
            f"      - targets: ['{parts.netloc}']",
            "        labels: {system: cqrs}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def prometheus(directory: Path, targets: dict[str, str]) -> Iterator[str]:
    assert PROMETHEUS is not None
    config = directory / "prometheus.yml"
    config.write_text(scrape_config(targets))
    url = f"http://127.0.0.1:{free_port()}"
    with open(directory / "prometheus.log", "wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={urlsplit(url).netloc}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def exited() -> str | None:
            if process.poll() is None:
                return None
            return f"prometheus exited: {(directory / 'prometheus.log').read_text()[-800:]}"

        wait_until(lambda: _ready(url), timeout=30, what="prometheus to be ready", give_up=exited)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, promql: str) -> list[dict[str, Any]] | None:
    """The instant vector ``promql`` gives now; None while it is empty."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result or None


def one_checkout(url: str) -> bool:
    rng = random.Random()
    body = {
        "user_id": rng.randint(1, TINY.users),
        "items": [{"product_id": rng.randint(1, TINY.products), "quantity": 1}],
    }
    return httpx.post(f"{url}/checkout", json=body, timeout=10).status_code == 200


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_prometheus_scrapes_the_app_and_the_projector(session_home: Path, tmp_path: Path) -> None:
    with cqrs_stack(session_home) as stack:
        assert stack.state is not None
        targets = stack.state.metrics  # what `up` records and prints
        assert set(targets) == {"app", "projector"}
        wait_until(lambda: one_checkout(stack.url), timeout=30, what="a checkout to succeed")
        httpx.get(f"{stack.url}/products", timeout=10).raise_for_status()
        with (
            Sampler(
                tmp_path / "sampled",
                {},
                {},
                stack.url,
                interval_s=0.3,
                projector_metrics_url=targets["projector"],
            ),
            prometheus(tmp_path, targets) as url,
        ):
            checkouts = wait_until(
                lambda: query(
                    url,
                    'shop_request_duration_seconds_count{job="app",route="/checkout",'
                    'method="POST",status_class="2xx"}',
                ),
                timeout=30,
                what="the checkout latency series in Prometheus",
            )
            assert float(checkouts[0]["value"][1]) >= 1
            assert checkouts[0]["metric"]["system"] == "cqrs"
            p99 = query(
                url,
                "histogram_quantile(0.99, sum by (le)"
                ' (shop_request_duration_seconds_bucket{route="/checkout"}))',
            )
            assert p99 is not None
            assert float(p99[0]["value"][1]) > 0
            backlog = wait_until(
                lambda: query(url, "shop_outbox_backlog_events"),
                timeout=30,
                what="the outbox backlog in Prometheus",
            )
            assert float(backlog[0]["value"][1]) >= 0
            applied = wait_until(
                lambda: query(url, 'projector_events_applied_total{job="projector"} >= 1'),
                timeout=30,
                what="the projector's applied events in Prometheus",
            )
            assert applied[0]["metric"]["job"] == "projector"
            assert query(url, "up == 0") is None  # every target answers
            # the shipped dashboard's queries are PromQL this Prometheus accepts
            for expr in expressions():
                concrete = expr.replace("$system", ".*").replace("$__rate_interval", "5s")
                query(url, concrete)  # asserts a "success" answer
    # the sampler read the same expositions
    app = rows(tmp_path / "sampled" / "app_metrics.csv")
    assert app
    assert all(row["pool_in_use"] != "" for row in app)
    lag = rows(tmp_path / "sampled" / "lag.csv")
    assert lag
    assert all(int(row["events_behind"]) >= 0 for row in lag)
    projector = rows(tmp_path / "sampled" / PROJECTOR_FILE)
    assert projector
    assert int(projector[-1]["events_applied"]) >= 1
    assert projector[-1]["leader"] == "1"
