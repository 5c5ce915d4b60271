"""CSV import and export of a producer's catalogue: web page, service and CLI."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from marketplace.accounts.models import Role
from marketplace.catalogue import csv_io
from marketplace.catalogue.models import ALL_MONTHS, Product, months_to_mask
from tests import factories
from tests.conftest import csrf_token

URL = "/farm/catalogue/import"
EXPORT_URL = "/farm/catalogue/export.csv"
HEADER = "product,category,description,vat_rate,months,active,variant,price,stock,variant_active"
ERROR_ROW_RE = re.compile(r"<tr><td[^>]*>([^<]*)</td><td>(.*?)</td></tr>", re.S)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def error_rows(response) -> list[tuple[str, str]]:
    """(line, reason) pairs of the error table on the import page."""
    page = response.get_data(as_text=True)
    return [(line.strip(), html.unescape(reason)) for line, reason in ERROR_ROW_RE.findall(page)]


def products_of(db, farm) -> dict[str, Product]:
    db.session.expire_all()
    stmt = select(Product).where(Product.producer_id == farm.id)
    return {p.name: p for p in db.session.scalars(stmt)}


def product_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Product))


def snapshot(db, farm) -> list[tuple]:
    """Everything an import could change, with the update times."""
    return [
        (
            p.name, p.category.slug, p.description, p.vat_rate_bp, p.season_months,
            p.is_active, p.updated_at,
            [(v.label, v.price_cents, v.stock, v.is_active, v.position, v.updated_at)
             for v in p.variants],
        )
        for p in sorted(products_of(db, farm).values(), key=lambda p: p.id)
    ]


@pytest.fixture
def farm(db, login, client):
    farm = factories.producer(name="Ferme des Épis")
    login(farm.user)
    with client.session_transaction() as session:
        session["lang"] = "en"  # the assertions read the English source texts
    return farm


@pytest.fixture
def upload(form_post):
    def do(content: str | bytes, filename: str = "cat.csv"):
        if isinstance(content, str):
            content = content.encode("utf-8")
        return form_post(
            URL, {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data"
        )

    return do


GOOD_FILE = csv_text(
    'Carottes,vegetables,"Carottes des sables, lavées",5.5,6-10,yes,1 kg,2.80,40,yes',
    'Carottes,vegetables,"Carottes des sables, lavées",5.5,6-10,yes,5 kg crate,12,8,no',
    'Œufs fermiers,Œufs,,"5,5",,oui,douzaine,"4,20",30,',
    "Cidre brut,\"Cider, juice and drinks\",,20,11-2,non,75 cl,4.5,0,1",
)


# Importing through the page ------------------------------------------------------

def test_good_file_creates_products_and_variants(client, db, farm, upload):
    response = upload(GOOD_FILE)
    assert response.status_code == 302, error_rows(response)
    assert response.headers["Location"].endswith("/farm/products/")
    page = client.get("/farm/products/").get_data(as_text=True)
    assert "Products: 3 created, 0 updated" in page
    assert "Variants: 4 created, 0 updated" in page

    products = products_of(db, farm)
    assert sorted(products) == ["Carottes", "Cidre brut", "Œufs fermiers"]
    carrots = products["Carottes"]
    assert carrots.category.slug == "vegetables"
    assert carrots.description == "Carottes des sables, lavées"
    assert carrots.vat_rate_bp == 550
    assert carrots.season_months == months_to_mask(range(6, 11))
    assert carrots.is_active is True
    assert [(v.label, v.price_cents, v.stock, v.is_active, v.position, v.currency)
            for v in carrots.variants] == [
        ("1 kg", 280, 40, True, 0, "EUR"),
        ("5 kg crate", 1200, 8, False, 1, "EUR"),
    ]
    eggs = products["Œufs fermiers"]
    assert eggs.category.slug == "eggs"  # by its French name
    assert eggs.season_months == ALL_MONTHS  # empty months: all year
    assert eggs.vat_rate_bp == 550
    assert [(v.label, v.price_cents, v.is_active) for v in eggs.variants] == [
        ("douzaine", 420, True)
    ]
    cider = products["Cidre brut"]
    assert cider.category.slug == "drinks"  # by its English name
    assert cider.vat_rate_bp == 2000
    assert cider.season_months == months_to_mask([11, 12, 1, 2])
    assert cider.is_active is False
    assert cider.variants[0].price_cents == 450
    assert cider.variants[0].stock == 0


def test_reimport_updates_instead_of_duplicating(client, db, farm, upload):
    assert upload(GOOD_FILE).status_code == 302
    first_ids = {name: p.id for name, p in products_of(db, farm).items()}
    changed = csv_text(
        # other capitals and spaces: still the same product, renamed to this spelling
        "  carottes ,vegetables,Nouvelle récolte,5.5,6-11,yes,1 KG,3.10,25,yes",
        "carottes,vegetables,Nouvelle récolte,5.5,6-11,yes,botte,1.90,12,yes",
        "Œufs fermiers,eggs,,5.5,,yes,douzaine,4.20,30,yes",
    )
    response = upload(changed)
    assert response.status_code == 302, error_rows(response)
    page = client.get("/farm/products/").get_data(as_text=True)
    assert "Products: 0 created, 1 updated, 1 unchanged" in page
    assert "Variants: 1 created, 1 updated, 1 unchanged" in page

    products = products_of(db, farm)
    assert len(products) == 3  # Cidre brut, absent from the file, is kept
    carrots = products["carottes"]
    assert carrots.id == first_ids["Carottes"]
    assert carrots.description == "Nouvelle récolte"
    assert carrots.season_months == months_to_mask(range(6, 12))
    assert [(v.label, v.price_cents, v.stock, v.position) for v in carrots.variants] == [
        ("1 KG", 310, 25, 0),
        ("5 kg crate", 1200, 8, 1),  # absent from the file: kept as it was
        ("botte", 190, 12, 2),
    ]
    assert products["Cidre brut"].id == first_ids["Cidre brut"]


GOOD_ROW = "Poireaux,vegetables,,5.5,,yes,1 kg,2.50,10,yes"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,-2.00,10,yes",
                     "The price must be more than zero.", id="negative-price"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,0,10,yes",
                     "The price must be more than zero.", id="zero-price"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,abc,10,yes",
                     "Price “abc” is not an amount in euros", id="price-abc"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.555,10,yes",
                     "Price “2.555” is not an amount in euros", id="price-3-decimals"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,1e30,10,yes",
                     "Price “1e30” is not an amount in euros", id="price-overflow"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,10000.01,10,yes",
                     "The price cannot exceed €10,000.00.", id="price-too-high"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,,10,yes",
                     "The price is missing.", id="price-missing"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,abc,yes",
                     "Stock “abc” is not a whole number.", id="stock-abc"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,-1,yes",
                     "The stock must be between 0 and 1000000.", id="stock-negative"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,2.5,yes",
                     "Stock “2.5” is not a whole number.", id="stock-decimal"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,,yes",
                     "The stock is missing", id="stock-missing"),
        pytest.param("Carottes,spaceships,,5.5,,yes,1 kg,2.50,10,yes",
                     "Unknown category “spaceships”.", id="unknown-category"),
        pytest.param("Carottes,,,5.5,,yes,1 kg,2.50,10,yes",
                     "The category is missing.", id="category-missing"),
        pytest.param("Carottes,vegetables,,7,,yes,1 kg,2.50,10,yes",
                     "VAT rate “7” is not one of 0, 5.5, 10 or 20.", id="vat-7"),
        pytest.param("Carottes,vegetables,,,,yes,1 kg,2.50,10,yes",
                     "The VAT rate is missing", id="vat-missing"),
        pytest.param("Carottes,vegetables,,5.5,13-2,yes,1 kg,2.50,10,yes",
                     "Months “13-2” not understood", id="months-13"),
        pytest.param("Carottes,vegetables,,5.5,juin,yes,1 kg,2.50,10,yes",
                     "format the months column as text", id="months-as-date"),
        pytest.param("Carottes,vegetables,,5.5,,maybe,1 kg,2.50,10,yes",
                     "active “maybe” should be yes or no.", id="active-maybe"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,10,perhaps",
                     "variant_active “perhaps” should be yes or no.", id="variant-active"),
        pytest.param(",vegetables,,5.5,,yes,1 kg,2.50,10,yes",
                     "The product name is missing.", id="name-missing"),
        pytest.param("P" * 121 + ",vegetables,,5.5,,yes,1 kg,2.50,10,yes",
                     "The product name is too long (121 characters, at most 120).",
                     id="name-too-long"),
        pytest.param("Carottes,vegetables,,5.5,,yes," + "L" * 61 + ",2.50,10,yes",
                     "The variant is too long (61 characters, at most 60).",
                     id="label-too-long"),
        pytest.param("Carottes,vegetables," + "D" * 5001 + ",5.5,,yes,1 kg,2.50,10,yes",
                     "The description is too long (5001 characters, at most 5000).",
                     id="description-too-long"),
        pytest.param("Carottes,vegetables,,5.5,,yes,,2.50,10,yes",
                     "The variant is missing", id="label-missing"),
        pytest.param("Carottes,vegetables,,5.5,,yes,1 kg,2.50,10,yes,surprise",
                     "more cells than there are columns", id="extra-cell"),
    ],
)
def test_a_bad_row_is_reported_and_nothing_is_imported(db, farm, upload, row, reason):
    response = upload(csv_text(GOOD_ROW, row, GOOD_ROW.replace("Poireaux", "Navets")))
    assert response.status_code == 400
    rows = error_rows(response)
    assert [line for line, _ in rows] == ["3"], rows
    assert reason in rows[0][1]
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert product_count(db) == 0


def test_several_bad_rows_are_all_listed_with_their_line(db, farm, upload):
    content = csv_text(
        GOOD_ROW,                                                          # line 2
        "Carottes,vegetables,,5.5,,yes,1 kg,-2.00,10,yes",                 # 3
        "Radis,vegetables,,5.5,,yes,botte,1.50,abc,yes",                   # 4
        "Kiwis,exotic,,5.5,,yes,1 kg,4.00,10,yes",                         # 5
        "Fraises,fruit,,5.5,5-14,yes,250 g,3.00,10,yes",                   # 6
        ",vegetables,,5.5,,yes,1 kg,2.00,10,yes",                          # 7
        "Oignons,vegetables,,5.5,,yes," + "x" * 61 + ",2.00,10,yes",       # 8
        "",                                                                # 9 (blank)
        "Pommes,fruit,,5.5,9-3,yes,1 kg,abc,-4,yes",                       # 10
        GOOD_ROW.replace("Poireaux", "Navets"),                            # 11
    )
    response = upload(content)
    assert response.status_code == 400
    rows = error_rows(response)
    assert rows == [
        ("3", "The price must be more than zero."),
        ("4", "Stock “abc” is not a whole number."),
        ("5", "Unknown category “exotic”."),
        ("6", rows[3][1]),
        ("7", "The product name is missing."),
        ("8", "The variant is too long (61 characters, at most 60)."),
        ("10", "Price “abc” is not an amount in euros, such as 3.50."),
        ("10", "The stock must be between 0 and 1000000."),
    ]
    assert rows[3][1].startswith("Months “5-14” not understood")
    page = response.get_data(as_text=True)
    assert "The file has 8 problems." in page
    assert 'name="file"' in page  # still on the upload page
    assert product_count(db) == 0  # not even the good rows


def test_rows_of_one_product_must_agree(db, farm, upload):
    response = upload(csv_text(
        "Carottes,vegetables,,5.5,6-10,yes,1 kg,2.80,40,yes",
        "CAROTTES,vegetables,,20,1-12,yes,5 kg,12,8,yes",
        "Carottes,vegetables,,5.5,6-10,yes,1 kg,2.90,40,yes",
    ))
    assert response.status_code == 400
    rows = error_rows(response)
    assert [line for line, _ in rows] == ["3", "4"]
    assert "also on line 2 with another vat_rate, months" in rows[0][1]
    assert "The variant “1 kg” of “Carottes” is already on line 2." == rows[1][1]
    assert product_count(db) == 0


def test_latin1_file_gets_a_clear_error(db, farm, upload):
    content = csv_text("Pommes,fruit,Récoltées à la main,5.5,,,1 kg,2.50,10,").encode("latin-1")
    response = upload(content)
    assert response.status_code == 400
    rows = error_rows(response)
    assert len(rows) == 1
    assert rows[0][0] == "—"
    assert "not in UTF-8" in rows[0][1]
    assert "save it as “CSV UTF-8”" in rows[0][1]
    assert product_count(db) == 0


@pytest.mark.parametrize("content", [
    "product,category,vat_rate,variant,price,stock\nCar\x00otte,vegetables,5.5,1 kg,2.80,4\n",
    "product,category,vat_rate,variant,price,stock\n".encode("utf-16"),
])
def test_nul_bytes_or_utf16_get_a_clear_error(db, farm, upload, content):
    response = upload(content)
    assert response.status_code == 400
    rows = error_rows(response)
    assert len(rows) == 1
    assert "CSV UTF-8" in rows[0][1]
    assert product_count(db) == 0


def test_blank_lines_keep_spreadsheet_line_numbers(db, farm, upload):
    response = upload("\r\n" + csv_text("", GOOD_ROW, "", "Carottes,vegetables,,5.5,,,1 kg,-1,1,"))
    assert response.status_code == 400
    assert error_rows(response) == [("6", "The price must be more than zero.")]


def test_missing_columns_are_named(db, farm, upload):
    response = upload("product,category,variant,cost\nCarottes,vegetables,1 kg,2.50\n")
    assert response.status_code == 400
    rows = error_rows(response)
    assert [line for line, _ in rows] == ["1", "1"]
    assert rows[0][1].startswith("Unknown columns: cost.")
    assert rows[1][1].startswith("Missing columns: vat_rate, price, stock.")
    assert product_count(db) == 0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"", "The file is empty.", id="empty"),
        pytest.param(b"\xef\xbb\xbf\r\n\r\n", "The file is empty.", id="bom-only"),
        pytest.param(b";;;\r\n;;\r\n", "The file is empty.", id="empty-cells"),
        pytest.param(HEADER.encode() + b"\r\n", "no product rows", id="header-only"),
        pytest.param(
            csv_text(*[f"P{i},vegetables,,5.5,,,1 kg,1,1," for i in range(5001)]).encode(),
            "more than 5000 rows", id="too-many-rows",
        ),
    ],
)
def test_file_level_errors(db, farm, upload, content, reason):
    response = upload(content)
    assert response.status_code == 400
    rows = error_rows(response)
    assert len(rows) == 1, rows
    assert reason in rows[0][1]
    assert product_count(db) == 0


def test_5000_rows_are_accepted(db, farm, upload):
    response = upload(csv_text(*[f"P{i},vegetables,,5.5,,,1 kg,1,1," for i in range(5000)]))
    assert response.status_code == 302, error_rows(response)[:3]
    assert product_count(db) == 5000


def test_semicolon_file_from_french_excel(db, farm, upload):
    content = (
        "\ufeffproduct;category;description;vat_rate;months;active;variant;price;stock;"
        "variant_active\r\n"
        "Carottes;Légumes;Sol sableux, récolte du jour;5,5;3,4,5;oui;1 kg;2,80;40;VRAI\r\n"
        "Carottes;Légumes;Sol sableux, récolte du jour;5,5;3,4,5;oui;botte;1,50;10;FAUX\r\n"
    ).encode("utf-8")
    response = upload(content)
    assert response.status_code == 302, error_rows(response)
    carrots = products_of(db, farm)["Carottes"]
    assert carrots.description == "Sol sableux, récolte du jour"
    assert carrots.season_months == months_to_mask([3, 4, 5])
    assert [(v.label, v.price_cents, v.is_active) for v in carrots.variants] == [
        ("1 kg", 280, True), ("botte", 150, False)
    ]


def test_optional_columns_may_be_left_out(db, farm, upload):
    factories.product(farm, name="Carottes", season_months=months_to_mask([6, 7]),
                      variants=(("1 kg", 350, 10),))
    response = upload(csv_text(
        "Carottes,vegetables,5.5,1 kg,3.00,5",
        "Poireaux,vegetables,10,botte,2.00,5",
        header="product,category,vat_rate,variant,price,stock",
    ))
    assert response.status_code == 302, error_rows(response)
    products = products_of(db, farm)
    assert products["Carottes"].season_months == months_to_mask([6, 7])  # kept
    assert products["Carottes"].variants[0].price_cents == 300
    assert products["Poireaux"].season_months == ALL_MONTHS  # default
    assert products["Poireaux"].is_active is True
    assert products["Poireaux"].vat_rate_bp == 1000


def test_other_producers_products_are_untouched(db, farm, upload):
    other = factories.producer(name="Autre ferme")
    theirs = factories.product(other, name="Carottes", variants=(("1 kg", 350, 10),))
    before = snapshot(db, other)
    response = upload(csv_text("Carottes,vegetables,,5.5,,yes,1 kg,2.80,40,yes"))
    assert response.status_code == 302, error_rows(response)
    assert snapshot(db, other) == before
    mine = products_of(db, farm)["Carottes"]
    assert mine.id != theirs.id
    assert mine.variants[0].price_cents == 280


# Export ---------------------------------------------------------------------------

def _fill_catalogue(farm):
    factories.product(farm, name="Carottes", season_months=months_to_mask([6, 7, 8, 9, 10]),
                      variants=(("1 kg", 280, 40), ("5 kg", 1200, 8)))
    cider = factories.product(farm, name="Cidre \"brut\", fermier", category_slug="drinks",
                              season_months=months_to_mask([11, 12, 1, 2, 5]),
                              variants=(("75 cl", 450, 0),), is_active=False, commit=False)
    cider.vat_rate_bp = 2000
    cider.description = "Pressé en octobre;\nmis en bouteille, sans sulfites."
    cider.variants[0].is_active = False
    factories.product(farm, name="=1+1 promo", category_slug="fruit", variants=(("-1 kg", 100, 1),))
    factories.product(farm, name="Sans variante", variants=())
    factories.product(farm, name="'=quoted", variants=(("'t stuk", 100, 1),))
    factories.product(farm, name="Œufs", category_slug="eggs", variants=(("douzaine", 420, 30),))


def test_export_contains_only_own_products(client, db, farm):
    _fill_catalogue(farm)
    factories.product(factories.producer(), name="Leurs poireaux")
    response = client.get(EXPORT_URL)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(r"catalogue-ferme-des-epis-\d{4}-\d{2}-\d{2}\.csv", disposition)
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(csv_io.COLUMNS)
    # The food information columns follow; nothing declared in these products.
    assert {tuple(row[10:]) for row in rows[1:]} == {("", "", "", "", "", "no", "", "")}
    rows = [row[:10] for row in rows]
    assert ["Carottes", "vegetables", "", "5.5", "6-10", "yes", "1 kg", "2.80", "40", "yes"] in rows
    assert [
        'Cidre "brut", fermier', "drinks", "Pressé en octobre;\nmis en bouteille, sans sulfites.",
        "20", "5,11-2", "no", "75 cl", "4.50", "0", "no",
    ] in rows
    assert ["'=1+1 promo", "fruit", "", "5.5", "1-12", "yes", "'-1 kg", "1.00", "1", "yes"] in rows
    assert ["Sans variante", "vegetables", "", "5.5", "1-12", "yes", "", "", "", ""] in rows
    assert [
        "''=quoted", "vegetables", "", "5.5", "1-12", "yes", "'t stuk", "1.00", "1", "yes"
    ] in rows
    assert len(rows) == 1 + 7
    assert "Leurs poireaux" not in body.decode("utf-8-sig")


def test_export_then_import_is_a_no_op(client, db, farm, upload):
    _fill_catalogue(farm)
    before = snapshot(db, farm)
    exported = client.get(EXPORT_URL).data
    response = upload(exported)
    assert response.status_code == 302, error_rows(response)
    page = client.get("/farm/products/").get_data(as_text=True)
    assert "Products: 0 created, 0 updated, 6 unchanged" in page
    assert "Variants: 0 created, 0 updated, 6 unchanged" in page
    assert snapshot(db, farm) == before  # update times included
    assert client.get(EXPORT_URL).data == exported


def test_export_then_import_into_an_empty_catalogue_copies_it(client, db, farm):
    _fill_catalogue(farm)
    exported = client.get(EXPORT_URL).data
    other = factories.producer()
    summary = csv_io.import_catalogue(db.session, other, exported)
    db.session.commit()
    assert (summary.products_created, summary.variants_created) == (6, 6)

    def strip(rows):
        return [(r[0], r[1], r[2], r[3], r[4], r[5], [v[:5] for v in r[7]]) for r in rows]

    assert sorted(strip(snapshot(db, other))) == sorted(strip(snapshot(db, farm)))


def test_months_round_trip():
    for mask in range(1, ALL_MONTHS + 1):
        assert csv_io.parse_months(csv_io.format_months(mask)) == mask, mask


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("", list(range(1, 13))),
        ("1-12", list(range(1, 13))),
        ("6-10", [6, 7, 8, 9, 10]),
        ("3,4,5", [3, 4, 5]),
        ("11-2", [1, 2, 11, 12]),
        (" 11 – 2 ; 5 ", [1, 2, 5, 11, 12]),
        ("7", [7]),
    ],
)
def test_parse_months(text, months):
    assert csv_io.parse_months(text) == months_to_mask(months)


@pytest.mark.parametrize("text", ["0", "13", "1-13", "juin", "6/10", "1..3", ",", "a-b"])
def test_parse_months_rejects(text):
    with pytest.raises(ValueError, match=re.escape(text)):
        csv_io.parse_months(text)


def test_export_filename():
    farm = type("Farm", (), {"name": "  L'Œuf d'Or — GAEC ", "id": 7})()
    expected = "catalogue-l-oeuf-d-or-gaec-2025-03-09.csv"
    assert csv_io.export_filename(farm, date(2025, 3, 9)) == expected
    farm.name = "农场"
    assert csv_io.export_filename(farm, date(2025, 3, 9)) == "catalogue-farm-7-2025-03-09.csv"


# The page, access and form checks ------------------------------------------------

def test_page_explains_the_format(client, farm):
    response = client.get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert EXPORT_URL in page
    assert "Products that are not in the file are not deleted." in page
    for column in csv_io.COLUMNS:
        assert f"<code>{column}</code>" in page


@pytest.mark.parametrize("url", [URL, EXPORT_URL])
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.HOUSEHOLD, Role.RESTAURANT, Role.ADMIN])
@pytest.mark.parametrize("url", [URL, EXPORT_URL])
def test_non_producers_get_403(client, db, login, role, url):
    login(factories.user(role))
    assert client.get(url).status_code == 403


def test_post_without_csrf_token_is_refused(client, db, farm):
    response = client.post(
        URL,
        data={"file": (io.BytesIO(GOOD_FILE.encode()), "cat.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert product_count(db) == 0


def test_form_checks_the_file(client, db, farm, form_post, upload):
    response = form_post(URL, {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose the CSV file to import." in response.get_data(as_text=True)

    response = upload(GOOD_FILE, filename="cat.xlsx")
    assert response.status_code == 400
    assert "Send a .csv file" in response.get_data(as_text=True)

    # Encoded here: the test client spools a large body to a file it never closes.
    big = (csv_text(GOOD_ROW) + "#" * csv_io.MAX_CSV_BYTES).encode()
    boundary, body = encode_multipart(
        {"csrf_token": csrf_token(client, URL), "file": FileStorage(io.BytesIO(big), "cat.csv")}
    )
    response = client.post(
        URL, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert "The file is too large (at most 2 MB)" in response.get_data(as_text=True)
    assert product_count(db) == 0


def test_uppercase_extension_is_accepted(db, farm, upload):
    assert upload(GOOD_FILE, filename="CATALOGUE.CSV").status_code == 302


def test_duplicate_names_in_own_catalogue_are_reported(db, farm, upload):
    factories.product(farm, name="Carottes")
    factories.product(farm, name="carottes")
    response = upload(csv_text("Carottes,vegetables,,5.5,,yes,1 kg,2.80,40,yes"))
    assert response.status_code == 400
    rows = error_rows(response)
    assert rows[0][0] == "2"
    assert "already has 2 products named “Carottes”" in rows[0][1]


# CLI -------------------------------------------------------------------------------

@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_cli_import_with_progress(db, runner, tmp_path):
    farm = factories.producer()
    path = tmp_path / "catalogue.csv"
    path.write_text(GOOD_FILE, encoding="utf-8")
    result = runner.invoke(
        args=["catalogue", "import", "--producer-email", farm.user.email.upper(), str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "Checking rows" in result.output
    assert "Writing products" in result.output
    assert "Products: 3 created, 0 updated" in result.output
    assert "left as they are" in result.output
    db.session.rollback()
    assert sorted(products_of(db, farm)) == ["Carottes", "Cidre brut", "Œufs fermiers"]

    result = runner.invoke(
        args=["catalogue", "import", "--producer-email", farm.user.email, str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "Products: 0 created, 0 updated, 3 unchanged" in result.output


def test_cli_bad_file_exits_non_zero_and_imports_nothing(db, runner, tmp_path):
    farm = factories.producer()
    path = tmp_path / "catalogue.csv"
    path.write_text(csv_text(
        GOOD_ROW,
        "Carottes,vegetables,,5.5,,yes,1 kg,-2.00,10,yes",
        "Radis,vegetables,,5.5,,yes,botte,1.50,abc,yes",
    ), encoding="utf-8")
    result = runner.invoke(
        args=["catalogue", "import", "--producer-email", farm.user.email, str(path)]
    )
    assert result.exit_code != 0
    assert "line 3: The price must be more than zero." in result.stderr
    assert "line 4: Stock “abc” is not a whole number." in result.stderr
    assert "Nothing was imported: 2 problem(s)" in result.stderr
    db.session.rollback()
    assert product_count(db) == 0


def test_cli_unknown_producer(db, runner, tmp_path):
    household = factories.user(Role.HOUSEHOLD)
    path = tmp_path / "catalogue.csv"
    path.write_text(csv_text(GOOD_ROW), encoding="utf-8")
    for email in ("nobody@example.org", household.email):
        result = runner.invoke(
            args=["catalogue", "import", "--producer-email", email, str(path)]
        )
        assert result.exit_code != 0
        assert "No producer account" in result.stderr
    assert product_count(db) == 0


def test_cli_export(db, runner, tmp_path):
    farm = factories.producer()
    _fill_catalogue(farm)
    factories.product(factories.producer(), name="Leurs poireaux")
    out = tmp_path / "out.csv"
    result = runner.invoke(
        args=["catalogue", "export", "--producer-email", farm.user.email, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 7 row(s)" in result.stderr
    data = out.read_bytes()
    assert data == csv_io.export_csv(db.session, farm)
    assert b"Leurs poireaux" not in data

    result = runner.invoke(args=["catalogue", "export", "--producer-email", farm.user.email])
    assert result.exit_code == 0
    assert result.stdout_bytes == data


# The language of the account decides the file's format ------------------------------

def speak(client, lang: str) -> None:
    with client.session_transaction() as session:
        session["lang"] = lang


@pytest.mark.parametrize(("lang", "delimiter", "header", "carrots", "cider"), [
    ("fr", ";", ["produit", "catégorie", "description", "taux_tva", "mois", "actif",
                 "variante", "prix", "stock", "variante_active", "allergènes", "traces",
                 "ingrédients", "conservation", "origine", "préemballé", "quantité_nette",
                 "unité"],
     ["Carottes", "Légumes", "", "5,5", "6-10", "oui", "1 kg", "2,80", "40", "oui"],
     ["Cidres, jus et boissons", "20", "5,11-2", "non", "75 cl", "4,50", "0", "non"]),
    ("en", ",", list(csv_io.COLUMNS),
     ["Carottes", "vegetables", "", "5.5", "6-10", "yes", "1 kg", "2.80", "40", "yes"],
     ["drinks", "20", "5,11-2", "no", "75 cl", "4.50", "0", "no"]),
])
def test_an_export_reads_in_a_spreadsheet_of_the_accounts_language(
        client, db, farm, lang, delimiter, header, carrots, cider):
    _fill_catalogue(farm)
    speak(client, lang)
    body = client.get(EXPORT_URL).data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""),
                           delimiter=delimiter))
    assert rows[0] == header
    assert carrots in [row[:10] for row in rows]
    by_name = {row[0]: row for row in rows}
    assert by_name['Cidre "brut", fermier'][1:2] + by_name['Cidre "brut", fermier'][3:10] == cider
    assert len(rows) == 1 + 7


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_export_in_either_language_imports_unchanged(client, db, farm, upload, lang):
    _fill_catalogue(farm)
    before = snapshot(db, farm)
    speak(client, lang)
    exported = client.get(EXPORT_URL).data
    response = upload(exported)
    assert response.status_code == 302, error_rows(response)
    assert snapshot(db, farm) == before
    other = factories.producer()
    summary = csv_io.import_catalogue(db.session, other, exported)
    db.session.commit()
    assert (summary.products_created, summary.variants_created) == (6, 6)

    def without_times(rows):
        return sorted((r[0], r[1], r[2], r[3], r[4], r[5], [v[:5] for v in r[7]]) for r in rows)

    assert without_times(snapshot(db, other)) == without_times(before)


def test_french_headers_are_read_in_any_capitals_and_accents(db, farm, upload):
    content = ("\ufeffProduit;Categorie;Taux TVA;Variante;Prix;Stock;Quantité\n"
               "Poireaux;légumes;5,5;1 kg;2,50;10;\n")
    response = upload(content.encode("utf-8"))
    rows = error_rows(response)
    assert rows, response.get_data(as_text=True)
    assert rows[0][1].startswith("Unknown columns: Quantité."), rows
    response = upload(content.replace(";Quantité", "").replace(";\n", "\n"))
    assert response.status_code == 302, error_rows(response)
    leeks = products_of(db, farm)["Poireaux"]
    assert (leeks.category.slug, leeks.vat_rate_bp) == ("vegetables", 550)
    assert (leeks.variants[0].price_cents, leeks.variants[0].stock) == (250, 10)


def test_the_price_limit_is_written_in_the_readers_language(client, db, farm, upload):
    row = GOOD_ROW.replace("2.50", "20000")
    speak(client, "fr")
    reason = error_rows(upload(csv_text(row)))[0][1].replace("\u202f", " ").replace("\xa0", " ")
    assert "10 000,00 €" in reason
    speak(client, "en")
    assert "€10,000.00" in error_rows(upload(csv_text(row)))[0][1]


def test_cli_export_in_french(db, runner):
    farm = factories.producer()
    _fill_catalogue(farm)
    result = runner.invoke(args=["catalogue", "export", "--producer-email", farm.user.email,
                                 "--language", "fr"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith("\ufeffproduit;catégorie;".encode())
    assert "Carottes;Légumes;;5,5;6-10;oui;1 kg;2,80;40;oui" in result.stdout_bytes.decode()
