"""``cqrs-bench docker-image build``: a PostgreSQL image from Debian's packages, no registry.

A minimal Debian root with ``postgresql-<major>`` (``debootstrap``) is imported
into the engine with ``docker import``. The image speaks the official
``postgres`` image's interface (``POSTGRES_PASSWORD``, ``POSTGRES_USER``,
``PGDATA``; ``postgres -c NAME=VALUE ...`` as the command), so the docker
provider runs either image the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import BadInput, EnvironmentProblem
from harness.providers.docker import BUILT_IMAGE, IMAGE_LABEL, docker_client, image_present

DEFAULT_TAG = BUILT_IMAGE
DEFAULT_MAJOR = 15
DEFAULT_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# The official image's entrypoint contract, in plain sh: initdb on first start
# as the postgres account (scram for TCP, from any address: bridge networks
# connect from the gateway), then exec the command.
ENTRYPOINT = """#!/bin/sh
# cqrs-bench's PostgreSQL image: the official postgres image's interface
# (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, PGDATA; the command is
# "postgres -c NAME=VALUE ...").
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    pwfile="$(mktemp)"
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \\
        --auth-local=trust --auth-host=scram-sha-256 > /dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \\"$db\\"" | postgres --single -D "$PGDATA" postgres > /dev/null
    fi
fi
exec "$@"
"""

# Removed from the root before import: documentation, caches, the cluster the
# package's postinst may have created, apt lists.
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
    "etc/postgresql",
)


@dataclass(frozen=True)
class ImageBuildConfig:
    home: Path
    tag: str = DEFAULT_TAG
    major: int = DEFAULT_MAJOR
    suite: str = DEFAULT_SUITE
    mirror: str = DEFAULT_MIRROR
    rebuild: bool = False


def import_changes(major: int) -> list[str]:
    """The Dockerfile instructions ``docker import`` applies to the root."""
    path = f"/usr/lib/postgresql/{major}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
    return [
        f"ENV PATH={path}",
        "ENV LANG=C.UTF-8",
        "ENV PGDATA=/var/lib/postgresql/data",
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
        'CMD ["postgres"]',
        "EXPOSE 5432",
        f"LABEL {IMAGE_LABEL}=postgresql-{major}",
    ]


def build_image(config: ImageBuildConfig) -> dict[str, Any]:
    """Build (or find) the image; what was done, its id and size, and the seconds taken."""
    if not config.tag.strip() or any(c.isspace() for c in config.tag):
        raise BadInput("--tag must name an image (e.g. cqrs-bench/postgres:15-debian)")
    client = docker_client()
    try:
        if image_present(client, config.tag) and not config.rebuild:
            image = client.images.get(config.tag)
            return _report(config, image, reused=True, seconds={})
        _check_can_bootstrap()
        started = time.perf_counter()
        config.home.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="image-build-", dir=config.home))
        try:
            root = work / "root"
            _bootstrap(config, root)
            bootstrapped = time.perf_counter()
            _finish_root(root, config.major)
            _import(client, root, config)
            imported = time.perf_counter()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        image = client.images.get(config.tag)
        return _report(
            config,
            image,
            reused=False,
            seconds={
                "debootstrap": round(bootstrapped - started, 1),
                "import": round(imported - bootstrapped, 1),
                "total": round(imported - started, 1),
            },
        )
    finally:
        client.close()


def _report(
    config: ImageBuildConfig, image: Any, *, reused: bool, seconds: dict[str, float]
) -> dict[str, Any]:
    return {
        "tag": config.tag,
        "id": str(image.id),
        "size_mib": round(int(image.attrs.get("Size", 0)) / 2**20),
        "postgresql": config.major,
        "reused": reused,
        "seconds": seconds,
        "use": f"--provider docker --docker-image {config.tag}",
    }


def _check_can_bootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem(
            "debootstrap is not installed", hint="apt-get install -y debootstrap"
        )
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "building the image needs root (debootstrap makes device nodes and chroots)",
            hint="run it with sudo",
        )


def _bootstrap(config: ImageBuildConfig, root: Path) -> None:
    log = root.parent / "debootstrap.log"
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include=postgresql-{config.major}",
        config.suite,
        str(root),
        config.mirror,
    ]
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise EnvironmentProblem(
            f"debootstrap failed (exit {done.returncode}): " + " | ".join(tail),
            hint=f"is {config.mirror} reachable? (another mirror: --mirror URL)",
        )


def _finish_root(root: Path, major: int) -> None:
    if not (root / f"usr/lib/postgresql/{major}/bin/postgres").exists():
        raise EnvironmentProblem(f"the bootstrapped root has no PostgreSQL {major} server")
    for relative in TRIM:
        shutil.rmtree(root / relative, ignore_errors=True)
    shutil.rmtree(root / f"var/lib/postgresql/{major}", ignore_errors=True)
    entrypoint = root / "usr/local/bin/docker-entrypoint.sh"
    entrypoint.parent.mkdir(parents=True, exist_ok=True)
    entrypoint.write_text(ENTRYPOINT)
    entrypoint.chmod(0o755)
    data = root / "var/lib/postgresql/data"
    data.mkdir(parents=True, exist_ok=True)
    postgres_ids = _account_ids(root / "etc/passwd", "postgres")
    if postgres_ids is not None:
        os.chown(data, *postgres_ids)
        os.chown(data.parent, *postgres_ids)
    data.chmod(0o700)


def _account_ids(passwd: Path, name: str) -> tuple[int, int] | None:
    for line in passwd.read_text().splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return None


def _import(client: Any, root: Path, config: ImageBuildConfig) -> None:
    repository, _, tag = config.tag.rpartition(":")
    if not repository or "/" in tag:
        repository, tag = config.tag, "latest"
    tar = subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "-c", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tar.stdout is not None
    try:
        client.api.import_image_from_stream(
            tar.stdout, repository=repository, tag=tag, changes=import_changes(config.major)
        )
    finally:
        tar.stdout.close()
        _, errors = tar.communicate()
    if tar.returncode != 0:
        raise EnvironmentProblem(f"tar of the image root failed: {errors.decode(errors='replace')}")
