"""JSON API v1: radius searches of producers and pickup points, errors, OpenAPI."""

from __future__ import annotations

import pytest
from geopy.distance import geodesic

from marketplace.api.routes import bp as api_bp
from marketplace.extensions import db
from marketplace.geo.location import MAX_RADIUS_KM, MIN_RADIUS_KM
from marketplace.pickup.models import PickupPoint
from tests import factories

VANNES = (47.6582, -2.7608)
# name: (lat, lon), all within 30 km of Vannes but Rennes (about 95 km).
PLACES = {
    "Ferme de Theix": (47.6292, -2.6557),
    "Ferme d'Elven": (47.7325, -2.5894),
    "Ferme d'Auray": (47.6678, -2.9828),
    "Ferme de Rennes": (48.1173, -1.6778),
}


@pytest.fixture(autouse=True)
def _api_blueprint(app):
    # Until marketplace/__init__.py registers it.
    if "api" not in app.blueprints:
        app.register_blueprint(api_bp)


def _point(name: str, lat: float, lon: float, *, active: bool = True) -> PickupPoint:
    return factories.pickup_point(name, at=(lat, lon), is_active=active)


def _get(client, path: str, lat=VANNES[0], lon=VANNES[1], radius_km=30, **extra):
    params = {"lat": lat, "lon": lon, "radius_km": radius_km, **extra}
    return client.get(f"/api/v1/{path}", query_string=params)


def test_producers_sorted_by_geodesic_distance(client):
    for name, (lat, lon) in PLACES.items():
        factories.producer(name=name, lat=lat, lon=lon)

    response = _get(client, "producers")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    names = [item["name"] for item in body["items"]]
    assert names == ["Ferme de Theix", "Ferme d'Elven", "Ferme d'Auray"]
    assert body["count"] == 3
    for item in body["items"]:
        assert set(item) == {"id", "name", "lat", "lon", "distance_km"}
        assert (item["lat"], item["lon"]) == PLACES[item["name"]]
        exact = geodesic(VANNES, PLACES[item["name"]]).km
        # Rounded to 0.01 km (10 m).
        assert item["distance_km"] == round(exact, 2)
    distances = [item["distance_km"] for item in body["items"]]
    assert distances == sorted(distances)


def test_only_approved_producers(client):
    public = factories.producer(name="Ferme publique", lat=47.70, lon=-2.70)
    factories.producer(name="Ferme en attente", lat=47.70, lon=-2.71, approved=False)

    body = _get(client, "producers").get_json()

    assert [item["id"] for item in body["items"]] == [public.id]


def test_producer_without_coordinates_is_left_out(client):
    factories.producer(name="Sans position", lat=None, lon=None)
    placed = factories.producer(name="Placée", lat=47.70, lon=-2.70)

    body = _get(client, "producers").get_json()

    assert [item["id"] for item in body["items"]] == [placed.id]


def test_only_active_pickup_points_sorted(client):
    far = _point("Café du port", 47.6410, -2.7590)
    near = _point("Mairie", 47.6590, -2.7610)
    _point("Ancien dépôt", 47.6585, -2.7605, active=False)
    _point("Trop loin", 48.1173, -1.6778)

    body = _get(client, "pickup-points").get_json()

    assert [item["id"] for item in body["items"]] == [near.id, far.id]
    assert body["count"] == 2
    expected = geodesic(VANNES, (47.6410, -2.7590)).km
    assert body["items"][1]["distance_km"] == round(expected, 2)
    assert body["items"][1]["name"] == "Café du port"


def test_empty_result_is_an_empty_list(client):
    factories.producer(lat=47.70, lon=-2.70)

    for path in ("producers", "pickup-points"):
        response = _get(client, path, lat=45.8326, lon=6.8652)  # Mont Blanc
        assert response.status_code == 200
        assert response.get_json() == {"items": [], "count": 0}


def test_radius_limits_are_accepted(client):
    factories.producer(name="Ferme de Rennes", lat=48.1173, lon=-1.6778)

    widest = _get(client, "producers", radius_km=MAX_RADIUS_KM)
    narrowest = _get(client, "producers", radius_km=MIN_RADIUS_KM)
    decimal = _get(client, "producers", radius_km="12.5")

    assert widest.status_code == 200
    assert [item["name"] for item in widest.get_json()["items"]] == ["Ferme de Rennes"]
    assert narrowest.status_code == 200
    assert narrowest.get_json()["items"] == []
    assert decimal.status_code == 200


def test_unknown_parameters_are_ignored(client):
    factories.producer(lat=47.70, lon=-2.70)

    response = _get(client, "producers", page=3, sort="name", foo="bar")

    assert response.status_code == 200
    assert response.get_json()["count"] == 1


