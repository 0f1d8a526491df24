"""The shipped Grafana dashboard reads only metrics the apps and the projector expose."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, generate_latest

import cqrs_app.projector  # noqa: F401  (registers the projector's metrics)
from shop.metrics import RequestMetrics, samples

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "cqrs-bench.json"
# Every part of a snapshot a backend can give: both pools, the projection, the cache.
FULL_SNAPSHOT: dict[str, Any] = {
    "pool": {"size": 4, "max": 20, "in_use": 1, "waiting": 0},
    "pool_read": {"size": 4, "max": 20, "in_use": 0, "waiting": 0},
    "projection": {
        "events_applied": 10,
        "events_behind": 2,
        "oldest_unapplied_age_ms": 15.0,
        "last_batch_lag_ms": 12,
        "heartbeat_age_ms": 100.0,
        "dead_letters": 0,
        "stalled_reason": "UndefinedTable: relation missing",
        "horizon_blockers": [{"pid": 42, "age_s": 3.5}],
    },
    "cache": {
        "refresh": "expiry",
        "ttl_s": 10.0,
        "hits": 3,
        "stale_served": 0,
        "misses": 1,
        "reports_run": 1,
        "waited": 0,
        "answer_age_ms": {"dashboard_customers": 1500.0},
    },
}


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def exposed_names() -> set[str]:
    metrics = RequestMetrics()
    metrics.observe("GET", "/products", 200, 0.01)
    text = metrics.exposition("cqrs", FULL_SNAPSHOT).decode() + generate_latest(REGISTRY).decode()
    return set(samples(text))


def test_every_shop_and_projector_series_on_the_dashboard_is_exposed() -> None:
    names = exposed_names()
    used = {
        name for expr in expressions() for name in re.findall(r"\b(?:shop|projector)_[a-z_]+", expr)
    }
    assert used  # the dashboard is about these metrics
    assert used - names == set()
    # each family the apps and the projector expose has a place on the dashboard
    families = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name in names
        if name.startswith(("shop_", "projector_"))
    }
    shown = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert families - shown <= {
        "shop_info",
        "shop_projection_status_up",
        "shop_projection_last_batch_lag_seconds",
        "shop_projection_heartbeat_age_seconds",
        "shop_projection_events_applied_total",
        "shop_projection_horizon_blocker_pid",
        "shop_cache_ttl_seconds",
        "projector_dead_letters_total",
    }


def test_panels_have_unique_ids_and_a_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"]
