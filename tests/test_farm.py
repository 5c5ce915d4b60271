import io
import re
from pathlib import Path

import pytest
from geopy.location import Location
from geopy.point import Point
from PIL import Image
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Role
from marketplace.catalogue.models import Product, ProductPhoto, Variant, months_to_mask
from marketplace.geo.gazetteer import load_gazetteer
from marketplace.geo.services import distance_km, geocoder_for
from marketplace.producers import services as farms
from marketplace.producers.models import Producer
from tests import factories
from tests.clock import now


def jpeg_bytes(size=(1200, 800), color=(200, 60, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def farm(app, login, client):
    producer = factories.producer(name="Ferme du Lindin", labels=("AB",))
    login(producer.user)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return producer


@pytest.fixture
def gazetteer(db):
    """Morbihan, and the two départements of Valence (a homonym)."""
    load_gazetteer(db.session, departments={"56", "26", "82"})
    db.session.commit()


def product_data(**overrides):
    data = {
        "name": "Carottes des sables",
        "category_id": str(factories.category("vegetables").id),
        "description": "Récoltées la veille.",
        "vat_rate_bp": "550",
        "months": ["6", "7", "8", "9"],
        "is_active": "y",
        "variant-label": "Botte de 1 kg",
        "variant-price": "2,80",
        "variant-stock": "40",
        "variant-is_active": "y",
    }
    data.update(overrides)
    return data


def test_producer_adds_a_product_with_a_variant(client, db, farm, form_post):
    response = form_post("/farm/products/new", product_data())
    assert response.status_code == 302
    product = db.session.scalar(select(Product).where(Product.producer_id == farm.id))
    assert product.name == "Carottes des sables"
    assert product.season_months == months_to_mask([6, 7, 8, 9])
    assert product.vat_rate_bp == 550
    [variant] = product.variants
    assert (variant.label, variant.price_cents, variant.stock) == ("Botte de 1 kg", 280, 40)
    listing = client.get("/farm/products/").get_data(as_text=True)
    assert "Carottes des sables" in listing
    assert "Carottes des sables" in client.get("/catalogue").get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"variant-price": "-3"}, "variant-price", "more than zero"),
        ({"variant-price": "0"}, "variant-price", "more than zero"),
        ({"variant-price": "abc"}, "variant-price", "Enter a price in euros"),
        ({"variant-price": "1e30"}, "variant-price", "Enter a price in euros"),
        ({"variant-price": "3,555"}, "variant-price", "Enter a price in euros"),
        ({"variant-price": "99999999"}, "variant-price", "cannot exceed"),
        ({"variant-price": ""}, "variant-price", "enter a price"),
        ({"variant-stock": "-1"}, "variant-stock", "Between 0 and 1000000"),
        ({"variant-stock": "abc"}, "variant-stock", "Not a valid integer"),
        ({"variant-stock": "1.5"}, "variant-stock", "Not a valid integer"),
        ({"variant-stock": "99999999999"}, "variant-stock", "Between 0 and 1000000"),
        ({"name": ""}, "name", "name the product"),
        ({"name": "x" * 121}, "name", "At most 120"),
        ({"variant-label": "y" * 61}, "variant-label", "At most 60"),
        ({"months": []}, "months", "at least one month"),
        ({"category_id": "999999"}, "category_id", "Not a valid choice"),
        ({"category_id": "abc"}, "category_id", ""),
        ({"vat_rate_bp": "1234"}, "vat_rate_bp", "Not a valid choice"),
        ({"description": "z" * 5001}, "description", "At most 5000"),
    ],
)
def test_bad_product_input_is_refused_with_a_message(
    client, db, farm, form_post, overrides, field, message
):
    response = form_post("/farm/products/new", product_data(**overrides))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    # What the producer typed is still there.
    if field != "name":
        assert 'value="Carottes des sables"' in html
    assert db.session.scalar(select(Product)) is None


