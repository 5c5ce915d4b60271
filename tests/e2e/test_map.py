"""The map page in a real browser: Leaflet draws markers from the embedded data,
with no tile server (the default) and with one that cannot be reached."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from marketplace.discover.map_routes import bp as geo_bp
from marketplace.extensions import db
from marketplace.pickup.models import PickupKind, PickupPoint
from tests import factories

pytestmark = pytest.mark.e2e

UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
MARKERS = ".leaflet-marker-icon"


@pytest.fixture(autouse=True)
def _blueprints(e2e_app):
    # Until marketplace/__init__.py registers it; runs before the server starts.
    if "geo" not in e2e_app.blueprints:
        e2e_app.register_blueprint(geo_bp)


def _seed(app) -> int:
    """Two farms and a café near Vannes, and a farm not approved yet; the id of Theix."""
    with app.app_context():
        theix = factories.producer(name="Ferme de Theix", lat=47.6292, lon=-2.6557).id
        factories.producer(name="Ferme d'Elven", lat=47.7325, lon=-2.5894)
        factories.producer(name="Ferme en attente", lat=47.70, lon=-2.70, approved=False)
        db.session.add(PickupPoint(name="Café des Halles", kind=PickupKind.CAFE,
                                   latitude=47.6570, longitude=-2.7590))
        db.session.commit()
    return theix


def _watch(page, base_url: str):
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: elsewhere.append(req.url)
            if not req.url.startswith((base_url, "data:")) else None)
    return errors, elsewhere


def test_markers_and_popups_without_tiles(e2e_server, browser_page):
    theix = _seed(e2e_server.app)
    assert not e2e_server.app.config.get("MAP_TILE_URL")
    page = browser_page
    errors, elsewhere = _watch(page, e2e_server.base_url)

    page.goto("/map")

    markers = page.locator(MARKERS)
    expect(markers).to_have_count(3)
    # No tile layer at all; the radius circle is drawn.
    expect(page.locator(".leaflet-tile")).to_have_count(0)
    expect(page.locator("path.leaflet-interactive").first).to_be_attached()
    # The default icons load from static/vendor/leaflet/images/.
    icon = page.locator(f"{MARKERS}[title='Ferme de Theix']")
    expect(icon).to_have_attribute("src", "/static/vendor/leaflet/images/marker-icon.png")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.leaflet-marker-icon')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )

    icon.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Ferme de Theix")
    expect(popup.get_by_role("link")).to_have_attribute("href", f"/producers/{theix}")

    # Keyboard: a focused marker opens its popup with Enter.
    page.locator(f"{MARKERS}[title='Café des Halles']").focus()
    page.keyboard.press("Enter")
    expect(popup.filter(has_text="Café des Halles")).to_be_visible()
    # The farm's popup closed: one popup at a time.
    expect(popup).to_have_count(1)

    # The list beside the map has the same places.
    expect(page.locator(".map-list li")).to_have_count(3)
    assert errors == []
    assert elsewhere == []


def test_markers_survive_an_unreachable_tile_server(e2e_server, browser_page):
    _seed(e2e_server.app)
    e2e_server.app.config["MAP_TILE_URL"] = UNREACHABLE_TILES
    e2e_server.app.config["MAP_TILE_ATTRIBUTION"] = "Test tiles"
    page = browser_page
    errors, _elsewhere = _watch(page, e2e_server.base_url)

    page.goto("/map")

    expect(page.locator(MARKERS)).to_have_count(3)
    # Leaflet tried the tiles (they fail) and shows the attribution.
    expect(page.locator(".leaflet-tile").first).to_be_attached()
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Test tiles")
    page.locator(f"{MARKERS}[title=\"Ferme d'Elven\"]").click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text("Ferme d'Elven")
    assert errors == []


def test_phone_shows_the_map_above_the_list(e2e_server, phone_page):
    _seed(e2e_server.app)
    page = phone_page

    page.goto("/map")

    expect(page.locator(MARKERS)).to_have_count(3)
    map_box = page.locator("#map").bounding_box()
    list_box = page.locator(".map-list").bounding_box()
    assert map_box["y"] + map_box["height"] <= list_box["y"]
    assert map_box["width"] > 300


def test_without_javascript_the_list_is_the_page(e2e_server, chromium_browser):
    _seed(e2e_server.app)
    context = chromium_browser.new_context(base_url=e2e_server.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/map")
        expect(page.locator(".map-list li")).to_have_count(3)
        # Chromium with scripts turned off by Playwright still parses <noscript> as
        # if scripts ran (its content is raw text, hidden): check the note is there.
        assert "JavaScript" in page.locator("#map noscript").text_content()
        expect(page.locator("html.js")).to_have_count(0)
        expect(page.locator(MARKERS)).to_have_count(0)
    finally:
        context.close()
