"""Paying the farms by bank transfer: the admin sees what the platform holds
for each farm (paid online, handed over, less commission and refunds), sends it, and
records the transfer once; Connect never pays it a second time."""

from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import Role
from marketplace.orders import fulfilment
from marketplace.orders.models import Order
from marketplace.payments import services as payments
from marketplace.payments.models import LedgerEntry, LedgerKind
from tests import factories
from tests.clock import now
from tests.stripe_stand_in import connect_stand_in


@pytest.fixture
def market(hosted_market):
    """A hosted point with a slot, two farms serving it, three buyers."""
    return hosted_market


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


def collected(app, db, order):
    with app.test_request_context():
        fulfilment.mark_collected(db.session, db.session.get(Order, order.id), now=now(),
            config=current_app.config)
        db.session.commit()


def owed_on_page(client) -> dict[str, str]:
    page = client.get("/admin/payments/payouts")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = {}
    for chunk in html.split('data-farm="')[1:]:
        farm_id = chunk[:chunk.index('"')]
        owed = chunk[chunk.index('class="text-end owed">') + 22:]
        rows[farm_id] = owed[:owed.index("</td>")]
    return rows


def test_the_admin_records_a_bank_transfer_once(app, client, db, login, form_post,
                                                localstripe, market, count_queries):
    m = market
    # Carrots (Ferme A) and eggs (Ferme B), paid by card and handed over; a second
    # order of Ferme A's not handed over yet is not owed.
    first = factories.confirmed_card_order(app, localstripe, m, 0)
    later = factories.confirmed_card_order(app, localstripe, m, 1, cart={m["carrots"].id: 1})
    collected(app, db, first)
    login(factories.user(Role.ADMIN))
    assert "What the farms are owed" in client.get("/admin/payments").get_data(as_text=True)
    rows = owed_on_page(client)
    assert rows == {str(m["farm"].id): "€6.30", str(m["other_farm"].id): "€5.37"}
    url = f"/admin/payments/payouts/{m['farm'].id}"
    for bad in ("abc", "-630", "6.30", "", "9" * 40):
        response = form_post(url, {"amount_cents": bad}, page="/admin/payments/payouts")
        assert response.status_code == 400, bad
    response = form_post(url, {"amount_cents": "630"}, page="/admin/payments/payouts")
    assert response.status_code == 303
    transfers = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.kind == LedgerKind.TRANSFER)).all()
    assert [(t.producer_id, t.amount_cents) for t in transfers] == [(m["farm"].id, -630)]
    farm_b = str(m["other_farm"].id)
    with count_queries() as queries:  # one farm owed
        assert owed_on_page(client) == {farm_b: "€5.37"}
    # The farm's account for that order is settled: what it was owed went out.
    assert db.session.scalar(select(func.sum(LedgerEntry.amount_cents)).where(
        LedgerEntry.producer_id == m["farm"].id, LedgerEntry.order_id == first.id)) == 0
    # Sent again (a double click): recorded already, nothing more.
    again = form_post(url, {"amount_cents": "630"}, page="/admin/payments/payouts")
    assert again.status_code == 409
    assert "recorded already" in again.get_data(as_text=True)
    # Another order handed over meanwhile: the amount shown before is refused.
    collected(app, db, later)
    assert owed_on_page(client)[str(m["farm"].id)] == "€3.15"
    changed = form_post(url, {"amount_cents": "999"}, page="/admin/payments/payouts")
    assert changed.status_code == 409
    assert "it is now €3.15" in changed.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.kind == LedgerKind.TRANSFER)) == 1
    # Two farms owed: the page reads the same number of queries.
    with count_queries() as more:
        assert len(owed_on_page(client)) == 2
    assert len(more) == len(queries)


def test_connect_never_pays_what_a_bank_transfer_paid(app, client, db, login, form_post,
                                                      localstripe, market):
    m = market
    order = factories.confirmed_card_order(app, localstripe, m, 0, cart={m["carrots"].id: 2})
    collected(app, db, order)
    login(factories.user(Role.ADMIN))
    url = f"/admin/payments/payouts/{m['farm'].id}"
    assert form_post(url, {"amount_cents": "630"},
                     page="/admin/payments/payouts").status_code == 303
    # The farm opens a Connect account afterwards: nothing of that order is due.
    m["farm"].stripe_account_id = "acct_farmA"
    db.session.commit()
    with connect_stand_in(app, "tr_test_3") as (stand_in, config):
        assert payments.send_due_transfers(db.session, config, now=now()) == (0, 0)
        assert payments.payouts_due(db.session, config) == []
    assert stand_in.requests == []


def test_only_an_admin_records_transfers(client, db, login, form_post, market):
    assert client.get("/admin/payments/payouts").status_code in (302, 401, 403)
    login(market["buyers"][0])
    assert client.get("/admin/payments/payouts").status_code == 403
    form_post("/logout", {}, page="/")
    login(factories.user(Role.ADMIN))
    assert "Nothing is owed to any farm." in client.get(
        "/admin/payments/payouts").get_data(as_text=True)
    response = form_post("/admin/payments/payouts/987654", {"amount_cents": "1"},
                         page="/admin/payments/payouts")
    assert response.status_code == 404
    # No CSRF token: refused.
    farm_url = f"/admin/payments/payouts/{market['farm'].id}"
    assert client.post(farm_url, data={"amount_cents": "1"}).status_code == 400


def test_the_farm_ledger_says_what_the_admin_can_pay_it_now(app, client, db, login,
                                                            localstripe, market):
    """The month's balance counts every paid order; the payout only those handed over:
    the farm's page says both, and the second matches the admin's payouts page."""
    m = market
    first = factories.confirmed_card_order(app, localstripe, m, 0)
    factories.confirmed_card_order(app, localstripe, m, 1, cart={m["carrots"].id: 1})
    login(m["farm"].user)

    def payable() -> str:
        html = client.get("/farm/ledger").get_data(as_text=True)
        return html.split('class="payable-now">')[1].split("</p>")[0]

    assert "Payable now (orders handed over, not yet paid out, all months): €0.00." in payable()
    collected(app, db, first)
    assert "€6.30." in payable()
    owed = {farm.id: amount for farm, amount, _count in payments.payouts_due(db.session,
                                                                            app.config)}
    assert owed[m["farm"].id] == 630
