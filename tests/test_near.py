"""The buyer's location, "near me", and the catalogue filtered by distance (both ways)."""

from __future__ import annotations

import re

import pytest
from geopy.distance import geodesic
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.geo.gazetteer import load_gazetteer
from marketplace.pickup.models import PickupKind, PickupPoint
from tests import factories

VANNES = (47.6582, -2.7608)


@pytest.fixture
def gazetteer(db):
    load_gazetteer(db.session, departments={"50", "56", "26", "82", "16"})
    db.session.commit()


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


def set_location(form_post, **data):
    payload = {"radius_km": "30", "next": ""}
    payload.update(data)
    return form_post("/location", payload)


def point_at(km: float, bearing: float = 90.0):
    d = geodesic(kilometers=km).destination(VANNES, bearing)
    return d.latitude, d.longitude


def test_location_by_commune_then_near_me_lists_by_distance(client, db, gazetteer, form_post,
                                                             english):
    near = factories.producer(name="Ferme proche", lat=point_at(8)[0], lon=point_at(8)[1])
    far = factories.producer(name="Ferme lointaine", lat=point_at(60)[0], lon=point_at(60)[1])
    mid = factories.producer(name="Ferme moyenne", lat=point_at(20, 200)[0],
                             lon=point_at(20, 200)[1])
    factories.producer(name="Ferme en attente", approved=False, lat=VANNES[0], lon=VANNES[1])
    db.session.add(PickupPoint(name="Café du Port", kind=PickupKind.CAFE,
                               latitude=VANNES[0], longitude=VANNES[1]))
    db.session.commit()

    response = set_location(form_post, place="VANNES")
    assert response.status_code == 302
    assert response.headers["Location"] == "/near"
    html = client.get("/near").get_data(as_text=True)
    names = re.findall(r'<a class="fw-semibold" href="/producers/\d+">([^<]+)</a>', html)
    assert names == ["Ferme proche", "Ferme moyenne"]
    assert "Ferme lointaine" not in html
    assert "Ferme en attente" not in html
    assert "Café du Port" in html
    # Every card carries its distance in km.
    assert len(re.findall(r'class="badge text-bg-light border distance">[\d.,]+ km<', html)) == 3
    # A larger radius brings the far farm in.
    assert "Ferme lointaine" in client.get("/near?radius_km=75").get_data(as_text=True)
    assert near.id
    assert far.id
    assert mid.id


@pytest.mark.parametrize("typed", ["saint-lo", "Saint Lô", "ROCHEFORT EN TERRE", "56000"])
def test_location_accepts_what_people_type(client, db, gazetteer, form_post, typed):
    response = set_location(form_post, place=typed)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_homonyms_are_told_apart_by_department(client, db, gazetteer, form_post, english):
    response = set_location(form_post, place="Valence")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Several places have this name" in html
    choices = re.findall(r'name="place_id" value="(\d+)"[^>]*>([^<]+)<', html)
    assert len(choices) >= 2
    assert any("(26," in label for _, label in choices)
    place_id = next(pid for pid, label in choices if "(26," in label)
    response = set_location(form_post, place="Valence", place_id=place_id)
    assert response.status_code == 302
    assert "Valence (26)" in client.get("/near").get_data(as_text=True)


@pytest.mark.parametrize(("typed", "message"), [
    ("Vannnes", "Did you mean"),
    ("Xyzzyville", "We do not know this place"),
    ("", "Type a commune or a postcode"),
    ("99999", "We do not know this postcode"),
    ("x" * 101, "At most 100 characters"),
])
def test_unknown_places_get_a_message_not_a_500(client, db, gazetteer, form_post, english,
                                                typed, message):
    response = set_location(form_post, place=typed)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(("lat", "lon"), [("abc", "1"), ("91", "0"), ("nan", "0"), ("1", "")])
def test_bad_browser_position_is_refused(client, db, gazetteer, form_post, english, lat, lon):
    response = set_location(form_post, latitude=lat, longitude=lon)
    assert response.status_code == 400
    assert "position we cannot read" in response.get_data(as_text=True)


def test_browser_position_is_kept_in_the_account(client, db, form_post, login):
    user = factories.user()
    login(user)
    response = set_location(form_post, latitude="47.70000", longitude="-2.70000",
                            radius_km="50")
    assert response.status_code == 302
    saved = db.session.scalar(select(User).where(User.id == user.id))
    assert (saved.latitude, saved.longitude, saved.search_radius_km) == (47.7, -2.7, 50)


def test_visitor_location_is_kept_in_the_session(client, db, form_post):
    set_location(form_post, latitude="47.7", longitude="-2.7")
    with client.session_transaction() as session:
        assert session["buyer_location"]["latitude"] == 47.7


def test_radius_outside_the_choices_is_refused(client, db, form_post):
    response = set_location(form_post, latitude="47.7", longitude="-2.7", radius_km="500")
    assert response.status_code == 400


def test_near_me_without_location_asks_for_one(client, db):
    response = client.get("/near")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/location")


def test_catalogue_near_me_keeps_only_farms_within_reach(client, db, form_post):
    inside = factories.producer(lat=point_at(10)[0], lon=point_at(10)[1])
    outside = factories.producer(lat=point_at(45)[0], lon=point_at(45)[1])
    factories.product(inside, name="Poireaux du coin")
    factories.product(outside, name="Poireaux de loin")
    assert client.get("/catalogue?near=1").status_code == 302  # no location yet
    set_location(form_post, latitude=str(VANNES[0]), longitude=str(VANNES[1]))
    html = client.get("/catalogue?near=1").get_data(as_text=True)
    assert "Poireaux du coin" in html
    assert "Poireaux de loin" not in html
    assert "Poireaux de loin" in client.get("/catalogue").get_data(as_text=True)


def test_catalogue_for_a_pickup_point_uses_each_farms_delivery_radius(client, db):
    point = PickupPoint(name="Mairie de Séné", kind=PickupKind.TOWN_HALL,
                        latitude=VANNES[0], longitude=VANNES[1])
    db.session.add(point)
    # 25 km away: one farm drives 30 km, the other only 20 km.
    drives_far = factories.producer(lat=point_at(25)[0], lon=point_at(25)[1])
    drives_far.delivery_radius_km = 30
    stays_home = factories.producer(lat=point_at(25, 0)[0], lon=point_at(25, 0)[1])
    stays_home.delivery_radius_km = 20
    db.session.commit()
    factories.product(drives_far, name="Pommes livrées")
    factories.product(stays_home, name="Pommes pas livrées")
    html = client.get(f"/catalogue?pickup={point.id}").get_data(as_text=True)
    assert "Pommes livrées" in html
    assert "Pommes pas livrées" not in html
    assert client.get("/catalogue?pickup=999999").status_code == 404


def test_near_page_query_count_does_not_grow(client, db, form_post, count_queries):
    set_location(form_post, latitude=str(VANNES[0]), longitude=str(VANNES[1]))

    def count():
        with count_queries() as statements:
            assert client.get("/near").status_code == 200
        return len(statements)

    for i in range(3):
        factories.producer(labels=("AB",), lat=point_at(5 + i)[0], lon=point_at(5 + i)[1])
    few = count()
    for i in range(30):
        factories.producer(labels=("AB",), lat=point_at(1 + i / 2)[0],
                           lon=point_at(1 + i / 2)[1], commit=False)
    db.session.commit()
    assert count() == few
