"""The Black Friday traffic: shoppers, admins (the report storm) and an open-model checkout driver.

Run through ``cqrs-bench run`` (headless) or ``cqrs-bench ui`` (web UI); both
set CQRS_BENCH_PLAN. Every request from every Locust process is recorded
exactly by :mod:`scenarios.recorder`; checkout latency counts from each
arrival's scheduled start, not from when a busy client got round to sending.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Group
from gevent.threadpool import ThreadPool
from locust import FastHttpUser, LoadTestShape, between, constant_pacing, events, task

from scenarios.plan import SPAWN_RATE, PhaseClock, load_plan
from scenarios.recorder import Recorder, error_kind
from scenarios.traffic import (
    Population,
    checkout_schedule,
    fingerprint,
    per_phase,
    report_schedule,
    user_stream,
)

PLAN = load_plan()
CLOCK = PhaseClock(PLAN)
POPULATION = Population.of(PLAN)
_recorder: Recorder | None = None
SEARCH_WORDS = ("Red", "Blue", "Lamp", "Guide", "Tea", "Pro", "Set", "Mug", "Green", "Kit")
SORTS = ("id", "price_asc", "price_desc", "name")
_user_index: dict[str, itertools.count[int]] = {}


def _next_index(user_class: str, environment: Any) -> int:
    """This user's index among its class: unique across the worker processes of one run."""
    runner = getattr(environment, "runner", None)
    worker = int(getattr(runner, "worker_index", 0) or 0)
    local = next(_user_index.setdefault(user_class, itertools.count()))
    return local * 1_000 + worker


@events.init_command_line_parser.add_listener
def _plan_on_the_start_page(parser: Any) -> None:
    # The web UI's custom parameters show the plan's open-model rate; the plan sets it, so
    # the one choice offered is the plan's (the page cannot promise another rate).
    rate = f"{PLAN.checkout_rate:g}"
    parser.add_argument(
        "--checkout-rate",
        default=rate,
        choices=[rate],
        help="Checkout arrivals per second, open model (the plan's, from the profile)",
        include_in_web_ui=True,
    )


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    global _recorder
    CLOCK.start()
    if _recorder is None:
        _recorder = Recorder(Path(PLAN.record_dir), background=_writer_thread())
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
    kind = "" if ok else error_kind(status, exception, _error_code(response, status))
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


