"""Catalogue text search (marketplace/catalogue/search.py).

The reference is the naive match: does the folded query occur in the folded
product name or farm name? The fold used as reference here is written apart from
search.FOLD (Unicode decomposition, accents dropped, ligatures spelt out, lower
case), over names and queries drawn from ASCII, the accented letters the fold
knows, and the characters that mean something to LIKE, FTS5 or SQL.
"""

from __future__ import annotations

import os
import random
import string
import unicodedata
from contextlib import contextmanager

import flask_migrate
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.catalogue import search, services
from marketplace.catalogue.models import Product
from marketplace.catalogue.reference import ensure_reference_data
from marketplace.extensions import db as _db
from marketplace.producers.models import Producer
from tests import factories
from tests.clock import now
from tests.databases import postgresql_scratch_database
from tests.pages import names_on

WORDS = (
    "Œufs", "œufs", "OEUFS", "oeuf", "légumes", "LÉGUMES", "Legumes", "crème", "brûlée",
    "Pommes", "pomme", "Cidre", "L'Étang", "l’étang", 'Le "Bon" Pain', '""', "100%",
    "50 % bio", "jus_de_pomme", "a\\b", "Ça", "Straße", "Ærø", "naïve", "Noël", "NOËL",
    "e\u0301te\u0301", "Chèvre", "côte", "Ÿ", "ÿ", "Ñandú", "Åland", "*", "NEAR", "AND",
    "(x)", "^", "-", ":", "  ", "a", "Z",
)
ACCENTED = "àâäáãåçéèêëíìîïñóòôöõøúùûüýÿæœßÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕØÚÙÛÜÝŸÆŒ"
ALPHABET = (string.ascii_letters + string.digits + " '\"%_\\-*^:()" + ACCENTED
            + "\u0301\u0300\u0308\u0327")
VARIANTS = {"a": "àÂä", "c": "çÇ", "e": "éÉèêë", "i": "îÏ", "o": "ôÖø", "u": "ùÛü", "y": "ÿŸ"}
FIXED_QUERIES = (
    "%", "_", "%%_", "\\", "\\%", "'", '"', '""', '"x', "*", "^", ":", "-", "(", ")",
    "NEAR", "AND", "OR", "a", "é", "E", "œ", "Œ", "oe", "OEUF", "oeufs", "legumes",
    "LÉGUMES", "creme brulee", "straße", "strasse", "aero", "   ", " ", "  pomme  ", "l'é",
    "l'e", 'bon"', '"bon"', '"Bon" ', "100%", "0 %", "jus_d", "jus d", "a\\b", "e\u0301",
    "ete", "été", "zzzzzz", "ÿ", "Ÿ", "y", "nandu", "aland", "\u0301",
)


def reference_fold(text: str) -> str:
    for ligature, letters in (("æ", "ae"), ("Æ", "ae"), ("œ", "oe"), ("Œ", "oe"),
                              ("ß", "ss"), ("ø", "o"), ("Ø", "o")):
        text = text.replace(ligature, letters)
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def naive_ids(rows, query: str) -> set[int]:
    wanted = reference_fold(query.strip())
    return {pid for pid, name, farm in rows
            if wanted in reference_fold(name) or wanted in reference_fold(farm)}


def found(query: str, **filters) -> set[int]:
    page = services.browse(_db.session, services.CatalogueFilters(q=query, **filters),
                           per_page=1000)
    ids = {p.id for p in page.items}
    assert page.total == len(ids)
    return ids


def random_name(rng: random.Random) -> str:
    parts = rng.sample(WORDS, rng.randint(1, 3))
    parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8))))
    rng.shuffle(parts)
    return (" ".join(parts).strip() or "x")[:120]


def random_queries(rng: random.Random, names: list[str], how_many: int) -> list[str]:
    queries = []
    for _ in range(how_many):
        name = rng.choice(names)
        start = rng.randrange(len(name))
        piece = name[start:start + rng.randint(1, 8)]
        piece = "".join(
            rng.choice(VARIANTS[c.lower()]) if c.lower() in VARIANTS and rng.random() < 0.3
            else (c.swapcase() if rng.random() < 0.3 else c)
            for c in piece
        )
        queries.append(piece)
    return queries


