"""The cart: session cart across producers, priced from the
database, with a clear message and an unchanged cart for every bad input."""

from __future__ import annotations

import pytest

from marketplace.catalogue.models import Product, Variant
from marketplace.extensions import db as _db
from marketplace.orders import cart as cart_service
from tests import factories, pages
from tests.clock import now


@pytest.fixture(autouse=True)
def orders_blueprint(app):
    # Until marketplace/__init__.py registers it.
    if "orders" not in app.blueprints:
        from marketplace.orders.routes import bp

        app.register_blueprint(bp)


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


@pytest.fixture(autouse=True)
def browsing_first(client):
    # These tests fill the cart without a market day (tests/test_market_day.py has them).
    pages.browse_first(client)


def session_cart(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("cart") or {})


def variant_of(product: Product, index: int = 0) -> Variant:
    return product.variants[index]


def add(form_post, variant: Variant, quantity, **extra):
    data = {"variant_id": str(variant.id), "quantity": str(quantity), **extra}
    return form_post("/cart/add", data, page=f"/products/{variant.product_id}")


# Arithmetic --------------------------------------------------------------------

def test_vat_included_rounds_half_up_per_line():
    assert cart_service.vat_included(597, 2000) == 100  # 99.5 -> 100
    assert cart_service.vat_included(597, 550) == 31  # 31.12
    assert cart_service.vat_included(1055, 550) == 55  # exactly 55
    assert cart_service.vat_included(211, 550) == 11  # 11.000... (211 * 550 / 10550)
    assert cart_service.vat_included(0, 2000) == 0
    assert cart_service.vat_included(999, 0) == 0


def test_quantity_parsing():
    assert cart_service.parse_quantity("3") == 3
    assert cart_service.parse_quantity(" 12 ") == 12
    assert cart_service.parse_quantity("0" * 5000 + "7") == 7  # int() of 5001 digits: 500
    assert cart_service.parse_quantity("+007") == 7
    for raw, code in [
        ("0", cart_service.QUANTITY_TOO_SMALL),
        ("-2", cart_service.QUANTITY_TOO_SMALL),
        ("1.5", cart_service.BAD_QUANTITY),
        ("1,5", cart_service.BAD_QUANTITY),
        ("abc", cart_service.BAD_QUANTITY),
        ("", cart_service.BAD_QUANTITY),
        ("1e3", cart_service.BAD_QUANTITY),
        ("٣", cart_service.BAD_QUANTITY),
        ("1000", cart_service.QUANTITY_TOO_LARGE),
        ("9" * 5000, cart_service.QUANTITY_TOO_LARGE),
        ("0" * 5000 + "1000", cart_service.QUANTITY_TOO_LARGE),
        ("-" + "0" * 5000 + "3", cart_service.QUANTITY_TOO_SMALL),
        ("0" * 5000, cart_service.QUANTITY_TOO_SMALL),
    ]:
        with pytest.raises(cart_service.CartError) as err:
            cart_service.parse_quantity(raw)
        assert err.value.code == code, raw


def test_service_changes_return_new_carts_and_keep_the_old_one():
    cart = {"1": 2}
    assert cart_service.add(cart, 1, 3) == {"1": 5}
    assert cart_service.set_quantity(cart, 1, 7) == {"1": 7}
    assert cart_service.remove(cart, 1) == {}
    assert cart == {"1": 2}
    with pytest.raises(cart_service.CartError):
        cart_service.add(cart, 1, 998)  # 2 + 998 > 999
    full = {str(i): 1 for i in range(1, cart_service.MAX_LINES + 1)}
    with pytest.raises(cart_service.CartError) as err:
        cart_service.add(full, 1000, 1)
    assert err.value.code == cart_service.TOO_MANY_LINES
    assert cart_service.add(full, 1, 1)["1"] == 2  # an existing line may still grow
    assert cart_service.load({"1": 2, "x": 1, "2": 0, "3": 1.5, "4": "2", "5": True}) == {"1": 2}


# Through the web ---------------------------------------------------------------

