"""``cqrs-bench pg``: start clusters and hold them until interrupted."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from harness.core.console import emit_json, human
from harness.providers import ProviderConfig, make_provider


@dataclass(frozen=True)
class HoldConfig:
    provider: ProviderConfig
    names: tuple[str, ...]
    hold_seconds: float | None
    json_output: bool


def hold_clusters(config: HoldConfig) -> None:
    provider = make_provider(config.provider)
    with contextlib.ExitStack() as stack:
        clusters = {}
        for name in config.names:
            clusters[name] = stack.enter_context(provider.cluster(name))
        payload = {
            "provider": provider.name,
            "databases": {name: c.endpoint.dsn for name, c in clusters.items()},
            "pids": {name: c.pid for name, c in clusters.items()},
        }
        if config.json_output:
            emit_json(payload)
        else:
            for name, cluster in clusters.items():
                human.print(f"{name}: {cluster.endpoint.dsn} (pid {cluster.pid})", markup=False)
        human.print("holding; press Ctrl-C to stop")
        # Event.wait is interruptible by Ctrl-C and SIGTERM, unlike a bare sleep loop.
        threading.Event().wait(config.hold_seconds)