def _error_code(response: Any, status: int) -> str | None:
    """The app's error code from a 503 answer (a recovery conflict has its own)."""
    if status != 503:
        return None
    try:
        return str(json.loads(response.content)["error"]["code"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ClientTimeout(Exception):
    """The whole request took longer than the client waits."""


def _writer_thread() -> Any:
    """A real OS thread for the recorder's file writes, so a disk stall never blocks the hub."""
    pool = ThreadPool(1)  # one writer: rows stay in order
    return pool.spawn


class ShopClient(FastHttpUser):
    abstract = True
    network_timeout = PLAN.timeout_s
    connection_timeout = PLAN.timeout_s
    rng: random.Random

    def on_start(self) -> None:
        name = type(self).__name__
        self.rng = user_stream(PLAN, name, _next_index(name, self.environment))

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

    def record_dropped(self, scheduled: float, name: str) -> None:
        """An arrival that could not be sent: a failure, recorded as such, never silently lost."""
        if _recorder is not None:
            _recorder.record(
                scheduled,
                PLAN.phase_at(scheduled - (CLOCK.started or scheduled)),
                name,
                0,
                False,
                "dropped",
                0,
                int((time.time() - scheduled) * 1_000_000),
            )


class Shopper(ShopClient):
    """Browses, searches, opens product pages and their orders (closed loop, think time).

    The action and its ids come from the shopper's own seeded stream, so each
    shopper asks for the same pages in the same order on every system.
    """

    weight = 1
    wait_time = between(*PLAN.shopper_wait_s)
    actions = tuple(name for name, weight in PLAN.weights.items() if weight > 0)
    action_weights = tuple(PLAN.weights[name] for name in actions)

    @task
    def shop(self) -> None:
        if self.finished() or not self.actions:
            return
        action = self.rng.choices(self.actions, self.action_weights)[0]
        if action == "browse":
            page = self.rng.randint(1, max(1, PLAN.products // 20))
            sort = self.rng.choice(SORTS)
            self.call("GET", f"/products?page={page}&sort={sort}", name="product_list")
        elif action == "search":
            word = self.rng.choice(SEARCH_WORDS)
            self.call("GET", f"/products?search={word}", name="product_list")
        elif action == "product_page":
            self.call("GET", f"/products/{POPULATION.product(self.rng)}", name="product_page")
        elif action == "my_orders":
            self.call("GET", f"/users/{POPULATION.user(self.rng)}/orders", name="my_orders")
        elif action == "order_status":
            self.call("GET", f"/orders/{self.rng.randint(1, PLAN.orders)}", name="order_status")
        elif action == "checkout":
            body = {
                "user_id": POPULATION.user(self.rng),
                "items": [{"product_id": POPULATION.product(self.rng), "quantity": 1}],
            }
            self.call("POST", "/checkout", json=body, name="checkout")


def _announce(kind: str, plan_times: list[float], bound: int, digest: str) -> None:
    """Tell the harness what this process scheduled, so every arrival can be accounted for."""
    record = {
        "driver": kind,
        "fingerprint": digest,
        "scheduled": per_phase(PLAN, plan_times),
        "in_flight_bound": bound,
    }
    path = Path(PLAN.record_dir) / f"schedule-{kind}-{os.getpid()}.json"
    path.write_text(json.dumps(record))


class OpenModelDriver(ShopClient):
    """Replays a schedule fixed in advance, whatever the responses do.

    Each arrival runs in its own greenlet at its scheduled time; its latency
    counts from that time. At most ``bound`` run at once; arrivals beyond
    that are recorded as dropped (failures), never silently delayed.
    """

    abstract = True
    fixed_count = 1
    wait_time = constant_pacing(0)

    def replay(self, schedule: list[tuple[float, Any]], bound: int) -> None:
        group = Group()
        started = CLOCK.started or time.time()
        # The event loop's timers fire up to a millisecond late (epoll waits in whole
        # milliseconds), and that lateness would count as the system's latency. So wake a
        # little early and yield until the arrival's time, within a CPU budget of 20% of
        # a core at the schedule's rate; never send before the scheduled time.
        rate = len(schedule) / max(PLAN.total_seconds, 1e-9)
        early = min(0.0015, 0.2 / max(rate, 1e-9))
        for at, item in schedule:
            scheduled = started + at
            gevent.sleep(max(0.0, scheduled - early - time.time()))
            while time.time() < scheduled:
                gevent.sleep(0)
            if len(group) >= bound:
                self.record_dropped(scheduled, self.name_of(item))
                continue
            group.spawn(self.send, scheduled, item)
        group.join(timeout=PLAN.timeout_s + 1)
        self.after_replay()
        gevent.sleep(PLAN.total_seconds + PLAN.drain_seconds)  # the shape ends the test

    def name_of(self, item: Any) -> str:
        raise NotImplementedError

    def send(self, scheduled: float, item: Any) -> None:
        raise NotImplementedError

    def after_replay(self) -> None:
        pass


class CheckoutDriver(OpenModelDriver):
    """Open-model checkout arrivals at the plan's rate; each confirmed by reading the order."""

    confirmations: Group

    # one connection per arrival in flight, so the client pool never queues them
    concurrency = PLAN.checkout_bound + 16

    @task
    def drive(self) -> None:
        arrivals = checkout_schedule(PLAN, POPULATION)
        _announce(
            "checkout",
            [a.at for a in arrivals],
            PLAN.checkout_bound,
            fingerprint(arrivals, report_schedule(PLAN)),
        )
        # confirmation reads run outside the checkout bound: a slow read never drops a checkout
        self.confirmations = Group()
        self.replay([(a.at, a) for a in arrivals], PLAN.checkout_bound)

    def name_of(self, item: Any) -> str:
        return "checkout"

    def send(self, scheduled: float, item: Any) -> None:
        body = {"user_id": item.user_id, "items": [{"product_id": item.product_id, "quantity": 1}]}
        response = self.call(
            "POST", "/checkout", name="checkout", context={"scheduled": scheduled}, json=body
        )
        if getattr(response, "status_code", 0) == 200:
            order_id = response.json()["order_id"]
            self.confirmations.spawn(
                self.call, "GET", f"/orders/{order_id}", name="checkout_confirm"
            )

    def after_replay(self) -> None:
        self.confirmations.join(timeout=PLAN.timeout_s + 1)


class ReportDriver(OpenModelDriver):
    """The report storm: admins' dashboard and revenue reports at fixed, seeded times."""

    concurrency = PLAN.report_bound + 4

    @task
    def drive(self) -> None:
        reports = report_schedule(PLAN)
        _announce(
            "reports",
            [r.at for r in reports],
            PLAN.report_bound,
            fingerprint(checkout_schedule(PLAN, POPULATION), reports),
        )
        self.replay([(r.at, r) for r in reports], PLAN.report_bound)

    def name_of(self, item: Any) -> str:
        return str(item.name)

    def send(self, scheduled: float, item: Any) -> None:
        path = (
            f"/dashboard/customers?limit={PLAN.dashboard_limit}"
            if item.name == "dashboard_customers"
            else "/dashboard/revenue"
        )
        self.call("GET", path, name=item.name, context={"scheduled": scheduled})


class BlackFriday(LoadTestShape):
    """Steady shopping, the report storm, recovery: every user from the start, for the plan.

    Headless (``cqrs-bench run``), the plan's numbers. From the web UI (``cqrs-bench ui``),
    the start page's: it opens on the plan's users (shoppers + the two drivers), ramp-up and
    run time, and what is changed there is what runs (more users are more shoppers)."""

    use_common_options = True  # the start page shows users, ramp-up and run time

    def tick(self) -> tuple[int, float] | None:
        users, rate, end = PLAN.concurrent_users, SPAWN_RATE, PLAN.total_seconds
        options = None if self.runner is None else self.runner.environment.parsed_options
        if options is not None and not options.headless:
            users = options.num_users if options.num_users is not None else users
            rate = options.spawn_rate if options.spawn_rate else rate
            end = min(end, float(options.run_time)) if options.run_time else end
        # a drain period after the last phase lets every request in flight finish
        if self.get_run_time() >= end + PLAN.drain_seconds:
            return None
        return users, rate
