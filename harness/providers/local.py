"""The embedded provider: the harness runs ``initdb`` and ``postgres`` itself.

Each cluster is its own process tree on 127.0.0.1 and a free port, with a
random password and scram authentication (no trust anywhere), its data under
the harness's work directory. Every cluster leaves an ownership record beside
its data so that the next ``cqrs-bench`` command can stop what a killed run
left behind (see :func:`reap_orphans`).

As root, PostgreSQL runs as an unprivileged account, and root never writes
into a directory that account owns (a link planted there would make root
overwrite or give away any file). A cluster's directory stays root's (mode
0711): the ownership record and the server's log live there, opened without
following links; only ``data/`` is the server account's, made empty by root
(and handed over by ``fchown`` on the descriptor root opened, never by path),
and everything inside it is written by processes running as that account.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import psutil
import psycopg

from harness.core.accounts import check_reachable, unprivileged_user
from harness.core.console import human
from harness.core.errors import BadInput, EnvironmentProblem, HarnessError
from harness.core.jsonfile import write_json
from harness.core.lifecycle import Managed
from harness.core.paths import clusters_dir
from harness.core.polling import wait_until
from harness.core.ports import free_port, port_is_free
from harness.core.processes import (
    ExpectedProcess,
    ProcessIdentity,
    child_setup,
    stop_tree,
    within,
)
from harness.providers.base import Endpoint
from harness.providers.binaries import PgBinaries, known_setting_names

SUPERUSER = "postgres"
OWNER_FILE = "owner.json"
# A standby streams from its primary over a replication connection on loopback.
REPLICATION_HBA = "host replication all 127.0.0.1/32 scram-sha-256"
START_TIMEOUT_S = 60.0


def validate_settings(binaries: PgBinaries, settings: Mapping[str, str]) -> None:
    known = known_setting_names(binaries.bindir)
    if not known:  # could not list them; postgres itself will complain
        return
    unknown = sorted(name for name in settings if name not in known and "." not in name)
    if unknown:
        raise BadInput(f"unknown PostgreSQL setting(s): {', '.join(unknown)}")


@dataclass
class ClusterRecord:
    """What the reaper needs to know about a cluster, kept in its directory."""

    name: str
    port: int
    # the command that started it; None once a stack started by `up` is complete
    # (see release_to_stack): until then a killed `up` leaves it to the reaper
    owner: ProcessIdentity | None
    server: ProcessIdentity | None = None

    def write(self, directory: Path) -> None:
        payload = {
            "name": self.name,
            "port": self.port,
            "owner": None if self.owner is None else self.owner.to_json(),
            "server": None if self.server is None else self.server.to_json(),
        }
        write_json(directory / OWNER_FILE, payload, indent=None)

    @classmethod
    def read(cls, directory: Path) -> ClusterRecord | None:
        try:
            data = json.loads((directory / OWNER_FILE).read_text())
            return cls(
                name=str(data["name"]),
                port=int(data["port"]),
                owner=None if data["owner"] is None else ProcessIdentity.from_json(data["owner"]),
                server=None
                if data["server"] is None
                else ProcessIdentity.from_json(data["server"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass
class LocalCluster(Managed):
    name: str
    home: Path
    binaries: PgBinaries
    settings: Mapping[str, str]
    port: int | None = None
    detached: bool = False
    template: Path | None = None  # a stopped cluster's data directory to start from
    template_password: str | None = field(default=None, repr=False)
    primary: Endpoint | None = field(default=None, repr=False)  # stream from it: a hot standby
    cpus: frozenset[int] | None = None  # the cores its processes may run on (None: any)
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    _dir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _server: ProcessIdentity | None = None
    _bound_port: int | None = None

    # -- Cluster protocol -------------------------------------------------
    @property
    def endpoint(self) -> Endpoint:
        if self._bound_port is None:
            raise RuntimeError(f"cluster {self.name} is not started")
        return Endpoint("127.0.0.1", self._bound_port, SUPERUSER, self._password)

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise RuntimeError(f"cluster {self.name} is not started")
        return self._dir

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "postgres.log"

    def start(self) -> Self:
        validate_settings(self.binaries, self.settings)
        if self.port is not None and not port_is_free(self.port):
            raise EnvironmentProblem(f"port {self.port} on 127.0.0.1 is already in use")
        account = unprivileged_user() if os.geteuid() == 0 else None
        root = clusters_dir(self.home)
        root.mkdir(parents=True, exist_ok=True)
        if account is not None:
            check_reachable(root, account)
        self._dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=root))
        with _opened_dir(self._dir) as fd:
            os.fchmod(fd, 0o711)  # the server's account passes through to data/, no more
        ClusterRecord(self.name, self.port or 0, ProcessIdentity.current()).write(self._dir)
        if self.primary is not None:
            self._base_backup(account, self.primary)
        elif self.template is None:
            self._initdb(account)
        else:
            self._copy_template(account)
        self._launch(account)
        if self.template is not None and self.template_password is not None:
            self._rotate_password()
        return self

    def stop(self) -> None:
        if self._server is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected.
            stop_tree(self._server, first_signal=signal.SIGINT, grace=60)
            self._server = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._bound_port = None

    def stop_keep_data(self) -> Path:
        """Stop the server cleanly and hand over its data directory (dataset cache)."""
        self.suspend()
        return self.data_dir

    def suspend(self) -> None:
        """Stop the server but keep its data and port, as an outage would (see resume)."""
        if self._server is not None:
            stop_tree(self._server, first_signal=signal.SIGINT, grace=120)
            self._server = None
        if self._process is not None:
            self._process.wait(timeout=30)
            self._process = None

    def resume(self) -> None:
        """Start the server again on the same data and port after :meth:`suspend`."""
        if self._server is not None:
            return
        self.port = self._bound_port
        self._launch(unprivileged_user() if os.geteuid() == 0 else None)

    def crash(self) -> None:
        """Kill the server outright (SIGKILL to the postmaster), as a crash would.

        Its backends end once they see the postmaster gone; :meth:`resume`
        starts it again on the same data and port (crash recovery).
        """
        proc = None if self._server is None else self._server.process()
        if proc is None:
            return
        try:
            backends = proc.children(recursive=True)
        except psutil.NoSuchProcess:
            backends = []
        proc.kill()
        if self._process is not None:
            self._process.wait(timeout=30)
            self._process = None
        psutil.wait_procs(backends, timeout=30)
        self._server = None

    @property
    def local_directory(self) -> Path | None:
        return self._dir

    def start_from_copy(self, data_dir: Path, password: str | None) -> bool:
        self.template = data_dir
        self.template_password = password
        return True

    def record(self) -> ClusterRecord | None:
        return None if self._dir is None else ClusterRecord.read(self._dir)

    # -- steps ------------------------------------------------------------
    def _initdb(self, account: pwd.struct_passwd | None) -> None:
        self._make_data_dir(account)
        pwfile = self.directory / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            if account is not None:
                os.fchown(out.fileno(), account.pw_uid, account.pw_gid)  # initdb reads it
            out.write(self._password + "\n")
        try:
            self._run(
                [
                    str(self.binaries.tool("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                account,
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        # written by the server's account itself: data/ is its directory
        self._run(
            ["sh", "-c", 'cat > "$1"', "sh", str(self.data_dir / "pg_hba.conf")],
            account,
            what="writing pg_hba.conf",
            stdin=(
                "# written by cqrs-bench: TCP on loopback only, passwords always\n"
                "local all all scram-sha-256\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
                f"{REPLICATION_HBA}\n"
            ),
        )

    def _make_data_dir(self, account: pwd.struct_passwd | None) -> None:
        """An empty ``data/`` for the server's account, handed over through its descriptor."""
        os.mkdir(self.data_dir, 0o700)
        if account is not None:
            with _opened_dir(self.data_dir) as fd:
                os.fchown(fd, account.pw_uid, account.pw_gid)

    def _copy_template(self, account: pwd.struct_passwd | None) -> None:
        assert self.template is not None
        self._make_data_dir(account)
        self._run(
            ["cp", "-a", "--reflink=auto", f"{self.template}/.", str(self.data_dir)],
            account,
            what="copying the dataset's data directory",
        )
        if self.template_password is not None:
            # the copy keeps the template's password until _rotate_password runs
            self._password, self.template_password = self.template_password, self._password
        # datasets built before standbys existed lack the line a standby connects with
        self._run(
            [
                "sh",
                "-c",
                'grep -qxF "$1" "$2" || printf "%s\\n" "$1" >> "$2"',
                "sh",
                REPLICATION_HBA,
                str(self.data_dir / "pg_hba.conf"),
            ],
            account,
            what="allowing replication from loopback",
        )

    def _base_backup(self, account: pwd.struct_passwd | None, primary: Endpoint) -> None:
        """A copy of the running primary (pg_basebackup), set to stream from it as a standby."""
        self._make_data_dir(account)
        self._run(
            [
                str(self.binaries.tool("pg_basebackup")),
                "-h",
                primary.host,
                "-p",
                str(primary.port),
                "-U",
                primary.user,
                "-D",
                str(self.data_dir),
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            account,
            what="pg_basebackup from the primary",
            env={"PGPASSWORD": primary.password},
        )
        conninfo = (
            f"host={primary.host} port={primary.port} user={primary.user} "
            f"password={primary.password} application_name={self.name}"
        )
        # in the standby's own (0600) configuration file, not on a command line
        self._run(
            [
                "sh",
                "-c",
                'printf "primary_conninfo = \'%s\'\\n" "$1" >> "$2" && : > "$3"',
                "sh",
                conninfo,
                str(self.data_dir / "postgresql.auto.conf"),
                str(self.data_dir / "standby.signal"),
            ],
            account,
            what="configuring the standby",
        )
        self._password = primary.password  # the same roles: they are replicated

    def _launch(self, account: pwd.struct_passwd | None) -> None:
        port = self.port or free_port()
        args = [str(self.binaries.tool("postgres")), "-D", str(self.data_dir), "-p", str(port)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        for name, value in self.settings.items():
            args += ["-c", f"{name}={value}"]
        # root's file in root's directory: the server writes to the descriptor it inherits
        try:
            log_fd = os.open(
                self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
            )
        except OSError as exc:  # a link planted there: refused, not followed
            raise EnvironmentProblem(
                f"cannot open the server log {self.log_file}: {exc.strerror}"
            ) from None
        with os.fdopen(log_fd, "ab") as log:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=[] if account is not None else None,
                start_new_session=True,
                preexec_fn=self._child_setup(),
            )
        self._server = ProcessIdentity.of(self._process.pid)
        self._bound_port = port
        previous = ClusterRecord.read(self.directory)
        ClusterRecord(
            self.name,
            port,
            ProcessIdentity.current() if previous is None else previous.owner,
            self._server,
        ).write(self.directory)
        wait_until(
            self._accepts_connections,
            timeout=START_TIMEOUT_S,
            what=f"PostgreSQL cluster {self.name!r} on port {port}",
            give_up=self._exited_reason,
        )

    def _child_setup(self) -> functools.partial[None] | None:
        # The parent-death signal follows the forking thread, so only use it
        # from the main thread; detached clusters must outlive the command.
        die = not self.detached and threading.current_thread() is threading.main_thread()
        if not die and self.cpus is None:
            return None
        return functools.partial(child_setup, signal.SIGQUIT if die else None, self.cpus, 0)

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.endpoint.dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def _exited_reason(self) -> str | None:
        if self._process is None or self._process.poll() is None:
            return None
        return f"postgres exited with code {self._process.returncode}: {self._log_tail()}"

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in self.log_file.read_text(errors="replace").splitlines() if ln]
        except OSError:
            return "(no log)"
        interesting = [ln for ln in lines if "FATAL" in ln or "ERROR" in ln] or lines
        return " | ".join(interesting[-3:])

    def _rotate_password(self) -> None:
        assert self.template_password is not None
        fresh = self.template_password
        with psycopg.connect(self.endpoint.dsn, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(fresh)
                )
            )
        self._password = fresh
        self.template_password = None

    def _run(
        self,
        args: list[str],
        account: pwd.struct_passwd | None,
        *,
        what: str,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> None:
        result = subprocess.run(
            args,
            input=stdin,
            env=None if env is None else {**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=[] if account is not None else None,
            timeout=600,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EnvironmentProblem(f"{what} failed: {' | '.join(detail[-3:])}")


@dataclass
class LocalProvider:
    home: Path
    binaries: PgBinaries
    settings: Mapping[str, str]
    base_port: int | None = None
    detached: bool = False
    name: str = "local"
    _handed_out: int = 0

    def cluster(
        self, name: str, *, standby_of: Endpoint | None = None, cpus: frozenset[int] | None = None
    ) -> LocalCluster:
        port = None if self.base_port is None else self.base_port + self._handed_out
        self._handed_out += 1
        return LocalCluster(
            name=name,
            home=self.home,
            binaries=self.binaries,
            settings=self.settings,
            port=port,
            detached=self.detached,
            primary=standby_of,
            cpus=cpus,
        )

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.name,
            "bindir": str(self.binaries.bindir),
            "version": self.binaries.version,
            "found_via": self.binaries.source,
            "settings": dict(self.settings),
        }


def expected_server(record: ClusterRecord, directory: Path) -> ExpectedProcess:
    """What the server a cluster directory's record names must be before it is signalled."""
    if record.name.startswith("redis-"):  # a local Redis keeps the same record (cache.py)
        return ExpectedProcess(
            what=f"redis-server {record.name}",
            uid=os.geteuid(),
            names=frozenset({"redis-server"}),
            on_command_line=f"127.0.0.1:{record.port}",
        )
    return ExpectedProcess(
        what=f"the PostgreSQL server of {directory}",
        uid=unprivileged_user().pw_uid if os.geteuid() == 0 else os.geteuid(),
        names=frozenset({"postgres"}),
        on_command_line=str(directory / "data"),
    )


def stop_recorded_cluster(directory: Path, *, grace: float = 60) -> None:
    """Stop the server a cluster directory's record names (fast shutdown), if it runs.

    Only when it is that directory's server (see :func:`expected_server`);
    otherwise :class:`ForeignProcess` says why it was left alone.
    """
    record = ClusterRecord.read(directory)
    if record is not None and record.server is not None:
        stop_tree(
            record.server,
            first_signal=signal.SIGINT,
            grace=grace,
            expect=expected_server(record, directory),
        )


def release_to_stack(directory: Path) -> None:
    """A detached stack is complete: its cluster (or Redis) now outlives its command.

    Until this, the record names the command starting the stack as the owner,
    so a killed ``up`` leaves a started cluster to the next command's reaper.
    """
    record = ClusterRecord.read(directory)
    if record is not None:
        record.owner = None
        record.write(directory)


def recorded_cluster_alive(directory: Path) -> bool:
    record = ClusterRecord.read(directory)
    return bool(record and record.server and record.server.alive())


def remove_cluster_directory(home: Path, directory: Path) -> None:
    """Stop a cluster directory's server and remove the directory: only one of our own.

    A record (a stack's ``stack.json``) naming a path outside the clusters'
    directory, or a process that is not the cluster's server, is refused with
    :class:`BadInput` / :class:`ForeignProcess` and nothing is removed.
    """
    if not within(directory, clusters_dir(home)):
        raise BadInput(
            f"refused to remove {directory}: not a cluster directory of {clusters_dir(home)}"
        )
    stop_recorded_cluster(directory, grace=30)
    shutil.rmtree(directory, ignore_errors=True)


def reap_orphans(home: Path) -> list[str]:
    """Stop clusters whose owning command has died, and remove their directories.

    Detached clusters (started by ``up``) have no owner and are left alone;
    ``down`` stops them. Returns the names of what was reaped; what it refuses
    to touch (a record naming a process that is not the cluster's server) is
    said on stderr and left in place.
    """
    reaped: list[str] = []
    root = clusters_dir(home)
    if not root.is_dir():
        return reaped
    for directory in sorted(root.iterdir()):
        if directory.is_symlink() or not directory.is_dir():
            continue
        record = ClusterRecord.read(directory)
        if record is None:
            # a directory whose record never got written: its creator died at once
            if _age_seconds(directory) < 60:
                continue
        elif record.owner is None or record.owner.alive():
            continue
        try:
            remove_cluster_directory(home, directory)
        except HarnessError as refused:
            human.print(f"cqrs-bench: {refused}", markup=False, soft_wrap=True)
            continue
        reaped.append(directory.name)
    return reaped


@contextlib.contextmanager
def _opened_dir(path: Path) -> Iterator[int]:
    """A descriptor of the directory ``path`` itself (a link there is refused, not followed)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        yield fd
    finally:
        os.close(fd)


def _age_seconds(path: Path) -> float:
    return time.time() - path.stat().st_mtime