BAD_PARAMETERS = [
    pytest.param({"lon": "-2.76", "radius_km": "30"}, "lat", id="missing-lat"),
    pytest.param({"lat": "", "lon": "-2.76", "radius_km": "30"}, "lat", id="empty-lat"),
    pytest.param({"lat": "abc", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-abc"),
    pytest.param({"lat": "47,65", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-comma"),
    pytest.param({"lat": "91", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-91"),
    pytest.param({"lat": "-90.5", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat--90.5"),
    pytest.param({"lat": "inf", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-inf"),
    pytest.param({"lat": "1e999", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-overflow"),
    pytest.param({"lat": "nan", "lon": "-2.76", "radius_km": "30"}, "lat", id="lat-nan"),
    pytest.param({"lat": "47.65", "radius_km": "30"}, "lon", id="missing-lon"),
    pytest.param({"lat": "47.65", "lon": "-181", "radius_km": "30"}, "lon", id="lon--181"),
    pytest.param({"lat": "47.65", "lon": "180.01", "radius_km": "30"}, "lon", id="lon-180.01"),
    pytest.param({"lat": "47.65", "lon": "-Infinity", "radius_km": "30"}, "lon", id="lon--inf"),
    pytest.param({"lat": "47.65", "lon": "-2.76"}, "radius_km", id="missing-radius"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "0"}, "radius_km", id="radius-0"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "4.99"}, "radius_km",
                 id="radius-4.99"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "-30"}, "radius_km",
                 id="radius-negative"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "101"}, "radius_km",
                 id="radius-101"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "100.01"}, "radius_km",
                 id="radius-100.01"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "nan"}, "radius_km",
                 id="radius-nan"),
    pytest.param({"lat": "47.65", "lon": "-2.76", "radius_km": "1_0"}, "radius_km",
                 id="radius-underscore"),
    pytest.param({}, "lat", id="nothing"),
]


@pytest.mark.parametrize("path", ["producers", "pickup-points"])
@pytest.mark.parametrize(("params", "parameter"), BAD_PARAMETERS)
def test_bad_parameters_get_400_naming_them(client, path, params, parameter):
    response = client.get(f"/api/v1/{path}", query_string=params)

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["parameter"] == parameter
    assert parameter in body["error"]


def test_radius_over_maximum_is_refused_not_cut(client):
    factories.producer(lat=47.70, lon=-2.70)

    response = _get(client, "producers", radius_km=MAX_RADIUS_KM + 1)

    assert response.status_code == 400
    assert response.get_json()["parameter"] == "radius_km"
    assert "items" not in response.get_json()


def test_errors_are_english_whatever_the_site_language(client):
    # The site speaks French (its default, and this session chose it too).
    with client.session_transaction() as session:
        session["lang"] = "fr"

    body = client.get("/api/v1/producers", query_string={"lon": 1, "radius_km": 30}).get_json()
    refused = client.delete("/api/v1/producers").get_json()

    assert body == {"error": "The parameter lat is required.", "parameter": "lat"}
    assert refused == {"error": "This action is not allowed here."}


@pytest.mark.parametrize(("accept", "message"), [
    ("fr-FR,fr;q=0.9,en;q=0.5", "Le paramètre lat est obligatoire."),
    ("en-GB,en;q=0.9", "The parameter lat is required."),
    ("de-DE", "The parameter lat is required."),
])
def test_errors_follow_accept_language(client, accept, message):
    response = client.get("/api/v1/producers", query_string={"lon": 1, "radius_km": 30},
                          headers={"Accept-Language": accept})

    assert response.get_json() == {"error": message, "parameter": "lat"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_api_is_read_only(client, method):
    response = client.open("/api/v1/producers", method=method,
                           query_string={"lat": 47, "lon": -2, "radius_km": 30})

    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert "error" in response.get_json()
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_query_count_does_not_grow_with_results(client, count_queries):
    def queries_for(path: str) -> int:
        with count_queries() as statements:
            response = _get(client, path)
        assert response.status_code == 200
        return len(statements)

    factories.producer(lat=47.70, lon=-2.70)
    _point("Un", 47.66, -2.76)
    few = {path: queries_for(path) for path in ("producers", "pickup-points")}

    for i in range(12):
        factories.producer(lat=47.60 + i / 100, lon=-2.80 + i / 100, commit=False)
        _point(f"Point {i}", 47.60 + i / 100, -2.70 + i / 100)
    db.session.commit()
    many = {path: queries_for(path) for path in ("producers", "pickup-points")}

    assert _get(client, "producers").get_json()["count"] == 13
    assert _get(client, "pickup-points").get_json()["count"] == 13
    assert many == few


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) >= {"/producers", "/pickup-points"}
    for path in ("/producers", "/pickup-points"):
        operation = doc["paths"][path]["get"]
        assert [p["name"] for p in operation["parameters"]] == ["lat", "lon", "radius_km", "limit"]
        assert [p["required"] for p in operation["parameters"]] == [True, True, True, False]
        assert {"200", "400"} <= set(operation["responses"])
    radius = doc["paths"]["/producers"]["get"]["parameters"][2]["schema"]
    assert (radius["minimum"], radius["maximum"]) == (MIN_RADIUS_KM, MAX_RADIUS_KM)
    item = doc["components"]["schemas"]["Item"]
    assert set(item["required"]) == {"id", "name", "lat", "lon", "distance_km"}
    assert doc["servers"] == [{"url": "/api/v1"}]


def test_limit_keeps_the_nearest(client, db):
    from tests import factories as f

    for i in range(5):
        f.producer(name=f"Ferme {i}", lat=47.6582 + 0.01 * (i + 1), lon=-2.7608)
    data = client.get("/api/v1/producers?lat=47.6582&lon=-2.7608&radius_km=30&limit=2").get_json()
    assert [item["name"] for item in data["items"]] == ["Ferme 0", "Ferme 1"]
    assert data["count"] == 2


@pytest.mark.parametrize("limit", ["0", "501", "2.5", "abc"])
def test_bad_limit_is_refused(client, db, limit):
    response = client.get(f"/api/v1/producers?lat=47.6&lon=-2.7&radius_km=30&limit={limit}")
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "limit"
