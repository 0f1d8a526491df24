"""The Black Friday traffic: shoppers, admins (the report storm) and an open-model checkout driver.

Run through ``cqrs-bench run`` (headless) or ``cqrs-bench ui`` (web UI); both
set CQRS_BENCH_PLAN. Every request from every Locust process is recorded
exactly by :mod:`scenarios.recorder`; checkout latency counts from each
arrival's scheduled start, not from when a busy client got round to sending.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Group
from locust import FastHttpUser, LoadTestShape, between, constant_pacing, events, task

from scenarios.plan import PhaseClock, load_plan
from scenarios.recorder import Recorder, error_kind

PLAN = load_plan()
CLOCK = PhaseClock(PLAN)
_recorder: Recorder | None = None
SEARCH_WORDS = ("Red", "Blue", "Lamp", "Guide", "Tea", "Pro", "Set", "Mug", "Green", "Kit")
SORTS = ("id", "price_asc", "price_desc", "name")


def _skewed_cdf(n: int, seed: int, shape: float) -> list[float]:
    """Pareto weights like the dataset's: a few ids get most of the traffic."""
    rng = random.Random(seed)
    return list(itertools.accumulate(rng.paretovariate(shape) for _ in range(n)))


USER_CDF = _skewed_cdf(PLAN.users, PLAN.seed, 1.1)
PRODUCT_CDF = _skewed_cdf(PLAN.products, PLAN.seed + 1, 1.2)


def skewed_id(rng: random.Random, cdf: list[float]) -> int:
    return min(bisect.bisect_left(cdf, rng.random() * cdf[-1]), len(cdf) - 1) + 1


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    global _recorder
    CLOCK.start()
    if _recorder is None:
        _recorder = Recorder(Path(PLAN.record_dir))
        # every process says when its clock started; the harness aligns samples on it
        clock_file = Path(PLAN.record_dir) / f"clock-{os.getpid()}.json"
        clock_file.write_text(json.dumps({"started": CLOCK.started}))


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    if _recorder is not None:
        _recorder.flush()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if _recorder is not None:
        _recorder.close()


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    if _recorder is None:
        return
    sent = start_time if start_time is not None else time.time() - response_time / 1000
    finished = sent + response_time / 1000
    scheduled = (context or {}).get("scheduled")
    began = scheduled if scheduled is not None else sent
    dispatched = (context or {}).get("dispatched", sent)
    status = int(getattr(response, "status_code", 0) or 0)
    ok = exception is None and 200 <= status < 400
    kind = "" if ok else error_kind(status, exception)
    _recorder.record(
        ts=began,
        phase=PLAN.phase_at(began - CLOCK.started) if CLOCK.started else "warmup",
        name=name,
        latency_us=int((finished - began) * 1_000_000),
        ok=ok,
        kind=kind,
        status=status,
        lag_us=int((dispatched - began) * 1_000_000),
    )


class ClientTimeout(Exception):
    """The whole request took longer than the client waits."""


