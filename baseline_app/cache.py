"""baseline_app's report cache: the dashboard and revenue answers kept in Redis for a TTL.

The cheap fix teams reach for before CQRS. Used only when the settings name a
Redis (the ``cache`` system); otherwise every report runs on the database.

Each answer is stored with the time its report started on the database
(``computed_at``): its age is the staleness of what a reader gets.

Two refresh behaviours, a setting:
- ``expiry`` (plain): the answer expires after the TTL; every request that
  misses runs the report itself. When admins arrive together just after an
  expiry, they all run it at once: a stampede on the database.
- ``single-flight``: the answer is kept past its TTL; the first request that
  finds it old takes a refresh lock (``SET NX``) and runs the report, while
  the others get the old answer at once. Only when there is no answer at all
  (a cold cache) do they wait for the one refresh.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from baseline_app.settings import SINGLE_FLIGHT

PREFIX = "cqrs-bench:report:"
# A refresh holds its lock at most this long (a refresher that died frees it by then).
LOCK_S = 120.0
# Single-flight keeps an answer this many TTLs past its computation, to serve while refreshing.
KEEP_TTLS = 360
# A cold cache under single-flight: wait this long for the one refresh, then run it too.
COLD_WAIT_S = 60.0
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

Report = Callable[[], Awaitable[dict[str, Any]]]


class ReportCache:
    def __init__(self, url: str, ttl_s: float, refresh: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.ttl_s = ttl_s
        self.refresh = refresh
        self.keys: dict[str, str] = {}  # key -> the report it holds (for the ages)
        self.counts = {"hits": 0, "stale_served": 0, "misses": 0, "reports_run": 0, "waited": 0}

    async def start(self) -> None:
        await self.client.ping()

    async def stop(self) -> None:
        await self.client.aclose()

    async def answer(self, report: str, params: str, run: Report) -> dict[str, Any]:
        key = f"{PREFIX}{report}:{params}"
        self.keys.setdefault(key, report)
        if self.refresh == SINGLE_FLIGHT:
            return await self._single_flight(key, run)
        return await self._expiry(key, run)

    async def _expiry(self, key: str, run: Report) -> dict[str, Any]:
        entry = await self._get(key)
        if entry is not None:
            self.counts["hits"] += 1
            return dict(entry["answer"])
        self.counts["misses"] += 1
        return await self._run(key, run, keep_s=self.ttl_s)

    async def _single_flight(self, key: str, run: Report) -> dict[str, Any]:
        entry = await self._get(key)
        if entry is not None and time.time() - float(entry["computed_at"]) < self.ttl_s:
            self.counts["hits"] += 1
            return dict(entry["answer"])
        lock, token = f"{key}:refresh", secrets.token_hex(8)
        if await self.client.set(lock, token, nx=True, px=int(LOCK_S * 1000)):
            self.counts["misses"] += 1
            try:
                return await self._run(key, run, keep_s=self.ttl_s * KEEP_TTLS)
            finally:
                await self.client.eval(RELEASE, 1, lock, token)
        if entry is not None:
            self.counts["stale_served"] += 1
            return dict(entry["answer"])
        # a cold cache: one request refreshes, the others wait for its answer
        self.counts["waited"] += 1
        deadline = time.monotonic() + COLD_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            entry = await self._get(key)
            if entry is not None:
                return dict(entry["answer"])
            if not await self.client.exists(lock):
                break  # the refresher failed: run it here
        self.counts["misses"] += 1
        return await self._run(key, run, keep_s=self.ttl_s * KEEP_TTLS)

    async def _run(self, key: str, run: Report, keep_s: float) -> dict[str, Any]:
        started = time.time()
        self.counts["reports_run"] += 1
        answer = await run()
        entry = json.dumps({"computed_at": started, "answer": answer}, separators=(",", ":"))
        await self.client.set(key, entry, px=max(1, int(keep_s * 1000)))
        return answer

    async def _get(self, key: str) -> dict[str, Any] | None:
        raw = await self.client.get(key)
        if raw is None:
            return None
        entry: dict[str, Any] = json.loads(raw)
        return entry

    async def metrics(self) -> dict[str, Any]:
        """Counters, and the age of each report's cached answer now (ms; the oldest of its
        parameter sets); a report with no answer cached has none."""
        now = time.time()
        ages: dict[str, float] = {}
        keys = list(self.keys)
        values = await self.client.mget(keys) if keys else []
        for key, raw in zip(keys, values, strict=True):
            if raw is None:
                continue
            age = 1000 * (now - float(json.loads(raw)["computed_at"]))
            report = self.keys[key]
            ages[report] = max(ages.get(report, 0.0), round(age, 1))
        return {
            "refresh": self.refresh,
            "ttl_s": self.ttl_s,
            **self.counts,
            "answer_age_ms": ages,
        }
