"""What an invoice and a credit note say, read back from the PDF (pypdf) and the page:
the mentions French law requires between professionals (Code de commerce L441-9 and
L441-10), the delivery date, a missing SIRET said as such, names outside Latin-1;
the legal bound of payment terms; the farm's wholesale minimum; the demo farms'
SIRET and VAT numbers."""

from __future__ import annotations

import io
import re

import pytest
from flask import current_app
from flask_babel import force_locale, format_currency, format_datetime, format_decimal
from pypdf import PdfReader
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from marketplace.accounts import business_ids as ids_rules
from marketplace.accounts.models import Role
from marketplace.demo.seed import business_ids
from marketplace.orders import services
from marketplace.orders.models import PaymentMethod
from marketplace.producers.models import Producer
from marketplace.wholesale import invoice_pdf, invoices
from marketplace.wholesale.forms import (
    LEGAL_MAX_PAYMENT_TERMS_DAYS,
    PERISHABLE_MAX_PAYMENT_TERMS_DAYS,
    PaymentTermsForm,
)
from marketplace.wholesale.invoice_models import Invoice
from marketplace.wholesale.models import RestaurantProfile
from tests import factories
from tests.clock import now
from tests.factories import TZ


@pytest.fixture
def market(invoice_market):
    """Two farms (A with SIRET, B without), two restaurants with terms."""
    return invoice_market


UNICODE_NAME = "Łódź Café Ørsted"


def flat(text: str) -> str:
    """Text with every run of spaces (no-break ones too) and line breaks as one space:
    ReportLab wraps lines where it likes, Babel puts no-break spaces in amounts."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return flat("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def page_text(html: str) -> str:
    return flat(re.sub(r"<[^>]+>", " ", html))


def set_language(client, lang: str) -> None:
    with client.session_transaction() as session:
        session["lang"] = lang


class Formats:
    """Dates and amounts as the document writes them in a language."""

    def __init__(self, app, lang: str):
        self.app, self.lang = app, lang

    def _call(self, fn, *args):
        with self.app.test_request_context(), force_locale(self.lang):
            return flat(fn(*args))

    def day(self, when) -> str:
        return self._call(format_datetime, when, "d MMMM yyyy")

    def money(self, cents: int, sign: int = 1) -> str:
        return self._call(format_currency, sign * cents / 100, "EUR")

    def rate(self, bp: int) -> str:
        return self._call(format_decimal, bp / 100, "#,##0.#") + " %"


def legal_mentions(invoice: Invoice, fmt: Formats, delivery) -> list[str]:
    """What both kinds of document must show, in the reader's formats."""
    sign = invoice.sign
    expected = [
        invoice.display_number, fmt.day(invoice.issued_at), fmt.day(delivery),
        invoice.seller_name, invoice.buyer_name,
        *invoice.seller_address.splitlines(), *invoice.buyer_address.splitlines(),
        invoice.seller_siret, invoice.seller_vat_number,
        invoice.buyer_siret, invoice.buyer_vat_number,
        # Totals excl. VAT, VAT and incl. VAT, and the same per rate.
        " ".join(fmt.money(c, sign) for c in (
            invoice.total_excl_cents, invoice.vat_cents, invoice.total_cents)),
        "Pénalités de retard", "3 fois le taux d'intérêt légal",
        "indemnité forfaitaire pour frais de recouvrement : 40 €",
    ]
    for rate, excl, vat, incl in invoice.vat_by_rate:
        amounts = [fmt.money(c, sign) for c in (excl, vat, incl)]
        expected.append(" ".join([fmt.rate(rate), *amounts]))
    return expected


def missing(text: str, expected: list[str]) -> list[str]:
    return [item for item in expected if flat(item) not in text]


# The PDF's legal mentions -------------------------------------------------------------------