def test_two_producers_grouped_with_subtotals_total_and_vat_per_rate(
    client, db, form_post, english
):
    farm_a = factories.producer(name="Ferme A")
    farm_b = factories.producer(name="Ferme B")
    eggs = factories.product(farm_a, name="Oeufs", variants=(("6", 199, 50),))
    jam = factories.product(farm_b, name="Confiture", variants=(("pot", 199, 50),))
    jam.vat_rate_bp = 2000
    cider = factories.product(farm_b, name="Cidre", variants=(("75 cl", 455, 50),))
    cider.vat_rate_bp = 2000
    db.session.commit()

    for variant, quantity in [(variant_of(eggs), 3), (variant_of(jam), 3), (variant_of(cider), 1)]:
        response = add(form_post, variant, quantity)
        assert response.status_code == 303, response.get_data(as_text=True)
        assert response.headers["Location"].endswith(f"/products/{variant.product_id}")

    view = cart_service.price_cart(session_cart(client), db.session)
    assert [g.producer_name for g in view.groups] == ["Ferme A", "Ferme B"]
    a, b = view.groups
    assert [(ln.product_name, ln.quantity, ln.unit_price_cents, ln.total_cents, ln.vat_cents)
            for ln in a.lines] == [("Oeufs", 3, 199, 597, 31)]
    assert [(ln.product_name, ln.total_cents, ln.vat_cents) for ln in b.lines] == [
        ("Cidre", 455, 76),  # 75.83 -> 76
        ("Confiture", 597, 100),  # 99.5 -> 100
    ]
    assert (a.subtotal_cents, b.subtotal_cents) == (597, 1052)
    assert view.total_cents == 1649
    assert view.vat_by_rate == {550: 31, 2000: 176}
    assert all(isinstance(x, int) for x in (view.total_cents, *view.vat_by_rate.values()))

    response = client.get("/cart")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("Ferme A") < html.index("Oeufs") < html.index("Ferme B")
    for text in ("€5.97", "€10.52", "€16.49", "€0.31", "€1.76", "€1.99 each"):
        assert text in html, text
    assert html.count('action="/cart/update"') == 3
    assert html.count('action="/cart/remove"') == 3


def test_adding_again_adds_up_and_update_and_remove_work(client, db, form_post, english):
    product = factories.product(variants=(("1 kg", 350, 10), ("5 kg", 1500, 10)))
    kilo, crate = product.variants
    add(form_post, kilo, 2)
    add(form_post, kilo, 1)
    add(form_post, crate, 1)
    assert session_cart(client) == {str(kilo.id): 3, str(crate.id): 1}

    response = form_post("/cart/update", {"variant_id": kilo.id, "quantity": "5"}, page="/cart")
    assert response.status_code == 303
    assert session_cart(client) == {str(kilo.id): 5, str(crate.id): 1}
    response = form_post("/cart/remove", {"variant_id": crate.id}, page="/cart")
    assert response.status_code == 303
    assert session_cart(client) == {str(kilo.id): 5}
    assert "Removed from your cart." in client.get("/cart").get_data(as_text=True)


def test_product_page_has_an_add_to_cart_form_per_variant(client, db, english):
    product = factories.product(variants=(("1 kg", 350, 10), ("5 kg", 1500, 4), ("10 kg", 2500, 0)))
    html = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert html.count('action="/cart/add"') == 2  # not for the one out of stock
    for v in product.variants[:2]:
        assert f'name="variant_id" value="{v.id}"' in html


@pytest.mark.parametrize(
    ("quantity", "status", "message"),
    [
        ("0", 400, "The quantity must be at least 1."),
        ("-3", 400, "The quantity must be at least 1."),
        ("1.5", 400, "Enter the quantity as a whole number"),
        ("1,5", 400, "Enter the quantity as a whole number"),
        ("two", 400, "Enter the quantity as a whole number"),
        ("", 400, "Enter the quantity as a whole number"),
        ("1000", 400, "You can order at most 999 of one item."),
        ("99999999999999999999999999", 400, "You can order at most 999 of one item."),
        ("998", 400, "You can order at most 999 of one item."),  # 2 already in the cart
    ],
)
def test_bad_quantities_on_add_keep_the_cart(client, db, form_post, english,
                                             quantity, status, message):
    product = factories.product(variants=(("1 kg", 350, 10), ("5 kg", 1500, 10)))
    kilo, crate = product.variants
    add(form_post, kilo, 2)
    before = session_cart(client)
    assert before == {str(kilo.id): 2}

    # 998 more of the line already there would exceed 999; any other value is bad anywhere.
    for variant in (kilo,) if quantity == "998" else (kilo, crate):
        response = add(form_post, variant, quantity)
        assert response.status_code == status
        assert message in response.get_data(as_text=True)
        assert session_cart(client) == before


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "The quantity must be at least 1."),
        ("-1", "The quantity must be at least 1."),
        ("2.5", "Enter the quantity as a whole number"),
        ("lots", "Enter the quantity as a whole number"),
        ("1000", "You can order at most 999 of one item."),
        ("1" * 400, "You can order at most 999 of one item."),
    ],
)
def test_bad_quantities_on_update_keep_the_cart(client, db, form_post, english, quantity, message):
    product = factories.product()
    variant = variant_of(product)
    add(form_post, variant, 4)
    before = session_cart(client)
    response = form_post("/cart/update", {"variant_id": variant.id, "quantity": quantity},
                         page="/cart")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert "€14.00" in html  # the cart is still shown, unchanged
    assert session_cart(client) == before


