"""`flask seed-demo`: the Vannes demo territory, --if-empty, and the large synthetic set."""

from __future__ import annotations

import math
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Role, User
from marketplace.accounts.services import authenticate
from marketplace.catalogue.models import Category, Product, Variant
from marketplace.catalogue.reference import CATEGORIES
from marketplace.demo import france
from marketplace.demo.products import ALCOHOL_VAT_BP, FOOD_VAT_BP, POOLS, months
from marketplace.demo.seed import DEMO_NEIGHBOURS
from marketplace.demo.territory import COMMUNES, FARMS
from marketplace.producers.models import Producer
from tests.clock import now

VANNES = (47.6582, -2.7608)
LOGIN_LINE = re.compile(r"^\s+(\S+@\S+)\s{2,}(\w+)\s{2,}(\S+)")


def haversine_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def seed(app, *args):
    return app.test_cli_runner().invoke(args=["seed-demo", *args])


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def logins(output: str) -> list[tuple[str, str, str]]:
    return [m.groups() for m in map(LOGIN_LINE.match, output.splitlines()) if m]


@pytest.fixture
def demo(app, db):
    result = seed(app)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_farms_are_around_vannes(db, demo):
    farms = db.session.scalars(
        select(Producer).join(Producer.user).where(User.approved_at.is_not(None))
    ).all()
    assert len(farms) >= 25
    distances = [haversine_km(VANNES, (f.latitude, f.longitude)) for f in farms]
    # The territory reaches La Gacilly (~49 km); most farms are much closer.
    assert max(distances) < 50
    assert sum(d <= 40 for d in distances) >= 25
    for farm, distance in zip(farms, distances, strict=True):
        assert 15 <= farm.delivery_radius_km <= 50
        assert farm.delivery_radius_km >= distance, f"{farm.name} does not deliver in Vannes"
        assert farm.commune
        assert re.fullmatch(r"56\d{3}", farm.postcode)
        assert farm.description
        assert farm.address
    labelled = {code: sum(code in {lb.code for lb in f.labels} for f in farms)
                for code in ("AB", "HVE", "LR", "AOP")}
    assert 7 <= labelled["AB"] <= 13  # about a third
    assert labelled["HVE"] >= 3
    assert labelled["LR"] >= 3
    assert labelled["AOP"] >= 1


def test_demo_catalogue_is_varied_seasonal_and_partly_sold_out(app, db, demo):
    products = db.session.scalars(select(Product)).all()
    assert len(products) >= 300
    slugs = set(db.session.scalars(
        select(Category.slug).join(Product, Product.category_id == Category.id)
    ))
    assert {slug for slug, _, _ in CATEGORIES} - {"fish"} <= slugs
    for product in products:
        assert 1 <= len(product.variants) <= 3
        assert all(v.price_cents > 0 and v.stock >= 0 for v in product.variants)
        assert product.vat_rate_bp in (FOOD_VAT_BP, ALCOHOL_VAT_BP)
    vat = {p.name: p.vat_rate_bp for p in products}
    assert vat["Cidre brut fermier"] == ALCOHOL_VAT_BP
    assert vat["Jus de pomme"] == FOOD_VAT_BP
    assert any(not p.in_stock for p in products)
    assert sum(p.in_stock for p in products) > len(products) * 0.8
    month = now().astimezone(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).month
    in_season = sum(p.in_season(month) for p in products)
    assert 0 < in_season < len(products)
    tomatoes = next(p for p in products if p.name == "Tomates anciennes")
    assert tomatoes.months == [6, 7, 8, 9, 10]


def test_demo_has_every_role_and_printed_passwords_work(app, db, demo):
    roles = set(db.session.scalars(select(User.role).distinct()))
    assert roles == set(Role)
    pending = db.session.scalars(select(User).where(User.approved_at.is_(None))).all()
    assert {u.role for u in pending if u.needs_approval} == {Role.PRODUCER, Role.RESTAURANT}
    pending_farm = db.session.scalar(
        select(Producer).join(Producer.user).where(User.approved_at.is_(None))
    )
    assert pending_farm is not None

    printed = logins(demo)
    assert "admin@demo.circuit-court.fr" in {email for email, _, _ in printed}
    assert {role for _, role, _ in printed} == {r.value for r in Role}
    # Every account is printed but the neighbours who placed the demo orders.
    assert len(printed) == count(db, User) - len(DEMO_NEIGHBOURS)
    for email, role, password in printed:
        user = authenticate(db.session, email, password, app.config["PASSWORD_HASH_METHOD"])
        assert user is not None, email
        assert user.role.value == role
        assert len(password) >= 8
    assert authenticate(db.session, "admin@demo.circuit-court.fr", "wrong-password") is None


