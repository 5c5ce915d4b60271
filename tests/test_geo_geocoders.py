"""Geocoders behind geopy's interface: the offline gazetteer, and Nominatim with a
fallback. The Nominatim test talks to 127.0.0.1:1, where nothing listens: a real
refused connection, no mock, no request leaves the machine."""

from __future__ import annotations

import time

import pytest
from geopy.exc import GeocoderServiceError
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from sqlalchemy.orm import sessionmaker

from marketplace.extensions import db as _db
from marketplace.geo import geocoders
from marketplace.geo import models as _geo_models  # noqa: F401  (tables for create_all)
from marketplace.geo.gazetteer import load_gazetteer
from marketplace.geo.geocoders import (
    GazetteerGeocoder,
    NominatimWithFallback,
    OfflineAdapter,
    geocoder_for,
    load_geo_settings,
)
from marketplace.geo.services import resolve_place

UNREACHABLE = {"GEOCODER": "nominatim", "NOMINATIM_DOMAIN": "127.0.0.1:1",
               "NOMINATIM_SCHEME": "http", "GEOCODER_TIMEOUT": 2,
               "NOMINATIM_USER_AGENT": "circuit-court-tests", "NOMINATIM_MIN_DELAY_S": 0}


@pytest.fixture
def gazetteer(db):
    load_gazetteer(db.session, departments={"26", "50", "56", "82", "16"})
    db.session.commit()


@pytest.fixture(autouse=True)
def _fresh_nominatim_cache():
    geocoders.clear_cache()
    yield
    geocoders.clear_cache()


def test_gazetteer_geocoder_answers_with_geopy_locations(gazetteer):
    geocoder = GazetteerGeocoder(lambda: _db.session)
    assert isinstance(geocoder, Geocoder)
    location = geocoder.geocode("saint-lo")
    assert isinstance(location, Location)
    assert location.address == "Saint-Lô, 50000, Manche, France"
    assert abs(location.latitude - 49.116) < 0.01
    assert abs(location.longitude + 1.090) < 0.01
    assert location.raw["source"] == "gazetteer"
    assert location.raw["status"] == "found"
    assert location.raw["department_code"] == "50"
    assert location.raw["department_name"] == "Manche"
    assert location.raw["postcodes"] == ["50000"]
    assert location.raw["geonames_id"] == 2978758


def test_gazetteer_geocoder_homonyms_and_unknowns(gazetteer):
    geocoder = GazetteerGeocoder(lambda: _db.session)
    all_of_them = geocoder.geocode("Valence", exactly_one=False)
    assert [loc.raw["department_code"] for loc in all_of_them] == ["26", "82", "16"]
    assert {loc.raw["status"] for loc in all_of_them} == {"ambiguous"}
    assert geocoder.geocode("Valence").raw["department_code"] == "26"  # the largest
    assert geocoder.geocode("Valence (82)").raw["status"] == "found"
    assert geocoder.geocode("Valence", exactly_one=False, limit=2)[1].raw["department_code"] == "82"
    assert geocoder.geocode({"city": "Rochefort-en-Terre", "postalcode": "56220"}).raw["name"] \
        == "Rochefort-en-Terre"
    assert geocoder.geocode("zzzzqqqq") is None
    assert geocoder.geocode("") is None


def test_gazetteer_geocoder_reverse(gazetteer):
    location = GazetteerGeocoder(lambda: _db.session).reverse((47.6575, -2.7600))
    assert location.raw["name"] == "Vannes"
    assert location.raw["distance_km"] < 1
    nearby = GazetteerGeocoder(lambda: _db.session).reverse("47.6575, -2.76", exactly_one=False,
                                                            limit=3)
    assert len(nearby) == 3
    assert nearby[0].raw["name"] == "Vannes"
    assert GazetteerGeocoder(lambda: _db.session).reverse((0.0, -30.0)) is None  # mid-Atlantic


def test_gazetteer_geocoder_with_a_plain_sessionmaker(gazetteer, db):
    factory = sessionmaker(bind=db.engine)
    assert GazetteerGeocoder(factory).geocode("56000").raw["name"] == "Vannes"


def test_gazetteer_geocoder_cannot_reach_the_network():
    adapter = GazetteerGeocoder(lambda: None).adapter
    assert isinstance(adapter, OfflineAdapter)
    with pytest.raises(GeocoderServiceError, match="offline"):
        adapter.get_json("https://example.org/", timeout=1, headers={})


