"""The migrations build, from nothing, the schema the models describe, and undo it.

The unit fixtures make their tables with create_all(); production databases are
made by `flask db upgrade`. This test runs the real migrations on an empty
database and asks Alembic's autogenerate comparison whether anything differs
from the models' metadata: a model changed without its migration fails here.

Database: a fresh SQLite file; when DATABASE_URL names PostgreSQL, a throwaway
database (circuit_migrations_<random>) on the same server, dropped afterwards,
so the unit tests' database is never touched. The DATABASE_URL role needs
CREATEDB (.ci/run creates it so).

Column types are compared strictly (compare_type=True). Timestamps are a
TypeDecorator (marketplace.models.UTCDateTime) in the models and a plain
sa.DateTime(timezone=True) in the migration; Alembic compares a TypeDecorator by
its impl, DateTime(timezone=True), so there is no spurious difference and no
custom comparison is needed.
"""

from __future__ import annotations

import os

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from marketplace import create_app
from marketplace.catalogue import reference, search
from marketplace.catalogue.models import Category
from marketplace.extensions import db as _db
from marketplace.producers.models import Label
from tests.databases import postgresql_scratch_database


@pytest.fixture
def scratch_database_url(tmp_path):
    raw = os.environ.get("DATABASE_URL", "")
    if not raw:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(raw.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if url.get_backend_name() != "postgresql":
        pytest.fail(f"test_migrations knows SQLite and PostgreSQL, not {url.get_backend_name()}")
    with postgresql_scratch_database(url) as scratch:
        yield scratch.render_as_string(hide_password=False)


@pytest.fixture
def migration_app(scratch_database_url, tmp_path, keep_logging):
    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": scratch_database_url,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    })
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


def _schema_differences() -> list:
    with _db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                # The catalogue's search tables (and SQLite's FTS5 tables) are made by
                # DDL events and a migration, not by models: the comparison must not
                # ask to drop them. tests/test_search.py checks that the migration
                # makes them as create_all() does.
                "include_name": search.include_name,
            },
        )
        return compare_metadata(context, _db.metadata)


def _check_constraints_differences() -> list[str]:
    """Autogenerate ignores CHECK constraints; compare their names by hand."""
    inspector = sa.inspect(_db.engine)
    problems = []
    for table in _db.metadata.sorted_tables:
        wanted = {
            str(c.name) for c in table.constraints
            if isinstance(c, sa.CheckConstraint) and c.name is not None
        }
        present = {c["name"] for c in inspector.get_check_constraints(table.name)}
        if wanted - present:
            problems.append(f"{table.name}: missing CHECK {sorted(wanted - present)}")
        if present - wanted:
            problems.append(f"{table.name}: unexpected CHECK {sorted(present - wanted)}")
    return problems


def _tables() -> set[str]:
    names = set(sa.inspect(_db.engine).get_table_names()) - {"alembic_version"}
    # Not the search tables (see _schema_differences; test_search.py checks their downgrade).
    return {name for name in names if search.include_name(name, "table", {})}


def test_upgrade_from_nothing_matches_the_models_and_downgrades(migration_app):
    assert _tables() == set()

    flask_migrate.upgrade()

    assert _tables() == {t.name for t in _db.metadata.sorted_tables}
    differences = _schema_differences()
    assert differences == [], (
        "the migrations do not build the models' schema; write a migration "
        f"(flask db migrate) for: {differences}"
    )
    assert _check_constraints_differences() == []

    # The reference data migration holds the same rows as reference.py.
    categories = _db.session.execute(
        sa.select(Category.slug, Category.name_fr, Category.name_en).order_by(Category.position)
    ).all()
    assert [tuple(row) for row in categories] == reference.CATEGORIES
    labels = _db.session.execute(sa.select(Label.code, Label.name_fr, Label.name_en)).all()
    assert sorted(tuple(row) for row in labels) == sorted(reference.LABELS)
    _db.session.rollback()

    flask_migrate.downgrade(revision="base")
    assert _tables() == set()

    # Down then up again: the downgrades leave nothing behind that blocks a re-run.
    flask_migrate.upgrade()
    assert _schema_differences() == []
    flask_migrate.downgrade(revision="base")
    assert _tables() == set()


def test_rebuilding_a_parent_table_keeps_its_children(migration_app):
    """SQLite rebuilds a table (copy, drop, rename) to drop a column. With foreign
    keys on, dropping `users` would cascade to farms and products; env.py turns them
    off for the migration. Here: the step that adds users' location columns is
    undone (a rebuild of users on SQLite) and redone, and every farm survives."""
    flask_migrate.upgrade()
    with _db.engine.begin() as conn:
        user_id = conn.execute(sa.text(
            "INSERT INTO users (email, password_hash, display_name, role, created_at, updated_at)"
            " VALUES ('f@example.org', 'x', 'F', 'producer', :now, :now) RETURNING id"
        ), {"now": _now()}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO producers (user_id, name, description, commune, postcode, address,"
            " delivery_radius_km, created_at, updated_at)"
            " VALUES (:u, 'Ferme', '', '', '', '', 30, :now, :now)"
        ), {"u": user_id, "now": _now()})
    flask_migrate.downgrade(revision="-1")
    flask_migrate.upgrade()
    with _db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM producers")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 1
    flask_migrate.downgrade(revision="base")


def test_approved_farms_without_a_location_wait_for_approval_again(migration_app):
    """A public farm must appear in the radius searches: the migration puts an approved
    farm that has no coordinates back among the accounts waiting for approval, its
    data kept; placed farms stay approved."""
    flask_migrate.upgrade(revision="5c35e5d63d8a")
    farms = {}
    with _db.engine.begin() as conn:
        for name, lat, lon in (("placed", 47.73, -3.42), ("unplaced", None, None),
                               ("half", 47.73, None)):
            user_id = conn.execute(sa.text(
                "INSERT INTO users (email, password_hash, display_name, role, approved_at,"
                " created_at, updated_at)"
                " VALUES (:email, 'x', :name, 'producer', :now, :now, :now) RETURNING id"
            ), {"email": f"{name}@example.org", "name": name, "now": _now()}).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO producers (user_id, name, description, commune, postcode, address,"
                " latitude, longitude, delivery_radius_km, created_at, updated_at)"
                " VALUES (:u, :name, '', 'Ploemeur', '', '', :lat, :lon, 30, :now, :now)"
            ), {"u": user_id, "name": name, "lat": lat, "lon": lon, "now": _now()})
            farms[name] = user_id
    flask_migrate.upgrade(revision="7b1e4c2a9f30")
    with _db.engine.connect() as conn:
        approved = dict(conn.execute(sa.text(
            "SELECT display_name, approved_at IS NOT NULL FROM users")).all())
        assert conn.execute(sa.text("SELECT count(*) FROM producers")).scalar_one() == 3
    assert approved == {"placed": True, "unplaced": False, "half": False}
    flask_migrate.downgrade(revision="base")


def _now():
    from tests.clock import now

    at = now()
    return at.replace(tzinfo=None) if _db.engine.dialect.name == "sqlite" else at
