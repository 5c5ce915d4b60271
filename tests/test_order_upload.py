"""A restaurant orders by uploading a CSV file: the file of what a slot can
deliver is downloaded, filled in and sent back; every problem is listed by line, and
any problem means nothing is ordered and no stock is taken."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from marketplace.accounts.models import Role
from marketplace.catalogue.models import SaleMode, Variant, WholesaleTier
from marketplace.orders.models import Order, OrderLine, OrderStatus
from marketplace.wholesale import csv_order, quick_routes
from tests import factories
from tests.conftest import csrf_token
from tests.pages import TOKEN_RE

URL = "/restaurant/order-upload"
ERROR_ROW_RE = re.compile(
    r'<tr class="upload-error-row"><td[^>]*>([^<]*)</td><td><code>([^<]*)</code></td>'
    r"<td>(.*?)</td><td>(.*?)</td></tr>", re.S)


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def shop(db):
    point = factories.pickup_point("Le Bistrot du Port")
    slot = factories.slot(point, starts_in=timedelta(days=3), cutoff_in=timedelta(days=2),
                          capacity=20)
    farm = factories.producer(name="Ferme de l'Étang")
    other = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    far = factories.producer(name="Ferme sans tournée")  # no round: not orderable
    leeks = factories.product(farm, name="Poireaux", variants=(("botte", 280, 500),))
    crate = factories.product(other, name="Pommes", variants=(("caisse 6 kg", 1500, 50),))
    formula = factories.product(farm, name="=SUM(A1)", variants=(("pièce", 100, 10),))
    hidden = factories.product(far, name="Navets", variants=(("botte", 200, 50),))
    leeks.variants[0].sale_mode = SaleMode.BOTH
    crate.variants[0].sale_mode = SaleMode.WHOLESALE
    crate.variants[0].case_size = 2
    db.session.add(WholesaleTier(variant_id=leeks.variants[0].id, min_quantity=10,
                                 unit_price_cents=250))
    db.session.commit()
    factories.delivery_round(farm, slot)
    factories.delivery_round(other, slot)
    restaurant = factories.user(Role.RESTAURANT, name="Le Bistrot")
    return {"slot": slot, "farm": farm, "other": other, "leeks": leeks.variants[0],
            "crate": crate.variants[0], "formula": formula.variants[0],
            "hidden": hidden.variants[0], "restaurant": restaurant}


def page_url(slot) -> str:
    return f"{URL}?slot_id={slot.id}"


def template_url(slot) -> str:
    return f"{URL}/template.csv?slot_id={slot.id}"


def order_csv(rows, *, header=("variant_id", "quantity"), delimiter=",") -> str:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows([list(header), *rows])
    return out.getvalue()


@pytest.fixture
def upload(form_post, shop):
    def do(content: str | bytes, *, slot=None, payment_method="at_pickup",
           filename="commande.csv"):
        slot = slot or shop["slot"]
        if isinstance(content, str):
            content = content.encode("utf-8")
        data = {"slot_id": str(slot.id), "payment_method": payment_method,
                "file": (io.BytesIO(content), filename)}
        return form_post(page_url(slot), data, content_type="multipart/form-data")

    return do


def error_rows(response) -> list[tuple[str, str, str, str]]:
    """(line, column, value, message) of the report on the page."""
    page = response.get_data(as_text=True)
    return [tuple(html.unescape(cell).strip() for cell in row)
            for row in ERROR_ROW_RE.findall(page)]


def order_count(db) -> int:
    return db.session.scalar(select(func.count(Order.id)))


def stocks(db) -> dict[int, int]:
    db.session.expire_all()
    return {row.id: row.stock for row in db.session.execute(select(Variant.id, Variant.stock))}


# The round trip ------------------------------------------------------------------------

def test_download_fill_in_upload_places_one_order(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    page = client.get(page_url(s["slot"]))
    assert page.status_code == 200
    assert template_url(s["slot"]).replace("&", "&amp;") in page.get_data(as_text=True)

    response = client.get(template_url(s["slot"]))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert list(rows[0]) == list(csv_order.COLUMNS)
    by_product = {row["product"]: row for row in rows}
    assert set(by_product) == {"Poireaux", "Pommes", "'=SUM(A1)"}  # not Navets; escaped
    assert by_product["Poireaux"]["farm"] == "Ferme de l'Étang"
    assert by_product["Poireaux"]["unit_price"] == "2.80"
    assert by_product["Poireaux"]["tier_prices"] == "10+: 2.50"
    assert by_product["Pommes"]["case_size"] == "2"
    assert all(row["quantity"] == "" for row in rows)

    before = stocks(db)
    by_product["Poireaux"]["quantity"] = "10"
    by_product["Pommes"]["quantity"] = "4"
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=csv_order.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    response = upload("\ufeff" + out.getvalue())
    assert response.status_code == 303, response.get_data(as_text=True)
    order = db.session.scalar(select(Order))
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    assert order.status == OrderStatus.CONFIRMED
    prices = {line.product_name: (line.quantity, line.unit_price_cents) for line in order.lines}
    assert prices == {"Poireaux": (10, 250), "Pommes": (4, 1500)}  # the tier from 10
    after = stocks(db)
    assert after[s["leeks"].id] == before[s["leeks"].id] - 10
    assert after[s["crate"].id] == before[s["crate"].id] - 4
    assert f"Your order {order.id} is placed." in client.get(
        response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("encoding", "delimiter", "header"), [
    ("utf-8", ",", ("variant_id", "quantity")),
    ("utf-8-sig", ";", ("Quantity", "farm", "VARIANT_ID")),  # French Excel, any order
    ("cp1252", ";", ("variant_id", "farm", "quantity")),  # an older Excel's "CSV"
])
def test_encodings_delimiters_and_header_names(client, db, login, upload, shop, encoding,
                                               delimiter, header):
    s = shop
    login(s["restaurant"])
    cells = {"variant_id": str(s["leeks"].id), "quantity": "3", "farm": "Ferme de l'Étang"}
    rows = [[cells[name.lower()] for name in header]]
    content = order_csv(rows, header=header, delimiter=delimiter).encode(encoding)
    response = upload(content)
    assert response.status_code == 303, response.get_data(as_text=True)
    order = db.session.scalar(select(Order))
    assert [(line.variant_id, line.quantity) for line in order.lines] == [(s["leeks"].id, 3)]


def test_empty_and_zero_quantities_are_skipped(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    response = upload(order_csv([[s["leeks"].id, "2"], [s["crate"].id, "0"],
                                 [s["formula"].id, ""], ["", ""], [s["hidden"].id, " "]]))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OrderLine.id))) == 1


def test_leading_zeros_are_read(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    response = upload(order_csv([[s["leeks"].id, "0" * 5000 + "3"], [s["crate"].id, "0" * 5000],
                                 [s["formula"].id, "007"]]))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    order = db.session.scalar(select(Order))
    assert sorted((line.variant_id, line.quantity) for line in order.lines) == sorted(
        [(s["leeks"].id, 3), (s["formula"].id, 7)])


def test_the_template_shows_what_the_restaurant_pays(client, db, login, upload, shop):
    """unit_price: the price of one unit in an order of one case, as the cart charges it."""
    s = shop
    db.session.add(WholesaleTier(variant_id=s["crate"].id, min_quantity=2,
                                 unit_price_cents=1200))
    db.session.commit()
    login(s["restaurant"])
    response = client.get(template_url(s["slot"]))
    rows = {row["product"]: row
            for row in csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")))}
    assert (rows["Pommes"]["case_size"], rows["Pommes"]["unit_price"]) == ("2", "12.00")
    assert rows["Pommes"]["tier_prices"] == "2+: 12.00"
    assert (rows["Poireaux"]["case_size"], rows["Poireaux"]["unit_price"]) == ("1", "2.80")
    assert upload(order_csv([[s["crate"].id, "2"]])).status_code == 303
    assert db.session.scalar(select(OrderLine.unit_price_cents)) == 1200


def test_more_items_than_the_grid_shows_are_all_in_the_file(client, db, login, upload, shop,
                                                             monkeypatch):
    """The grid's cap is for the page: the file lists, and the upload takes, every item."""
    s = shop
    monkeypatch.setattr(quick_routes, "MAX_GRID_LINES", 1)
    login(s["restaurant"])
    response = client.get(template_url(s["slot"]))
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert {row["product"] for row in rows} == {"Poireaux", "Pommes", "'=SUM(A1)"}
    response = upload(order_csv([[s["leeks"].id, "1"], [s["crate"].id, "2"],
                                 [s["formula"].id, "1"]]))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert db.session.scalar(select(func.count(OrderLine.id))) == 3