def make_catalogue(rng: random.Random, farms: int, products: int):
    """Active products of approved farms; returns [(product id, name, farm name)]."""
    owners = [factories.producer(name=random_name(rng), commit=False) for _ in range(farms)]
    rows = []
    for _ in range(products):
        owner = rng.choice(owners)
        product = factories.product(owner, name=random_name(rng), commit=False)
        rows.append((product.id, product.name, owner.name))
    _db.session.commit()
    return rows


def assert_search_tables_in_step() -> None:
    """Each search table holds exactly the folded names of its table."""
    for model in (Product, Producer):
        table = model.__tablename__
        names = dict(_db.session.execute(sa.select(model.id, model.name)).all())
        indexed = dict(_db.session.execute(
            sa.text(f"SELECT id, name FROM {table}_search")).all())  # noqa: S608
        assert indexed == {i: search.fold(name) for i, name in names.items()}
        if _db.engine.dialect.name == "sqlite" and search.SQLITE_TRIGRAM:
            # FTS5 compares its index with the search table; an error if they differ.
            _db.session.execute(sa.text(
                f"INSERT INTO {table}_search_fts ({table}_search_fts) "  # noqa: S608
                "VALUES ('integrity-check')"
            ))


# The fold -------------------------------------------------------------------------------

def test_the_fold_is_the_same_in_python_and_in_the_database(db):
    rng = random.Random(7)
    # Beyond the test alphabet too: letters the table does not know stay as they are.
    alphabet = ALPHABET + "ŁłĐđΩωЖжİıǅ\u0304\u030c中"
    farm = factories.producer(name="Ferme", commit=False)
    for _ in range(200):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        factories.product(farm, name=name, commit=False)
    db.session.commit()
    assert_search_tables_in_step()
    assert search.fold("Œufs FRAIS de l'Étang, crème brûlée, Straße e\u0301") == (
        "oeufs frais de l'etang, creme brulee, strasse e")
    assert search.fold("Łódź Ω İ") == "Łodź Ω İ"


def test_the_fold_agrees_with_the_reference_on_the_test_alphabet():
    rng = random.Random(3)
    for _ in range(500):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20)))
        assert search.fold(text) == reference_fold(text), text


# Results --------------------------------------------------------------------------------

def test_results_are_the_naive_substring_match(db):
    rng = random.Random(2024)
    rows = make_catalogue(rng, farms=40, products=300)
    names = [name for _, name, _ in rows] + [farm for _, _, farm in rows]
    queries = list(FIXED_QUERIES) + random_queries(rng, names, 200)
    mismatches = {q: (sorted(found(q) ^ naive_ids(rows, q))) for q in queries}
    assert {q: diff for q, diff in mismatches.items() if diff} == {}
    # The queries did find things, of every length.
    assert all(found(q) for q in ("a", "oe", "oeuf", "LÉGUMES", "%", '"', "\\"))


def test_accents_case_and_ligatures_are_ignored(db):
    farm = factories.producer(name="Ferme de l'Étang")
    eggs = factories.product(farm, name="Œufs plein air")
    veg = factories.product(farm, name="Panier de légumes")
    nfd = factories.product(farm, name="Pâte\u0301 de coing")  # decomposed accent
    assert found("oeuf") == found("ŒUFS") == found("œu") == {eggs.id}
    assert found("legumes") == found("LÉGUMES") == found("lègümês") == {veg.id}
    assert found("pâté") == found("pate") == {nfd.id}
    assert found("etang") == found("L'ÉTANG") == {eggs.id, veg.id, nfd.id}


