"""Scratch databases for the tests that run migrations: a throwaway PostgreSQL database
next to the DATABASE_URL one."""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def postgresql_scratch_database(url: sa.URL):
    """A new, empty database next to the DATABASE_URL one; dropped on exit."""
    # psycopg is an optional driver: only a PostgreSQL run needs it.
    import psycopg
    from psycopg import sql

    name = f"circuit_migrations_{secrets.token_hex(4)}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Same encoding and locale as the database the tests were given.
        encoding, collate, ctype = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}"
            ).format(
                sql.Identifier(name), sql.Literal(encoding), sql.Literal(collate),
                sql.Literal(ctype),
            )
        )
    try:
        yield url.set(drivername="postgresql+psycopg", database=name)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        for attempt in range(40):
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(drop)
                break
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                # An autovacuum worker visiting the new database (after all that DDL)
                # belongs to the server, which FORCE may not terminate for this role:
                # it is done within moments, so try again.
                if attempt == 39:
                    raise
                time.sleep(0.25)
