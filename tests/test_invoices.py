"""Invoices, credit notes and payment terms for restaurants."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.orders import services
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.sqlite import write_intent
from marketplace.wholesale import invoices
from marketplace.wholesale.invoice_models import Invoice, InvoiceKind
from tests import factories
from tests.clock import NEW_YEAR_IN_PARIS, NEW_YEARS_EVE, now
from tests.clock import now as clock_now


@pytest.fixture
def market(invoice_market):
    """Two farms, a slot, two restaurants with terms."""
    return invoice_market


# Issuing --------------------------------------------------------------------------------

def test_order_on_invoice_is_confirmed_with_one_invoice_per_farm(db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2, m["eggs"].id: 1})
    assert order.status == OrderStatus.CONFIRMED
    assert order.payment_method == PaymentMethod.INVOICE
    a, b = factories.invoices_of(order)
    assert (a.producer_id, a.number, b.producer_id, b.number) == (
        m["farm_a"].id, 1, m["farm_b"].id, 1)
    assert a.display_number == "F-000001"
    assert a.due_at == a.issued_at + timedelta(days=30)
    assert a.paid_at is None
    # Frozen legal identities.
    assert (a.seller_name, a.seller_siret, a.seller_vat_number) == (
        "Ferme A", "80295478500028", "FR12802954785")
    assert "Lieu-dit Kerbras" in a.seller_address
    assert "56250 Elven" in a.seller_address
    assert (a.buyer_name, a.buyer_siret, a.buyer_vat_number) == (
        "Le Bistrot", "73282932000074", "FR44732829320")
    assert a.buyer_address == "3 rue du Port\n56000 Vannes"
    # Amounts: the sub-order's, and VAT per rate adds up to the totals.
    sub = next(s for s in order.sub_orders if s.producer_id == m["farm_a"].id)
    assert (a.total_cents, a.vat_cents) == (sub.subtotal_cents, sub.vat_cents) == (
        3 * 350 + 2 * 420, sub.vat_cents)
    per_rate = a.vat_by_rate
    assert [r[0] for r in per_rate] == [550, 2000]
    assert sum(r[2] for r in per_rate) == a.vat_cents
    assert sum(r[3] for r in per_rate) == a.total_cents
    assert sum(r[1] for r in per_rate) == a.total_excl_cents
    assert per_rate[1] == (2000, 840 - 140, 140, 840)
    # Editing the farm afterwards does not change the invoice.
    m["farm_a"].name = "Ferme renommée"
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Invoice, a.id).seller_name == "Ferme A"


def test_household_and_card_orders(db, market):
    m = market
    household = factories.user()
    order = factories.restaurant_order(household, m["slot"], {m["carrots"].id: 1},
                                       PaymentMethod.AT_PICKUP)
    assert order.status == OrderStatus.CONFIRMED
    assert factories.invoices_of(order) == []
    # A restaurant paying by card: its invoice comes with the payment, already paid.
    order = factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 1},
                                       PaymentMethod.CARD)
    assert factories.invoices_of(order) == []
    order.paid_at = now()
    services.confirm(db.session, order, now=clock_now(), config=current_app.config)
    db.session.commit()
    (inv,) = factories.invoices_of(order)
    assert inv.paid_at == order.paid_at
    assert inv.due_at == inv.issued_at
    # At pickup: due at the pickup.
    order = factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 1},
                                       PaymentMethod.AT_PICKUP)
    (inv,) = factories.invoices_of(order)
    assert inv.due_at == m["slot"].ends_at
    assert inv.paid_at is None
    assert inv.number == 2  # the household order had none


@pytest.mark.parametrize("who", ["household", "no_terms", "not_approved"])
def test_invoice_method_needs_payment_terms(app, db, market, who):
    m = market
    buyer = {"household": lambda: factories.user(),
             "no_terms": lambda: factories.restaurant(terms=None),
             "not_approved": lambda: factories.restaurant(approved=False)}[who]()
    with app.test_request_context():
        with pytest.raises(services.CheckoutError) as caught:
            factories.restaurant_order(buyer, m["slot"], {m["carrots"].id: 1})
        assert caught.value.code == services.PAYMENT_METHOD
    db.session.rollback()
    assert db.session.scalar(select(Order.id)) is None


def test_checkout_page_offers_invoice_only_with_terms(client, db, market, login, form_post):
    m = market
    login(m["bistrot"])
    with client.session_transaction() as sess:
        sess["cart"], sess["lang"] = {str(m["carrots"].id): 1}, "en"
    page = client.get(f"/checkout?slot_id={m['slot'].id}").get_data(as_text=True)
    assert 'value="invoice"' in page
    assert "On invoice (due in 30 days)" in page
    form_post("/logout", {}, page="/")
    other = factories.restaurant(terms=None)
    login(other)
    with client.session_transaction() as sess:
        sess["cart"], sess["lang"] = {str(m["carrots"].id): 1}, "en"
    page = client.get(f"/checkout?slot_id={m['slot'].id}").get_data(as_text=True)
    assert 'value="at_pickup"' in page
    assert 'value="invoice"' not in page
    response = form_post("/checkout", {"slot_id": m["slot"].id, "payment_method": "invoice"},
                         page="/checkout")
    assert response.status_code == 400
    assert "Choose how to pay." in response.get_data(as_text=True)
    assert db.session.scalar(select(Order.id)) is None


# Numbers under concurrency -------------------------------------------------------------

def test_numbers_stay_sequential_under_concurrent_confirmations(app, db, market):
    m = market
    n = 12
    order_ids = [factories.restaurant_order(m["bistrot"] if i % 2 else m["cantine"], m["slot"],
                                            {m["carrots"].id: 1}, PaymentMethod.CARD).id
                 for i in range(n)]
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(order_id):
        try:
            with app.app_context():
                barrier.wait(timeout=60)
                try:
                    with write_intent():
                        order = db.session.get(Order, order_id)
                        services.confirm(db.session, order,
                            now=clock_now(), config=current_app.config)
                        db.session.commit()
                finally:
                    db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(oid,)) for oid in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    db.session.rollback()
    numbers = sorted(db.session.scalars(
        select(Invoice.number).where(Invoice.producer_id == m["farm_a"].id)))
    assert numbers == list(range(1, n + 1))


def test_a_rolled_back_invoice_leaves_no_gap(app, db, market):
    m = market
    first = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 1})
    assert factories.invoices_of(first)[0].number == 1
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 1},
                                       PaymentMethod.CARD)
    services.confirm(db.session, order, now=clock_now(), config=current_app.config)
    db.session.rollback()  # e.g. the request failed after the number was taken
    factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 1})
    assert sorted(db.session.scalars(select(Invoice.number))) == [1, 2]


# Credit notes -------------------------------------------------------------------------

def test_credit_note_takes_the_next_number_and_references_the_invoice(db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 1})
    (inv,) = factories.invoices_of(order)
    carrots_line = inv.lines[0]
    partial = invoices.credit_note(db.session, inv, now=now(), quantities={carrots_line.id: 1},
                                   reason="Une botte abîmée")
    db.session.commit()
    assert (partial.kind, partial.number, partial.credits_invoice_id) == (
        InvoiceKind.CREDIT_NOTE, 2, inv.id)
    assert partial.display_number == "A-000002"
    assert partial.total_cents == 350
    assert len(partial.lines) == 1
    assert invoices.balance_cents(db.session, inv) == inv.total_cents - 350
    with pytest.raises(invoices.InvoiceError):
        invoices.credit_note(db.session, inv, now=now(), quantities={carrots_line.id: 3})
    db.session.rollback()
    rest = invoices.credit_note(db.session, inv, now=now())
    db.session.commit()
    assert rest.number == 3
    assert partial.total_cents + rest.total_cents == inv.total_cents
    assert partial.vat_cents + rest.vat_cents == inv.vat_cents
    assert invoices.balance_cents(db.session, inv) == 0
    with pytest.raises(invoices.InvoiceError) as caught:
        invoices.credit_note(db.session, inv, now=now())
    assert caught.value.code == invoices.NOTHING_TO_CREDIT
    db.session.rollback()
    # The invoice itself never changed.
    db.session.expire_all()
    again = db.session.get(Invoice, inv.id)
    assert (again.total_cents, again.kind) == (3 * 350 + 420, InvoiceKind.INVOICE)
    # The next invoice of the farm continues the sequence.
    order = factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 1})
    assert factories.invoices_of(order)[0].number == 4


def test_farm_issues_a_credit_note_on_the_web(client, db, market, login, form_post):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 2})
    (inv,) = factories.invoices_of(order)
    line_id = inv.lines[0].id
    login(m["farm_a"].user)
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note", {f"qty-{line_id}": "5", "reason": "x"}, page=url)
    assert response.status_code == 400
    response = form_post(f"{url}/credit-note", {f"qty-{line_id}": "2", "reason": "Gel"}, page=url)
    assert response.status_code == 303
    note = db.session.scalar(select(Invoice).where(Invoice.credits_invoice_id == inv.id))
    assert note.number == 2
    assert note.total_cents == 700
    assert note.reason == "Gel"
    page = client.get(f"/farm/invoices/{note.id}").get_data(as_text=True)
    assert "A-000002" in page
    assert "F-000001" in page


# Pages and access ------------------------------------------------------------------------

def test_invoice_page_and_pdf(client, db, market, login):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2})
    (inv,) = factories.invoices_of(order)
    login(m["bistrot"])
    listing = client.get("/restaurant/invoices").get_data(as_text=True)
    assert "F-000001" in listing
    assert "Ferme A" in listing
    page = client.get(f"/restaurant/invoices/{inv.id}").get_data(as_text=True)
    for mention in ("80295478500028", "FR12802954785", "73282932000074", "FR44732829320",
                    "Le Bistrot", "3 rue du Port", "Pénalités de retard", "40 €",
                    'data-rate="550"', 'data-rate="2000"'):
        assert mention in page, mention
    pdf = client.get(f"/restaurant/invoices/{inv.id}.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert b"ReportLab" in pdf.data
    assert pdf.data.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize(("clock", "issued", "due"), [
    pytest.param(NEW_YEARS_EVE, "31 December 2026", "30 January 2027", id="new-years-eve"),
    # 23:30 on 31 December in UTC: the invoice is of 1 January in Paris.
    pytest.param(NEW_YEAR_IN_PARIS, "1 January 2027", "31 January 2027",
                 id="new-year-in-paris-only"),
], indirect=["clock"])
def test_the_invoice_is_dated_in_paris(client, db, market, login, english, clock, issued, due):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 1})  # 30 days' terms
    (inv,) = factories.invoices_of(order)
    login(m["bistrot"])
    page = client.get(f"/restaurant/invoices/{inv.id}").get_data(as_text=True)
    assert f"Date: {issued}" in page
    assert f"Due date: {due}" in page


def test_another_restaurants_or_farms_invoice_is_not_found(client, db, market, login,
                                                           form_post):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 1, m["eggs"].id: 1})
    inv_a, inv_b = factories.invoices_of(order)
    login(m["cantine"])
    for url in (f"/restaurant/invoices/{inv_a.id}", f"/restaurant/invoices/{inv_a.id}.pdf",
                "/restaurant/invoices/999999"):
        assert client.get(url).status_code == 404, url
    assert "F-000001" not in client.get("/restaurant/invoices").get_data(as_text=True)
    form_post("/logout", {}, page="/")
    login(m["farm_b"].user)
    assert client.get(f"/farm/invoices/{inv_b.id}").status_code == 200
    for url in (f"/farm/invoices/{inv_a.id}", f"/farm/invoices/{inv_a.id}.pdf"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/farm/invoices/{inv_a.id}/paid").status_code in (400, 404)


def test_overdue_listing_and_mark_paid(client, db, market, login, form_post):
    m = market
    late = factories.invoice(m["bistrot"], m["slot"], {m["carrots"].id: 1})
    fresh = factories.invoice(m["cantine"], m["slot"], {m["carrots"].id: 2})
    late.due_at = now() - timedelta(days=3)
    db.session.commit()
    rows = invoices.overdue_invoices(db.session, now())
    assert [r.invoice.id for r in rows] == [late.id]
    farm_rows = invoices.invoices_of_producer(db.session, m["farm_a"].id, now())
    assert farm_rows[0].invoice.id == late.id
    assert farm_rows[0].overdue
    assert {r.invoice.id for r in farm_rows} == {late.id, fresh.id}

    admin = factories.user(Role.ADMIN)
    login(admin)
    page = client.get("/admin/invoices/overdue").get_data(as_text=True)
    assert f'id="invoice-{late.id}"' in page
    assert f'id="invoice-{fresh.id}"' not in page
    form_post("/logout", {}, page="/")

    login(m["farm_a"].user)
    page = client.get("/farm/invoices").get_data(as_text=True)
    assert page.index(f'id="invoice-{late.id}"') < page.index(f'id="invoice-{fresh.id}"')
    assert "overdue" in page
    response = form_post(f"/farm/invoices/{late.id}/paid", {"next": "list"}, page="/farm/invoices")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Invoice, late.id).paid_at is not None
    assert invoices.overdue_invoices(db.session, now()) == []
    # Marking twice changes nothing.
    paid_at = db.session.get(Invoice, late.id).paid_at
    assert not invoices.mark_paid(db.session, db.session.get(Invoice, late.id), now=now())
    assert db.session.get(Invoice, late.id).paid_at == paid_at


def test_a_fully_credited_invoice_is_not_overdue(db, market):
    m = market
    inv = factories.invoice(m["bistrot"], m["slot"], {m["carrots"].id: 1})
    inv.due_at = now() - timedelta(days=1)
    invoices.credit_note(db.session, inv, now=now())
    db.session.commit()
    assert invoices.overdue_invoices(db.session, now()) == []


def test_admin_grants_payment_terms(client, db, market, login, form_post):
    m = market
    newcomer = factories.restaurant(terms=None, name="Chez Nous")
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/invoices/terms").get_data(as_text=True)
    assert "Chez Nous" in page
    response = form_post("/admin/invoices/terms", {"user_id": newcomer.id, "days": "45"},
                         page="/admin/invoices/terms")
    assert response.status_code == 303
    db.session.expire_all()
    assert invoices.payment_terms_days(db.session, db.session.get(type(newcomer), newcomer.id)) \
        == 45
    response = form_post("/admin/invoices/terms", {"user_id": newcomer.id, "days": "500"},
                         page="/admin/invoices/terms")
    assert response.status_code == 400
    response = form_post("/admin/invoices/terms", {"user_id": newcomer.id, "days": ""},
                         page="/admin/invoices/terms")
    assert response.status_code == 303
    db.session.expire_all()
    assert invoices.payment_terms_days(db.session, db.session.get(type(newcomer), newcomer.id)) \
        is None
    # A household cannot get terms.
    household = factories.user()
    response = form_post("/admin/invoices/terms", {"user_id": household.id, "days": "30"},
                         page="/admin/invoices/terms")
    assert response.status_code == 400
    assert m  # the market's restaurants are listed too


def test_only_the_right_roles_reach_the_pages(client, db, market, login):
    login(factories.user())
    for url in ("/restaurant/invoices", "/farm/invoices", "/admin/invoices/overdue",
                "/admin/invoices/terms"):
        assert client.get(url).status_code == 403, url
