"""The Black Friday traffic: shoppers, admins (the report storm) and an open-model checkout driver.

Run through ``cqrs-bench run`` (headless) or ``cqrs-bench ui`` (web UI); both
set CQRS_BENCH_PLAN. Under Locust's distributed mode (``cqrs-bench worker``) a
worker has no plan of its own: the master forwards it, with the phase clock,
and collects the workers' records (:mod:`scenarios.distributed`). Every request
from every Locust process is recorded exactly by :mod:`scenarios.recorder`;
checkout latency counts from each arrival's scheduled start, not from when a
busy client got round to sending.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Group
from gevent.threadpool import ThreadPool
from locust import FastHttpUser, LoadTestShape, between, constant_pacing, events, task

from scenarios import distributed
from scenarios.distributed import Coordinator
from scenarios.plan import PLAN_ENV, SPAWN_RATE, LoadPlan, PhaseClock, load_plan
from scenarios.recorder import Recorder, error_kind, error_message
from scenarios.traffic import (
    Arrival,
    Population,
    ReportCall,
    checkout_schedule,
    fingerprint,
    per_phase,
    report_schedule,
    share,
    user_stream,
)

# A worker started by `cqrs-bench worker` has no plan until the master's first spawn message:
# until then it holds a placeholder of one second that no user ever runs.
PLAN = load_plan() if os.environ.get(PLAN_ENV) else LoadPlan({"steady": 1}, checkout_rate=1.0)
CLOCK = PhaseClock(PLAN)
POPULATION = Population.of(PLAN)
COORDINATOR = Coordinator()
COORDINATOR.record_dir = Path(PLAN.record_dir)
_recorder: Recorder | None = None
logger = logging.getLogger(__name__)
SEARCH_WORDS = ("Red", "Blue", "Lamp", "Guide", "Tea", "Pro", "Set", "Mug", "Green", "Kit")
SORTS = ("id", "price_asc", "price_desc", "name")
_user_index: dict[str, itertools.count[int]] = {}


def _next_index(user_class: str, environment: Any) -> int:
    """This user's index among its class: unique across the worker processes of one run."""
    runner = getattr(environment, "runner", None)
    worker = int(getattr(runner, "worker_index", 0) or 0)
    local = next(_user_index.setdefault(user_class, itertools.count()))
    return local * 1_000 + worker


def _configure(plan: LoadPlan) -> None:
    """Make ``plan`` this process's plan: the module's globals and the users' class settings."""
    global PLAN, CLOCK, POPULATION
    PLAN, CLOCK, POPULATION = plan, PhaseClock(plan), Population.of(plan)
    COORDINATOR.record_dir = Path(plan.record_dir)
    ShopClient.network_timeout = plan.timeout_s
    ShopClient.connection_timeout = plan.timeout_s
    Shopper.wait_time = between(*plan.shopper_wait_s)
    Shopper.actions = tuple(name for name, weight in plan.weights.items() if weight > 0)
    Shopper.action_weights = tuple(plan.weights[name] for name in Shopper.actions)
    OpenModelDriver.concurrency = plan.checkout_bound + 16 + plan.report_bound + 4


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    distributed.add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    COORDINATOR.setup(environment)
    options = environment.parsed_options
    if options is not None and not distributed.is_worker(environment):
        # the master's plan travels to its workers as a custom argument
        setattr(options, distributed.PLAN_OPTION, json.dumps(PLAN.to_json()))


@events.init_command_line_parser.add_listener
def _plan_on_the_start_page(parser: Any, **_: Any) -> None:
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
    COORDINATOR.new_test()
    options = environment.parsed_options
    if distributed.is_worker(environment):
        text = getattr(options, distributed.PLAN_OPTION, "")
        if not text:
            raise RuntimeError("the master sent no plan: start it with cqrs-bench run")
        _configure(LoadPlan.from_json(json.loads(text)))
        CLOCK.started = float(getattr(options, distributed.CLOCK_OPTION))  # the master's clock
        if _recorder is None:
            _recorder = Recorder(COORDINATOR.send_records)
            COORDINATOR.on_flush = _recorder.flush
        return
    CLOCK.start()
    if options is not None:
        setattr(options, distributed.CLOCK_OPTION, CLOCK.started)  # for the workers
    # the process that owns the clock says when it started; the harness aligns samples on it
    name = "master" if distributed.is_master(environment) else str(os.getpid())
    clock_file = Path(PLAN.record_dir) / f"clock-{name}.json"
    clock_file.write_text(json.dumps({"started": CLOCK.started}))
    if _recorder is None and not distributed.is_master(environment):
        _recorder = Recorder.to_file(Path(PLAN.record_dir), background=_writer_thread())


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    COORDINATOR.end_test()
    if _recorder is not None:
        _recorder.flush()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if _recorder is not None:
        _recorder.close()
    COORDINATOR.close()


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
    code = None if ok else _error_code(response, status)
    kind = "" if ok else error_kind(status, exception, code)
    _recorder.record(
        ts=began,
        phase=PLAN.phase_at(began - CLOCK.started) if CLOCK.started else "warmup",
        name=name,
        latency_us=int((finished - began) * 1_000_000),
        ok=ok,
        kind=kind,
        status=status,
        lag_us=int((dispatched - began) * 1_000_000),
        error="" if ok else error_message(status, exception, code),
    )


def _error_code(response: Any, status: int) -> str | None:
    """The app's error code from an error answer (a recovery conflict has its own)."""
    if status < 400:
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
                "dropped: not sent (the in-flight bound was full or the generator fell behind)",
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


