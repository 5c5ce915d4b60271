"""The map page: the server-rendered list, the JSON for Leaflet, vendored assets only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from geopy.distance import geodesic

from marketplace.accounts.models import Role
from marketplace.discover.map_routes import bp as geo_bp
from marketplace.extensions import db
from marketplace.geo.location import SESSION_KEY
from marketplace.pickup.models import PickupKind, PickupPoint
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
VANNES = (47.6582, -2.7608)
MAP_DATA_RE = re.compile(
    r'<script type="application/json" id="map-data">(.*?)</script>', re.DOTALL
)


@pytest.fixture(autouse=True)
def _geo_blueprint(app):
    # Until marketplace/__init__.py registers it.
    if "geo" not in app.blueprints:
        app.register_blueprint(geo_bp)


def _point(name: str, lat: float, lon: float, *, active: bool = True,
           kind: PickupKind = PickupKind.CAFE) -> PickupPoint:
    return factories.pickup_point(name, at=(lat, lon), kind=kind, is_active=active)


def _set_location(client, lat: float, lon: float, radius_km: int, label: str = "Ici") -> None:
    with client.session_transaction() as session:
        session[SESSION_KEY] = {"label": label, "latitude": lat, "longitude": lon,
                                "radius_km": radius_km}


def _map_data(html: str) -> dict:
    match = MAP_DATA_RE.search(html)
    assert match, "no #map-data element"
    return json.loads(match.group(1))


def _french_km(a, b) -> str:
    return f"{geodesic(a, b).km:.1f}".replace(".", ",") + "\u00a0km"


@pytest.fixture
def territory(app):
    theix = factories.producer(name="Ferme de Theix", lat=47.6292, lon=-2.6557)
    elven = factories.producer(name="Ferme d'Elven", lat=47.7325, lon=-2.5894)
    factories.producer(name="Ferme de Rennes", lat=48.1173, lon=-1.6778)
    factories.producer(name="Ferme en attente", lat=47.66, lon=-2.76, approved=False)
    cafe = _point("Café des Halles", 47.6570, -2.7590)
    _point("Dépôt fermé", 47.6585, -2.7605, active=False)
    return {"theix": theix, "elven": elven, "cafe": cafe}


def test_lists_what_is_within_the_radius_with_km(client, territory):
    _set_location(client, *VANNES, 20, label="Vannes centre")

    response = client.get("/map")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Ferme de Theix" in html
    assert "Ferme d&#39;Elven" in html
    assert "Café des Halles" in html
    for absent in ("Ferme de Rennes", "Ferme en attente", "Dépôt fermé"):
        assert absent not in html
    # Distances in km, French format, one decimal.
    assert _french_km(VANNES, (47.6292, -2.6557)) in html
    assert _french_km(VANNES, (47.7325, -2.5894)) in html
    assert _french_km(VANNES, (47.6570, -2.7590)) in html
    assert f'href="/producers/{territory["theix"].id}"' in html
    assert "Vannes centre" in html
    # Nearest first.
    assert html.index("Ferme de Theix") < html.index("Ferme d&#39;Elven")


def test_embedded_json_matches_the_list(client, territory):
    _set_location(client, *VANNES, 20)

    html = client.get("/map").get_data(as_text=True)
    data = _map_data(html)

    assert data["centre"] == {"lat": VANNES[0], "lon": VANNES[1], "radius_km": 20,
                              "label": "Ici"}
    markers = data["markers"]
    assert [(m["kind"], m["name"]) for m in markers] == [
        ("producer", "Ferme de Theix"),
        ("producer", "Ferme d'Elven"),
        ("pickup_point", "Café des Halles"),
    ]
    list_items = re.findall(r'<li [^>]*data-kind="(\w+)" data-id="(\d+)"', html)
    assert list_items == [(m["kind"], str(m["id"])) for m in markers]
    for marker in markers:
        assert marker["distance_label"] in html
        assert marker["distance_km"] == round(
            geodesic(VANNES, (marker["lat"], marker["lon"])).km, 2
        )
    assert markers[0]["url"] == f"/producers/{territory['theix'].id}"
    assert markers[2]["url"] == f"/points/{markers[2]['id']}"
    assert markers[2]["kind_label"] == "Café"


def test_json_escapes_names(client):
    factories.producer(name="</script><script>alert(1)</script>", lat=47.66, lon=-2.75)

    html = client.get("/map").get_data(as_text=True)

    assert "<script>alert(1)" not in html
    assert _map_data(html)["markers"][0]["name"] == "</script><script>alert(1)</script>"


def test_without_location_shows_vannes_and_invites_to_set_one(client, territory):
    html = client.get("/map").get_data(as_text=True)
    data = _map_data(html)

    assert (data["centre"]["lat"], data["centre"]["lon"]) == VANNES
    assert data["centre"]["radius_km"] == 30
    assert 'role="status"' in html
    assert re.search(r'href="/(location|near/location)[^"]*"', html)
    # Within 30 km of Vannes, Rennes still out.
    assert "Ferme de Theix" in html
    assert "Ferme de Rennes" not in html


def test_signed_in_buyer_location_is_used(client, login, territory):
    buyer = factories.user(Role.HOUSEHOLD)
    buyer.location_label, buyer.latitude, buyer.longitude = "Rennes", 48.1147, -1.6794
    buyer.search_radius_km = 10
    db.session.commit()
    login(buyer)

    html = client.get("/map").get_data(as_text=True)

    names = [m["name"] for m in _map_data(html)["markers"]]
    assert names == ["Ferme de Rennes"]
    assert "Rennes" in html


def test_nothing_near(client, territory):
    _set_location(client, 45.8326, 6.8652, 5)

    html = client.get("/map").get_data(as_text=True)

    assert _map_data(html)["markers"] == []
    assert "Aucun producteur" in html or "No producer" in html


def test_no_tile_layer_by_default(app, client):
    assert not app.config.get("MAP_TILE_URL")

    data = _map_data(client.get("/map").get_data(as_text=True))

    assert data["tiles"] is None


def test_tile_layer_from_settings(app, client):
    app.config["MAP_TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    app.config["MAP_TILE_ATTRIBUTION"] = "© contributors"

    data = _map_data(client.get("/map").get_data(as_text=True))

    assert data["tiles"] == {"url": "https://tiles.example.org/{z}/{x}/{y}.png",
                             "attribution": "© contributors"}


def test_uses_vendored_leaflet_only(client, territory):
    html = client.get("/map").get_data(as_text=True)

    # Static URLs carry their content's hash (?v=...: kept a year by browsers).
    assert re.search(r'<link rel="stylesheet" href="/static/vendor/leaflet/leaflet\.css\?v=\w+">',
                     html)
    assert re.search(r'<script src="/static/vendor/leaflet/leaflet\.js\?v=\w+" defer></script>',
                     html)
    assert re.search(r'<script src="/static/js/map\.js\?v=\w+" defer></script>', html)
    assert _map_data(html)["icon_path"] == "/static/vendor/leaflet/images/"
    # No other host anywhere in the page: no CDN, no tile server by default.
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []
    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css",
                 "vendor/leaflet/images/marker-icon.png",
                 "vendor/leaflet/images/marker-icon-2x.png",
                 "vendor/leaflet/images/marker-shadow.png", "js/map.js", "css/map.css"):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        response.close()


def test_vendored_leaflet_is_the_pinned_version():
    package = json.loads((ROOT / "package.json").read_text())
    version = package["dependencies"]["leaflet"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact version"
    script = (ROOT / "static/vendor/leaflet/leaflet.js").read_text()
    assert f"Leaflet {version}" in script


def test_works_without_javascript(client, territory):
    html = client.get("/map").get_data(as_text=True)

    assert re.search(r'<div id="map"[^>]*>\s*<noscript>', html)
    assert "<ol" in html


def test_english(client, territory):
    with client.session_transaction() as session:
        session["lang"] = "en"
    _set_location(client, *VANNES, 20)

    html = client.get("/map").get_data(as_text=True)

    assert f'{geodesic(VANNES, (47.6292, -2.6557)).km:.1f} km' in html
    assert "Producers and pickup points near you" in html