def test_edit_product_and_variants(client, db, farm, form_post):
    product = factories.product(farm, name="Pommes", variants=(("1 kg", 300, 5),))
    variant = product.variants[0]
    url = f"/farm/products/{product.id}"
    response = form_post(url, {"name": "Pommes Reinette", "category_id": product.category_id,
                               "vat_rate_bp": "550", "months": ["9", "10"], "is_active": "y"})
    assert response.status_code == 302
    response = form_post(f"{url}/variants/{variant.id}", {
        f"v{variant.id}-label": "Sac de 2 kg", f"v{variant.id}-price": "5.20",
        f"v{variant.id}-stock": "12", f"v{variant.id}-is_active": "y",
        f"v{variant.id}-csrf_token": None,
    } | {f"v{variant.id}-csrf_token": _token(client, url, f"v{variant.id}-csrf_token")},
        page=url)
    assert response.status_code == 302
    response = form_post(f"{url}/variants", {
        "new-label": "Cagette 6 kg", "new-price": "14", "new-stock": "3", "new-is_active": "y",
        "new-csrf_token": _token(client, url, "new-csrf_token"),
    }, page=url)
    assert response.status_code == 302
    db.session.expire_all()
    product = db.session.get(Product, product.id)
    assert product.name == "Pommes Reinette"
    assert product.months == [9, 10]
    assert [(v.label, v.price_cents, v.stock) for v in product.variants] == [
        ("Sac de 2 kg", 520, 12), ("Cagette 6 kg", 1400, 3)
    ]


def _token(client, url, name):
    import re

    html = client.get(url).get_data(as_text=True)
    return re.search(rf'name="{name}"[^>]*value="([^"]+)"', html).group(1)


def test_bad_variant_edit_keeps_input_and_changes_nothing(client, db, farm, form_post):
    product = factories.product(farm, variants=(("1 kg", 300, 5),))
    variant = product.variants[0]
    url = f"/farm/products/{product.id}"
    response = client.post(f"{url}/variants/{variant.id}", data={
        f"v{variant.id}-label": "1 kg", f"v{variant.id}-price": "-2",
        f"v{variant.id}-stock": "-5",
        f"v{variant.id}-csrf_token": _token(client, url, f"v{variant.id}-csrf_token"),
    })
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'value="-2"' in html
    assert 'value="-5"' in html
    db.session.expire_all()
    v = db.session.get(Variant, variant.id)
    assert (v.price_cents, v.stock) == (300, 5)


def test_producer_cannot_reach_another_producers_product(client, db, farm, form_post):
    other = factories.product(factories.producer(name="Autre ferme"), name="Pas à moi")
    variant = other.variants[0]
    assert client.get(f"/farm/products/{other.id}").status_code == 404
    token = _token(client, "/farm/products/new", "csrf_token")
    for url in (
        f"/farm/products/{other.id}",
        f"/farm/products/{other.id}/variants",
        f"/farm/products/{other.id}/variants/{variant.id}",
        f"/farm/products/{other.id}/variants/{variant.id}/delete",
        f"/farm/products/{other.id}/delete",
    ):
        assert client.post(url, data={"csrf_token": token, "name": "Volé"}).status_code == 404
    # Own product id with someone else's variant id is refused as well.
    mine = factories.product(farm)
    response = client.post(f"/farm/products/{mine.id}/variants/{variant.id}/delete",
                           data={"csrf_token": token})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Product, other.id).name == "Pas à moi"
    assert db.session.get(Variant, variant.id) is not None


@pytest.mark.parametrize("role", [Role.HOUSEHOLD, Role.RESTAURANT, Role.HOST, Role.ADMIN])
def test_only_producers_reach_the_farm_pages(client, login, role):
    login(factories.user(role))
    for url in ("/farm", "/farm/profile", "/farm/products/", "/farm/products/new"):
        assert client.get(url).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/farm/products/new")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_post_without_csrf_is_refused(client, db, farm):
    response = client.post("/farm/products/new", data=product_data())
    assert response.status_code == 400
    assert db.session.scalar(select(Product)) is None


