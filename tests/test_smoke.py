from tests import factories


def test_catalogue_lists_public_products_only(client, db):
    public = factories.product(name="Carottes nouvelles")
    hidden_farm = factories.producer(approved=False)
    factories.product(hidden_farm, name="Poireaux cachés")
    factories.product(public.producer, name="Navets retirés", is_active=False)
    html = client.get("/catalogue").get_data(as_text=True)
    assert "Carottes nouvelles" in html
    assert "Poireaux cachés" not in html
    assert "Navets retirés" not in html