def test_demo_has_orders_to_prepare_and_hand_over(app, db, demo):
    from marketplace.orders.models import Order, OrderStatus
    from marketplace.reports.distribution import distribution_sheet
    from marketplace.reports.pick_lists import pick_list

    orders = db.session.scalars(select(Order)).all()
    assert len(orders) >= 4
    assert {o.status for o in orders} == {OrderStatus.CONFIRMED}
    slot_id = orders[0].pickup_slot_id
    assert {o.pickup_slot_id for o in orders} == {slot_id}
    assert len(distribution_sheet(db.session, slot_id)) == len(orders)
    farm_id = orders[0].sub_orders[0].producer_id
    assert pick_list(db.session, farm_id, slot_id)


def test_demo_restaurant_has_terms_and_a_door_that_farms_serve(app, db, demo):
    from marketplace.pickup.models import DeliveryRound, PickupPoint, PickupSlot
    from marketplace.wholesale.models import RestaurantProfile

    bistrot = db.session.scalar(select(User).where(User.email.like("restaurant@%")))
    profile = db.session.scalar(
        select(RestaurantProfile).where(RestaurantProfile.user_id == bistrot.id))
    assert profile.payment_terms_days == 30
    door = db.session.scalar(select(PickupPoint).where(PickupPoint.private_buyer_id == bistrot.id))
    assert door is not None
    assert not door.accepts_pay_at_pickup
    assert count(db, PickupSlot, PickupSlot.pickup_point_id == door.id) >= 6
    assert count(db, DeliveryRound, DeliveryRound.pickup_point_id == door.id) >= 1


def test_demo_catalogue_page_shows_demo_products(client, demo):
    html = client.get("/catalogue?q=pomme").get_data(as_text=True)
    assert "Pommes" in html


def test_if_empty_seeds_an_empty_database_then_does_nothing(app, db):
    first = seed(app, "--if-empty")
    assert first.exit_code == 0, first.output
    before = (count(db, User), count(db, Producer), count(db, Product), count(db, Variant))
    assert before[2] >= 300

    again = seed(app, "--if-empty")
    assert again.exit_code == 0, again.output
    assert "no demo data added" in again.output
    assert (count(db, User), count(db, Producer), count(db, Product), count(db, Variant)) == before

    refused = seed(app)
    assert refused.exit_code == 1
    assert "already has" in refused.output
    assert count(db, User) == before[0]