def test_photo_upload_makes_a_thumbnail(app, client, db, farm, form_post):
    data = product_data()
    data["photo"] = (io.BytesIO(jpeg_bytes()), "carottes.jpg")
    response = form_post("/farm/products/new", data, content_type="multipart/form-data")
    assert response.status_code == 302
    photo = db.session.scalar(select(ProductPhoto))
    folder = Path(app.config["UPLOAD_FOLDER"])
    with Image.open(folder / photo.thumb_path) as thumb:
        assert thumb.size == (app.config["THUMBNAIL_SIZE"], app.config["THUMBNAIL_SIZE"])
    with Image.open(folder / photo.path) as full:
        assert max(full.size) <= 1600
    with client.get(f"/media/{photo.thumb_path}") as served:
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("what", ["photo", "product"])
def test_deleted_photos_leave_the_disk_once_committed(app, client, db, farm, form_post, what):
    data = product_data()
    data["photo"] = (io.BytesIO(jpeg_bytes()), "carottes.jpg")
    assert form_post("/farm/products/new", data,
                     content_type="multipart/form-data").status_code == 302
    photo = db.session.scalar(select(ProductPhoto))
    files = [Path(app.config["UPLOAD_FOLDER"]) / p for p in (photo.path, photo.thumb_path)]
    assert all(f.is_file() for f in files)
    edit = f"/farm/products/{photo.product_id}"
    url = (f"/farm/products/{photo.product_id}/photos/{photo.id}/delete" if what == "photo"
           else f"/farm/products/{photo.product_id}/delete")
    assert form_post(url, {}, page=edit).status_code == 302
    assert db.session.scalar(select(ProductPhoto)) is None
    assert not any(f.exists() for f in files)


