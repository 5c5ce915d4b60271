"""The catalogue's version: raised by every committed change to what the public pages
show, whoever makes it (a farm's edit, a CSV import, an order taking stock, an
approval), so that what is cached under one version is never shown after a change.

How: an engine event notes any INSERT, UPDATE or DELETE that SQLAlchemy runs on a
watched table (ORM flushes and bulk statements alike), and the commit of that
transaction raises the version in the same transaction, just before COMMIT (the
row is locked for that instant only, not for the whole transaction). A rollback
forgets the note. Migrations that change what pages show should raise it too;
otherwise a Redis cache serves the old parts until they time out
(CACHE_DEFAULT_TIMEOUT). Raw SQL text written to these tables is not seen: write through
SQLAlchemy statements.
"""

from __future__ import annotations

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from marketplace.catalogue.models import CatalogueVersion

ROW_ID = 1
# What the catalogue, product and farm pages show.
WATCHED = frozenset({
    "products", "variants", "product_photos", "wholesale_tiers", "categories", "labels",
    "producers", "producer_labels", "users", "delivery_rounds", "pickup_points",
})
_NOTE = "catalogue_changed"
_TABLE = CatalogueVersion.__tablename__
_BUMP = update(CatalogueVersion).where(CatalogueVersion.id == ROW_ID).values(
    version=CatalogueVersion.version + 1)


def _note_change(conn, clauseelement, multiparams, params, execution_options):
    if isinstance(clauseelement, UpdateBase) and getattr(
            clauseelement.table, "name", None) in WATCHED:
        conn.info[_NOTE] = True


def _bump_on_commit(conn):
    # The table may not exist yet (or any more): data migrations write to watched
    # tables before it is made. A write transaction pays one catalogue look-up.
    if conn.info.pop(_NOTE, False) and conn.dialect.has_table(conn, _TABLE):
        conn.execute(_BUMP)


def _forget(conn):
    conn.info.pop(_NOTE, None)


def watch(engine: Engine) -> None:
    """Raise the version on every commit of `engine` that changed a watched table."""
    if not event.contains(engine, "commit", _bump_on_commit):
        event.listen(engine, "before_execute", _note_change)
        event.listen(engine, "commit", _bump_on_commit)
        event.listen(engine, "rollback", _forget)


def current(session: Session) -> int | None:
    """The version now; None when the row is missing (then nothing is cached)."""
    return session.scalar(select(CatalogueVersion.version).where(CatalogueVersion.id == ROW_ID))


def ensure_row(session: Session) -> None:
    if session.get(CatalogueVersion, ROW_ID) is None:
        session.add(CatalogueVersion(id=ROW_ID, version=0))
        session.flush()
