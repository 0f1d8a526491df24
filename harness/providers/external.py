"""The external provider: databases the user already runs, given as DSNs.

The harness connects and uses them; it never creates or drops a database it
did not create, and ``stop`` leaves the server alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import psycopg
import psycopg.sql
from psycopg.conninfo import conninfo_to_dict

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.lifecycle import Managed
from harness.providers.base import Endpoint


def parse_dsn_option(text: str) -> tuple[str, str]:
    """Parse ``--dsn NAME=postgresql://...``."""
    name, sep, dsn = text.partition("=")
    if not sep or not name.strip() or not dsn.strip():
        raise BadInput(f"malformed --dsn {text!r}: expected NAME=postgresql://user:pass@host/db")
    return name.strip(), dsn.strip()


# Where the harness keeps its tables in a database it shares with the user.
HARNESS_SCHEMA = "cqrs_bench"
SCHEMA_MARKER = "created by cqrs-bench: its tables, its to truncate and drop"


def claim_schema(dsn: str, schema: str) -> None:
    """Create ``schema`` with the harness's marker, or check that an existing one has it.

    A schema of that name that the harness did not create is refused: rebuild
    truncates every read-model table in it.
    """
    name = psycopg.sql.Identifier(schema)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            (schema,),
        ).fetchone()
        if row is None:
            with conn.transaction():
                conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(name))
                conn.execute(
                    psycopg.sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        name, psycopg.sql.Literal(SCHEMA_MARKER)
                    )
                )
        elif row[0] != SCHEMA_MARKER:
            raise EnvironmentProblem(
                f"schema {schema!r} already exists in {conn.info.dbname!r} and was not created "
                "by cqrs-bench; it is left alone",
                hint="give a database where the harness may create its own schema",
            )


def endpoint_from_dsn(dsn: str) -> Endpoint:
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise BadInput(f"malformed DSN: {exc}") from None
    return Endpoint(
        host=str(parts.get("host", "127.0.0.1")),
        port=int(parts.get("port", 5432) or 5432),
        user=str(parts.get("user", "postgres")),
        password=str(parts.get("password", "")),
        dbname=str(parts.get("dbname", "postgres")),
    )


@dataclass
class ExternalCluster(Managed):
    name: str
    dsn: str = field(repr=False)

    @property
    def endpoint(self) -> Endpoint:
        """The user's database, seen through the harness's own schema only."""
        return replace(endpoint_from_dsn(self.dsn), schema=HARNESS_SCHEMA)

    @property
    def pid(self) -> int | None:
        return None

    @property
    def local_directory(self) -> Path | None:
        return None

    def start_from_copy(self, data_dir: Path, password: str | None) -> bool:
        return False

    def start(self) -> Self:
        try:
            with psycopg.connect(self.dsn, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
            raise EnvironmentProblem(
                f"external database {self.name!r} does not answer: {first}"
            ) from None
        claim_schema(self.dsn, HARNESS_SCHEMA)
        return self

    def stop(self) -> None:
        """Nothing to stop: the server is the user's."""


@dataclass
class ExternalProvider:
    dsns: Mapping[str, str]
    name: str = "external"

    def cluster(
        self, name: str, *, standby_of: Endpoint | None = None, cpus: frozenset[int] | None = None
    ) -> ExternalCluster:
        # a standby or pinning is the user's own set-up: the DSN named for it is used as given
        del standby_of, cpus
        if name not in self.dsns:
            given = ", ".join(sorted(self.dsns)) or "none"
            raise BadInput(f"no --dsn given for database {name!r} (given: {given})")
        return ExternalCluster(name, self.dsns[name])

    def describe(self) -> dict[str, object]:
        return {"provider": self.name, "databases": sorted(self.dsns)}
