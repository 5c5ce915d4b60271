
import pytest

from marketplace.catalogue.models import ProductPhoto, months_to_mask
from marketplace.catalogue.services import current_month
from tests import factories
from tests.clock import now
from tests.pages import names_on


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


def test_filters_by_category_label_producer_and_text(client, db):
    organic = factories.producer(name="Ferme Bio de Caden", labels=("AB",))
    other = factories.producer(name="Verger de Limerzel")
    factories.product(organic, name="Carottes", category_slug="vegetables")
    factories.product(organic, name="Œufs plein air", category_slug="eggs")
    factories.product(other, name="Pommes Reinette", category_slug="fruit")
    factories.product(other, name="Cidre brut", category_slug="drinks")

    assert names_on(client.get("/catalogue").get_data(as_text=True)) == {
        "Carottes", "Œufs plein air", "Pommes Reinette", "Cidre brut"}
    assert names_on(client.get("/catalogue?category=fruit").get_data(as_text=True)) == {
        "Pommes Reinette"}
    assert names_on(client.get("/catalogue?label=AB").get_data(as_text=True)) == {
        "Carottes", "Œufs plein air"}
    html = client.get(f"/catalogue?producer={other.id}").get_data(as_text=True)
    assert names_on(html) == {"Pommes Reinette", "Cidre brut"}
    assert "Verger de Limerzel" in html
    assert names_on(client.get("/catalogue?q=cidre").get_data(as_text=True)) == {"Cidre brut"}
    # Search also finds products by their farm's name.
    assert names_on(client.get("/catalogue?q=limerzel").get_data(as_text=True)) == {
        "Pommes Reinette", "Cidre brut"}
    assert names_on(client.get("/catalogue?q=cidre&category=fruit").get_data(as_text=True)) == set()


@pytest.mark.parametrize("query", [
    "?page=abc", "?page=-5", "?page=99999", "?page=" + "9" * 20, "?category=nope",
    "?q=%25%25_", "?q=" + "x" * 500, "?producer=",
])
def test_odd_query_strings_never_fail(client, db, query):
    factories.product(name="Carottes")
    assert client.get("/catalogue" + query).status_code == 200


@pytest.mark.parametrize("query", [
    "?producer=abc", "?producer=99999999", "?producer=" + "9" * 20, "?producer=-1",
    "?pickup=abc", "?pickup=99999999", "?pickup=" + "9" * 20, "?pickup=1e400",
])
def test_a_producer_or_point_that_is_no_id_or_unknown_is_not_found(client, db, query):
    factories.product(name="Carottes")
    assert client.get("/catalogue" + query).status_code == 404


@pytest.mark.parametrize("query", ["?label=%00", "?q=ab%00c", "?category=x%00"])
def test_nul_bytes_are_a_bad_request_not_a_crash(client, db, query):
    assert client.get("/catalogue" + query).status_code == 400