def test_like_wildcards_and_fts_syntax_are_plain_text(db):
    farm = factories.producer(name="Ferme")
    percent = factories.product(farm, name="Jus 100% pomme")
    underscore = factories.product(farm, name="code_barre")
    quoted = factories.product(farm, name='Le "Bon" Pain')
    backslash = factories.product(farm, name="a\\b")
    plain = factories.product(farm, name="Jus 1000 pomme")
    assert found("100%") == found("0%") == {percent.id}
    assert found("%") == {percent.id}
    assert found("_") == found("e_b") == {underscore.id}
    assert found('"bon"') == found('"') == found('n" p') == {quoted.id}
    assert found("\\") == found("a\\b") == {backslash.id}
    assert found("bon OR pain") == found("NEAR(jus)") == found("jus*") == set()
    assert found("jus 1") == {percent.id, plain.id}


def test_short_and_blank_queries(db):
    farm = factories.producer(name="Ferme")
    garlic = factories.product(farm, name="Ail")
    beef = factories.product(farm, name="Bœuf")
    assert found("a") == found("A") == found("à") == {garlic.id}
    assert found("œ") == found("oe") == found("OE") == {beef.id}
    assert found("f") == {garlic.id, beef.id}  # "Ail" by its farm's name
    assert found("") == found("   ") == found(" \t ") == {garlic.id, beef.id}


# Triggers --------------------------------------------------------------------------------

def test_writes_keep_the_search_tables_in_step(db):
    farm = factories.producer(name="Ferme du Chêne")
    cream = factories.product(farm, name="Crème fraîche")
    assert found("creme") == {cream.id}
    assert_search_tables_in_step()

    cream.name = "Beurre doux"
    db.session.commit()
    assert found("creme") == set()
    assert found("BEURRE") == {cream.id}

    farm.name = "Les Vergers d'Été"
    db.session.commit()
    assert found("chene") == set()
    assert found("vergers d'ete") == {cream.id}
    assert_search_tables_in_step()

    # Core statements, as seed-demo and the CSV import write: many rows at once.
    category_id = factories.category().id
    db.session.execute(sa.insert(Product.__table__), [
        {"producer_id": farm.id, "category_id": category_id, "name": f"Pâté n°{i}",
         "description": "", "vat_rate_bp": 550, "season_months": 1, "is_active": True}
        for i in range(50)
    ])
    db.session.commit()
    assert len(found("pate n")) == 50
    db.session.execute(sa.update(Product.__table__)
                       .where(Product.name.like("Pâté n°1%")).values(name="Rillettes"))
    db.session.commit()
    assert len(found("pate n")) == 39
    assert len(found("rillettes")) == 11
    db.session.execute(sa.delete(Product.__table__).where(Product.name == "Rillettes"))
    db.session.commit()
    assert found("rillettes") == set()
    assert_search_tables_in_step()

    # Updates that leave the name alone, deletes, and the cascade from a farm's user.
    cream.description = "Baratté à la main"
    db.session.commit()
    assert found("beurre") == {cream.id}
    db.session.delete(cream)
    db.session.commit()
    assert found("beurre") == set()
    other = factories.producer(name="Ferme du Chêne")
    kept = factories.product(other, name="Beurre salé")
    db.session.execute(sa.delete(User.__table__).where(User.id == farm.user_id))
    db.session.commit()
    db.session.expire_all()
    assert found("pate") == set()
    assert found("beurre") == found("chene") == {kept.id}
    assert_search_tables_in_step()


# The catalogue page ------------------------------------------------------------------------