def test_invoice_pdf_has_every_legal_mention(app, client, db, market, login):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2})
    (inv,) = factories.invoices_of(order)
    assert len(inv.vat_by_rate) == 2
    login(m["bistrot"])
    set_language(client, "en")
    response = client.get(f"/restaurant/invoices/{inv.id}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    fmt = Formats(app, "en")
    expected = legal_mentions(inv, fmt, m["slot"].starts_at) + [
        f"Invoice {inv.display_number}",
        f"Date: {fmt.day(inv.issued_at)}",
        f"Due date: {fmt.day(inv.due_at)}",
        f"Delivery date: {fmt.day(m['slot'].starts_at)}",
        f"SIRET: {inv.seller_siret}", f"VAT number: {inv.seller_vat_number}",
        f"SIRET: {inv.buyer_siret}", f"VAT number: {inv.buyer_vat_number}",
    ]
    assert not missing(text, expected), text
    # Three distinct dates, so that each one above was really found.
    assert len({inv.issued_at.date(), inv.due_at.date(), m["slot"].starts_at.date()}) == 3


def test_credit_note_pdf_names_the_invoice_it_corrects_and_why(app, client, db, market,
                                                               login, form_post):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2})
    (inv,) = factories.invoices_of(order)
    login(m["farm_a"].user)
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note", {
        f"qty-{inv.lines[0].id}": "1", f"qty-{inv.lines[1].id}": "2",
        "reason": "Une botte abîmée à la livraison"}, page=url)
    assert response.status_code == 303
    note = db.session.scalar(select(Invoice).where(Invoice.credits_invoice_id == inv.id))
    assert len(note.vat_by_rate) == 2
    set_language(client, "en")
    response = client.get(f"/farm/invoices/{note.id}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    fmt = Formats(app, "en")
    expected = legal_mentions(note, fmt, m["slot"].starts_at) + [
        f"Credit note {note.display_number}",
        f"Corrects invoice {inv.display_number} of {fmt.day(inv.issued_at)}",
        "Reason: Une botte abîmée à la livraison",
        f"Delivery date: {fmt.day(m['slot'].starts_at)}",
        fmt.money(note.total_cents, -1),
    ]
    assert not missing(text, expected), text
    assert note.total_cents == 350 + 2 * 420

    # The page says the same.
    page = page_text(client.get(f"/farm/invoices/{note.id}").get_data(as_text=True))
    assert "Reason: Une botte abîmée à la livraison" in page
    assert f"Corrects invoice {inv.display_number}" in page


def test_the_pdf_in_french(app, client, db, market, login, form_post):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2})
    (inv,) = factories.invoices_of(order)
    login(m["bistrot"])
    set_language(client, "fr")
    text = pdf_text(client.get(f"/restaurant/invoices/{inv.id}.pdf").data)
    fmt = Formats(app, "fr")
    expected = legal_mentions(inv, fmt, m["slot"].starts_at) + [
        f"Facture {inv.display_number}", f"Échéance : {fmt.day(inv.due_at)}",
        f"SIRET : {inv.seller_siret}", f"Numéro de TVA : {inv.seller_vat_number}",
    ]
    assert not missing(text, expected), text

    note = invoices.credit_note(db.session, inv, now=now(), reason="Gel")
    db.session.commit()
    form_post("/logout", {}, page="/")
    login(m["farm_a"].user)
    set_language(client, "fr")
    text = pdf_text(client.get(f"/farm/invoices/{note.id}.pdf").data)
    expected = legal_mentions(note, fmt, m["slot"].starts_at) + [
        f"Corrige la facture {inv.display_number} du {fmt.day(inv.issued_at)}", "Motif : Gel"]
    assert not missing(text, expected), text


# The delivery date --------------------------------------------------------------------------

def test_delivery_date_is_the_slot_at_a_pickup_point_or_at_the_door(db, market, doorstep):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 1}))
    assert invoice_pdf.delivery_date(db.session, inv) == m["slot"].starts_at
    note = invoices.credit_note(db.session, inv, now=now())
    assert invoice_pdf.delivery_date(db.session, note) == m["slot"].starts_at

    # At the restaurant's door (its own private pickup point): the same.
    d = doorstep
    factories.delivery_round(d["near"], d["slot"])  # Tuesdays, the door's day
    db.session.scalar(select(RestaurantProfile).where(
        RestaurantProfile.user_id == d["bistrot"].id)).payment_terms_days = 30
    order = services.checkout(db.session, buyer=d["bistrot"], cart={str(d["leeks"].id): 2},
                              slot_id=d["slot"].id, now=now(), tz=TZ,
                              payment_method=PaymentMethod.INVOICE, config=current_app.config)
    db.session.commit()
    (door_invoice,) = factories.invoices_of(order)
    assert invoice_pdf.delivery_date(db.session, door_invoice) == d["slot"].starts_at