def _announce(
    kind: str, part: tuple[int, int], plan_times: list[float], bound: int, digest: str
) -> None:
    """Tell the harness what this driver's share scheduled: every arrival is accounted for."""
    COORDINATOR.announce(
        {
            "driver": kind,
            "share": list(part),
            "fingerprint": digest,
            "scheduled": per_phase(PLAN, plan_times),
            "in_flight_bound": bound,
        }
    )


class OpenModelDriver(ShopClient):
    """Replays its share of the checkout and report schedules, fixed in advance, whatever the
    responses do.

    One driver per load generator (a single process, or each of the master's workers): Locust
    places one fixed user of a class on each worker in turn, so the shares spread over the
    workers. Each arrival runs in its own greenlet at its scheduled time; its latency counts
    from that time. At most ``bound`` checkouts (and apart, reports) run at once; arrivals
    beyond that are recorded as dropped (failures), never silently delayed. Answered
    checkouts are confirmed by reading the order, outside the checkout bound.
    """

    fixed_count = 1  # one per load generator: the master sets it (BlackFriday.tick)
    wait_time = constant_pacing(0)
    # one connection per arrival in flight, so the client pool never queues them
    concurrency = PLAN.checkout_bound + 16 + PLAN.report_bound + 4
    confirmations: Group

    def my_share(self) -> tuple[int, int] | None:
        """(index, count) of this driver's share, or None for a driver beyond the count."""
        index, count = COORDINATOR.claim(type(self).__name__)
        if index >= count:
            logger.error("%s: no share left (%d of %d)", type(self).__name__, index + 1, count)
            gevent.sleep(PLAN.total_seconds + PLAN.drain_seconds)
            return None
        return index, count

    @task
    def drive(self) -> None:
        part = self.my_share()
        if part is None:
            return
        all_checkouts = checkout_schedule(PLAN, POPULATION)
        all_reports = report_schedule(PLAN)
        digest = fingerprint(all_checkouts, all_reports)
        checkouts, reports = share(all_checkouts, *part), share(all_reports, *part)
        checkout_bound = _share_bound(PLAN.checkout_bound, part)
        report_bound = _share_bound(PLAN.report_bound, part)
        _announce("checkout", part, [a.at for a in checkouts], checkout_bound, digest)
        _announce("reports", part, [r.at for r in reports], report_bound, digest)
        self.confirmations = Group()
        lanes = Group()
        lanes.spawn(self.replay, [(a.at, a) for a in checkouts], checkout_bound)
        lanes.spawn(self.replay, [(r.at, r) for r in reports], report_bound)
        lanes.join()
        self.confirmations.join(timeout=PLAN.timeout_s + 1)
        gevent.sleep(PLAN.total_seconds + PLAN.drain_seconds)  # the shape ends the test

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
                self.record_dropped(scheduled, _name_of(item))
                continue
            group.spawn(self.send, scheduled, item)
        group.join(timeout=PLAN.timeout_s + 1)

    def send(self, scheduled: float, item: Arrival | ReportCall) -> None:
        if isinstance(item, ReportCall):
            path = (
                f"/dashboard/customers?limit={PLAN.dashboard_limit}"
                if item.name == "dashboard_customers"
                else "/dashboard/revenue"
            )
            self.call("GET", path, name=item.name, context={"scheduled": scheduled})
            return
        body = {"user_id": item.user_id, "items": [{"product_id": item.product_id, "quantity": 1}]}
        response = self.call(
            "POST", "/checkout", name="checkout", context={"scheduled": scheduled}, json=body
        )
        if getattr(response, "status_code", 0) == 200:
            order_id = response.json()["order_id"]
            self.confirmations.spawn(
                self.call, "GET", f"/orders/{order_id}", name="checkout_confirm"
            )


def _name_of(item: Arrival | ReportCall) -> str:
    return item.name if isinstance(item, ReportCall) else "checkout"


def _share_bound(bound: int, part: tuple[int, int]) -> int:
    """A share's in-flight bound: its part of the whole, rounded up (the shares' sum is at least
    the whole's)."""
    return -(-bound // part[1])


class BlackFriday(LoadTestShape):
    """Steady shopping, the report storm, recovery: every user from the start, for the plan.

    Each load generator (a single process, or each of the master's workers) runs one
    open-model driver, which replays its share of the schedule. Headless (``cqrs-bench
    run``), the plan's numbers. From the web UI (``cqrs-bench ui``), the start page's: it
    opens on the plan's users (shoppers + the driver), ramp-up and run time, and what is
    changed there is what runs (more users are more shoppers).
    """

    use_common_options = True  # the start page shows users, ramp-up and run time

    def tick(self) -> tuple[int, float] | None:
        shares = COORDINATOR.share_count()
        OpenModelDriver.fixed_count = shares
        users, rate, end = PLAN.shoppers + shares, SPAWN_RATE, PLAN.total_seconds
        options = None if self.runner is None else self.runner.environment.parsed_options
        if options is not None and not options.headless:
            users = options.num_users if options.num_users is not None else users
            rate = options.spawn_rate if options.spawn_rate else rate
            end = min(end, float(options.run_time)) if options.run_time else end
        # a drain period after the last phase lets every request in flight finish; then the
        # workers' last records reach the master before the test stops
        ended = self.get_run_time() >= end + PLAN.drain_seconds
        if ended and COORDINATOR.all_flushed():
            return None
        return users, rate