def test_unknown_or_hidden_variants_are_refused_and_keep_the_cart(client, db, form_post, english):
    public = factories.product()
    add(form_post, variant_of(public), 1)
    before = session_cart(client)

    hidden_farm = factories.producer(approved=False)
    pending = factories.product(hidden_farm)
    withdrawn = factories.product(is_active=False)
    inactive_variant = factories.product(variants=(("1 kg", 350, 10), ("2 kg", 600, 10)))
    inactive_variant.variants[1].is_active = False
    db.session.commit()
    page = f"/products/{public.id}"
    for variant_id in (
        "999999", str(variant_of(pending).id), str(variant_of(withdrawn).id),
        str(inactive_variant.variants[1].id),
    ):
        response = form_post("/cart/add", {"variant_id": variant_id, "quantity": "1"}, page=page)
        assert response.status_code == 404, variant_id
        assert "This item is not on sale." in response.get_data(as_text=True)
        assert session_cart(client) == before
    for variant_id in ("", "abc", "-1", "1.5", "9" * 40):
        response = form_post("/cart/add", {"variant_id": variant_id, "quantity": "1"}, page=page)
        assert response.status_code == 400, variant_id
        assert "This item was not recognised." in response.get_data(as_text=True)
        assert session_cart(client) == before
    # Update or remove a line that is not in the cart.
    other = factories.product()
    for url, data in [
        ("/cart/update", {"variant_id": variant_of(other).id, "quantity": "2"}),
        ("/cart/remove", {"variant_id": variant_of(other).id}),
        ("/cart/remove", {"variant_id": "nonsense"}),
    ]:
        response = form_post(url, data, page="/cart")
        assert response.status_code in (400, 404)
        assert session_cart(client) == before


def test_tampered_price_and_producer_are_ignored(client, db, form_post, english):
    farm = factories.producer(name="Vraie ferme")
    other = factories.producer(name="Autre ferme")
    product = factories.product(farm, variants=(("1 kg", 350, 10),))
    response = add(form_post, variant_of(product), 2, price="0.01", price_cents="1",
                   unit_price_cents="1", producer_id=str(other.id), total="0")
    assert response.status_code == 303
    assert session_cart(client) == {str(variant_of(product).id): 2}
    view = cart_service.price_cart(session_cart(client), db.session)
    assert view.total_cents == 700
    assert [g.producer_id for g in view.groups] == [farm.id]
    assert "€7.00" in client.get("/cart").get_data(as_text=True)


def test_unavailable_lines_are_reported_not_counted_and_the_page_renders(
    client, db, form_post, english
):
    keep = factories.product(name="Poireaux", variants=(("botte", 250, 10),))
    deleted = factories.product(name="Radis", variants=(("botte", 150, 10),))
    switched_off = factories.product(name="Navets", variants=(("1 kg", 300, 10),))
    withdrawn = factories.product(name="Courges", variants=(("pièce", 400, 10),))
    suspended_farm = factories.producer(name="Ferme suspendue")
    suspended = factories.product(suspended_farm, name="Miel", variants=(("pot", 900, 10),))
    for product in (keep, deleted, switched_off, withdrawn, suspended):
        assert add(form_post, variant_of(product), 1).status_code == 303
    before = session_cart(client)

    db.session.delete(variant_of(deleted))
    variant_of(switched_off).is_active = False
    withdrawn.is_active = False
    suspended_farm.user.approved_at = None
    db.session.commit()

    view = cart_service.price_cart(before, db.session)
    assert view.total_cents == 250
    reasons = {line.variant_id: line.unavailable for line in view.unavailable}
    assert reasons == {
        int(k): code for k, code in zip(
            sorted(before, key=int)[1:],
            [cart_service.DELETED, cart_service.VARIANT_INACTIVE,
             cart_service.PRODUCT_INACTIVE, cart_service.PRODUCER_HIDDEN],
            strict=True,
        )
    }

    response = client.get("/cart")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for message in ("This item is no longer sold.", "This variant is no longer on sale.",
                    "This product is no longer on sale.",
                    "This farm is not selling at the moment."):
        assert message in html
    assert html.count('class="list-group-item unavailable-line') == 4
    assert "€2.50" in html
    assert session_cart(client) == before  # nothing silently dropped

    # The buyer can still remove the deleted line.
    deleted_id = next(v for v, code in reasons.items() if code == cart_service.DELETED)
    response = form_post("/cart/remove", {"variant_id": deleted_id}, page="/cart")
    assert response.status_code == 303
    assert str(deleted_id) not in session_cart(client)


