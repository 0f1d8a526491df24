"""Where the report cache comes from: a Redis server, ``local``, ``docker`` or ``external``.

The same shape as the PostgreSQL providers. ``local`` runs ``redis-server``
itself on 127.0.0.1 and a free port, with a random password and nothing
persisted (no RDB snapshots, no append-only file); it dies with the command
that started it (parent-death signal) and leaves an ownership record in its
own directory under the clusters' root, so the reaper that stops orphaned
clusters stops an orphaned Redis too (``reap_orphans``), and ``down`` stops a
detached one. ``docker`` runs testcontainers' Redis module from an image that
is already present (never pulled). ``external`` uses a ``redis://`` URL.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, cast
from urllib.parse import quote, urlsplit

from harness.core.errors import BadInput, EnvironmentProblem
from harness.core.lifecycle import Managed
from harness.core.paths import clusters_dir
from harness.core.polling import wait_until
from harness.core.ports import free_port
from harness.core.processes import ProcessIdentity, child_setup, stop_tree
from harness.providers.base import CacheServer
from harness.providers.docker import LOOPBACK_BINDING, docker_unavailable_reason
from harness.providers.local import ClusterRecord

REDIS_SERVER = "redis-server"
REDIS_BIN_ENV = "CQRS_BENCH_REDIS_SERVER"
DEFAULT_REDIS_IMAGE = "redis:7"
START_TIMEOUT_S = 30.0
INSTALL_HINT = "install it: apt-get install redis-server (or set CQRS_BENCH_REDIS_SERVER)"


def find_redis_server() -> Path:
    """The ``redis-server`` binary: $CQRS_BENCH_REDIS_SERVER, else PATH."""
    configured = os.environ.get(REDIS_BIN_ENV)
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EnvironmentProblem(f"{REDIS_BIN_ENV}={configured} is not an executable")
        return path
    found = shutil.which(REDIS_SERVER)
    if found is None:
        raise EnvironmentProblem("redis-server is not installed", hint=INSTALL_HINT)
    return Path(found)


def redis_version(binary: Path) -> str | None:
    """``7.0.15`` from ``redis-server --version``, or None when it does not say."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for word in out.split():
        if word.startswith("v="):
            return word.removeprefix("v=")
    return None


def redis_url(host: str, port: int, password: str | None) -> str:
    auth = "" if not password else f":{quote(password, safe='')}@"
    return f"redis://{auth}{host}:{port}/0"