def test_default_settings_are_offline(app):
    assert load_geo_settings({})["GEOCODER"] == "gazetteer"
    assert isinstance(geocoder_for({}, lambda: _db.session), GazetteerGeocoder)
    assert isinstance(geocoder_for(app.config, lambda: _db.session), GazetteerGeocoder)


def test_settings_from_the_environment():
    settings = load_geo_settings({
        "GEOCODER": "Nominatim", "NOMINATIM_DOMAIN": "nominatim.example.org",
        "NOMINATIM_USER_AGENT": "my-farm-site/1.0 (ops@example.org)", "GEOCODER_TIMEOUT": "3.5",
        "NOMINATIM_MIN_DELAY_S": "2",
    })
    assert settings == {
        "GEOCODER": "nominatim", "NOMINATIM_DOMAIN": "nominatim.example.org",
        "NOMINATIM_SCHEME": "https", "NOMINATIM_USER_AGENT": "my-farm-site/1.0 (ops@example.org)",
        "NOMINATIM_MIN_DELAY_S": 2.0, "GEOCODER_TIMEOUT": 3.5,
    }
    geocoder = geocoder_for(settings, lambda: _db.session)
    assert isinstance(geocoder, NominatimWithFallback)
    assert isinstance(geocoder.nominatim, Nominatim)
    assert geocoder.nominatim.domain == "nominatim.example.org"
    assert geocoder.nominatim.timeout == 3.5
    assert geocoder.nominatim.headers["User-Agent"] == "my-farm-site/1.0 (ops@example.org)"
    assert isinstance(geocoder.fallback, GazetteerGeocoder)


@pytest.mark.parametrize("environ", [
    {"GEOCODER": "google"}, {"GEOCODER_TIMEOUT": "soon"}, {"GEOCODER_TIMEOUT": "0"},
    {"NOMINATIM_MIN_DELAY_S": "-1"}, {"NOMINATIM_SCHEME": "ftp"},
])
def test_bad_settings_are_refused(environ):
    with pytest.raises(RuntimeError, match="Setting"):
        load_geo_settings(environ)


def test_public_nominatim_is_never_asked_more_than_once_a_second():
    geocoder = geocoder_for({"GEOCODER": "nominatim", "NOMINATIM_MIN_DELAY_S": 0},
                            lambda: _db.session)
    assert geocoder.nominatim.domain == "nominatim.openstreetmap.org"
    assert geocoder.gate.min_delay == 1.0


def test_unreachable_nominatim_falls_back_to_the_gazetteer(gazetteer, app, caplog):
    geocoder = geocoder_for({**app.config, **UNREACHABLE}, lambda: _db.session)
    assert isinstance(geocoder, NominatimWithFallback)
    started = time.monotonic()
    location = geocoder.geocode("Saint-Lô (50)")
    assert time.monotonic() - started < 2  # refused at once, no retry loop
    assert isinstance(location, Location)
    assert location.raw["source"] == "gazetteer"
    assert location.raw["fallback_from"] == "nominatim"
    assert "GeocoderUnavailable" in location.raw["fallback_reason"]
    assert location.raw["department_code"] == "50"
    assert "answering from the gazetteer" in caplog.text
    several = geocoder.geocode("Valence", exactly_one=False)
    assert [loc.raw["department_code"] for loc in several] == ["26", "82", "16"]
    assert all(loc.raw["fallback_from"] == "nominatim" for loc in several)
    assert geocoder.geocode("zzzzqqqq") is None


def test_resolver_asks_the_configured_geocoder_only_for_what_the_gazetteer_lacks(gazetteer, app):
    geocoder = geocoder_for({**app.config, **UNREACHABLE}, lambda: _db.session)
    found = resolve_place("Saint-Lô", session=_db.session, geocoder=geocoder)
    assert found.found
    assert found.source == "gazetteer"
    unknown = resolve_place("12 rue de la Paix, 75002 Paris", session=_db.session,
                            geocoder=geocoder)
    assert unknown.unknown  # Nominatim unreachable, and the gazetteer has no street


def test_rate_gate_spaces_calls_and_refuses_long_waits():
    gate = geocoders._RateGate(0.2)
    assert gate.acquire(max_wait=1)
    started = time.monotonic()
    assert gate.acquire(max_wait=1)
    assert time.monotonic() - started >= 0.15
    assert not gate.acquire(max_wait=0.01)  # the next slot is 0.2 s away