def test_search_with_the_other_filters_on_the_page(app, client, db):
    organic = factories.producer(name="Ferme Bio de Caden", labels=("AB",))
    orchard = factories.producer(name="Verger de l'Étang")
    factories.product(organic, name="Œufs plein air", category_slug="eggs")
    factories.product(organic, name="Pommes de terre", category_slug="vegetables")
    factories.product(orchard, name="Pommes Reinette", category_slug="fruit")
    factories.product(orchard, name="Cidre brut", category_slug="drinks")
    factories.product(orchard, name="Jus de pomme", category_slug="drinks")
    factories.product(orchard, name="Pomme inactive", category_slug="fruit", is_active=False)
    hidden = factories.producer(name="Pommeraie en attente", approved=False)
    factories.product(hidden, name="Pommes cachées", category_slug="fruit")

    def names(query: str) -> set[str]:
        response = client.get("/catalogue" + query)
        assert response.status_code == 200
        return names_on(response.get_data(as_text=True))

    assert names("?q=pomme&category=fruit") == {"Pommes Reinette"}
    assert names("?q=POMME&label=AB") == {"Pommes de terre"}
    assert names(f"?q=etang&producer={orchard.id}") == {
        "Pommes Reinette", "Cidre brut", "Jus de pomme"}
    assert names(f"?q=oeufs&producer={orchard.id}") == set()
    assert names("?q=oeuf") == {"Œufs plein air"}
    # Quotes, wildcards and backslashes in the address reach the search as text.
    assert names("?q=%22") == names("?q=%25") == names("?q=%5C") == set()
    assert names("?q=l%27%C3%A9") == {"Pommes Reinette", "Cidre brut", "Jus de pomme"}
    # Three matches over pages of two.
    app.config["CATALOGUE_PAGE_SIZE"] = 2
    first, second = names("?q=pomm"), names("?q=pomm&page=2")
    assert (len(first), len(second)) == (2, 1)
    assert first | second == {"Jus de pomme", "Pommes de terre", "Pommes Reinette"}
    assert names("?q=pomm&page=3") == set()


# Index use -------------------------------------------------------------------------------

def _plan(statement) -> str:
    conn = _db.session.connection()
    compiled = statement.compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[k]
                                                          for k in compiled.positiontup))
        return "\n".join(row[-1] for row in rows)
    # Tiny tables: left to itself the planner would scan them; is the index usable?
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("query", ["pomme", "l'é%_\"x"])
def test_the_trigram_indexes_serve_the_search(db, query):
    dialect = db.engine.dialect.name
    if dialect == "sqlite" and not search.SQLITE_TRIGRAM:
        pytest.skip("this SQLite has no trigram tokenizer")
    plan = _plan(sa.select(Product.id).where(search.name_matches(query, dialect)))
    if dialect == "sqlite":
        assert "products_search_fts VIRTUAL TABLE" in plan, plan
        assert "producers_search_fts VIRTUAL TABLE" in plan, plan
    else:
        assert "ix_products_search_name" in plan, plan
        assert "ix_producers_search_name" in plan, plan


# SQLite without the trigram tokenizer ---------------------------------------------------------

@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL", "").startswith("postgres")), reason="SQLite only"
)
def test_sqlite_without_trigram_scans_the_folded_names(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "SQLITE_TRIGRAM", False)
    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-trigram.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    })
    with app.app_context():
        _db.create_all()
        ensure_reference_data(_db.session)
        tables = set(sa.inspect(_db.engine).get_table_names())
        assert {"products_search", "producers_search"} <= tables
        assert not any(name.endswith("_fts") for name in tables)
        rng = random.Random(11)
        rows = make_catalogue(rng, farms=10, products=60)
        names = [name for _, name, _ in rows]
        for query in list(FIXED_QUERIES[:30]) + random_queries(rng, names, 40):
            assert found(query) == naive_ids(rows, query), query
        assert_search_tables_in_step()
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


# The migration ----------------------------------------------------------------------------

BEFORE_SEARCH = "317efffd0f96"


@pytest.fixture
def scratch_url(tmp_path):
    raw = os.environ.get("DATABASE_URL", "")
    url = make_url(raw.replace("postgres://", "postgresql://", 1)) if raw else None
    if url is None or url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    with postgresql_scratch_database(url) as scratch:
        yield scratch.render_as_string(hide_password=False)


SEARCH_OBJECT_PREFIXES = ("products_search", "producers_search", "ix_products_search",
                          "ix_producers_search", search.PG_FOLD_FUNCTION)