def test_invoice_page_shows_the_delivery_date(app, client, db, market, login):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 1}))
    login(m["bistrot"])
    set_language(client, "en")
    page = page_text(client.get(f"/restaurant/invoices/{inv.id}").get_data(as_text=True))
    assert f"Delivery date: {Formats(app, 'en').day(m['slot'].starts_at)}" in page


# A farm without SIRET or VAT number ---------------------------------------------------------

def test_a_missing_siret_is_said_on_the_page_and_the_pdf(client, db, market, login):
    m = market
    assert m["farm_b"].siret is None
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["eggs"].id: 1}))
    assert (inv.seller_siret, inv.seller_vat_number) == ("", "")
    login(m["bistrot"])
    set_language(client, "en")
    page = client.get(f"/restaurant/invoices/{inv.id}")
    assert page.status_code == 200
    html = page_text(page.get_data(as_text=True))
    text = pdf_text(client.get(f"/restaurant/invoices/{inv.id}.pdf").data)
    for found in (html, text):
        assert "SIRET: not provided" in found
        assert "VAT number: not provided" in found
        assert f"SIRET: {inv.buyer_siret}" in found  # the buyer's are there


# Names outside Latin-1 ------------------------------------------------------------------------

def test_names_outside_latin_1_print_with_a_wide_font(app, client, db, market, login):
    if invoice_pdf.fonts() == invoice_pdf.BUILTIN_FONTS:
        pytest.skip("no TrueType font installed (apt-get install fonts-dejavu-core)")
    m = market
    m["farm_a"].name = UNICODE_NAME
    db.session.commit()
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 1}))
    login(m["bistrot"])
    response = client.get(f"/restaurant/invoices/{inv.id}.pdf")
    assert UNICODE_NAME in pdf_text(response.data)
    regular, bold = invoice_pdf.fonts()
    assert regular.encode() in response.data  # embedded
    assert bold.encode() in response.data


def test_without_a_truetype_font_the_pdf_falls_back_to_helvetica(app, client, db, market, login,
                                                                  monkeypatch):
    monkeypatch.setattr(invoice_pdf, "FONT_CANDIDATES", (
        ("Missing", "/nonexistent/Missing.ttf", "/nonexistent/Missing-Bold.ttf"),))
    assert invoice_pdf.fonts() == invoice_pdf.BUILTIN_FONTS
    m = market
    m["farm_a"].name = UNICODE_NAME
    db.session.commit()
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 1}))
    login(m["bistrot"])
    response = client.get(f"/restaurant/invoices/{inv.id}.pdf")
    assert response.status_code == 200
    assert b"/Helvetica" in response.data
    text = pdf_text(response.data)
    assert "Café" in text  # Latin-1 still prints
    assert inv.display_number in text


# Payment terms: at most 60 days, 30 for perishable food --------------------------------------

@pytest.mark.parametrize(("days", "valid"), [
    ("", True), ("1", True), ("30", True), ("60", True), ("61", False), ("90", False),
    ("0", False), ("-5", False), ("trente", False),
])
def test_payment_terms_form_keeps_to_the_legal_bound(app, days, valid):
    with app.test_request_context():
        form = PaymentTermsForm(formdata=MultiDict({"days": days}), meta={"csrf": False})
        assert form.validate() is valid, form.errors


def test_payment_terms_form_says_the_law(app):
    assert (LEGAL_MAX_PAYMENT_TERMS_DAYS, PERISHABLE_MAX_PAYMENT_TERMS_DAYS) == (60, 30)
    with app.test_request_context(), force_locale("en"):
        form = PaymentTermsForm(meta={"csrf": False})
        help_text = str(form.days.description)
    assert "60 days" in help_text
    assert "perishable food" in help_text
    assert "30 days" in help_text
    assert form.days.flags.max == 60


