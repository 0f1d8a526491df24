"""cqrs_app's settings, read once from the environment (DSNs stay out of argv)."""

from __future__ import annotations

import os
from dataclasses import dataclass

SYSTEM_ENV = "CQRS_BENCH_SYSTEM"

WRITE_DSN_ENV = "CQRS_BENCH_WRITE_DSN"
READ_DSN_ENV = "CQRS_BENCH_READ_DSN"


@dataclass(frozen=True)
class Settings:
    write_dsn: str
    read_dsn: str
    pool_min: int = 4
    system: str = "cqrs"  # the system it serves, as the harness names it
    pool_max: int = 20
    pool_timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        missing = [name for name in (WRITE_DSN_ENV, READ_DSN_ENV) if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"cqrs_app: set {' and '.join(missing)}")
        return cls(
            write_dsn=os.environ[WRITE_DSN_ENV],
            read_dsn=os.environ[READ_DSN_ENV],
            pool_min=int(os.environ.get("CQRS_BENCH_POOL_MIN", cls.pool_min)),
            pool_max=int(os.environ.get("CQRS_BENCH_POOL_MAX", cls.pool_max)),
            pool_timeout_s=float(os.environ.get("CQRS_BENCH_POOL_TIMEOUT", cls.pool_timeout_s)),
            system=os.environ.get(SYSTEM_ENV, cls.system),
        )