def ping(url: str, timeout: float = 2.0) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class LocalRedis(Managed):
    """``redis-server`` run by the harness: loopback, a random password, nothing on disk."""

    name: str
    home: Path
    detached: bool = False
    cpus: frozenset[int] | None = None
    port: int | None = None
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    _dir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _server: ProcessIdentity | None = None
    _bound_port: int | None = None

    @property
    def url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError(f"redis {self.name} is not started")
        return redis_url("127.0.0.1", self._bound_port, self._password)

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid

    @property
    def local_directory(self) -> Path | None:
        return self._dir

    @property
    def log_file(self) -> Path:
        assert self._dir is not None
        return self._dir / "redis.log"

    def start(self) -> Self:
        binary = find_redis_server()
        root = clusters_dir(self.home)
        root.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix=f"redis-{self.name}-", dir=root))
        owner = ProcessIdentity.current()  # a detached stack releases it once complete
        ClusterRecord(f"redis-{self.name}", 0, owner).write(self._dir)
        port = self.port or free_port()
        config = self._dir / "redis.conf"
        # the password lives in a 0600 file, not on a command line
        config.touch(mode=0o600)
        config.write_text(
            "# written by cqrs-bench: loopback only, a password, nothing persisted\n"
            f"bind 127.0.0.1\nport {port}\nprotected-mode yes\n"
            f"requirepass {self._password}\n"
            'save ""\nappendonly no\ndaemonize no\n'
            f"dir {self._dir}\nlogfile {self.log_file}\n"
        )
        die = not self.detached and threading.current_thread() is threading.main_thread()
        self._process = subprocess.Popen(
            [str(binary), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=functools.partial(
                child_setup, signal.SIGTERM if die else None, self.cpus, 0
            ),
        )
        self._server = ProcessIdentity.of(self._process.pid)
        self._bound_port = port
        ClusterRecord(f"redis-{self.name}", port, owner, self._server).write(self._dir)
        wait_until(
            lambda: ping(self.url),
            timeout=START_TIMEOUT_S,
            what=f"redis-server {self.name!r} on port {port}",
            give_up=self._exited_reason,
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_tree(self._server, first_signal=signal.SIGTERM, grace=15)
            self._server = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._bound_port = None

    def _exited_reason(self) -> str | None:
        if self._process is None or self._process.poll() is None:
            return None
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        return f"redis-server exited with code {self._process.returncode}: {' | '.join(tail)}"


@dataclass
class DockerRedis(Managed):
    """testcontainers' Redis module, published on 127.0.0.1; the image must be present."""

    name: str
    image: str = DEFAULT_REDIS_IMAGE
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    _container: Any = None
    _url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"redis {self.name} is not started")
        return self._url

    @property
    def pid(self) -> int | None:
        return None  # inside the engine

    @property
    def local_directory(self) -> Path | None:
        return None

    def start(self) -> Self:
        reason = docker_unavailable_reason()
        if reason is not None:
            raise EnvironmentProblem(f"docker provider: {reason}")
        _require_local_image(self.image)
        from testcontainers.community.redis import RedisContainer

        container = RedisContainer(self.image, password=self._password)
        cast(Any, container).ports[6379] = LOOPBACK_BINDING
        container.with_command(
            f"redis-server --requirepass {self._password} --save '' --appendonly no"
        )
        self._container = container
        container.start()
        self._url = redis_url(
            container.get_container_host_ip(),
            int(container.get_exposed_port(6379)),
            self._password,
        )
        return self

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
        self._url = None


def _require_local_image(image: str) -> None:
    import docker

    client = docker.from_env(version="1.41")
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(
            f"docker image {image} is not present here, and the harness never pulls",
            hint=f"docker pull {image} yourself, or use the local provider",
        ) from None
    finally:
        client.close()


@dataclass
class ExternalRedis(Managed):
    """A Redis the user runs, given as a ``redis://`` URL; never stopped by the harness."""

    name: str
    given_url: str = field(repr=False)

    @property
    def url(self) -> str:
        return self.given_url

    @property
    def pid(self) -> int | None:
        return None

    @property
    def local_directory(self) -> Path | None:
        return None

    def start(self) -> Self:
        if not ping(self.given_url, timeout=5):
            raise EnvironmentProblem(f"external redis {self.name!r} does not answer PING")
        return self

    def stop(self) -> None:
        """Nothing to stop: the server is the user's."""


def parse_redis_url(text: str) -> str:
    """Check ``--redis-url``: ``redis://[:password@]host[:port][/db]`` (or rediss://)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise BadInput(f"malformed --redis-url {text!r}: expected redis://:password@host:port/0")
    try:
        _ = parts.port
    except ValueError:
        raise BadInput(f"malformed --redis-url {text!r}: the port is not a number") from None
    return text.strip()


def make_cache_server(
    kind: str,
    *,
    home: Path,
    url: str | None = None,
    detached: bool = False,
    cpus: frozenset[int] | None = None,
    name: str = "cache",
) -> CacheServer:
    """The Redis of a system: the user's URL when given, else one like its databases
    (in a container for ``docker``, else ``redis-server`` on this machine)."""
    if url is not None:
        return ExternalRedis(name, parse_redis_url(url))
    if kind == "docker":
        return DockerRedis(name)
    return LocalRedis(name, home, detached=detached, cpus=cpus)


def describe_local() -> dict[str, object]:
    """For doctor: the local redis-server, or why there is none."""
    binary = find_redis_server()
    return {"redis_server": str(binary), "version": redis_version(binary)}