def search_objects() -> dict[str, str]:
    """The search tables, indexes, triggers and functions, as the database shows them."""
    with _db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.execute(sa.text(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
        else:
            rows = conn.execute(sa.text("""
                SELECT 'table', table_name || '.' || column_name,
                       data_type || ' ' || is_nullable FROM information_schema.columns
                 WHERE table_schema = current_schema()
                UNION ALL
                SELECT 'index', indexname, indexdef FROM pg_indexes
                 WHERE schemaname = current_schema()
                UNION ALL
                SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger
                 WHERE NOT tgisinternal
                UNION ALL
                SELECT 'function', proname, pg_get_functiondef(p.oid)
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = current_schema() AND p.prokind = 'f'
                UNION ALL
                SELECT 'extension', extname, '' FROM pg_extension WHERE extname = 'pg_trgm'
            """))
        return {f"{kind} {name}": " ".join(sql.split()) for kind, name, sql in rows
                if kind == "extension" or name.startswith(SEARCH_OBJECT_PREFIXES)}


def _insert_before_search(conn, now) -> None:
    """A farm and a product, written with the columns of revision BEFORE_SEARCH."""
    user_id = conn.execute(sa.text(
        "INSERT INTO users (email, password_hash, display_name, role, approved_at, "
        "created_at, updated_at) VALUES ('old@example.org', 'x', 'Old', 'producer', :now, "
        ":now, :now) RETURNING id"), {"now": now}).scalar_one()
    producer_id = conn.execute(sa.text(
        "INSERT INTO producers (user_id, name, description, commune, postcode, address, "
        "delivery_radius_km, created_at, updated_at) VALUES (:user_id, 'Ferme de l''Étang', "
        "'', '', '', '', 30, :now, :now) RETURNING id"),
        {"user_id": user_id, "now": now}).scalar_one()
    conn.execute(sa.text(
        "INSERT INTO products (producer_id, category_id, name, description, vat_rate_bp, "
        "season_months, is_active, created_at, updated_at) SELECT :producer_id, id, "
        "'Œufs frais', '', 550, 4095, :active, :now, :now FROM categories "
        "WHERE slug = 'eggs'"), {"producer_id": producer_id, "now": now, "active": True})


@contextmanager
def _app_on(url: str, tmp_path):
    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    })
    with app.app_context():
        try:
            yield app
        finally:
            _db.session.remove()
            _db.engine.dispose()


@pytest.mark.usefixtures("keep_logging")
def test_the_migration_indexes_existing_rows_and_makes_what_create_all_makes(
        scratch_url, tmp_path):
    with _app_on(scratch_url, tmp_path):
        flask_migrate.upgrade(revision=BEFORE_SEARCH)
        assert search_objects() == {}
        at = now()
        if _db.engine.dialect.name == "sqlite":
            at = at.replace(tzinfo=None).isoformat(sep=" ")
        with _db.engine.begin() as conn:
            _insert_before_search(conn, at)

        flask_migrate.upgrade()
        dialect = _db.engine.dialect.name
        ids = set(_db.session.scalars(
            sa.select(Product.id).where(search.name_matches("OEUFS", dialect))))
        by_farm = set(_db.session.scalars(
            sa.select(Product.id).where(search.name_matches("l'etang", dialect))))
        assert len(ids) == 1
        assert by_farm == ids
        assert_search_tables_in_step()
        _db.session.rollback()
        migrated = search_objects()
        assert migrated

        # Later revisions rebuild tables on the way down (SQLite batch mode), which
        # SQLite refuses while a pooled connection still has a statement open.
        _db.session.remove()
        _db.engine.dispose()
        flask_migrate.downgrade(revision=BEFORE_SEARCH)
        remaining = search_objects()
        remaining.pop("extension pg_trgm", None)  # kept on purpose
        assert remaining == {}
        with _db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users"))  # cascades to farms and products
        flask_migrate.downgrade(revision="base")

        _db.create_all()
        made = search_objects()
        _db.drop_all()
        # Both ways make the same objects, to the letter: migration and search.py
        # must be changed together (a new migration for databases already made).
        assert made == migrated
