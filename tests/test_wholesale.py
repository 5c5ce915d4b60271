"""Restaurants' wholesale buying: tiers, cases, farm minimums, who sees what,
the restaurant profile (SIRET, VAT number) and the farm's settings."""

import pytest
from sqlalchemy import select

from marketplace.accounts import business_ids
from marketplace.accounts.models import Role
from marketplace.catalogue import pricing
from marketplace.catalogue.models import SaleMode, Variant, WholesaleTier
from marketplace.orders import cart as cart_service
from marketplace.wholesale.models import RestaurantProfile
from tests import factories, pages


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


def wholesale_product(db, *, farm=None, mode=SaleMode.BOTH, case_size=1, price=500,
                      tiers=((1, 450), (10, 400)), stock=500, minimum=0, name="Pommes"):
    farm = farm or factories.producer(commit=False)
    farm.wholesale_minimum_cents = minimum
    product = factories.product(farm, name=name, variants=(("Caisse de 6 kg", price, stock),),
                                commit=False)
    variant = product.variants[0]
    variant.sale_mode = mode
    variant.case_size = case_size
    db.session.flush()
    pricing.set_tiers(db.session, variant, tiers)
    db.session.commit()
    return variant


def selects(statements):
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def restaurant(approved=True):
    return factories.user(Role.RESTAURANT, approved=approved)


# Prices at the tier boundaries ---------------------------------------------------------

@pytest.mark.parametrize(("quantity", "expected"), [
    (1, 450), (9, 450), (10, 400), (11, 400), (999, 400),
])
def test_tier_prices_apply_exactly_at_the_boundaries(db, quantity, expected):
    variant = wholesale_product(db)
    tiers = pricing.tiers_for(db.session, [variant.id])[variant.id]
    assert pricing.unit_price_cents(variant, quantity, tiers, wholesale=True) == expected
    # A household (not wholesale) pays the retail price whatever the quantity.
    assert pricing.unit_price_cents(variant, quantity, tiers, wholesale=False) == 500


@pytest.mark.parametrize(("quantity", "expected"), [(1, 500), (4, 500), (5, 420), (20, 380)])
def test_below_the_first_tier_the_retail_price_applies(db, quantity, expected):
    variant = wholesale_product(db, tiers=((20, 380), (5, 420)))
    tiers = pricing.tiers_for(db.session, [variant.id]).get(variant.id, [])
    assert pricing.unit_price_cents(variant, quantity, tiers, wholesale=True) == expected


def test_a_retail_only_variant_ignores_its_tiers(db):
    variant = wholesale_product(db, mode=SaleMode.RETAIL)
    tiers = pricing.tiers_for(db.session, [variant.id])[variant.id]
    assert pricing.unit_price_cents(variant, 10, tiers, wholesale=True) == 500


def test_tiers_for_many_variants_is_one_query(db, count_queries):
    ids = [wholesale_product(db, name=f"P{i}").id for i in range(5)]
    with count_queries() as statements:
        found = pricing.tiers_for(db.session, ids)
    assert len(selects(statements)) == 1
    assert [[t.min_quantity for t in found[i]] for i in ids] == [[1, 10]] * 5


# Cases ----------------------------------------------------------------------------------

@pytest.mark.parametrize("quantity", [6, 12, 18, 996])
def test_whole_cases_are_accepted(db, quantity):
    variant = wholesale_product(db, case_size=6)
    assert pricing.case_problem(variant, quantity) is None


@pytest.mark.parametrize("quantity", [0, -6, 1, 5, 7, 13])
def test_a_quantity_that_is_not_whole_cases_is_refused_naming_the_case_size(
        app, db, quantity):
    variant = wholesale_product(db, case_size=6)
    message = str(pricing.case_problem(variant, quantity))
    assert "6" in message
    assert "12" in message
    assert "18" in message
    assert "colis de 6" in message  # French by default: "Vendu par colis de 6 : ..."


def test_case_size_message_in_english(app, db):
    variant = wholesale_product(db, case_size=6)
    from flask_babel import force_locale

    with force_locale("en"):
        assert str(pricing.case_problem(variant, 5)) == (
            "Sold by the case of 6: order 6, 12, 18..."
        )


# The cart ---------------------------------------------------------------------------------