def test_card_payment_goes_to_the_payment_page(client, db, login, upload, shop):
    login(shop["restaurant"])
    response = upload(order_csv([[shop["leeks"].id, "2"]]), payment_method="card")
    assert response.status_code == 303, response.get_data(as_text=True)
    order = db.session.scalar(select(Order))
    assert response.headers["Location"].endswith(f"/orders/{order.id}/pay")
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_two_hundred_lines_in_one_upload(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    products = [factories.product(s["farm"], name=f"Légume {n:03d}",
                                  variants=(("1 kg", 300 + n, 20),), commit=False)
                for n in range(199)]
    db.session.commit()
    rows = [[s["leeks"].id, "1"], *([p.variants[0].id, "2"] for p in products)]
    response = upload(order_csv(rows))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert db.session.scalar(select(func.count(OrderLine.id))) == 200


# Bad files: nothing is ordered, every problem is listed -----------------------------------

BAD_FILES = {
    "missing column": (lambda s: "variant_id,farm\n1,Ferme\n",
                       "1", "quantity", "Missing columns: quantity"),
    "empty file": (lambda s: "", "—", "", "The file is empty."),
    "only blank lines": (lambda s: "\ufeff\r\n \r\n", "—", "", "The file is empty."),
    "spreadsheet file": (lambda s: b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "—", "",
                         "This file is not a CSV text file"),
    "unknown variant": (lambda s: order_csv([[987654, "1"]]), "2", "variant_id",
                        "No item has this variant_id"),
    "variant id not a number": (lambda s: order_csv([["Poireaux", "1"]]), "2",
                                "variant_id", "The variant_id is not a number"),
    "variant id missing": (lambda s: order_csv([["", "1"]]), "2", "variant_id",
                           "The variant_id is missing"),
    "not orderable for the slot": (lambda s: order_csv([[s["hidden"].id, "1"]]), "2",
                                   "variant_id", "Navets (botte) cannot be ordered for this date"),
    "not a whole number": (lambda s: order_csv([[s["leeks"].id, "1.5"]]), "2", "quantity",
                           "Write a whole number of units"),
    "letters": (lambda s: order_csv([[s["leeks"].id, "douze"]]), "2", "quantity",
                "Write a whole number of units"),
    "negative": (lambda s: order_csv([[s["leeks"].id, "-2"]]), "2", "quantity",
                 "The quantity cannot be negative"),
    "too large": (lambda s: order_csv([[s["leeks"].id, "1000"]]), "2", "quantity",
                  "At most 999 units on one line"),
    "huge": (lambda s: order_csv([[s["leeks"].id, "9" * 40]]), "2", "quantity",
             "At most 999 units on one line"),
    "huge after zeros": (lambda s: order_csv([[s["leeks"].id, "0" * 5000 + "1000"]]), "2",
                         "quantity", "At most 999 units on one line"),
    "huge variant id": (lambda s: order_csv([["9" * 5000, "1"]]), "2", "variant_id",
                        "The variant_id is not a number"),
    "not whole cases": (lambda s: order_csv([[s["leeks"].id, "1"], [s["crate"].id, "3"]]),
                        "3", "quantity", "Sold by the case of 2: order 2, 4, 6"),
    "same variant twice": (lambda s: order_csv([[s["leeks"].id, "1"], [s["leeks"].id, "2"]]),
                           "3", "variant_id", "This item is already on line 2"),
    "more than the stock": (lambda s: order_csv([[s["leeks"].id, "600"]]), "2", "quantity",
                            "Only 500 left of Poireaux (botte)"),
    "no quantity at all": (lambda s: order_csv([[s["leeks"].id, ""]]), "—", "",
                           "No line has a quantity"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_reported_by_line_and_orders_nothing(client, db, login, upload, shop,
                                                         case):
    make, line, column, message = BAD_FILES[case]
    login(shop["restaurant"])
    before = stocks(db)
    response = upload(make(shop))
    assert response.status_code == 400
    rows = error_rows(response)
    assert any(row[0] == line and row[1] == column and message in row[3] for row in rows), rows
    assert "Nothing was ordered" in response.get_data(as_text=True)
    assert order_count(db) == 0
    assert stocks(db) == before


def test_every_problem_is_listed_with_its_value(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    content = order_csv([
        [s["leeks"].id, "2"],          # line 2: right
        [s["crate"].id, "3"],          # line 3: not whole cases
        ["abc", "1"],                  # line 4
        [s["formula"].id, "'-4"],      # line 5: a spreadsheet's escaped "-4"
        [s["leeks"].id, "1"],          # line 6: twice
    ])
    response = upload(content)
    assert response.status_code == 400
    rows = error_rows(response)
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("3", "quantity", "3"), ("4", "variant_id", "abc"), ("5", "quantity", "'-4"),
        ("6", "variant_id", str(s["leeks"].id))]
    assert "The file has 4 problems." in response.get_data(as_text=True)
    assert order_count(db) == 0


def test_more_than_two_hundred_lines_is_refused(client, db, login, upload, shop):
    s = shop
    login(s["restaurant"])
    products = [factories.product(s["farm"], name=f"Légume {n:03d}",
                                  variants=(("1 kg", 300, 20),), commit=False)
                for n in range(201)]
    db.session.commit()
    before = stocks(db)
    response = upload(order_csv([[p.variants[0].id, "1"] for p in products]))
    assert response.status_code == 400
    assert [row[:2] for row in error_rows(response)] == [("202", "quantity")]
    assert "one order holds at most 200 items" in error_rows(response)[0][3]
    assert order_count(db) == 0
    assert stocks(db) == before


def test_too_large_a_file_is_refused(client, db, login, shop):
    login(shop["restaurant"])
    big = (order_csv([[shop["leeks"].id, "1"]]) + "#" * csv_order.MAX_CSV_BYTES).encode()
    # Encoded here: the test client spools a large body to a file it never closes.
    boundary, body = encode_multipart({
        "csrf_token": csrf_token(client, page_url(shop["slot"])),
        "slot_id": str(shop["slot"].id), "payment_method": "at_pickup",
        "file": FileStorage(io.BytesIO(big), "commande.csv")})
    response = client.post(page_url(shop["slot"]), data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert "The file is too large (at most 2 MB)" in response.get_data(as_text=True)
    assert order_count(db) == 0


def test_a_farm_minimum_not_reached_is_reported(client, db, login, upload, shop):
    shop["other"].wholesale_minimum_cents = 10000
    db.session.commit()
    login(shop["restaurant"])
    response = upload(order_csv([[shop["leeks"].id, "1"], [shop["crate"].id, "2"]]))
    assert response.status_code == 400
    assert any("more from Ferme B to reach its minimum" in row[3]
               for row in error_rows(response))
    assert order_count(db) == 0


def test_a_checkout_refusal_is_shown_on_its_line(client, db, login, upload, shop,
                                                 monkeypatch):
    """Stock sold between the check and the order: checkout refuses it, on its line."""
    monkeypatch.setattr(csv_order, "_stock_problem", lambda variant, quantity: None)
    login(shop["restaurant"])
    before = stocks(db)
    response = upload(order_csv([[shop["crate"].id, "2"], [shop["leeks"].id, "600"]]))
    assert response.status_code == 409
    rows = error_rows(response)
    assert [row[:3] for row in rows] == [("3", "quantity", "600")]
    assert "Only 500 left of Poireaux (botte)" in rows[0][3]
    assert order_count(db) == 0
    assert stocks(db) == before


def test_a_slot_past_its_cutoff_orders_nothing(client, db, login, upload, shop):
    late = factories.slot(shop["slot"].pickup_point, starts_in=timedelta(hours=5),
                          cutoff_in=timedelta(hours=-1))
    factories.delivery_round(shop["farm"], late)
    login(shop["restaurant"])
    response = upload(order_csv([[shop["leeks"].id, "1"]]), slot=late)
    assert response.status_code == 409
    assert "past the cut-off" in response.get_data(as_text=True)
    assert order_count(db) == 0


# The form and who may use it ---------------------------------------------------------------

def test_a_file_is_required(client, db, login, form_post, shop):
    login(shop["restaurant"])
    response = form_post(page_url(shop["slot"]), {"payment_method": "at_pickup"},
                         content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose the CSV file of your order." in response.get_data(as_text=True)
    assert order_count(db) == 0


def test_an_unknown_payment_method_is_refused(client, db, login, upload, shop):
    login(shop["restaurant"])
    response = upload(order_csv([[shop["leeks"].id, "1"]]), payment_method="invoice")
    assert response.status_code == 400  # no payment terms granted
    assert order_count(db) == 0


def test_post_without_csrf_token_is_refused(client, db, login, shop):
    login(shop["restaurant"])
    response = client.post(page_url(shop["slot"]), data={
        "slot_id": str(shop["slot"].id), "payment_method": "at_pickup",
        "file": (io.BytesIO(order_csv([[shop["leeks"].id, "1"]]).encode()), "c.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert order_count(db) == 0


def test_without_a_slot_the_page_offers_the_dates(client, db, login, form_post, shop):
    login(shop["restaurant"])
    response = client.get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<option value="{shop["slot"].id}"' in page
    assert 'type="file"' not in page
    response = form_post(URL, {"slot_id": "nope"}, page=page_url(shop["slot"]))
    assert response.status_code == 400
    assert "Choose a delivery or pickup date." in response.get_data(as_text=True)
    assert client.get(f"{URL}/template.csv?slot_id=0").status_code == 404


def test_the_quick_order_grid_links_to_the_upload(client, db, login, shop):
    login(shop["restaurant"])
    page = client.get(f"/restaurant/quick-order?slot_id={shop['slot'].id}")
    assert page_url(shop["slot"]) in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["", "/template.csv"])
def test_only_approved_restaurants_may_upload(client, db, login, shop, path):
    url = f"{URL}{path}?slot_id={shop['slot'].id}"
    assert "/login" in client.get(url).headers["Location"]
    login(factories.user(Role.RESTAURANT, approved=False))
    assert client.get(url).status_code == 404
    with client.session_transaction() as session:
        session.clear()
    login(factories.user(Role.HOUSEHOLD))
    assert client.get(url).status_code == 403  # as the quick-order grid: not a restaurant



def test_the_same_upload_sent_twice_places_one_order(client, db, login, shop):
    from tests.conftest import CSRF_RE

    s = shop
    login(s["restaurant"])
    page = client.get(page_url(s["slot"])).get_data(as_text=True)
    tokens = {"csrf_token": CSRF_RE.search(page).group(1),
              "checkout_token": TOKEN_RE.search(page).group(1)}
    content = order_csv([(s["leeks"].id, 10)]).encode()
    answers = [client.post(page_url(s["slot"]), content_type="multipart/form-data", data={
        **tokens, "slot_id": str(s["slot"].id), "payment_method": "at_pickup",
        "file": (io.BytesIO(content), "commande.csv")}) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].location == answers[1].location
    assert order_count(db) == 1


def test_a_french_restaurant_gets_a_french_template_and_sends_it_back(client, db, login,
                                                                      upload, shop):
    s = shop
    login(s["restaurant"])
    with client.session_transaction() as session:
        session["lang"] = "fr"
    page = html.unescape(client.get(page_url(s["slot"])).get_data(as_text=True))
    assert "id_variante, ferme, produit" in page
    response = client.get(template_url(s["slot"]))
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert list(rows[0]) == ["id_variante", "ferme", "produit", "variante", "colis",
                             "prix_unitaire", "prix_par_quantite", "quantité"]
    by_product = {row["produit"]: row for row in rows}
    assert by_product["Poireaux"]["prix_unitaire"] == "2,80"
    assert by_product["Poireaux"]["prix_par_quantite"] == "10+: 2,50"
    # Filled in a French spreadsheet and sent back as it is: ";" and French headers.
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "quantité": "3" if row["produit"] == "Poireaux" else ""})
    assert upload("\ufeff" + out.getvalue()).status_code == 303
    placed = db.session.scalars(select(Order)).one()
    assert [(line.variant_id, line.quantity) for sub in placed.sub_orders
            for line in sub.lines] == [(s["leeks"].id, 3)]
