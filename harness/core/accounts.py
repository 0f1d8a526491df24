"""The unprivileged account PostgreSQL runs as when the harness runs as root."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from harness.core.errors import EnvironmentProblem

PG_USER_ENV = "CQRS_BENCH_PG_USER"


def unprivileged_user() -> pwd.struct_passwd:
    """The account PostgreSQL runs as when the harness runs as root."""
    name = os.environ.get(PG_USER_ENV, "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise EnvironmentProblem(
            f"as root, PostgreSQL needs an unprivileged account and {name!r} does not exist",
            hint=f"create it (useradd --system {name}) or set {PG_USER_ENV} to another account",
        ) from None


def run_as_uid() -> int | None:
    return unprivileged_user().pw_uid if os.geteuid() == 0 else None


def check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Fail early when ``account`` cannot traverse to ``path`` (root's home, say)."""
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem}
    for parent in [*reversed(path.parents)]:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid == account.pw_uid:
            allowed = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            allowed = bool(st.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(st.st_mode & stat.S_IXOTH)
        if not allowed:
            raise EnvironmentProblem(
                f"PostgreSQL runs as {account.pw_name!r}, who cannot reach {parent}",
                hint="choose a work directory it can reach with --home or CQRS_BENCH_HOME",
            )