def test_approved_restaurant_pays_tier_prices_in_the_cart(db):
    variant = wholesale_product(db, case_size=1)
    buyer = restaurant()
    view = cart_service.price_cart({str(variant.id): 10}, db.session, buyer=buyer)
    [line] = view.lines
    assert (line.unit_price_cents, line.total_cents, line.wholesale) == (400, 4000, True)
    view = cart_service.price_cart({str(variant.id): 9}, db.session, buyer=buyer)
    assert view.lines[0].unit_price_cents == 450


@pytest.mark.parametrize("who", ["household", "unapproved", "anonymous"])
def test_others_pay_retail_and_cannot_buy_wholesale_only(db, who):
    both = wholesale_product(db, name="Both")
    only = wholesale_product(db, mode=SaleMode.WHOLESALE, name="Only")
    buyer = {"household": lambda: factories.user(), "unapproved": lambda: restaurant(False),
             "anonymous": lambda: None}[who]()
    view = cart_service.price_cart({str(both.id): 10, str(only.id): 12}, db.session, buyer=buyer)
    [line] = view.lines
    assert (line.variant_id, line.unit_price_cents, line.wholesale) == (both.id, 500, False)
    [gone] = view.unavailable
    assert (gone.variant_id, gone.unavailable) == (only.id, cart_service.WHOLESALE_ONLY)
    assert not view.wholesale
    assert view.groups[0].minimum_cents == 0


def test_a_line_not_in_whole_cases_is_put_aside_and_blocks_checkout(app, db):
    variant = wholesale_product(db, case_size=6)
    view = cart_service.price_cart({str(variant.id): 8}, db.session, buyer=restaurant())
    assert view.lines == []
    [line] = view.unavailable
    assert line.unavailable == cart_service.CASE_SIZE
    assert "6" in str(line.problem)
    problem = pricing.checkout_problem(view)
    assert problem.code == pricing.CASE_SIZE
    assert problem.line is line


def test_case_size_does_not_bind_a_household(db):
    variant = wholesale_product(db, case_size=6)
    view = cart_service.price_cart({str(variant.id): 1}, db.session, buyer=factories.user())
    assert [line.quantity for line in view.lines] == [1]


def test_minimum_gap_per_producer(app, db):
    farm = factories.producer(name="Verger", commit=False)
    variant = wholesale_product(db, farm=farm, minimum=10000)  # 100 EUR
    other = wholesale_product(db, name="Sans minimum")
    buyer = restaurant()
    view = cart_service.price_cart({str(variant.id): 10, str(other.id): 1}, db.session,
                                   buyer=buyer)
    gaps = pricing.minimum_gaps(view)
    assert set(gaps) == {farm.id}
    gap = gaps[farm.id]
    assert (gap.minimum_cents, gap.subtotal_cents, gap.missing_cents) == (10000, 4000, 6000)
    assert pricing.checkout_problem(view).code == pricing.BELOW_MINIMUM
    view = cart_service.price_cart({str(variant.id): 25}, db.session, buyer=buyer)
    assert pricing.minimum_gaps(view)[farm.id].met
    assert pricing.checkout_problem(view) is None


def test_cart_page_shows_tier_prices_and_the_minimum_gap(client, db, login, english):
    farm = factories.producer(name="Verger", commit=False)
    variant = wholesale_product(db, farm=farm, minimum=10000, case_size=1)
    login(restaurant())
    with client.session_transaction() as session:
        session["cart"] = {str(variant.id): 10}
    html = client.get("/cart").get_data(as_text=True)
    assert "€4.00 each" in html
    assert "wholesale price" in html
    assert "€60.00 more from this farm to reach its minimum of €100.00." in html


def test_cart_page_of_a_household_shows_retail_and_no_minimum(client, db, login, english):
    variant = wholesale_product(db, minimum=10000)
    login(factories.user())
    with client.session_transaction() as session:
        session["cart"] = {str(variant.id): 10}
    html = client.get("/cart").get_data(as_text=True)
    assert "€5.00 each" in html
    assert "minimum" not in html


def test_adding_part_of_a_case_is_refused_with_the_case_size(client, db, login, form_post,
                                                              english):
    variant = wholesale_product(db, case_size=6)
    login(restaurant())
    pages.browse_first(client)
    page = f"/products/{variant.product_id}"
    response = form_post("/cart/add", {"variant_id": str(variant.id), "quantity": "4"},
                         page=page)
    assert response.status_code == 400
    assert "Sold by the case of 6: order 6, 12, 18..." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert not session.get("cart")
    response = form_post("/cart/add", {"variant_id": str(variant.id), "quantity": "12"},
                         page=page)
    assert response.status_code == 303
    response = form_post("/cart/update", {"variant_id": str(variant.id), "quantity": "13"},
                         page="/cart")
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert session["cart"] == {str(variant.id): 12}


