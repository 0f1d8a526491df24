"""``cqrs-bench ui``: a system plus Locust's web UI on 127.0.0.1, scenarios preloaded."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from harness.core.console import emit_json, human
from harness.core.polling import wait_until
from harness.core.ports import free_port
from harness.run.orchestrate import LOCUSTFILE, RunConfig, make_plan
from harness.stack.services import PythonService
from harness.stack.stacks import Stack, StackConfig
from scenarios.plan import PLAN_ENV, SPAWN_RATE


@dataclass(frozen=True)
class UiConfig:
    run: RunConfig
    web_port: int | None = None
    hold_seconds: float | None = None
    json_output: bool = False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve_ui(config: UiConfig) -> None:
    run = config.run
    system = run.systems[0]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record_dir = run.out / f"{stamp}-ui-{system.value}"
    record_dir.mkdir(parents=True)
    stack_config = StackConfig(
        system=system, provider=run.provider, spec=run.spec, progress=run.progress
    )
    with Stack(stack_config) as stack:
        plan = make_plan(run, record_dir)
        plan_file = record_dir / "plan.json"
        plan.write(plan_file)
        port = config.web_port or free_port()
        locust = PythonService(
            name="locust-ui",
            module="locust",
            log_file=record_dir / "locust.log",
            env={PLAN_ENV: str(plan_file)},
            args=(
                "-f",
                str(LOCUSTFILE),
                "--host",
                stack.url,
                "--web-host",
                "127.0.0.1",
                "--web-port",
                str(port),
                "--csv",
                str(record_dir / "locust"),
                # the start page opens on the plan's numbers (START gives the plan's load)
                "--users",
                str(plan.concurrent_users),
                "--spawn-rate",
                f"{SPAWN_RATE:g}",
                "--run-time",
                f"{plan.total_seconds:.0f}s",
            ),
        )
        with locust:
            ui_url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _answers(ui_url), timeout=60, what=f"the Locust web UI at {ui_url}")
            info: dict[str, Any] = {
                "ui": ui_url,
                "users": plan.concurrent_users,
                "spawn_rate": SPAWN_RATE,
                "checkout_rate": plan.checkout_rate,
                "system": system.value,
                "url": stack.url,
                "record_dir": str(record_dir),
                "pids": {"locust": locust.pid, **(stack.state.pids if stack.state else {})},
            }
            if config.json_output:
                emit_json(info)
            else:
                human.print(f"Locust web UI: {ui_url}  (system {system.value} at {stack.url})")
                human.print(
                    f"the start page opens on the plan: {plan.concurrent_users} users "
                    f"({plan.shoppers} shoppers and the open-model driver), "
                    f"ramp-up {SPAWN_RATE:g}/s, "
                    f"{plan.total_seconds:.0f} s; checkouts arrive at {plan.checkout_rate:g}/s"
                )
                human.print(f"requests are recorded under {record_dir}; Ctrl-C stops everything")
            threading.Event().wait(config.hold_seconds)
