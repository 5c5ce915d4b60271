"""The catalogue's cost does not grow with the catalogue: every query a catalogue page
runs is planned without a full scan of products (an index serves its filters and
its order), its count stops at COUNT_CAP + 1 rows and its OFFSET stays below that.

The plans are the database's own: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's
EXPLAIN when DATABASE_URL names one (with sequential scans discouraged, as the
test tables are too small for the planner to prefer an index otherwise: a plan
that still scans sequentially has no index to use).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from marketplace.catalogue import services
from marketplace.extensions import db as _db
from tests import factories, pages
from tests.pages import names_on

# A scan of the whole products table (or of its alias in the search's farm branch),
# not through an index.
SQLITE_FULL_SCAN = re.compile(r"\bSCAN (products|of_matching_farm)\b(?! USING)")
PG_FULL_SCAN = re.compile(r"Seq Scan on products\b")


@pytest.fixture
def catalogue(db):
    point = factories.pickup_point("Épicerie Le Relais")
    friday = factories.slot(point, starts_in=timedelta(days=3))
    organic = factories.producer(name="Ferme Bio de Caden", labels=("AB",))
    orchard = factories.producer(name="Verger de Limerzel")
    factories.delivery_round(organic, friday)
    for i in range(6):
        factories.product(organic, name=f"Miel de fleurs {i}", category_slug="honey",
                          commit=False)
        factories.product(orchard, name=f"Pommes {i}", category_slug="fruit", commit=False)
    db.session.commit()
    return {"friday": friday, "point": point, "organic": organic}


def _plans(statements) -> list[tuple[str, str]]:
    """(statement, its plan as text) for each statement that reads products."""
    found = []
    with _db.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            if "products" not in statement or not statement.lstrip().startswith("SELECT"):
                continue
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            found.append((statement, "\n".join(str(row[-1]) for row in rows)))
        conn.rollback()
    return found


def _statements_of(client, url: str) -> list:
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(_db.engine, "before_cursor_execute", before)
    try:
        response = client.get(url)
    finally:
        event.remove(_db.engine, "before_cursor_execute", before)
    assert response.status_code == 200, url
    return seen


@pytest.mark.parametrize("url", [
    "/catalogue", "/catalogue?page=40", "/catalogue?page=99999", "/catalogue?category=fruit",
    "/catalogue?label=AB", "/catalogue?q=miel", "/catalogue?q=mi", "/catalogue?q=limerzel",
    "/catalogue?q=mie&category=honey&label=AB", "PRODUCER", "PICKUP", "MARKET_DAY",
])
def test_no_catalogue_query_scans_every_product(app, client, catalogue, url):
    app.config["CATALOGUE_PAGE_SIZE"] = 2  # full pages: the count runs too
    if url == "PRODUCER":
        url = f"/catalogue?producer={catalogue['organic'].id}"
    elif url == "PICKUP":
        url = f"/catalogue?pickup={catalogue['point'].id}"
    elif url == "MARKET_DAY":
        pages.choose_market_day(client, catalogue["friday"])
        url = "/catalogue"
    plans = _plans(_statements_of(client, url))
    assert len(plans) >= 2, url  # the count and the page, at least
    full_scan = PG_FULL_SCAN if _db.engine.dialect.name == "postgresql" else SQLITE_FULL_SCAN
    for statement, plan in plans:
        assert not full_scan.search(plan), f"{url}: full scan of products\n{plan}\n{statement}"


@pytest.mark.parametrize("url", ["/catalogue", "/catalogue?category=fruit", "PRODUCER"])
def test_the_order_comes_from_an_index(app, client, catalogue, url):
    """No sort of every match: the page reads its rows in (name, id) order."""
    app.config["CATALOGUE_PAGE_SIZE"] = 2
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan says when it sorts; PostgreSQL's cost-based choice varies")
    if url == "PRODUCER":
        url = f"/catalogue?producer={catalogue['organic'].id}"
    for statement, plan in _plans(_statements_of(client, url)):
        assert "TEMP B-TREE FOR ORDER BY" not in plan, f"{url}\n{plan}\n{statement}"


def test_the_count_stops_at_the_cap_and_deep_pages_at_the_last_one(
        app, client, catalogue, monkeypatch):
    monkeypatch.setattr(services, "COUNT_CAP", 10)
    app.config["CATALOGUE_PAGE_SIZE"] = 4
    html = client.get("/catalogue").get_data(as_text=True)
    assert "Plus de 10 produits" in html
    # 11 rows counted: pages 1 to 3 exist; a deeper one shows the third.
    deep = client.get("/catalogue?page=500").get_data(as_text=True)
    third = client.get("/catalogue?page=3").get_data(as_text=True)
    assert names_on(deep) == names_on(third)
    assert len(names_on(deep)) == 4  # rows 9 to 12: OFFSET 8, the last one reachable
    assert 'rel="next"' not in deep
    # Under the cap the count is exact, counted (full pages) or seen (the last page).
    assert "6 produits" in client.get("/catalogue?category=fruit").get_data(as_text=True)
    assert "6 produits" in client.get("/catalogue?category=fruit&page=2").get_data(as_text=True)
    app.config["CATALOGUE_PAGE_SIZE"] = 24
    assert "6 produits" in client.get("/catalogue?category=fruit").get_data(as_text=True)