def test_household_cannot_add_a_wholesale_only_variant(client, db, login, form_post):
    variant = wholesale_product(db, mode=SaleMode.WHOLESALE)
    login(factories.user())
    response = form_post("/cart/add", {"variant_id": str(variant.id), "quantity": "6"},
                         page="/cart")
    assert response.status_code == 404


def test_cart_query_count_stays_fixed_for_a_restaurant(client, db, login, count_queries):
    variants = [wholesale_product(db, name=f"P{i}", case_size=1) for i in range(12)]
    login(restaurant())

    def queries_for(n: int) -> int:
        with client.session_transaction() as session:
            session["cart"] = {str(v.id): 10 for v in variants[:n]}
        with count_queries() as statements:
            response = client.get("/cart")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('class="list-group-item cart-line"') == n
        return len(statements)

    assert queries_for(2) == queries_for(12)


def test_price_cart_queries_one_more_for_a_restaurant_only(db, count_queries):
    cart = {str(wholesale_product(db, name=f"P{i}").id): 10 for i in range(6)}
    household, buyer = factories.user(), restaurant()
    assert household.role
    assert buyer.role
    for who, expected in ((household, 1), (None, 1), (buyer, 2)):
        with count_queries() as statements:
            view = cart_service.price_cart(cart, db.session, buyer=who)
        assert len(selects(statements)) == expected, who
        assert len(view.lines) == 6


# The catalogue ------------------------------------------------------------------------------

def test_product_page_shows_tiers_and_cases_to_an_approved_restaurant(client, db, login,
                                                                        english):
    variant = wholesale_product(db, case_size=6)
    login(restaurant())
    html = client.get(f"/products/{variant.product_id}").get_data(as_text=True)
    assert "Sold by the case of 6" in html
    assert "from 10: €4.00 each" in html


@pytest.mark.parametrize("approved", [False, None])  # None: a household
def test_without_approval_only_retail_prices_and_variants_show(client, db, login, english,
                                                               approved):
    both = wholesale_product(db, case_size=6, name="Pommes")
    only = wholesale_product(db, mode=SaleMode.WHOLESALE, name="Poires")
    login(restaurant(approved=False) if approved is False else factories.user())
    html = client.get(f"/products/{both.product_id}").get_data(as_text=True)
    assert "€5.00" in html
    assert "€4.00" not in html
    assert "€4.50" not in html
    assert "case of" not in html
    assert client.get(f"/products/{only.product_id}").status_code == 404
    listing = client.get("/catalogue").get_data(as_text=True)
    assert "Pommes" in listing
    assert "Poires" not in listing


def test_approved_restaurant_sees_wholesale_only_products_in_the_listing(client, db, login):
    wholesale_product(db, mode=SaleMode.WHOLESALE, name="Poires")
    login(restaurant())
    assert "Poires" in client.get("/catalogue").get_data(as_text=True)


# Restaurant profile -------------------------------------------------------------------------

@pytest.mark.parametrize("siret", [
    "73282932000074", "732 829 320 00074", "44306184100047", "35600000000010",  # La Poste
])
def test_valid_sirets(siret):
    assert business_ids.valid_siret(siret)


@pytest.mark.parametrize("siret", [
    "73282932000075", "7328293200007", "732829320000744", "7328293200007A", "", "abc",
    "35600000000011",
])
def test_invalid_sirets(siret):
    assert not business_ids.valid_siret(siret)


@pytest.mark.parametrize("vat", ["FR44732829320", "FR 44 732829320", "fr44732829320"])
def test_valid_vat_numbers(vat):
    assert business_ids.valid_vat_number(vat)


@pytest.mark.parametrize("vat", [
    "FR45732829320", "FR4473282932", "DE44732829320", "FRXX732829320", "", "FR447328293200",
])
def test_invalid_vat_numbers(vat):
    assert not business_ids.valid_vat_number(vat)


def profile_data(**overrides):
    data = {
        "business_name": "Le Bistrot du Port", "siret": "732 829 320 00074",
        "vat_number": "FR44732829320", "address": "3 quai de la Rabine",
        "postcode": "56000", "commune": "Vannes", "delivery_hours": "Tue-Sat 8:00-11:00",
    }
    data.update(overrides)
    return data


