"""Least-privilege roles for what a stack runs: each app, and the projector.

The harness sets up schemas and loads data as the cluster's superuser; the
processes it then starts connect as roles that may only read and write the
rows they need. A superuser could run shell commands on the server
(``COPY ... TO PROGRAM``), create tables, or read any file; these roles can
do none of that. They are members of ``pg_read_all_stats`` only, so that
``/metrics`` and the projector can name the transaction that holds projection
back (``pg_stat_activity``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

import psycopg
from psycopg import sql

from harness.providers.base import Endpoint

# What each kind of access grants, on every table (and sequence) of a schema.
READ_WRITE = ("SELECT", "INSERT", "UPDATE")
READ_ONLY = ("SELECT",)


@dataclass(frozen=True)
class Grant:
    """Privileges on the tables of one schema of one database (``tables`` None: all)."""

    schema: str
    privileges: tuple[str, ...]
    tables: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Role:
    name: str
    password: str

    @classmethod
    def new(cls, name: str) -> Role:
        return cls(name, secrets.token_urlsafe(18))

    def endpoint(self, admin: Endpoint) -> Endpoint:
        """``admin``'s server and database, as this role."""
        return replace(admin, user=self.name, password=self.password)


def can_create_roles(admin: Endpoint) -> bool:
    with psycopg.connect(admin.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    return bool(row and row[0])


def create_role(admin: Endpoint, role: Role) -> None:
    """Create (or reset the password of) a login role with no power of its own."""
    name = sql.Identifier(role.name)
    with psycopg.connect(admin.dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL(
                "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS PASSWORD {}"
            ).format(verb, name, sql.Literal(role.password))
        )
        conn.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(name))


def grant(admin: Endpoint, role: Role, grants: Iterable[Grant]) -> None:
    """Grant ``role`` exactly these privileges in ``admin``'s database."""
    name = sql.Identifier(role.name)
    with psycopg.connect(admin.dsn) as conn:
        # no CREATE anywhere: PUBLIC's CREATE on the public schema, default before 15
        # (only the harness's own servers get roles, so this changes nobody else's)
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for one in grants:
            schema = sql.Identifier(one.schema)
            privileges = sql.SQL(", ").join(sql.SQL(p) for p in one.privileges)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, name))
            if one.tables is None:
                conn.execute(
                    sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                        privileges, schema, name
                    )
                )
                if "INSERT" in one.privileges:
                    conn.execute(
                        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                            schema, name
                        )
                    )
                continue
            for table in one.tables:
                conn.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        privileges, sql.Identifier(one.schema, table), name
                    )
                )
