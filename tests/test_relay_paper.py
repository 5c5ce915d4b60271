"""The paper order form of a point's market day: a PDF a relay prints, one line per
item the day offers with its price, unit and price per kilogram, a box for the
quantity, the farms, the point, the date and the cut-off in words."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from marketplace.accounts.models import Role
from marketplace.catalogue.food import NetUnit
from marketplace.relays import paper
from marketplace.wholesale.quick_routes import grid_variants
from tests import factories


@pytest.fixture
def market(hosted_market, db):
    # The carrots are sold by the kilogram: their line gives the price per kg too.
    hosted_market["carrots"].net_quantity = 1000
    hosted_market["carrots"].net_unit = NetUnit.G
    db.session.commit()
    return hosted_market


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_lines_are_the_items_the_day_offers_with_price_unit_and_price_per_kg(app, market):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        rows = paper.lines(grid_variants(market["slot"], None))
    by_product = {row.product: row for row in rows}
    assert set(by_product) == {"Carottes", "=Poireaux", "Œufs"}
    carrots = by_product["Carottes"]
    assert (carrots.farm, carrots.unit) == ("Ferme A", "1 kg")
    assert carrots.price == "3,50\u00a0€"
    assert carrots.per_unit == "3,50\u00a0€/kg"
    assert by_product["Œufs"].per_unit == ""  # no net quantity: no price per kg
    assert paper.farms(rows) == ["Ferme A", "Ferme B"]


def test_the_host_prints_the_form_of_an_open_market_day(client, login, market):
    point, slot = market["point"], market["slot"]
    login(market["host"])
    desk = client.get(f"/relay/points/{point.id}").get_data(as_text=True)
    url = f"/relay/points/{point.id}/paper/{slot.id}.pdf"
    assert url in desk
    assert f"/relay/points/{point.id}/paper/{market['later'].id}.pdf" in desk
    response = client.get(url, headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = _text(response.data)
    for expected in ("Bon de commande", point.name, "Carottes", "Œufs", "Ferme A", "Ferme B",
                     "3,50", "€/kg", "Rendez ce bon avant le"):
        assert expected in text, expected


def test_a_relay_of_another_point_gets_no_form(client, login, market):
    other_host = factories.user(Role.HOST, name="Autre hôte")
    other_point = factories.pickup_point("Mairie", host=other_host)
    login(other_host)
    point, slot = market["point"], market["slot"]
    assert client.get(f"/relay/points/{point.id}/paper/{slot.id}.pdf").status_code == 404
    # Its own point, naming the other point's market day.
    assert client.get(f"/relay/points/{other_point.id}/paper/{slot.id}.pdf").status_code == 404
