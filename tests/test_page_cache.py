"""The shared parts of public pages are cached (catalogue/page_cache_views.py), keyed by the
catalogue's version (catalogue/versions.py): a second visit of the same page is a
hit, and any change, through the ORM or a bulk statement, shows at the next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from marketplace.catalogue import versions
from marketplace.catalogue.models import Variant
from marketplace.catalogue.page_cache_views import STATS
from tests import factories
from tests.pages import names_on


@pytest.fixture
def shop(db):
    farm = factories.producer(name="Ferme de Kerlann")
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 5),))
    return {"farm": farm, "carrots": carrots, "variant": carrots.variants[0]}


def visit(client, url: str) -> tuple[str, int, int]:
    hits, misses = STATS["hits"], STATS["misses"]
    html = client.get(url).get_data(as_text=True)
    return html, STATS["hits"] - hits, STATS["misses"] - misses


@pytest.mark.parametrize("url", ["/catalogue", "/catalogue?q=carot&category=vegetables",
                                 "FARM"])
def test_a_second_visit_is_a_hit(client, shop, url):
    if url == "FARM":
        url = f"/producers/{shop['farm'].id}"
    first, hits, misses = visit(client, url)
    assert (hits, misses) == (0, 1)
    second, hits, misses = visit(client, url)
    assert (hits, misses) == (1, 0)
    assert names_on(second) == names_on(first) == {"Carottes"}
    # Another page of filters is its own entry.
    assert visit(client, "/catalogue?category=fruit")[1:] == (0, 1)


def test_an_edit_a_sale_and_a_new_product_show_at_once(client, db, shop):
    farm, carrots, variant = shop["farm"], shop["carrots"], shop["variant"]
    assert "3,50\u00a0€" in visit(client, "/catalogue")[0]
    assert visit(client, "/catalogue")[1] == 1  # cached now

    variant.price_cents = 420  # the farm edits its price (ORM)
    db.session.commit()
    html, hits, misses = visit(client, "/catalogue")
    assert (hits, misses) == (0, 1)
    assert "4,20\u00a0€" in html
    assert "3,50\u00a0€" not in html

    # Sold out by an order: checkout takes stock with a conditional UPDATE statement.
    point = factories.pickup_point()
    slot = factories.slot(point, starts_in=timedelta(days=3))
    factories.delivery_round(farm, slot)
    factories.order(factories.user(), slot, {variant.id: 5})
    html = visit(client, f"/products/{carrots.id}")[0]
    assert "Épuisé" in html
    assert "Épuisé" in visit(client, "/catalogue")[0]

    factories.product(farm, name="Poireaux")
    assert names_on(visit(client, "/catalogue")[0]) == {"Carottes", "Poireaux"}
    assert "Poireaux" in visit(client, f"/producers/{farm.id}")[0]


def test_the_version_rises_on_commit_only(db, shop):
    before = versions.current(db.session)
    db.session.execute(update(Variant).values(stock=Variant.stock + 1))
    db.session.rollback()
    assert versions.current(db.session) == before
    db.session.execute(update(Variant).values(stock=Variant.stock + 1))
    db.session.commit()
    assert versions.current(db.session) == before + 1
