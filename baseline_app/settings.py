"""baseline_app's settings, read once from the environment (DSNs stay out of argv)."""

from __future__ import annotations

import os
from dataclasses import dataclass

SYSTEM_ENV = "CQRS_BENCH_SYSTEM"

DSN_ENV = "CQRS_BENCH_DB_DSN"
# Optional: a hot standby that serves the reads (catalog, my orders, dashboards); checkout
# and the just-placed order stay on the primary.
READ_DSN_ENV = "CQRS_BENCH_READ_DSN"
# Optional: cache the two reports (dashboard, revenue) in Redis (the ``cache`` system).
CACHE_URL_ENV = "CQRS_BENCH_CACHE_URL"
CACHE_TTL_ENV = "CQRS_BENCH_CACHE_TTL_S"
CACHE_REFRESH_ENV = "CQRS_BENCH_CACHE_REFRESH"
EXPIRY = "expiry"  # plain expiry: every request that misses runs the report
SINGLE_FLIGHT = "single-flight"  # one refresh at a time; the others get the old answer


@dataclass(frozen=True)
class Settings:
    dsn: str
    read_dsn: str | None = None
    pool_min: int = 4
    system: str = "baseline"  # the system it serves, as the harness names it
    pool_max: int = 20
    pool_timeout_s: float = 10.0
    cache_url: str | None = None  # None: no cache, every report runs on the database
    cache_ttl_s: float = 10.0
    cache_refresh: str = EXPIRY

    @classmethod
    def from_env(cls) -> Settings:
        dsn = os.environ.get(DSN_ENV)
        if not dsn:
            raise SystemExit(f"baseline_app: set {DSN_ENV} to the shop database's DSN")
        return cls(
            dsn=dsn,
            read_dsn=os.environ.get(READ_DSN_ENV) or None,
            pool_min=int(os.environ.get("CQRS_BENCH_POOL_MIN", cls.pool_min)),
            pool_max=int(os.environ.get("CQRS_BENCH_POOL_MAX", cls.pool_max)),
            pool_timeout_s=float(os.environ.get("CQRS_BENCH_POOL_TIMEOUT", cls.pool_timeout_s)),
            system=os.environ.get(SYSTEM_ENV, cls.system),
            cache_url=os.environ.get(CACHE_URL_ENV) or None,
            cache_ttl_s=float(os.environ.get(CACHE_TTL_ENV, cls.cache_ttl_s)),
            cache_refresh=_refresh(os.environ.get(CACHE_REFRESH_ENV, cls.cache_refresh)),
        )


def _refresh(value: str) -> str:
    if value not in (EXPIRY, SINGLE_FLIGHT):
        raise SystemExit(f"baseline_app: {CACHE_REFRESH_ENV} is {EXPIRY} or {SINGLE_FLIGHT}")
    return value
