"""An id in a URL past what the databases store (a 20-digit number) names nothing: 404,
never a 500 from the database driver (SQLite: OverflowError; PostgreSQL: out of range)."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import Role
from marketplace.models import MAX_ID
from marketplace.pickup import services as pickup
from tests import factories

HUGE_IDS = ["9" * 20, str(MAX_ID + 1)]

CASES = [
    ("host", "GET", "/pickup/points/{huge}"),
    ("host", "POST", "/pickup/points/{huge}/schedules"),
    ("host", "POST", "/pickup/points/{point}/schedules/{huge}/delete"),
    ("host", "POST", "/pickup/points/{huge}/slots/generate"),
    ("host", "POST", "/pickup/points/{point}/slots/{huge}/close"),
    ("host", "GET", "/pickup/slots/{huge}/sheet"),
    ("host", "POST", "/pickup/slots/{huge}/orders/{huge}/collected"),
    ("household", "GET", "/orders/{huge}"),
    ("household", "POST", "/orders/{huge}/cancel"),
    ("household", "POST", "/orders/{huge}/reorder"),
    ("household", "GET", "/orders/{huge}/pay"),
    ("restaurant", "GET", "/restaurant/invoices/{huge}"),
    ("restaurant", "GET", "/restaurant/invoices/{huge}.pdf"),
    ("restaurant", "POST", "/restaurant/standing/{huge}/pause"),
    ("producer", "GET", "/farm/products/{huge}"),
    ("producer", "POST", "/farm/products/{product}/variants/{huge}"),
    ("producer", "POST", "/farm/products/{product}/variants/{huge}/wholesale"),
    ("producer", "GET", "/farm/orders/slots/{huge}"),
    ("producer", "POST", "/farm/orders/sub-orders/{huge}/ready"),
    ("producer", "GET", "/farm/invoices/{huge}"),
    ("admin", "POST", "/admin/approvals/{huge}"),
    ("admin", "POST", "/admin/payments/orders/{huge}/refund"),
    (None, "GET", "/products/{huge}"),
    (None, "GET", "/producers/{huge}"),
]


@pytest.mark.parametrize("huge", HUGE_IDS, ids=["20 digits", "2**63"])
@pytest.mark.parametrize(("role", "method", "path"), CASES, ids=[c[2] for c in CASES])
def test_a_huge_id_in_a_url_is_not_found(client, db, login, form_post, role, method, path,
                                         huge):
    user = farm = None
    if role == "producer":
        farm = factories.producer()
        user = farm.user
    elif role is not None:
        user = factories.user(Role[role.upper()])
    if user is not None:
        login(user)
    point = factories.pickup_point(host=user if role == "host" else None)
    product = factories.product(farm) if farm else None
    url = path.format(huge=huge, point=point.id, product=product.id if product else 0)
    if method == "GET":
        response = client.get(url)
    else:
        response = form_post(url, {}, page="/")
    assert response.status_code == 404


def test_every_int_route_refuses_a_huge_id(app, client):
    """The URL converter bounds every ``<int:...>`` of the site, signed in or not."""
    rules = [rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert len(rules) > 30
    for rule in rules:
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", "9" * 20)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(url, method=method)
            # 405 where a GET and a POST rule share the path: Werkzeug checks the
            # method of one before the id of the other. Either way, nothing was read.
            assert response.status_code in (404, 405), (method, url, response.status_code)


def test_the_largest_id_still_matches(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match(f"/orders/{MAX_ID}") == ("checkout.order", {"order_id": MAX_ID})


def test_pickup_services_find_nothing_for_an_out_of_range_id(db):
    host = factories.user(Role.HOST)
    point = factories.pickup_point(host=host)
    for ident in (10**20, MAX_ID + 1, None, 0, -1):
        assert pickup.managed_point(db.session, host, ident) is None
        assert pickup.slot_of_point(db.session, point, ident) is None
        assert pickup.remove_schedule(db.session, point, ident) is False