class ShopClient(FastHttpUser):
    abstract = True
    network_timeout = PLAN.timeout_s
    connection_timeout = PLAN.timeout_s
    rng: random.Random

    def on_start(self) -> None:
        self.rng = random.Random(PLAN.seed + id(self) % 10_000)

    def call(
        self,
        method: str,
        path: str,
        name: str,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request that fails as a client timeout after ``timeout_s`` in all.

        geventhttpclient's timeouts apply per socket operation, so a request
        could otherwise hang on for several of them; a shopper gives up after
        the whole wait, and so does this.
        """
        context = {"dispatched": time.time(), **(context or {})}
        try:
            with gevent.Timeout(
                PLAN.timeout_s, ClientTimeout(f"no answer within {PLAN.timeout_s:g} s")
            ):
                return self.client.request(method, path, name=name, context=context, **kwargs)
        except ClientTimeout as exc:
            # raised outside the session's own error handling: record it here
            events.request.fire(
                request_type=method,
                name=name,
                response_time=(time.time() - context["dispatched"]) * 1000,
                response_length=0,
                response=None,
                context=context,
                exception=exc,
                start_time=context["dispatched"],
                url=path,
            )
            return None

    def finished(self) -> bool:
        """After the last phase users send nothing, so nothing is in flight when Locust stops."""
        return CLOCK.phase() == "after"

    def checkout_body(self) -> dict[str, Any]:
        return {
            "user_id": skewed_id(self.rng, USER_CDF),
            "items": [{"product_id": skewed_id(self.rng, PRODUCT_CDF), "quantity": 1}],
        }


class Shopper(ShopClient):
    """Browses, searches, opens product pages and their orders (closed loop, think time)."""

    weight = 1
    wait_time = between(*PLAN.shopper_wait_s)

    @task(PLAN.weights.get("browse", 0))
    def browse(self) -> None:
        if self.finished():
            return
        page = self.rng.randint(1, max(1, PLAN.products // 20))
        self.call(
            "GET", f"/products?page={page}&sort={self.rng.choice(SORTS)}", name="product_list"
        )

    @task(PLAN.weights.get("search", 0))
    def search(self) -> None:
        if self.finished():
            return
        self.call("GET", f"/products?search={self.rng.choice(SEARCH_WORDS)}", name="product_list")

    @task(PLAN.weights.get("product_page", 0))
    def product_page(self) -> None:
        if self.finished():
            return
        self.call("GET", f"/products/{skewed_id(self.rng, PRODUCT_CDF)}", name="product_page")

    @task(PLAN.weights.get("my_orders", 0))
    def my_orders(self) -> None:
        if self.finished():
            return
        self.call("GET", f"/users/{skewed_id(self.rng, USER_CDF)}/orders", name="my_orders")

    @task(PLAN.weights.get("order_status", 0))
    def order_status(self) -> None:
        if self.finished():
            return
        self.call("GET", f"/orders/{self.rng.randint(1, PLAN.orders)}", name="order_status")

    @task(PLAN.weights.get("checkout", 0))
    def checkout(self) -> None:
        if self.finished():
            return
        self.call("POST", "/checkout", json=self.checkout_body(), name="checkout")


class Admin(ShopClient):
    """Opens the CEO dashboard like a person refreshing it: paced, only during the storm."""

    fixed_count = PLAN.admins
    wait_time = constant_pacing(PLAN.admin_interval_s)

    @task(3)
    def dashboard(self) -> None:
        if CLOCK.phase() == "storm":
            self.call(
                "GET",
                f"/dashboard/customers?limit={PLAN.dashboard_limit}",
                name="dashboard_customers",
            )

    @task(1)
    def revenue(self) -> None:
        if CLOCK.phase() == "storm":
            self.call("GET", "/dashboard/revenue", name="dashboard_revenue")


class CheckoutDriver(ShopClient):
    """Open-model checkout arrivals at the plan's rate, whatever the responses do.

    Each arrival is scheduled in advance (Poisson or fixed spacing) and runs in
    its own greenlet; its latency counts from its scheduled start. At most
    ``max_in_flight`` run at once; arrivals beyond that are dropped and
    recorded as such, never silently delayed.
    """

    fixed_count = 1
    wait_time = constant_pacing(0)
    # one connection per arrival in flight, so the client pool never queues them
    concurrency = PLAN.max_in_flight

    @task
    def drive(self) -> None:
        group = Group()
        arrival_rng = random.Random(PLAN.seed + 99)
        next_at = CLOCK.started or time.time()
        end = next_at + PLAN.total_seconds
        while True:
            gap = (
                arrival_rng.expovariate(PLAN.checkout_rate)
                if PLAN.arrival == "poisson"
                else 1.0 / PLAN.checkout_rate
            )
            next_at += gap
            if next_at >= end:
                break
            gevent.sleep(max(0.0, next_at - time.time()))
            if len(group) >= PLAN.max_in_flight:
                if _recorder is not None:
                    _recorder.record(
                        next_at,
                        PLAN.phase_at(next_at - (CLOCK.started or next_at)),
                        "checkout",
                        0,
                        False,
                        "dropped",
                        0,
                        0,
                    )
                continue
            group.spawn(self._arrival, next_at)
        group.join(timeout=PLAN.timeout_s + 1)
        gevent.sleep(PLAN.total_seconds)  # nothing more to send; the shape ends the test

    def _arrival(self, scheduled: float) -> None:
        response = self.call(
            "POST",
            "/checkout",
            name="checkout",
            context={"scheduled": scheduled},
            json=self.checkout_body(),
        )
        if getattr(response, "status_code", 0) == 200:
            order_id = response.json()["order_id"]
            self.call("GET", f"/orders/{order_id}", name="order_status")


class BlackFriday(LoadTestShape):
    """Steady shopping, the report storm, recovery: every user from the start, for the plan."""

    def tick(self) -> tuple[int, float] | None:
        # a drain period after the last phase lets every request in flight finish
        if self.get_run_time() >= PLAN.total_seconds + PLAN.timeout_s + 1:
            return None
        return PLAN.shoppers + PLAN.admins + 1, 100.0
