"""Scratch databases for the tests that run migrations: a throwaway PostgreSQL database
next to the DATABASE_URL one."""

from __future__ import annotations

import secrets
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
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
