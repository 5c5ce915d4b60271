"""Shopping by market day: a pickup point and a date chosen first; the catalogue, the
cart and checkout follow it; bad choices are refused with the reason."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from marketplace.catalogue import market_day as catalogue_market_day
from marketplace.catalogue import services as catalogue
from marketplace.catalogue.models import ALL_MONTHS
from marketplace.orders.models import Order
from marketplace.pickup import market_days
from marketplace.pickup.market_day_models import ChosenMarketDay
from marketplace.pickup.models import DeliveryRound, SlotStatus
from marketplace.web.display import cutoff_people_say
from tests import factories, pages
from tests.clock import PARIS, PARIS_TZ, now
from tests.conftest import CSRF_RE

NOVEMBER = 1 << 10


def day(slot, pattern="%A %-d %B") -> str:
    return slot.starts_at.astimezone(PARIS).strftime(pattern)


@pytest.fixture
def market(db):
    """Épicerie Le Relais opens on Friday (Ferme A comes) and on Sunday (Ferme B)."""
    point = factories.pickup_point("Épicerie Le Relais")
    friday = factories.slot(point, starts_in=timedelta(days=3))
    sunday = factories.slot(point, starts_in=timedelta(days=5), cutoff_in=timedelta(days=3))
    farm_a = factories.producer(name="Ferme A")
    farm_b = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    factories.delivery_round(farm_a, friday)
    factories.delivery_round(farm_b, sunday)
    carrots = factories.product(farm_a, name="Carottes", variants=(("1 kg", 350, 10),))
    leeks = factories.product(farm_a, name="Poireaux", variants=(("botte", 280, 0),))
    berries = factories.product(farm_a, name="Fraises", season_months=ALL_MONTHS & ~NOVEMBER)
    apples = factories.product(farm_b, name="Pommes", variants=(("1 kg", 300, 10),))
    return {"point": point, "friday": friday, "sunday": sunday, "farm_a": farm_a,
            "farm_b": farm_b, "carrots": carrots, "leeks": leeks, "berries": berries,
            "apples": apples}


def cart_of(client) -> tuple[dict, dict]:
    with client.session_transaction() as session:
        return dict(session.get("cart") or {}), dict(session.get("cart_aside") or {})


def post_choice(client, slot_id, next_url=None):
    token = CSRF_RE.search(client.get("/market-day").get_data(as_text=True)).group(1)
    data = {"csrf_token": token, "slot_id": str(slot_id)}
    if next_url:
        data["next"] = next_url
    return client.post("/market-day", data=data)


# Services -----------------------------------------------------------------------------

def test_what_can_be_collected_is_the_farms_there_that_day_in_stock_and_in_season(db, market):
    friday = market_days.MarketDay(market["friday"], market["friday"].starts_at.date())
    available = catalogue_market_day.availability(db.session, friday, tz=PARIS_TZ)
    assert available.producer_ids == {market["farm_a"].id}
    page = catalogue.browse(db.session, catalogue.CatalogueFilters(available=available), 50)
    assert [p.name for p in page.items] == ["Carottes"]
    everything = catalogue.browse(db.session, catalogue.CatalogueFilters(), 50).items
    marks = catalogue_market_day.marks(db.session, everything, friday, available, now=now(),
                                       tz=PARIS_TZ)
    assert marks[market["apples"].id].reason == catalogue_market_day.NOT_THERE
    assert marks[market["apples"].id].next_day == \
        market["sunday"].starts_at.astimezone(PARIS).date()
    assert marks[market["leeks"].id].reason == catalogue_market_day.OUT_OF_STOCK
    assert marks[market["berries"].id].reason == catalogue_market_day.OUT_OF_SEASON
    assert market["carrots"].id not in marks


def test_openings_are_open_before_cut_off_with_room_and_a_restaurants_door_is_its_own(db):
    point = factories.pickup_point("Café")
    good = factories.slot(point, starts_in=timedelta(days=4), cutoff_in=timedelta(days=2))
    factories.slot(point, starts_in=timedelta(days=2), capacity=2, taken=2)
    factories.slot(point, starts_in=timedelta(days=6), status=SlotStatus.CLOSED)
    factories.slot(point, starts_in=timedelta(days=8), cutoff_in=-timedelta(hours=1))
    bistrot = factories.door_restaurant()
    door = factories.restaurant_door(bistrot, weekdays=(1, 3))
    # A farm delivers the door on Tuesdays only: its Thursdays offer nothing.
    farm = factories.producer()
    db.session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=door.id, weekday=1))
    db.session.commit()
    other = factories.door_restaurant(name="Chez Autre")
    listed = market_days.next_openings(db.session, user_id=None, now=now())
    assert [(e.point.id, [s.id for s in e.slots]) for e in listed] == [(point.id, [good.id])]
    own = market_days.next_openings(db.session, user_id=bistrot.id, now=now(), tz=PARIS_TZ)
    assert own[0].point.id == door.id
    assert own[0].slots
    assert {s.starts_at.astimezone(PARIS).weekday() for s in own[0].slots} == {1}
    assert door.id not in [e.point.id for e in market_days.next_openings(
        db.session, user_id=other.id, now=now())]


@pytest.mark.parametrize(("change", "code"), [
    ({"status": SlotStatus.CLOSED}, market_days.CLOSED),
    ({"taken": 12}, market_days.FULL),
    ({"cutoff_at": "past"}, market_days.CUT_OFF),
])
def test_a_slot_that_cannot_be_chosen_says_why_and_the_next_date(db, market, change, code):
    slot = market["friday"]
    for key, value in change.items():
        setattr(slot, key, now() - timedelta(minutes=1) if value == "past" else value)
    db.session.commit()
    refusal = market_days.refusal(db.session, slot, user_id=None, now=now(), tz=PARIS_TZ)
    assert refusal.code == code
    assert refusal.next_slot.id == market["sunday"].id
    assert refusal.status == 409


# Views ------------------------------------------------------------------------------

def test_choosing_a_market_day_shows_it_in_the_header_and_keeps_it_on_the_account(
        app, client, db, login, english, market):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/market-day' in page
    chooser = client.get("/market-day").get_data(as_text=True)
    assert "Épicerie Le Relais" in chooser
    assert day(market["friday"]) in chooser
    # Cut-offs read as people say them, as on the host's page and in the e-mails.
    with app.test_request_context(), force_locale("en"):
        assert f"Orders until {cutoff_people_say(market['friday'].cutoff_at)}" in chooser
    assert re.search(r"Orders until \w+ \d+ \w+ at \d+(:\d\d)?\s[ap]m", chooser)
    buyer = login(factories.user())
    response = post_choice(client, market["friday"].id, "/catalogue")
    assert response.status_code == 303
    assert response.location.endswith("/catalogue")
    header = client.get("/producers").get_data(as_text=True)
    assert re.search(r"<strong>Épicerie Le Relais</strong> · " + day(market["friday"]), header)
    assert db.session.get(ChosenMarketDay, buyer.id).pickup_slot_id == market["friday"].id
    # Another device: signing in brings the market day back.
    other = app.test_client()
    with other.session_transaction() as session:
        session["lang"] = "en"
    token = CSRF_RE.search(other.get("/login").get_data(as_text=True)).group(1)
    other.post("/login", data={"email": buyer.email, "password": factories.PASSWORD,
                               "csrf_token": token})
    assert "<strong>Épicerie Le Relais</strong>" in other.get("/producers").get_data(as_text=True)


def test_the_catalogue_shows_what_can_be_collected_and_marks_the_rest(client, db, english,
                                                                     market):
    pages.choose_market_day(client, market["friday"])
    page = client.get("/catalogue").get_data(as_text=True)
    assert pages.names_on(page) == {"Carottes"}
    assert "See the rest too" in page
    everything = client.get("/catalogue?all=1").get_data(as_text=True)
    assert pages.names_on(everything) == {"Carottes", "Poireaux", "Fraises", "Pommes"}
    assert (f"Not at Épicerie Le Relais on {day(market['friday'], '%A %-d')} — next: "
            f"{day(market['sunday'], '%A %-d')}") in everything
    assert "Out of stock for" in everything
    assert "Out of season on" in everything
    # Search and the farm's page follow it too.
    assert pages.names_on(client.get("/catalogue?q=pom").get_data(as_text=True)) == set()
    farm_b = client.get(f"/producers/{market['farm_b'].id}").get_data(as_text=True)
    assert pages.names_on(farm_b) == set()
    assert pages.names_on(client.get(
        f"/producers/{market['farm_b'].id}?all=1").get_data(as_text=True)) == {"Pommes"}
    product = client.get(f"/products/{market['apples'].id}").get_data(as_text=True)
    assert "Not at Épicerie Le Relais" in product
    assert 'action="/cart/add"' not in product


def test_the_catalogue_query_count_stays_fixed_with_a_market_day(client, db, english, market,
                                                                 count_queries):
    pages.choose_market_day(client, market["friday"])

    def queries(url):
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    few = (queries("/catalogue"), queries("/catalogue?all=1"))
    for n in range(8):
        factories.product(market["farm_a"], name=f"Chou {n}")
        factories.product(factories.producer(name=f"Ferme {n}"), name=f"Navet {n}")
    assert (queries("/catalogue"), queries("/catalogue?all=1")) == few


def test_the_first_add_to_the_cart_asks_where_and_when_then_adds_the_item(
        client, db, english, form_post, market):
    variant = market["carrots"].variants[0]
    page = f"/products/{market['carrots'].id}"
    response = form_post("/cart/add", {"variant_id": str(variant.id), "quantity": "2"},
                         page=page)
    assert response.status_code == 303
    assert response.location.startswith("/market-day?next=")
    assert cart_of(client)[0] == {}
    response = post_choice(client, market["friday"].id)
    assert response.status_code == 303
    assert response.location.endswith(page)
    assert cart_of(client)[0] == {str(variant.id): 2}
    assert "Carottes (1 kg) added to your cart." in client.get(page).get_data(as_text=True)
    # An item not there that day is refused with the reason, the cart unchanged.
    apples = market["apples"].variants[0]
    refused = form_post("/cart/add", {"variant_id": str(apples.id), "quantity": "1"},
                        page=f"/products/{market['apples'].id}")
    assert refused.status_code == 409
    assert "Ferme B does not deliver to Épicerie Le Relais" in refused.get_data(as_text=True)
    assert cart_of(client)[0] == {str(variant.id): 2}


def test_changing_the_market_day_keeps_aside_what_no_longer_fits_and_brings_it_back(
        client, db, english, market):
    carrots, apples = market["carrots"].variants[0].id, market["apples"].variants[0].id
    pages.set_cart(client, {carrots: 1, apples: 3})
    post_choice(client, market["friday"].id)
    assert cart_of(client) == ({str(carrots): 1}, {str(apples): 3})
    page = client.get("/cart").get_data(as_text=True)
    assert "Kept aside, not in your cart for this market day: Pommes (1 kg)" in page
    assert "Kept aside" in page
    assert 'class="list-group-item aside-line' in page
    post_choice(client, market["sunday"].id)
    assert cart_of(client) == ({str(apples): 3}, {str(carrots): 1})
    assert "Back in your cart: Pommes (1 kg)." in client.get("/cart").get_data(as_text=True)


def test_checkout_confirms_the_market_day_without_a_slot_list(client, db, login, english,
                                                              market):
    login(factories.user())
    pages.choose_market_day(client, market["friday"])
    pages.set_cart(client, {market["carrots"].variants[0].id: 2})
    page = client.get("/checkout").get_data(as_text=True)
    assert "pickup-choice" not in page
    assert "Set your location to see the nearest pickup points first." not in page
    assert f'name="slot_id" value="{market["friday"].id}"' in page
    assert 'formmethod="get"' not in page
    token = CSRF_RE.search(page).group(1)
    checkout_token = pages.TOKEN_RE.search(page).group(1)
    response = client.post("/checkout", data={"csrf_token": token, "payment_method": "at_pickup",
                                              "checkout_token": checkout_token})
    assert response.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert order.pickup_slot_id == market["friday"].id


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"status": SlotStatus.CLOSED, "closed_reason": "Jour férié"}, 409,
     "Épicerie Le Relais is closed on {friday}. (Jour férié) Next possible date: {sunday}."),
    ({"taken": 12}, 409, "Épicerie Le Relais is full on {friday}. Next possible date: {sunday}."),
    ({"cutoff_at": "past"}, 409, "the cut-off has passed. Next possible date: {sunday}."),
])
def test_a_bad_market_day_is_refused_with_the_reason_and_the_next_date(
        client, db, english, market, change, status, message):
    slot = market["friday"]
    for key, value in change.items():
        setattr(slot, key, now() - timedelta(minutes=1) if value == "past" else value)
    db.session.commit()
    response = post_choice(client, slot.id)
    assert response.status_code == status
    expected = message.format(friday=day(slot, "%A %-d %B"),
                              sunday=day(market["sunday"], "%A %-d %B"))
    assert expected in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "market_day" not in session


def test_another_restaurants_door_and_tampered_ids_are_refused(client, db, login, english,
                                                              market):
    bistrot = factories.door_restaurant()
    door = factories.restaurant_door(bistrot)
    door_slot = next(s for s in factories.slots_of(door) if s.cutoff_at > now())
    login(factories.user())
    response = post_choice(client, door_slot.id)
    assert response.status_code == 403
    assert "only that restaurant orders for it" in response.get_data(as_text=True)
    assert post_choice(client, 987654321).status_code == 404
    assert post_choice(client, "abc").status_code == 400
    assert post_choice(client, "9" * 40).status_code == 400
    assert client.post("/market-day", data={"slot_id": str(market["friday"].id)}
                       ).status_code == 400  # no CSRF token


def test_a_market_day_past_its_cut_off_is_no_longer_applied_and_the_header_says_so(
        client, db, english, market, clock):
    pages.choose_market_day(client, market["friday"])
    clock.move_to(market["friday"].cutoff_at + timedelta(minutes=1), tick=False)
    page = client.get("/catalogue").get_data(as_text=True)
    assert "Your market day is no longer open for orders." in page
    assert pages.names_on(page) == {"Carottes", "Poireaux", "Fraises", "Pommes"}


def test_checking_a_slot_at_checkout_keeps_it_as_the_market_day_by_post(
        client, db, login, english, market):
    login(factories.user())
    pages.set_cart(client, {market["carrots"].variants[0].id: 1})
    page = client.get("/checkout").get_data(as_text=True)
    assert 'class="card mb-3 pickup-choice"' in page  # no market day yet: the slots
    assert 'formaction="/market-day"' in page
    token = CSRF_RE.search(page).group(1)
    response = client.post("/market-day", data={
        "csrf_token": token, "slot_id": str(market["friday"].id), "next": "/checkout",
        "checkout_token": pages.TOKEN_RE.search(page).group(1), "payment_method": "card"})
    assert response.status_code == 303
    assert response.location.endswith("/checkout")
    assert "market-day-confirm" in client.get("/checkout").get_data(as_text=True)


def test_a_line_kept_aside_can_be_removed(client, db, english, market, form_post):
    apples = market["apples"].variants[0].id
    pages.set_cart(client, {apples: 3})
    post_choice(client, market["friday"].id)
    assert cart_of(client) == ({}, {str(apples): 3})
    assert form_post("/market-day/aside/remove", {"variant_id": str(apples)},
                     page="/cart").status_code == 303
    assert cart_of(client) == ({}, {})
    assert form_post("/market-day/aside/remove", {"variant_id": str(apples)},
                     page="/cart").status_code == 404


def test_without_a_place_points_come_in_dictionary_order(db):
    names = ["Mairie de Theix", "Épicerie Le Relais", "Café associatif", "Ferme du Lindin"]
    for name in names:
        point = factories.pickup_point(name)
        factories.slot(point, starts_in=timedelta(days=4), cutoff_in=timedelta(days=2))
    listed = market_days.next_openings(db.session, user_id=None, now=now())
    assert [e.point.name for e in listed] == [
        "Café associatif", "Épicerie Le Relais", "Ferme du Lindin", "Mairie de Theix"]


def test_a_link_naming_a_market_day_offers_it_to_keep_with_one_click(
        client, db, english, market, form_post):
    friday = market["friday"]
    page = client.get(f"/market-day?slot={friday.id}&next=/catalogue").get_data(as_text=True)
    offer = page.split('class="card mb-3 offered-market-day"')[1].split("</form>")[0]
    assert f'name="slot_id" value="{friday.id}"' in offer
    assert "Shop for this market day" in offer
    # Only a POST keeps it; unknown or tampered ids offer nothing.
    assert "current-market-day" not in page
    for bad in ("999999", "abc", "-1"):
        assert "offered-market-day" not in client.get(f"/market-day?slot={bad}").get_data(
            as_text=True)
    response = form_post("/market-day", {"slot_id": str(friday.id), "next": "/catalogue"},
                         page=f"/market-day?slot={friday.id}")
    assert response.status_code == 303
    assert "current-market-day" in client.get("/market-day").get_data(as_text=True)


# A point's public page ------------------------------------------------------------------

def test_a_points_page_shows_its_next_market_days_and_the_farms_that_come(client, db, english,
                                                                          market):
    market["point"].address = "3 rue du Port"
    hidden = factories.producer(name="Ferme Cachée", approved=False)
    factories.delivery_round(hidden, market["friday"])
    factories.slot(market["point"], starts_in=timedelta(days=9), status=SlotStatus.CLOSED)
    html = client.get(f"/points/{market['point'].id}").get_data(as_text=True)
    assert "Épicerie Le Relais" in html
    assert "3 rue du Port" in html
    openings = re.findall(r'name="slot_id" value="(\d+)"', html)
    assert openings == [str(market["friday"].id), str(market["sunday"].id)]
    farms = re.findall(r'href="/producers/(\d+)">([^<]+)</a>', html)
    assert farms == [(str(market["farm_a"].id), "Ferme A"), (str(market["farm_b"].id), "Ferme B")]
    assert day(market["friday"], "%A") in html
    assert day(market["sunday"], "%A") in html
    assert "Ferme Cachée" not in html
    # Choosing there keeps the market day, as the chooser does.
    token = CSRF_RE.search(html).group(1)
    response = client.post("/market-day", data={"csrf_token": token,
                                                 "slot_id": str(market["friday"].id)})
    assert response.status_code == 303
    again = client.get(f"/points/{market['point'].id}").get_data(as_text=True)
    assert "Your market day now: Épicerie Le Relais" in again
    assert again.count('aria-label="Choose Épicerie Le Relais') == 1  # Sunday's; Friday is chosen


def test_the_chooser_and_the_map_link_to_the_points_page(client, db, english, market):
    html = client.get("/market-day").get_data(as_text=True)
    assert f'href="/points/{market["point"].id}"' in html


def test_a_restaurants_door_and_unknown_or_inactive_points_have_no_public_page(
        client, db, login, english, market):
    bistrot = factories.door_restaurant()
    door = factories.restaurant_door(bistrot)
    closed = factories.pickup_point("Ancien café", is_active=False)
    for point_id in (door.id, closed.id, 987654321, "9" * 20):
        assert client.get(f"/points/{point_id}").status_code == 404
    login(factories.user())
    assert client.get(f"/points/{door.id}").status_code == 404


def test_the_restaurant_sees_its_own_doors_page(client, db, login, english):
    bistrot = factories.door_restaurant()
    door = factories.restaurant_door(bistrot)
    login(bistrot)
    html = client.get(f"/points/{door.id}").get_data(as_text=True)
    assert "Delivered to your door" in html
    assert factories.slots_of(door)  # dates exist, but no farm delivers the door on them:
    assert 'name="slot_id"' not in html  # none is offered


def test_a_points_page_issues_a_fixed_number_of_queries(client, db, english, market,
                                                        count_queries):
    def queries():
        with count_queries() as statements:
            assert client.get(f"/points/{market['point'].id}").status_code == 200
        return len(statements)

    few = queries()
    for n in range(6):
        farm = factories.producer(name=f"Ferme {n}")
        factories.delivery_round(farm, market["friday"])
        factories.slot(market["point"], starts_in=timedelta(days=10 + n))
    assert queries() == few