def test_restaurant_fills_its_profile_and_waits_for_approval(client, db, login, form_post,
                                                             english):
    user = login(restaurant(approved=False))
    html = client.get("/restaurant/profile").get_data(as_text=True)
    assert "waiting for an administrator's approval" in html
    response = form_post("/restaurant/profile", profile_data())
    assert response.status_code == 302
    profile = db.session.scalar(select(RestaurantProfile))
    assert (profile.user_id, profile.siret, profile.vat_number, profile.delivery_hours) == (
        user.id, "73282932000074", "FR44732829320", "Tue-Sat 8:00-11:00")
    assert profile.payment_terms_days is None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("siret", "73282932000075", "This is not a valid SIRET number"),
    ("vat_number", "FR45732829320", "This is not a valid French VAT number"),
    ("vat_number", "FR64443061841", "The VAT number must end with the SIREN of your SIRET."),
    ("business_name", "", "Please enter the business name."),
])
def test_bad_profile_input_is_refused_and_kept(client, db, login, form_post, english,
                                               field, value, message):
    login(restaurant())
    response = form_post("/restaurant/profile", profile_data(**{field: value}))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    if field != "business_name":
        assert "Le Bistrot du Port" in html
    assert "3 quai de la Rabine" in html
    assert db.session.scalar(select(RestaurantProfile)) is None


@pytest.mark.parametrize("role", [Role.HOUSEHOLD, Role.PRODUCER])
def test_profile_page_is_for_restaurants(client, login, role):
    login(factories.user(role))
    assert client.get("/restaurant/profile").status_code == 403


# The farm's settings ---------------------------------------------------------------------------

@pytest.fixture
def farm(client, login, english):
    producer = factories.producer(name="Ferme du Lindin")
    login(producer.user)
    return producer


def settings_data(variant, **overrides):
    data = {"sale_mode": "both", "case_size": "6", "tier1_quantity": "6",
            "tier1_price": "4,50", "tier2_quantity": "60", "tier2_price": "4",
            "tier3_quantity": "", "tier3_price": ""}
    data.update(overrides)
    return {f"w{variant.id}-{k}": v for k, v in data.items()}


def test_farm_sets_sale_mode_case_size_and_tiers(client, db, farm, form_post):
    product = factories.product(farm)
    variant = product.variants[0]
    page = f"/farm/products/{product.id}"
    url = f"{page}/variants/{variant.id}/wholesale"
    response = form_post(url, settings_data(variant), page=page)
    assert response.status_code == 302
    db.session.expire_all()
    variant = db.session.get(Variant, variant.id)
    assert (variant.sale_mode, variant.case_size) == (SaleMode.BOTH, 6)
    tiers = db.session.scalars(select(WholesaleTier).order_by(WholesaleTier.min_quantity)).all()
    assert [(t.min_quantity, t.unit_price_cents) for t in tiers] == [(6, 450), (60, 400)]
    html = client.get(page).get_data(as_text=True)
    assert 'value="4.50"' in html
    assert 'value="60"' in html


@pytest.mark.parametrize(("overrides", "message"), [
    ({"case_size": "0"}, "Between 1 and 999 units."),
    ({"case_size": "abc"}, "Not a valid integer value."),
    ({"tier1_price": "4,505"}, "Enter a price in euros, such as 3,50."),
    ({"tier1_price": ""}, "Give both the quantity and its price."),
    ({"tier2_quantity": "6"}, "Two tiers start at the same quantity."),
    ({"sale_mode": "everyone"}, "Not a valid choice."),
])
def test_bad_wholesale_settings_are_refused_and_kept(client, db, farm, form_post,
                                                    overrides, message):
    product = factories.product(farm)
    variant = product.variants[0]
    page = f"/farm/products/{product.id}"
    response = form_post(f"{page}/variants/{variant.id}/wholesale",
                         settings_data(variant, **overrides), page=page)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    typed = overrides.get("tier1_price", "4,50")
    assert f'value="{typed}"' in html  # what was typed is still there
    db.session.expire_all()
    variant = db.session.get(Variant, variant.id)
    assert (variant.sale_mode, variant.case_size) == (SaleMode.RETAIL, 1)
    assert db.session.scalar(select(WholesaleTier)) is None


def test_farm_sets_its_wholesale_minimum(client, db, farm, form_post):
    response = form_post("/farm/profile", {
        "name": "Ferme du Lindin", "delivery_radius_km": "30", "wholesale_minimum_cents": "150",
        "commune": "Elven", "latitude": "47.7325", "longitude": "-2.5894",
    })
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(farm), farm.id).wholesale_minimum_cents == 15000