def test_a_file_that_is_not_an_image_is_refused(client, db, farm, form_post):
    data = product_data()
    data["photo"] = (io.BytesIO(b"%PDF-1.4 not a picture"), "carottes.jpg")
    response = form_post("/farm/products/new", data, content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="photo-error"' in html
    assert "not an image" in html
    assert 'value="Carottes des sables"' in html
    assert db.session.scalar(select(Product)) is None


def test_a_file_with_the_wrong_extension_is_refused(client, db, farm, form_post):
    data = product_data()
    data["photo"] = (io.BytesIO(jpeg_bytes()), "carottes.exe")
    response = form_post("/farm/products/new", data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "JPEG, PNG, WebP or GIF" in response.get_data(as_text=True)


def test_an_oversized_photo_is_refused_and_the_form_kept(app, client, db, farm, form_post):
    app.config["MAX_UPLOAD_BYTES"] = 50_000
    data = product_data()
    data["photo"] = (io.BytesIO(b"\xff\xd8" + b"0" * 60_000), "big.jpg")
    response = form_post("/farm/products/new", data, content_type="multipart/form-data")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "too large" in html
    assert 'value="Carottes des sables"' in html


def test_a_request_over_the_server_limit_gets_413_not_500(app, client, farm, form_post):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    data = product_data()
    data["photo"] = (io.BytesIO(b"0" * 20_000), "big.jpg")
    response = form_post("/farm/products/new", data, content_type="multipart/form-data")
    assert response.status_code == 413


def test_farm_profile(client, db, farm, form_post, gazetteer):
    labels = {lb.code: lb.id for lb in db.session.scalars(
        select(factories.Label))}
    data = {
        "name": "Ferme du Lindin", "description": "Maraîchage sur sol vivant.",
        "commune": "Elven", "postcode": "56250", "address": "Lieu-dit Le Lindin",
        "latitude": "47,7411", "longitude": " -2.5750", "delivery_radius_km": "25",
        "labels": [str(labels["AB"]), str(labels["HVE"])],
        "photo": (io.BytesIO(jpeg_bytes()), "ferme.png"),
        "siret": "732 829 320 00074", "vat_number": "fr 44 732829320",
    }
    response = form_post("/farm/profile", data, content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    producer = db.session.get(type(farm), farm.id)
    assert producer.postcode == "56250"
    assert producer.delivery_radius_km == 25
    # The point the farmer gave (a moved pin, typed by hand) wins over the commune's.
    assert (producer.latitude, producer.longitude) == (47.7411, -2.575)
    assert {lb.code for lb in producer.labels} == {"AB", "HVE"}
    assert producer.thumb_path
    assert producer.photo_path
    # Kept as digits, for the farm's invoices to restaurants.
    assert (producer.siret, producer.vat_number) == ("73282932000074", "FR44732829320")
    public = client.get(f"/producers/{farm.id}").get_data(as_text=True)
    assert "Maraîchage sur sol vivant." in public
    assert "HVE" in public


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"latitude": "95"}, "latitude", "Between -90 and 90"),
        ({"longitude": "abc"}, "longitude", "Not a valid decimal"),
        ({"longitude": ""}, "longitude", "both latitude and longitude"),
        ({"delivery_radius_km": "-4"}, "delivery_radius_km", "Between 1 and 300"),
        ({"name": ""}, "name", "farm's name"),
        ({"postcode": "1" * 11}, "postcode", "At most 10"),
        ({"labels": ["99999"]}, "labels", "valid choice"),
        ({"siret": "73282932000075"}, "siret", "not a valid SIRET"),
        ({"vat_number": "FR00732829320"}, "vat_number", "not a valid French VAT"),
        ({"siret": "73282932000074", "vat_number": "FR64443061841"}, "vat_number",
         "must end with the SIREN"),
    ],
)
def test_farm_profile_bad_input(client, db, farm, form_post, gazetteer, overrides, field,
                                message):
    data = {"name": "Ferme du Lindin", "commune": "Elven", "latitude": "47.73",
            "longitude": "-2.58", "delivery_radius_km": "25"}
    data.update(overrides)
    response = form_post("/farm/profile", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html, html
    assert 'value="Elven"' in html


def test_unapproved_producer_prepares_but_is_not_public(client, db, login):
    waiting = factories.producer(approved=False, name="Ferme en attente")
    product = factories.product(waiting, name="Miel en attente")
    login(waiting.user)
    assert "Miel en attente" in client.get("/farm/products/").get_data(as_text=True)
    assert "Miel en attente" not in client.get("/catalogue").get_data(as_text=True)
    assert client.get(f"/products/{product.id}").status_code == 404
    assert client.get(f"/producers/{waiting.id}").status_code == 404


# Where the farm is --------------------------------------------------------------------

def profile(**overrides):
    data = {"name": "Ferme du Lindin", "address": "", "postcode": "", "commune": "Elven",
            "latitude": "", "longitude": "", "delivery_radius_km": "25"}
    data.update(overrides)
    return data


@pytest.fixture
def unplaced(app, login, client):
    """A new farm, not approved yet, that has not said where it is."""
    producer = factories.producer(name="Ferme de Kerdréan", approved=False, commune="",
                                  lat=None, lon=None)
    login(producer.user)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return producer


def saved(farm):
    from marketplace.extensions import db

    db.session.expire_all()
    return db.session.get(Producer, farm.id)


def test_saving_geocodes_the_commune_with_the_offline_gazetteer(client, db, unplaced,
                                                                 form_post, gazetteer):
    response = form_post("/farm/profile", profile(commune="ploemeur"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/farm/profile#location")
    farm = saved(unplaced)
    # The gazetteer's spelling and the commune's only postcode are kept.
    assert (farm.commune, farm.postcode) == ("Ploemeur", "56270")
    assert distance_km((farm.latitude, farm.longitude), (47.73, -3.42)) < 3
    page = client.get("/farm/profile").get_data(as_text=True)
    assert "We placed your farm at Ploemeur (56), 47.74, -3.43" in page
    # Without JavaScript: the place in words, and the fields to correct it by hand.
    assert re.search(r'id="farm-place"[^>]*>Ploemeur \(56\), 47.74, -3.43<', page)
    assert re.search(r'<input[^>]*id="latitude"[^>]*value="47.7', page)
    assert re.search(r'<details id="farm-coordinates"[^>]*open>', page)
    # With it: the map (hidden until the script shows it) and the pin's data.
    assert '<div id="farm-map"' in page
    assert "vendor/leaflet/leaflet.js" in page
    assert "js/farm_location.js" in page
    assert '"point": {"lat": 47.7' in page


@pytest.mark.parametrize(("typed", "message"), [
    ("Xyzzyville", "We cannot find this commune or postcode: check the spelling"),
    ("99999", "We cannot find this commune or postcode"),
    ("Ploemer", "Did you mean"),
])
def test_an_unknown_commune_is_refused_and_what_was_typed_kept(client, db, unplaced,
                                                                form_post, gazetteer, typed,
                                                                message):
    response = form_post("/farm/profile", profile(commune=typed, address="Kerdréan"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="commune-error"' in html
    assert message in html
    assert f'value="{typed}"' in html
    assert 'value="Kerdréan"' in html
    farm = saved(unplaced)
    assert (farm.commune, farm.latitude) == ("", None)


def test_a_suggestion_can_be_picked(client, db, unplaced, form_post, gazetteer):
    html = form_post("/farm/profile", profile(commune="Ploemer")).get_data(as_text=True)
    choices = dict(re.findall(r'name="place_id" value="(\d+)"[^>]*>([^<]+)<', html))
    place_id = next(pid for pid, label in choices.items() if label == "Ploemeur (56, Morbihan)")
    response = form_post("/farm/profile", profile(commune="Ploemer", place_id=place_id))
    assert response.status_code == 302
    assert saved(unplaced).commune == "Ploemeur"


def test_homonyms_are_offered_with_their_departement(client, db, unplaced, form_post,
                                                     gazetteer):
    response = form_post("/farm/profile", profile(commune="Valence"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Several communes have this name: pick yours below." in html
    choices = dict(re.findall(r'name="place_id" value="(\d+)"[^>]*>([^<]+)<', html))
    assert sorted(choices.values()) == ["Valence (26, Drôme)", "Valence (82, Tarn-et-Garonne)"]
    assert saved(unplaced).latitude is None
    # A place that is not one of the homonyms is no answer.
    response = form_post("/farm/profile", profile(commune="Valence", place_id="1"))
    assert response.status_code == 400
    assert saved(unplaced).latitude is None
    place_id = next(pid for pid, label in choices.items() if "(82," in label)
    response = form_post("/farm/profile", profile(commune="Valence", place_id=place_id))
    assert response.status_code == 302
    farm = saved(unplaced)
    assert farm.commune == "Valence"
    assert distance_km((farm.latitude, farm.longitude), (44.11, 0.89)) < 5  # on the Garonne
    # Saved again as it is, the farm stays in Tarn-et-Garonne without asking.
    again = profile(commune="Valence", postcode=farm.postcode, latitude=str(farm.latitude),
                    longitude=str(farm.longitude))
    assert form_post("/farm/profile", again).status_code == 302
    assert "Valence (82)" in client.get("/farm/profile").get_data(as_text=True)


def test_a_moved_pin_is_saved(client, db, farm, form_post, gazetteer):
    # What the map's script posts when the pin is dragged: the fields, to 6 decimals.
    response = form_post("/farm/profile", profile(latitude="47.741234", longitude="-2.561234"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/farm")
    moved = saved(farm)
    assert (moved.latitude, moved.longitude) == (47.741234, -2.561234)
    assert moved.commune == "Elven"


def test_a_point_far_from_the_commune_is_refused(client, db, farm, form_post, gazetteer):
    # The minus sign dropped: east of Greenwich, hundreds of km away.
    response = form_post("/farm/profile", profile(latitude="47.74", longitude="2.56"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "km from Elven (56)" in html
    assert 'id="latitude-error"' in html
    assert 'value="2.56"' in html
    assert saved(farm).longitude == -2.5894


def test_emptied_coordinates_put_the_farm_back_on_its_commune(client, db, farm, form_post,
                                                              gazetteer):
    response = form_post("/farm/profile", profile())
    assert response.status_code == 302
    back = saved(farm)
    assert back.latitude is not None
    assert distance_km((back.latitude, back.longitude), (47.73, -2.59)) < 3


def test_a_new_commune_moves_the_farm_there(client, db, farm, form_post, gazetteer):
    # The old coordinates come back with the form: they belong to the old commune.
    data = profile(commune="Ploemeur", latitude="47.7325", longitude="-2.5894")
    assert form_post("/farm/profile", data).status_code == 302
    moved = saved(farm)
    assert distance_km((moved.latitude, moved.longitude), (47.73, -3.42)) < 3


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"commune": "", "postcode": ""}, "commune",
     "without a location your farm would not appear in searches"),
    ({"delivery_radius_km": "0"}, "delivery_radius_km",
     "With a delivery radius of 0 km your farm would no longer appear in searches"),
])
def test_a_public_farm_cannot_leave_the_searches(client, db, farm, form_post, gazetteer,
                                                 overrides, field, message):
    response = form_post("/farm/profile", profile(**overrides))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    kept = saved(farm)
    assert (kept.commune, kept.latitude, kept.delivery_radius_km) == ("Elven", 47.7325, 30)


def test_the_rule_a_public_farm_has_coordinates(db):
    public = factories.producer()
    for fields in ({"latitude": None}, {"longitude": None}, {"delivery_radius_km": 0}):
        with pytest.raises(farms.ProfileRefused):
            farms.update_profile(db.session, public, label_ids=[], **fields)
        assert (public.latitude, public.delivery_radius_km) == (47.7325, 30)
    # A farm waiting for approval is not public: it may not be placed yet.
    waiting = factories.producer(approved=False)
    farms.update_profile(db.session, waiting, label_ids=[], latitude=None, longitude=None)
    assert waiting.latitude is None


def test_a_farm_is_approved_only_once_placed(client, db, login, form_post):
    waiting = factories.producer(name="Ferme de Kerdréan", approved=False, commune="",
                                 lat=None, lon=None)
    admin = factories.user(Role.ADMIN)
    with pytest.raises(accounts.ApprovalRefused):
        accounts.approve(db.session, waiting.user, admin, now=now())
    db.session.rollback()
    login(admin)
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/admin/approvals").get_data(as_text=True)
    assert "Farm not placed yet" in page
    response = form_post(f"/admin/approvals/{waiting.user_id}", {}, page="/admin/approvals")
    assert response.status_code == 400
    assert saved(waiting).user.approved_at is None
    farm = saved(waiting)
    farm.latitude, farm.longitude = 47.73, -3.42
    db.session.commit()
    response = form_post(f"/admin/approvals/{waiting.user_id}", {}, page="/admin/approvals")
    assert response.status_code == 302
    assert saved(waiting).user.approved_at is not None


def test_the_dashboard_warns_an_unplaced_farm(client, unplaced):
    html = client.get("/farm").get_data(as_text=True)
    assert "Your farm is not placed yet: it does not appear in searches" in html


class StreetGeocoder:
    """A geocoder that knows streets (as Nominatim does), for one address."""

    def __init__(self, answer):
        self.answer = answer
        self.asked = []

    def geocode(self, query, exactly_one=True, **_kw):
        self.asked.append(query)
        return Location(query, Point(*self.answer), {"source": "nominatim"})


def test_a_geocoder_that_knows_streets_places_the_address(app, db, gazetteer):
    farm = factories.producer(approved=False, commune="", lat=None, lon=None)
    where = {"address": "12 rue de Lorient", "postcode": "", "commune": "Ploemeur",
             "latitude": None, "longitude": None}
    street = StreetGeocoder((47.7460, -3.4100))
    found = farms.locate_farm(db.session, street, farm, **where)
    assert street.asked == ["12 rue de Lorient, 56270 Ploemeur"]
    assert (found.latitude, found.longitude, found.geocoded) == (47.7460, -3.4100, True)
    # Another street of that name far away: the commune's point is kept.
    far = farms.locate_farm(db.session, StreetGeocoder((48.85, 2.35)), farm, **where)
    assert distance_km((far.latitude, far.longitude), (47.73, -3.42)) < 3
    # The offline default knows communes only: it is not asked for the street.
    offline = farms.locate_farm(db.session, geocoder_for(app.config, lambda: db.session), farm,
                                **where)
    assert (offline.latitude, offline.longitude) == (far.latitude, far.longitude)