def test_nul_bytes_in_a_form_are_refused(client, db, form_post):
    response = form_post("/login", {"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 400


def test_pagination(app, client, db):
    app.config["CATALOGUE_PAGE_SIZE"] = 5
    farm = factories.producer()
    for i in range(12):
        factories.product(farm, name=f"Produit {i:02d}", commit=False)
    db.session.commit()
    first = names_on(client.get("/catalogue").get_data(as_text=True))
    third = names_on(client.get("/catalogue?page=3").get_data(as_text=True))
    assert first == {f"Produit {i:02d}" for i in range(5)}
    assert third == {"Produit 10", "Produit 11"}
    assert 'rel="next"' in client.get("/catalogue").get_data(as_text=True)


def test_out_of_season_and_out_of_stock_are_shown_not_hidden(app, client, db, english):
    month = current_month(now(), app.config["BABEL_DEFAULT_TIMEZONE"])
    other_month = month % 12 + 1
    farm = factories.producer()
    off = factories.product(farm, name="Fraises", season_months=months_to_mask([other_month]))
    empty = factories.product(farm, name="Asperges", variants=(("1 botte", 450, 0),))
    html = client.get("/catalogue").get_data(as_text=True)
    assert names_on(html) == {"Fraises", "Asperges"}
    assert html.count("Out of season") == 1
    assert html.count("Out of stock") == 1
    assert "Out of season this month." in client.get(f"/products/{off.id}").get_data(as_text=True)
    assert "Out of stock" in client.get(f"/products/{empty.id}").get_data(as_text=True)


def test_product_and_producer_pages(client, db, english):
    farm = factories.producer(name="Ferme de Kerlann", labels=("AB",), commune="Questembert")
    product = factories.product(farm, name="Beurre demi-sel",
                                variants=(("250 g", 390, 8), ("500 g", 720, 2)))
    html = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "Beurre demi-sel" in html
    assert "Ferme de Kerlann" in html
    assert "€3.90" in html
    assert "€7.20" in html
    assert client.get(f"/producers/{farm.id}").status_code == 200
    assert "Beurre demi-sel" in client.get(f"/producers/{farm.id}").get_data(as_text=True)
    assert client.get("/products/999999").status_code == 404
    assert client.get("/producers/999999").status_code == 404


def test_prices_are_french_by_default(client, db):
    product = factories.product(variants=(("1 kg", 1234, 3),))
    html = client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "12,34\xa0€" in html
    assert '<html lang="fr">' in html


def _fill(db, n_products: int, start: int = 0) -> None:
    farms = [factories.producer(labels=("AB", "HVE"), commit=False) for _ in range(10)]
    for i in range(start, start + n_products):
        p = factories.product(farms[i % 10], name=f"Légume {i:03d}", commit=False,
                              variants=(("500 g", 200, 3), ("1 kg", 350, 0)))
        db.session.add(ProductPhoto(product_id=p.id, path="x.jpg", thumb_path="x_t.jpg"))
    db.session.commit()


def test_catalogue_query_count_does_not_grow_with_rows(app, client, db, count_queries):
    app.config["CATALOGUE_PAGE_SIZE"] = 200

    def queries_for_catalogue():
        with count_queries() as statements:
            html = client.get("/catalogue?label=AB").get_data(as_text=True)
        return len(statements), len(names_on(html))

    _fill(db, 10)
    few, shown_few = queries_for_catalogue()
    _fill(db, 90, start=10)
    many, shown_many = queries_for_catalogue()
    assert (shown_few, shown_many) == (10, 100)
    assert few == many
    assert many <= 10


def test_producer_page_query_count_does_not_grow(client, db, count_queries):
    farm = factories.producer(labels=("AB",))

    def count():
        with count_queries() as statements:
            assert client.get(f"/producers/{farm.id}").status_code == 200
        return len(statements)

    for i in range(3):
        factories.product(farm, name=f"A{i}")
    few = count()
    for i in range(30):
        factories.product(farm, name=f"B{i}", commit=False)
    db.session.commit()
    many = count()
    assert few == many


def test_language_switch(client, db):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in html
    # An anonymous visitor's form carries no token (its page needs no session).
    assert "csrf_token" not in html
    response = client.post("/language", data={"lang": "en", "next": "/catalogue"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/catalogue"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    # An unknown language or a foreign next URL changes nothing dangerous.
    response = client.post("/language", data={"lang": "de", "next": "https://evil.example"})
    assert response.headers["Location"] == "/"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/", "/catalogue", "/catalogue?q=carottes", "PRODUCER"])
def test_anonymous_public_pages_set_no_cookie(client, db, url):
    """Nothing on a public page needs a session: no cookie, so caches may keep it."""
    farm = factories.producer(name="Ferme de Kerlann")
    factories.product(farm, name="Carottes")
    if url == "PRODUCER":
        url = f"/producers/{farm.id}"
    response = client.get(url)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    # Choosing a language is what gives the visitor a cookie.
    assert "Set-Cookie" in client.post("/language", data={"lang": "en", "next": url}).headers


def test_a_signed_in_language_choice_needs_its_token(client, db, login, form_post):
    """It is kept on the account: a forged request must not change it."""
    buyer = factories.user()
    login(buyer)
    assert client.post("/language", data={"lang": "en", "next": "/"}).status_code == 400
    assert db.session.get(type(buyer), buyer.id).locale != "en"
    assert form_post("/language", {"lang": "en", "next": "/"}, page="/").status_code == 302
    db.session.expire_all()
    assert db.session.get(type(buyer), buyer.id).locale == "en"
