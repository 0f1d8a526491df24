"""The provider interface: where a PostgreSQL database comes from.

A provider hands out clusters; a cluster is started, used through its
endpoint, and stopped. Used as a context manager a cluster is stopped on the
way out, and also when ``start`` itself fails half way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import quote


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str = "postgres"
    # the harness's own schema in a database it shares (external provider): every
    # session sees only it, so nothing outside it is read, written or truncated
    schema: str | None = None

    @property
    def dsn(self) -> str:
        """libpq URL, password included (callers need it to connect)."""
        url = (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        )
        if self.schema is not None:
            url += f"?options={quote(f'-c search_path={self.schema}', safe='')}"
        return url

    @property
    def sqlalchemy_url(self) -> str:
        return "postgresql+psycopg" + self.dsn.removeprefix("postgresql")

    def with_dbname(self, dbname: str) -> Endpoint:
        return Endpoint(self.host, self.port, self.user, self.password, dbname, self.schema)


class Cluster(Protocol):
    """One PostgreSQL server holding one database of the system under test."""

    name: str

    def start(self) -> Self: ...

    def stop(self) -> None: ...

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def pid(self) -> int | None:
        """The server's main process on this machine, when there is one."""
        ...

    @property
    def local_directory(self) -> Path | None:
        """The cluster's own directory on this machine, when the harness made one."""
        ...

    def start_from_copy(self, data_dir: Path, password: str | None) -> bool:
        """Before start: begin from a copy of a stopped cluster's data directory.

        False when this kind of cluster cannot (it then starts empty and the
        caller loads the data over a connection).
        """
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class CacheServer(Protocol):
    """One Redis server: the report cache of the ``cache`` system."""

    name: str

    def start(self) -> Self: ...

    def stop(self) -> None: ...

    @property
    def url(self) -> str:
        """``redis://:password@host:port/0``, password included (the app needs it)."""
        ...

    @property
    def pid(self) -> int | None:
        """The server's process on this machine, when there is one."""
        ...

    @property
    def local_directory(self) -> Path | None:
        """The server's own directory on this machine (its record), when the harness made one."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Provider(Protocol):
    name: str

    def cluster(
        self, name: str, *, standby_of: Endpoint | None = None, cpus: frozenset[int] | None = None
    ) -> Cluster:
        """A not-yet-started cluster; ``standby_of``: a hot standby streaming from that
        primary; ``cpus``: the cores its processes may use (where the provider can pin)."""
        ...

    def describe(self) -> dict[str, object]:
        """What this provider will use, for doctor and run provenance."""
        ...