def test_over_stock_and_out_of_season_are_flagged_but_kept(client, db, form_post, english):
    from marketplace.catalogue.services import current_month

    month = current_month(now(), "Europe/Paris")
    other_month = month % 12 + 1
    scarce = factories.product(name="Asperges", variants=(("botte", 600, 3),))
    winter = factories.product(name="Potimarron", season_months=1 << (other_month - 1),
                               variants=(("pièce", 300, 10),))
    assert add(form_post, variant_of(scarce), 5).status_code == 303
    assert add(form_post, variant_of(winter), 1).status_code == 303
    assert session_cart(client)[str(variant_of(scarce).id)] == 5

    view = cart_service.price_cart(session_cart(client), db.session, month=month)
    flags = {line.product_name: line.warnings for line in view.lines}
    assert flags == {"Asperges": [cart_service.OVER_STOCK],
                     "Potimarron": [cart_service.OUT_OF_SEASON]}
    assert view.total_cents == 3300

    html = client.get("/cart").get_data(as_text=True)
    assert "Only 3 left" in html
    assert "Out of season this month." in html

    variant_of(scarce).stock = 0
    _db.session.commit()
    html = client.get("/cart").get_data(as_text=True)
    assert "Out of stock: lower the quantity or remove it." in html

    response = form_post("/cart/update", {"variant_id": variant_of(scarce).id, "quantity": "3"},
                         page="/cart")
    assert response.status_code == 303
    assert session_cart(client)[str(variant_of(scarce).id)] == 3


def test_cart_page_query_count_does_not_grow_with_lines(client, db, form_post, count_queries):
    farms = [factories.producer(commit=False) for _ in range(4)]
    products = [factories.product(farms[i % 4], commit=False) for i in range(20)]
    db.session.commit()
    variant_ids = [variant_of(p).id for p in products]

    def queries_for(n: int) -> int:
        with client.session_transaction() as session:
            session["cart"] = {str(v): 1 for v in variant_ids[:n]}
        with count_queries() as statements:
            response = client.get("/cart")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('class="list-group-item cart-line"') == n
        return len(statements)

    assert queries_for(2) == queries_for(20) <= 2


def test_signed_in_buyer_keeps_using_the_session_cart(client, db, form_post, login, english):
    buyer = factories.user()
    login(buyer)
    product = factories.product()
    assert add(form_post, variant_of(product), 2).status_code == 303
    assert "€7.00" in client.get("/cart").get_data(as_text=True)


def test_missing_csrf_token_is_refused(client, db, form_post):
    product = factories.product()
    add(form_post, variant_of(product), 1)
    before = session_cart(client)
    variant_id = variant_of(product).id
    for url, data in [
        ("/cart/add", {"variant_id": variant_id, "quantity": "1"}),
        ("/cart/update", {"variant_id": variant_id, "quantity": "4"}),
        ("/cart/remove", {"variant_id": variant_id}),
    ]:
        assert client.post(url, data=data).status_code == 400
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert session_cart(client) == before


def test_tampered_session_cart_does_not_break_the_page(client, db):
    with client.session_transaction() as session:
        session["cart"] = {"abc": 1, "1": "many", "2": -4, "-5": 1}
    response = client.get("/cart")
    assert response.status_code == 200
    with client.session_transaction() as session:
        session["cart"] = ["not", "a", "dict"]
    assert client.get("/cart").status_code == 200
