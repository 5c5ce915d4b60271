"""The admin's commission page (ARCHITECTURE.md: the admin "sets commission"): each
farm's own rate or the default, set in percent or cleared, with the same rules as
`flask payments set-commission`."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import Role
from marketplace.payments.cli import CommissionRateError, parse_commission_percent
from marketplace.producers.models import Producer
from tests import factories

PAGE = "/admin/payments/commission"


@pytest.fixture(autouse=True)
def _english(english):
    """Messages and numbers below are checked in English."""


@pytest.fixture
def farms(db, client, login):
    own = factories.producer(name="Ferme du Lindin")
    own.commission_bp = 750
    plain = factories.producer(name="Ferme de Kerbellec")
    db.session.commit()
    login(factories.user(Role.ADMIN))
    return {"own": own, "plain": plain}


def rate_of(db, farm):
    db.session.expire_all()
    return db.session.get(Producer, farm.id).commission_bp


@pytest.mark.parametrize(("typed", "bp"), [
    ("8", 800), ("7,5", 750), ("7.5", 750), (" 7,25 % ", 725), ("0", 0), ("100", 10000),
    ("12.50", 1250),
])
def test_parse_commission_percent(typed, bp):
    assert parse_commission_percent(typed) == bp


@pytest.mark.parametrize(("typed", "kind"), [
    ("abc", "number"), ("", "number"), ("101", "range"), ("-1", "range"),
    ("7.555", "range"), ("nan", "range"), ("inf", "range"), ("1e9", "range"),
])
def test_parse_commission_percent_refuses(typed, kind):
    with pytest.raises(CommissionRateError) as err:
        parse_commission_percent(typed)
    assert err.value.kind == kind


def test_the_page_lists_each_farm_with_its_rate_or_the_default(client, db, farms):
    page = client.get(PAGE).get_data(as_text=True)
    assert "Ferme du Lindin" in page
    assert "7.5 %" in page
    assert "Ferme de Kerbellec" in page
    assert "default (10 %)" in page
    assert f'action="{PAGE}/{farms["own"].id}"' in page
    # Linked from the admin's payments page.
    assert f'href="{PAGE}"' in client.get("/admin/payments").get_data(as_text=True)


def test_the_default_shown_is_the_setting(app, client, db, farms):
    app.config["COMMISSION_BP"] = 1200
    assert "default (12 %)" in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize(("typed", "bp"), [("8", 800), ("7,5", 750), ("0", 0)])
def test_the_admin_sets_a_farms_rate(client, db, form_post, farms, typed, bp):
    farm = farms["plain"]
    response = form_post(f"{PAGE}/{farm.id}", {"percent": typed, "action": "set"}, page=PAGE)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{PAGE}#farm-{farm.id}")
    assert rate_of(db, farm) == bp
    assert "Ferme de Kerbellec now pays a commission of" in client.get(PAGE).get_data(
        as_text=True)


def test_the_admin_clears_a_farms_rate(client, db, form_post, farms):
    farm = farms["own"]
    response = form_post(f"{PAGE}/{farm.id}", {"percent": "", "action": "default"},
                         page=PAGE)
    assert response.status_code == 303
    assert rate_of(db, farm) is None
    page = client.get(PAGE).get_data(as_text=True)
    assert "Ferme du Lindin now pays the default commission." in page


@pytest.mark.parametrize("typed", ["abc", "", "101", "-1", "7.555", "nan"])
def test_a_bad_rate_is_refused_with_a_message(client, db, form_post, farms, typed):
    farm = farms["own"]
    response = form_post(f"{PAGE}/{farm.id}", {"percent": typed, "action": "set"}, page=PAGE)
    assert response.status_code == 400
    assert "Enter a rate in percent from 0 to 100" in response.get_data(as_text=True)
    assert rate_of(db, farm) == 750


def test_unknown_farm_no_token_and_non_admins_are_refused(client, db, form_post, login,
                                                           farms):
    assert form_post(f"{PAGE}/999999", {"percent": "8"}, page=PAGE).status_code == 404
    assert client.post(f"{PAGE}/{farms['plain'].id}", data={"percent": "8"}).status_code \
        == 400
    assert rate_of(db, farms["plain"]) is None
    with client.session_transaction() as session:
        session.clear()
    login(factories.user(Role.PRODUCER))
    assert client.get(PAGE).status_code == 403
    assert form_post(f"{PAGE}/{farms['plain'].id}", {"percent": "8"}, page="/").status_code \
        == 403
    assert rate_of(db, farms["plain"]) is None


def test_the_page_issues_a_fixed_number_of_queries(client, db, farms, count_queries):
    def queries():
        with count_queries() as statements:
            assert client.get(PAGE).status_code == 200
        return len(statements)

    few = queries()
    for n in range(5):
        farm = factories.producer(name=f"Ferme {n} bis")
        farm.commission_bp = 500 + n
        db.session.commit()
    assert client.get(PAGE).get_data(as_text=True).count(" bis") >= 5
    assert queries() == few