def test_large_size_makes_exactly_the_counts_asked(app, db):
    result = seed(app, "--size", "large", "--producers", "50", "--products", "1000", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert count(db, Producer) == 50
    assert count(db, Product) == 1000
    assert count(db, User, User.role == Role.PRODUCER, User.approved_at.is_not(None)) == 50
    variants = dict(db.session.execute(
        select(Variant.product_id, func.count()).group_by(Variant.product_id)
    ).all())
    assert len(variants) == 1000
    assert set(variants.values()) <= {1, 2, 3}
    for lat, lon in db.session.execute(select(Producer.latitude, Producer.longitude)):
        assert france.LAT_MIN <= lat <= france.LAT_MAX
        assert france.LON_MIN <= lon <= france.LON_MAX
        assert france.in_mainland(lat, lon)
    printed = logins(result.output)
    assert {role for _, role, _ in printed} == {r.value for r in Role}
    email, _, password = next(p for p in printed if p[1] == "producer")
    assert authenticate(db.session, email, password, app.config["PASSWORD_HASH_METHOD"]) is not None


def test_producer_options_need_the_large_size(app, db):
    result = seed(app, "--producers", "10")
    assert result.exit_code == 2
    assert count(db, User) == 0


# The data modules themselves ------------------------------------------------------

def test_months_wrap_over_the_new_year():
    assert months(6, 10) == (6, 7, 8, 9, 10)
    assert months(9, 3) == (9, 10, 11, 12, 1, 2, 3)
    assert months(12, 12) == (12,)


def test_templates_are_valid():
    slugs = {slug for slug, _, _ in CATEGORIES}
    for pool, templates in POOLS.items():
        for t in templates:
            assert t.category in slugs, (pool, t.name)
            assert 1 <= len(t.variants) <= 3, t.name
            assert all(price > 0 and label for label, price in t.variants), t.name
            assert t.season, t.name
            assert all(1 <= m <= 12 for m in t.season), t.name
            assert len(t.name) <= 120


def test_communes_and_towns_are_where_they_should_be():
    for farm in FARMS:
        assert farm.commune in COMMUNES
    for commune in COMMUNES.values():
        assert haversine_km(VANNES, (commune.latitude, commune.longitude)) < 50, commune.name
    for name, postcode, lat, lon in france.TOWNS:
        assert france.in_mainland(lat, lon), name
        assert re.fullmatch(r"\d{5}", postcode), name
    for lat, lon in [(46.0, -3.0), (43.0, 5.0), (50.0, 0.0), (46.95, 7.45), (49.6, 6.1)]:
        assert not france.in_mainland(lat, lon)  # sea, Switzerland, Luxembourg


def test_demo_has_pickup_points_around_vannes(app, db):
    from marketplace.pickup.models import PickupPoint

    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    points = db.session.scalars(select(PickupPoint)).all()
    assert len(points) >= 6
    assert {p.kind.value for p in points} >= {"shop", "town_hall", "third_place", "farm_shop"}
    assert all(haversine_km((p.latitude, p.longitude), VANNES) < 20 for p in points)
    hosted = [p for p in points if p.host is not None]
    assert {p.host.role.value for p in hosted} == {"host", "restaurant"}


def test_demo_points_have_openings_rounds_and_dated_slots(app, db):
    from marketplace.pickup.models import DeliveryRound, PickupSlot
    from marketplace.pickup.rounds import can_serve

    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    slots = db.session.scalars(select(PickupSlot)).all()
    assert len(slots) >= 8 * 3  # every opening, some weeks ahead
    rounds = db.session.scalars(select(DeliveryRound)).all()
    assert len(rounds) >= 30
    # Every round is one the farm can actually serve.
    served = 0
    for r in rounds[:40]:
        slot = next(s for s in slots if s.pickup_point_id == r.pickup_point_id)
        producer = db.session.get(Producer, r.producer_id)
        served += can_serve(db.session, producer, slot) or 0
    assert served > 0


def test_readme_lists_every_demo_farms_login():
    """The README's demo logins name each farm's e-mail, as many as the demo has."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w.-]+)@demo\.circuit-court\.fr`", readme))

    assert {farm.email for farm in FARMS} <= listed
    assert f"The {len(FARMS)} approved farms" in readme
    for farm in FARMS:
        assert f"| `{farm.email}@demo.circuit-court.fr` | {farm.name} |" in readme, farm.email


def test_demo_cut_offs_fall_on_a_whole_hour(app, db, demo):
    """Cut-offs as people say them ("mardi 8 décembre à 18 h"), not hours counted back
    from the opening ("mardi 8 décembre, 04:30"): every demo point's, door included."""
    from marketplace.pickup.models import PickupPoint, PickupSchedule, PickupSlot

    slots = db.session.scalars(select(PickupSlot).join(PickupSlot.pickup_point)).all()
    assert {slot.pickup_point.is_door for slot in slots} == {True, False}
    paris = ZoneInfo("Europe/Paris")
    for slot in slots:
        local = slot.cutoff_at.astimezone(paris)
        assert (local.minute, local.second) == (0, 0), (slot.pickup_point.name, local)
        assert local < slot.starts_at.astimezone(paris)
    # Hosted points say it as a day and an hour.
    schedules = db.session.scalars(select(PickupSchedule).join(PickupSchedule.pickup_point)
                                   .where(PickupPoint.private_buyer_id.is_(None))).all()
    assert schedules
    assert all(s.cutoff_time is not None for s in schedules)