def test_admin_cannot_grant_more_than_60_days(client, db, market, login, form_post):
    newcomer = factories.restaurant(terms=None, name="Chez Nous")
    login(factories.user(Role.ADMIN))
    set_language(client, "en")
    page = page_text(client.get("/admin/invoices/terms").get_data(as_text=True))
    assert "(at most 60)" in page
    assert "perishable food" in page
    for days, status in (("61", 400), ("90", 400), ("60", 303)):
        response = form_post("/admin/invoices/terms", {"user_id": newcomer.id, "days": days},
                             page="/admin/invoices/terms")
        assert response.status_code == status, days
    db.session.expire_all()
    assert invoices.payment_terms_days(db.session, db.session.get(type(newcomer), newcomer.id)) \
        == 60


# The farm's wholesale minimum ------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "status", "cents"), [
    ("-5", 400, None), ("-0,01", 400, None), ("0", 302, 0), ("", 302, 0), ("12,50", 302, 1250),
])
def test_wholesale_minimum_may_be_zero_but_not_negative(client, db, login, form_post, typed,
                                                        status, cents):
    farm = factories.producer(name="Ferme du Lindin")
    farm.wholesale_minimum_cents = 999
    db.session.commit()
    login(farm.user)
    set_language(client, "en")
    response = form_post("/farm/profile", {
        "name": "Ferme du Lindin", "delivery_radius_km": "30", "wholesale_minimum_cents": typed,
        "commune": "Elven", "latitude": "47.7325", "longitude": "-2.5894"})
    assert response.status_code == status
    db.session.expire_all()
    saved = db.session.get(Producer, farm.id).wholesale_minimum_cents
    if status == 400:
        html = response.get_data(as_text=True)
        assert "Enter an amount of 0 or more (0: no minimum)." in html
        assert "more than zero" not in html
        assert saved == 999
    else:
        assert saved == cents


# Demo farms' identifiers -----------------------------------------------------------------------

def _check_identifiers(pairs):
    for siret, vat in pairs:
        assert ids_rules.valid_siret(siret), siret
        assert ids_rules.valid_vat_number(vat), vat
        assert vat[4:] == siret[:9], (siret, vat)
    assert len({siret for siret, _ in pairs}) == len(pairs)
    assert not {siret[:9] for siret, _ in pairs} & {"732829320", "802954785"}


def test_business_ids_are_valid_distinct_and_seeded():
    ids = business_ids(56, 500)
    _check_identifiers(ids)
    assert business_ids(56, 500) == ids
    assert business_ids(57, 500) != ids


def test_every_demo_farm_has_a_siret_and_a_vat_number(app, db):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    farms = db.session.scalars(select(Producer)).all()
    assert len(farms) == 31
    _check_identifiers([(f.siret, f.vat_number) for f in farms])
    identity = invoices.seller_identity(farms[0])
    assert identity["seller_siret"] == farms[0].siret
    assert identity["seller_vat_number"] == farms[0].vat_number


def test_large_demo_farms_have_identifiers_too(app, db):
    result = app.test_cli_runner().invoke(args=[
        "seed-demo", "--size", "large", "--producers", "7", "--products", "0"])
    assert result.exit_code == 0, result.output
    farms = db.session.scalars(select(Producer)).all()
    assert len(farms) == 7
    _check_identifiers([(f.siret, f.vat_number) for f in farms])



def test_the_invoices_of_one_order_download_under_names_of_their_own(client, db, market,
                                                                      login):
    """Numbers run per farm: two farms' first invoices are both F-000001, so the file
    name carries the farm too (saved side by side, neither overwrites the other)."""
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 1, m["eggs"].id: 1})
    first, second = factories.invoices_of(order)
    assert first.display_number == second.display_number
    login(m["bistrot"])
    names = [client.get(f"/restaurant/invoices/{inv.id}.pdf").headers["Content-Disposition"]
             for inv in (first, second)]
    assert names == ['inline; filename="F-000001_Ferme_A.pdf"',
                     'inline; filename="F-000001_Ferme_B.pdf"']


def test_the_documents_say_how_a_line_total_is_rounded(app, client, db, market, login):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 3}))
    login(m["bistrot"])
    set_language(client, "fr")
    rule = ("Chaque ligne\u00a0: quantité × prix unitaire HT, arrondi au centime, "
            "donne son total HT.")
    assert flat(rule) in page_text(client.get(f"/restaurant/invoices/{inv.id}").get_data(
        as_text=True))
    assert flat(rule) in pdf_text(client.get(f"/restaurant/invoices/{inv.id}.pdf").data)
