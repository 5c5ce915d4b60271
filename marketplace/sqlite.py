"""SQLite settings: WAL, a busy timeout, and BEGIN IMMEDIATE for write transactions.

This is SQLAlchemy's documented recipe for the pysqlite driver ("Serializable
isolation / Savepoints / Transactional DDL"): pysqlite's own BEGIN handling is
switched off and we emit BEGIN ourselves. Write transactions (non-GET requests,
CLI commands that write) begin IMMEDIATE, so two writers queue on the busy
timeout instead of one failing with "database is locked" when it upgrades a read
lock. Read-only requests begin DEFERRED and never block writers under WAL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=False)
_busy_timeout_ms = 30000


def set_write_intent(value: bool):
    return _write_intent.set(value)


def reset_write_intent(token) -> None:
    _write_intent.reset(token)


@contextlib.contextmanager
def write_intent():
    """Transactions begun inside this block take the write lock up front."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def configure(busy_timeout_ms: int) -> None:
    global _busy_timeout_ms
    _busy_timeout_ms = busy_timeout_ms


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
