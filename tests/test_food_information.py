"""Food information: the 14 regulated allergens and traces per product, shown before
purchase, filtered on ("sans lait"), listed on the packing list and a restaurant's
delivery sheet; net quantities and the price per kilogram or litre beside prices;
the CSV columns; the demo's values."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import current_app
from flask_babel import force_locale

from marketplace.catalogue import csv_io, food
from marketplace.catalogue.food import Allergen, NetUnit
from marketplace.catalogue.models import Product, Variant
from marketplace.demo import food as demo_food
from marketplace.demo.products import POOLS
from marketplace.extensions import cache
from marketplace.orders import services
from marketplace.orders.models import OrderStatus, PaymentMethod
from tests import factories, pages
from tests.clock import now
from tests.factories import TZ

NBSP = "\u00a0"


def _declare(product: Product, contains=(), traces=(), **fields) -> Product:
    product.allergens = food.allergens_mask(contains)
    product.allergen_traces = food.allergens_mask(traces)
    for key, value in fields.items():
        setattr(product, key, value)
    return product


def _net(variant: Variant, quantity: int, unit: NetUnit) -> Variant:
    variant.net_quantity, variant.net_unit = quantity, unit
    return variant


@pytest.fixture
def shelf(db):
    """A farm's cheese (milk), bread (gluten), honey (none), and biscuits that contain
    gluten and may contain milk."""
    farm = factories.producer(name="Ferme du Goh")
    cheese = _declare(factories.product(farm, name="Tomme", category_slug="cheese",
                                        variants=(("Portion 500 g", 620, 10),)),
                      [Allergen.MILK], storage="Entre 4 et 8 °C", ingredients="Lait cru, sel",
                      origin="Bretagne (France)", prepacked=False)
    _net(cheese.variants[0], 500, NetUnit.G)
    bread = _declare(factories.product(farm, name="Pain de seigle", category_slug="bread",
                                       variants=(("1 kg", 590, 10),)), [Allergen.GLUTEN])
    honey = factories.product(farm, name="Miel de bruyère", category_slug="honey",
                              variants=(("Pot 250 g", 690, 10),))
    _net(honey.variants[0], 250, NetUnit.G)
    biscuits = _declare(factories.product(farm, name="Sablés", category_slug="bread",
                                          variants=(("Sachet 200 g", 450, 10),)),
                        [Allergen.GLUTEN], [Allergen.MILK])
    db.session.commit()
    return {"farm": farm, "cheese": cheese, "bread": bread, "honey": honey,
            "biscuits": biscuits}


# Price per kilogram or litre ------------------------------------------------------------

@pytest.mark.parametrize(("price", "quantity", "unit", "expected"), [
    (620, 500, NetUnit.G, (1240, "kg")),
    (1300, 1500, NetUnit.KG, (867, "kg")),   # 866.67 rounds up
    (480, 750, NetUnit.ML, (640, "l")),
    (320, 1000, NetUnit.L, (320, "l")),
    (430, 12, NetUnit.PIECE, (36, "piece")),  # 35.83 per egg
    (250, 1, NetUnit.PIECE, None),            # one piece: its price is the price per piece
    (250, None, None, None),
])
def test_the_price_per_kilogram_or_litre_is_computed(price, quantity, unit, expected):
    assert food.reference_price(price, quantity, unit) == expected


def test_the_price_per_kilogram_reads_like_12_40_euros_per_kg(app):
    with app.test_request_context(), force_locale("fr"):
        assert food.format_reference_price(620, 500, NetUnit.G) == f"12,40{NBSP}€/kg"
        assert food.format_net_quantity(1500, NetUnit.KG) == f"1,5{NBSP}kg"


@pytest.mark.parametrize(("text", "unit", "expected"), [
    ("500", NetUnit.G, 500), ("1,5", NetUnit.KG, 1500), ("0.75", NetUnit.L, 750),
    (" 12 ", NetUnit.PIECE, 12),
])
def test_net_quantities_are_read_in_the_units_base(text, unit, expected):
    assert food.parse_net_quantity(text, unit) == expected


@pytest.mark.parametrize(("text", "unit"), [
    ("0", NetUnit.G), ("-2", NetUnit.KG), ("1,5", NetUnit.G), ("1.2.3", NetUnit.KG),
    ("abc", NetUnit.L), ("1,5", NetUnit.PIECE), ("99999", NetUnit.KG),
])
def test_bad_net_quantities_are_refused(text, unit):
    with pytest.raises(ValueError, match=re.escape(text)):
        food.parse_net_quantity(text, unit)


def test_price_per_kg_beside_every_price_to_households(client, db, login, form_post, shelf):
    cheese = shelf["cheese"]
    per_kg = f"12,40{NBSP}€/kg"
    card = client.get("/catalogue").get_data(as_text=True)
    assert per_kg in card
    page = client.get(f"/products/{cheese.id}").get_data(as_text=True)
    assert per_kg in page
    assert f"500{NBSP}g" in page
    # The bread has no net quantity: no price per kg is made up.
    assert "€/kg" not in client.get(f"/products/{shelf['bread'].id}").get_data(as_text=True)

    login(factories.user(name="Louise"))
    pages.browse_first(client)
    variant = cheese.variants[0]
    added = form_post("/cart/add", {"variant_id": variant.id, "quantity": "2"},
                      page=f"/products/{cheese.id}")
    assert added.status_code in (302, 303)
    cart = client.get("/cart").get_data(as_text=True)
    assert per_kg in cart, cart
    checkout = client.get("/checkout")
    assert checkout.status_code == 200
    assert per_kg in checkout.get_data(as_text=True)


def test_the_order_and_its_invoice_keep_the_price_per_kg_it_was_sold_at(client, db, login,
                                                                       invoice_market):
    m = invoice_market
    _net(m["carrots"], 1000, NetUnit.KG)
    _net(m["juice"], 750, NetUnit.ML)
    db.session.commit()
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 2, m["juice"].id: 1})
    # The farm changes its variant later: the order still says what was sold.
    m["carrots"].net_quantity = 2000
    db.session.commit()
    login(m["bistrot"])
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"3,50{NBSP}€/kg" in page
    assert f"5,60{NBSP}€/l" in page
    invoice = next(i for i in factories.invoices_of(order) if i.producer_id == m["farm_a"].id)
    assert [line.description for line in invoice.lines] == [
        f"Carottes (1 kg), 3,50{NBSP}€/kg", f"Jus de pomme (1 l), 5,60{NBSP}€/l",
    ]


# Allergens before purchase --------------------------------------------------------------

def test_the_product_page_shows_the_allergens_before_purchase(client, db, english, shelf):
    page = client.get(f"/products/{shelf['cheese'].id}").get_data(as_text=True)
    assert re.search(r'allergens">Allergens:\s*<strong[^>]*>milk</strong>', page)
    assert "Ingredients: Lait cru, sel" in page
    assert "Storage: Entre 4 et 8 °C" in page
    assert "Origin: Bretagne (France)" in page
    assert "Sold loose (not prepacked)" in page
    assert page.index("Allergens:") < page.index('action="/cart/add"')

    biscuits = client.get(f"/products/{shelf['biscuits'].id}").get_data(as_text=True)
    assert re.search(r"May contain traces of:\s*<strong>milk</strong>", biscuits)
    honey = client.get(f"/products/{shelf['honey'].id}").get_data(as_text=True)
    assert "none of the 14 regulated allergens" in honey


def test_the_product_page_names_the_allergens_in_french(client, db, shelf):
    page = client.get(f"/products/{shelf['biscuits'].id}").get_data(as_text=True)
    assert f"Allergènes{NBSP}:" in page
    assert "<strong class=\"text-danger-emphasis\">gluten</strong>" in page
    assert f"Peut contenir des traces de{NBSP}: <strong>lait</strong>" in page


# Free-from filters -----------------------------------------------------------------------

def _names(client, query: str) -> set[str]:
    page = client.get(f"/catalogue?{query}").get_data(as_text=True)
    return {name for name in ("Tomme", "Pain de seigle", "Miel de bruyère", "Sablés")
            if f">{name}</a>" in page}


def test_free_from_filters(client, db, shelf):
    assert _names(client, "") == {"Tomme", "Pain de seigle", "Miel de bruyère", "Sablés"}
    # "Sans lait": not the cheese, nor the biscuits that may contain milk.
    assert _names(client, "free_from=milk") == {"Pain de seigle", "Miel de bruyère"}
    assert _names(client, "free_from=gluten") == {"Tomme", "Miel de bruyère"}
    assert _names(client, "free_from=milk&free_from=gluten") == {"Miel de bruyère"}
    # With the other filters, and an unknown code ignored.
    assert _names(client, "free_from=milk&category=bread") == {"Pain de seigle"}
    assert _names(client, "free_from=milk&q=miel&free_from=nonsense") == {"Miel de bruyère"}
    page = client.get("/catalogue?free_from=milk").get_data(as_text=True)
    assert re.search(r'value="milk" id="free-milk" checked', page)
    assert "sans lait" in page


def test_the_free_from_filter_adds_no_query(client, db, shelf, count_queries):
    client.get("/catalogue")
    cache.clear()  # both pages rendered, not served from the page cache
    with count_queries() as plain:
        client.get("/catalogue")
    cache.clear()
    with count_queries() as filtered:
        client.get("/catalogue?free_from=milk&free_from=eggs")
    assert len(plain) > 2  # rendered
    assert len(filtered) == len(plain)


def test_the_free_from_filter_keeps_to_the_market_day(db, shelf):
    from marketplace.catalogue import services as catalogue
    from marketplace.catalogue.market_day import Availability

    available = Availability(producer_ids=frozenset({shelf["farm"].id}), month=now().month)
    filters = catalogue.CatalogueFilters(available=available,
                                         free_from=food.allergens_mask([Allergen.MILK]))
    items = catalogue.browse(db.session, filters, 20).items
    assert {p.name for p in items} == {"Pain de seigle", "Miel de bruyère"}


# The farm's form --------------------------------------------------------------------------

def _product_data(**overrides):
    data = {
        "name": "Tomme fermière",
        "category_id": str(factories.category("cheese").id),
        "vat_rate_bp": "550",
        "months": [str(m) for m in range(1, 13)],
        "is_active": "y",
        "allergens": [str(Allergen.MILK.value)],
        "allergen_traces": [str(Allergen.NUTS.value)],
        "ingredients": "Lait cru, sel, présure",
        "storage": "Entre 4 et 8 °C",
        "origin": "Bretagne",
        "prepacked": "y",
        "variant-label": "Portion 500 g",
        "variant-price": "6,20",
        "variant-stock": "10",
        "variant-net_quantity": "500",
        "variant-net_unit": "g",
        "variant-is_active": "y",
    }
    data.update(overrides)
    return data


@pytest.fixture
def farmer(db, login, client):
    farm = factories.producer(name="Ferme du Lindin")
    login(farm.user)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return farm


def test_a_farm_ticks_its_allergens_and_types_the_net_quantity(client, db, farmer, form_post):
    page = client.get("/farm/products/new").get_data(as_text=True)
    assert page.count('name="allergens"') == 14
    assert "sesame seeds" in page
    response = form_post("/farm/products/new", _product_data())
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    product = db.session.query(Product).one()
    assert product.allergen_list == [Allergen.MILK]
    assert product.trace_list == [Allergen.NUTS]
    assert (product.ingredients, product.storage, product.origin, product.prepacked) == (
        "Lait cru, sel, présure", "Entre 4 et 8 °C", "Bretagne", True)
    variant = product.variants[0]
    assert (variant.net_quantity, variant.net_unit) == (500, NetUnit.G)
    # The edit page shows them ticked and typed back.
    edit = client.get(f"/farm/products/{product.id}").get_data(as_text=True)
    assert re.search(rf'name="allergens"[^>]*value="{Allergen.MILK.value}"[^>]*checked'
                     rf'|checked[^>]*name="allergens"[^>]*value="{Allergen.MILK.value}"', edit)
    assert re.search(rf'name="v{variant.id}-net_quantity"[^>]*value="500"', edit)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"allergen_traces": [str(Allergen.MILK.value)]}, "An allergen it contains is not also"),
    ({"variant-net_unit": ""}, "Choose the unit of the net quantity."),
    ({"variant-net_quantity": "1,5"}, "Write the net quantity as a number"),  # 1,5 g
    ({"variant-net_quantity": "", "variant-net_unit": "kg"},
     "Write the net quantity as a number"),
    ({"allergens": ["99"]}, "is not a valid choice"),
])
def test_bad_food_information_is_refused_and_kept(client, db, farmer, form_post, overrides,
                                                  message):
    response = form_post("/farm/products/new", _product_data(**overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "Lait cru, sel, présure" in page  # what was typed stays
    assert db.session.query(Product).count() == 0


# Packing list and delivery sheet -------------------------------------------------------

def test_the_packing_list_lists_the_allergens(client, db, login, hosted_market):
    m = hosted_market
    _declare(m["carrots"].product, [Allergen.CELERY])
    _declare(m["leeks"].product, [], [Allergen.MUSTARD])
    db.session.commit()
    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["leeks"].id: 1})
    login(m["farm"].user)
    _speak_english(client)
    page = client.get(f"/farm/orders/slots/{m['slot'].id}").get_data(as_text=True)
    assert re.search(r"Allergens:\s*<strong>celery</strong>", page)
    assert re.search(r"Allergens in this delivery:</span>\s*<strong[^>]*>celery</strong>"
                     r"\s*· May contain traces of: mustard", page)
    rows = list(csv.reader(io.StringIO(client.get(
        f"/farm/orders/slots/{m['slot'].id}/packing-list.csv").get_data(as_text=True)
        .lstrip("\ufeff"))))
    assert rows[0][-3:] == ["allergens", "may contain", "placed by"]
    by_product = {row[2]: row for row in rows[1:]}
    assert by_product["Carottes"][-3:-1] == ["celery", ""]
    assert by_product["'=Poireaux"][-3:-1] == ["", "mustard"]  # escaped for spreadsheets


def _speak_english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


def test_the_restaurants_delivery_sheet_lists_the_allergens_delivered(client, db, login,
                                                                      doorstep):
    d = doorstep
    soup = _declare(factories.product(d["near"], name="Soupe de légumes",
                                      category_slug="grocery",
                                      variants=(("Bocal 75 cl", 520, 20),)),
                    [Allergen.MILK, Allergen.CELERY])
    _declare(d["leeks"].product, [])
    db.session.commit()
    factories.delivery_round(d["near"], d["slot"])
    order = services.checkout(db.session, buyer=d["bistrot"],
                              cart={str(d["leeks"].id): 3, str(soup.variants[0].id): 2},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.CARD, config=current_app.config)
    order.status, order.paid_at = OrderStatus.CONFIRMED, now()
    for sub in order.sub_orders:
        sub.status = OrderStatus.CONFIRMED
    db.session.commit()
    # Allergens declared after the order do not change what was delivered.
    _declare(d["leeks"].product, [Allergen.SULPHITES])
    db.session.commit()

    login(d["bistrot"])
    _speak_english(client)
    sheet = client.get(f"/pickup/slots/{d['slot'].id}/sheet").get_data(as_text=True)
    assert re.search(r"Allergens in this delivery:</span>\s*<strong[^>]*>milk, celery</strong>",
                     sheet)
    assert "sulphites" not in sheet
    rows = list(csv.reader(io.StringIO(client.get(
        f"/pickup/slots/{d['slot'].id}/sheet.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-2] == "allergens"
    assert rows[1][-2] == "milk, celery"


# CSV ---------------------------------------------------------------------------------------

EXPORT_URL = "/farm/catalogue/export.csv"
IMPORT_URL = "/farm/catalogue/import"


def _upload(form_post, content: str):
    return form_post(IMPORT_URL, {"file": (io.BytesIO(content.encode()), "cat.csv")},
                     content_type="multipart/form-data")


def test_csv_round_trip_with_allergens_and_net_quantities(client, db, farmer, form_post):
    cheese = _declare(factories.product(farmer, name="Tomme", category_slug="cheese",
                                        variants=(("Tomme entière 1,5 kg", 2850, 3),)),
                      [Allergen.MILK], [Allergen.NUTS, Allergen.EGGS], storage="Au frais",
                      ingredients="Lait cru | sel", origin="France", prepacked=True)
    _net(cheese.variants[0], 1500, NetUnit.KG)
    db.session.commit()
    rows = list(csv.reader(io.StringIO(client.get(EXPORT_URL).data.decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["allergens"], row["traces"]) == ("milk", "eggs|nuts")
    assert (row["net_quantity"], row["net_unit"], row["prepacked"]) == ("1.5", "kg", "yes")

    # Import it as another farm's catalogue: the same food information.
    other = factories.producer()
    csv_io.import_catalogue(db.session, other, client.get(EXPORT_URL).data)
    db.session.commit()
    copy = db.session.query(Product).filter_by(producer_id=other.id).one()
    assert (copy.allergens, copy.allergen_traces) == (cheese.allergens, cheese.allergen_traces)
    assert (copy.ingredients, copy.storage, copy.origin, copy.prepacked) == (
        "Lait cru | sel", "Au frais", "France", True)
    assert (copy.variants[0].net_quantity, copy.variants[0].net_unit) == (1500, NetUnit.KG)

    # French names, any case, and the French file reads the same.
    with client.session_transaction() as session:
        session["lang"] = "fr"
    french = client.get(EXPORT_URL).data.decode("utf-8-sig")
    assert "lait;œufs|fruits à coque" in french
    assert ";1,5;kg" in french


def test_a_bad_allergen_row_is_refused_with_its_line_and_nothing_is_written(
        client, db, farmer, form_post):
    content = (
        "product,category,vat_rate,variant,price,stock,allergens,traces,net_quantity,net_unit\n"
        "Tomme,cheese,5.5,500 g,6.20,10,Lait,,500,g\n"
        "Pain,bread,5.5,1 kg,5.90,10,gluten|cacahuètes,,1,kg\n"
        "Miel,honey,5.5,Pot,6.90,10,,,250,grammes\n"
        "Sablés,bread,5.5,Sachet,4.50,10,gluten,gluten,,\n"
    )
    response = _upload(form_post, content)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r"<td[^>]*>3</td><td>allergens: “cacahuètes” is not one of the 14 "
                     r"regulated allergens \(gluten, crustacés", page)
    assert "net_unit “grammes” is not one of g, kg, ml, l or piece." in page
    assert "An allergen the product contains cannot also be a trace" in page
    assert db.session.query(Product).count() == 0


def test_csv_allergen_names_in_french_or_english():
    assert food.parse_allergens("Lait | GLUTEN;œufs") == food.allergens_mask(
        [Allergen.MILK, Allergen.GLUTEN, Allergen.EGGS])
    assert food.parse_allergens("fruits a coque|Sulfites|sesame") == food.allergens_mask(
        [Allergen.NUTS, Allergen.SULPHITES, Allergen.SESAME])
    assert food.parse_allergens("") == 0
    with pytest.raises(ValueError, match="noix de coco"):
        food.parse_allergens("lait|noix de coco")


# The demo ------------------------------------------------------------------------------------

def _template(name):
    return next(t for pool in POOLS.values() for t in pool if t.name == name)


@pytest.mark.parametrize(("name", "contains"), [
    ("Tomme fermière", [Allergen.MILK]),
    ("Pain de campagne au levain", [Allergen.GLUTEN]),
    ("Miel de printemps", []),
    ("Huîtres creuses n°3", [Allergen.MOLLUSCS]),
    ("Œufs plein air", [Allergen.EGGS]),
    ("Céleri-rave", [Allergen.CELERY]),
    ("Kouign-amann", [Allergen.GLUTEN, Allergen.MILK]),
])
def test_the_demo_declares_believable_allergens(name, contains):
    fields = demo_food.product_fields(_template(name))
    assert food.mask_allergens(fields["allergens"]) == contains


@pytest.mark.parametrize(("label", "expected"), [
    ("Pot 500 g", (500, NetUnit.G)), ("Tomme entière 1,5 kg", (1500, NetUnit.KG)),
    ("Bouteille 75 cl", (750, NetUnit.ML)), ("Caisse 6 × 75 cl", (4500, NetUnit.L)),
    ("Lot de 4 × 125 g", (500, NetUnit.G)), ("la douzaine", (12, NetUnit.PIECE)),
    ("Bourriche 3 douzaines", (36, NetUnit.PIECE)), ("la botte", (None, None)),
    ("la pièce (≈ 1,8 kg)", (None, None)),  # weighed: no fixed net quantity
])
def test_the_demo_reads_net_quantities_from_its_labels(label, expected):
    assert demo_food.net_quantity(label) == expected
