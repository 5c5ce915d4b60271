"""Invoice lines multiply out as printed (page and PDF, French and English), totals add
up per rate, a credit note never credits more than a line has left (refused with what
is still creditable), and invoice_checks finds a broken row."""

from __future__ import annotations

import io
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from flask import render_template
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import event, select, update

from marketplace.extensions import db
from marketplace.orders.cart import vat_included
from marketplace.payments.models import InvoicePayment, PaymentStatus
from marketplace.wholesale import invoice_checks, invoice_pdf, invoices
from marketplace.wholesale.invoice_models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    line_total_cents,
    unit_price_excl,
)
from tests import factories
from tests.clock import now

RATES = (0, 550, 1000, 2000)
CENT = Decimal("0.01")


@pytest.fixture
def market(invoice_market):
    return invoice_market


# Reading amounts back -----------------------------------------------------------------------

def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def amount(text: str, lang: str) -> Decimal:
    """An amount as Babel wrote it ("-1 234,567 €", "-€1,234.567") as a Decimal."""
    digits = re.sub(r"[^0-9,.\-]", "", text)
    digits = digits.replace(",", ".") if lang == "fr" else digits.replace(",", "")
    return Decimal(digits)


MONEY = r"-?(?:€ ?)?-?[\d  ,.]*\d(?: ?€)?"


def html_lines(html: str, lang: str) -> list[tuple[int, Decimal, Decimal]]:
    """(quantity, unit price excl. VAT, total excl. VAT) of each line of the page."""
    rows = re.findall(
        r'<td class="text-end quantity">(\d+)</td>\s*'
        r'<td class="text-end unit-price-excl">([^<]+)</td>\s*<td[^>]*>[^<]*</td>\s*'
        r'<td class="text-end total-excl">([^<]+)</td>', html)
    return [(int(q), amount(p, lang), amount(t, lang)) for q, p, t in rows]


def html_summary(html: str, lang: str) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(excl. VAT, VAT, incl. VAT) of each rate of the VAT summary, then the total."""
    table = html[html.index('class="table table-sm w-auto ms-auto vat-summary"'):]
    table = table[:table.index("</table>")]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        cells = re.findall(r'<td class="text-end[^"]*">([^<]+)</td>', row)
        rows.append(tuple(amount(c, lang) for c in cells))
    return rows


def pdf_lines(data: bytes, descriptions: list[str], lang: str
              ) -> list[tuple[int, Decimal, Decimal]]:
    text = flat("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
    found = []
    for description in descriptions:
        match = re.search(re.escape(description) + rf" (\d+) ({MONEY}) [\d,.]+ % ({MONEY}) ",
                          text)
        assert match, (description, text)
        found.append((int(match[1]), amount(match[2], lang), amount(match[3], lang)))
    return found


def multiplies_out(quantity: int, unit: Decimal, total: Decimal) -> bool:
    return (quantity * unit).quantize(CENT, ROUND_HALF_UP) == abs(total)


# Every rendered line multiplies out ---------------------------------------------------------

def document(lines: list[tuple[int, int, int]], credit_note: bool) -> Invoice:
    """A document that is never stored: lines (quantity, VAT-included unit price, rate)
    as issue_invoice makes them."""
    def blank(**fields) -> Invoice:
        return Invoice(currency="EUR", issued_at=now(), due_at=now(), order_id=1,
                       seller_name="Ferme A", buyer_name="Le Bistrot", seller_address="",
                       buyer_address="", seller_siret="", seller_vat_number="",
                       buyer_siret="", buyer_vat_number="", reason="", total_cents=0,
                       vat_cents=0, **fields)

    invoice = blank(id=1, number=7, kind=InvoiceKind.INVOICE)
    shown = (blank(id=2, number=8, kind=InvoiceKind.CREDIT_NOTE, credits_invoice=invoice)
             if credit_note else invoice)
    for position, (quantity, unit, rate) in enumerate(lines):
        total = quantity * unit
        vat = vat_included(total, rate)
        shown.lines.append(InvoiceLine(
            id=position + 1, position=position, description=f"Article {position + 1}",
            quantity=quantity, unit_price_cents=unit, vat_rate_bp=rate, vat_cents=vat,
            total_cents=total))
        shown.total_cents += total
        shown.vat_cents += vat
    return shown


line_strategy = st.tuples(st.integers(1, 999), st.integers(1, 250_000), st.sampled_from(RATES))


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line_strategy, min_size=1, max_size=6), credit_note=st.booleans(),
       lang=st.sampled_from(["fr", "en"]))
def test_every_printed_line_multiplies_out_and_the_totals_add_up(app, lines, credit_note,
                                                                   lang):
    doc = document(lines, credit_note)
    with app.test_request_context(), force_locale(lang):
        html = render_template("invoices/invoice.html", invoice=doc, side="restaurant",
                               delivery_at=None, credit_notes=[], balance=0,
                               card_payment=None, mention=invoices.LATE_PAYMENT_MENTION)
        pdf = invoice_pdf.render(doc, credited=doc.credits_invoice)
    printed = html_lines(html, lang)
    assert len(printed) == len(lines)
    assert printed == pdf_lines(pdf, [line.description for line in doc.lines], lang)
    for (quantity, unit, total), line in zip(printed, doc.lines, strict=True):
        assert quantity == line.quantity
        assert multiplies_out(quantity, unit, total), (quantity, unit, total)
        assert abs(total) * 100 == line.total_excl_cents
    *per_rate, (excl, vat, incl) = html_summary(html, lang)
    assert len(per_rate) == len({rate for _q, _u, rate in lines})
    assert sum(r[0] for r in per_rate) == excl == sum(t for _q, _u, t in printed)
    assert sum(r[1] for r in per_rate) == vat
    assert sum(r[2] for r in per_rate) == incl
    assert all(r[0] + r[1] == r[2] for r in per_rate)
    assert excl + vat == incl == doc.sign * Decimal(doc.total_cents) / 100


@settings(max_examples=300, database=None)
@given(excl=st.integers(0, 10**10), quantity=st.integers(1, 10**6))
def test_the_printed_unit_price_gives_back_any_total(excl, quantity):
    """Whatever a line's total excl. VAT (a credit note's VAT is not its total's own
    figure) and however many units, the unit price printed multiplies back to it."""
    unit = unit_price_excl(excl, quantity)
    assert line_total_cents(quantity, unit) == excl
    assert -unit.as_tuple().exponent <= 2 + len(str(quantity))


@pytest.mark.parametrize(("price", "quantity", "old", "unit", "unit_en", "total"), [
    # Printed before as 10 x 1,33 € = 13,27 € and 2 x 7,01 € = 14,03 €.
    pytest.param(140, 10, "1,33 €", "1,327 €", "€1.327", "13,27 €", id="ten-at-1.40"),
    pytest.param(740, 2, "7,01 €", "7,015 €", "€7.015", "14,03 €", id="two-at-7.40"),
    pytest.param(350, 3, None, "3,317 €", "€3.317", "9,95 €", id="three-at-3.50"),
    pytest.param(211, 2, None, "2,00 €", "€2.00", "4,00 €", id="two-at-2.11"),
])
def test_the_lines_that_did_not_add_up_now_do(client, db, market, login, price, quantity, old,
                                              unit, unit_en, total):
    m = market
    veg = factories.product(m["farm_a"], name="Légumes", variants=(("lot", price, 500),))
    order = factories.restaurant_order(m["bistrot"], m["slot"], {veg.variants[0].id: quantity})
    (inv,) = factories.invoices_of(order)
    assert inv.total_cents == quantity * price  # what the buyer was charged
    login(m["bistrot"])
    for lang, unit_shown in (("fr", unit), ("en", unit_en)):
        with client.session_transaction() as session:
            session["lang"] = lang
        html = client.get(f"/restaurant/invoices/{inv.id}").get_data(as_text=True)
        row = flat(re.sub(r"<[^>]+>", " ", re.search(r'class="invoice-line".*?</tr>', html,
                                                        re.S)[0]))
        assert f"{quantity} {unit_shown} " in row
        if old and lang == "fr":
            assert f"{quantity} {old} " not in row
        (printed,) = html_lines(html, lang)
        pdf = client.get(f"/restaurant/invoices/{inv.id}.pdf").data
        assert pdf_lines(pdf, ["Légumes (lot)"], lang) == [printed]
        assert printed == (quantity, amount(unit_shown, lang), amount(total, "fr"))
        assert multiplies_out(*printed)


# Credit notes never credit more than a line has left -----------------------------------------

def credit_notes(invoice: Invoice) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.credits_invoice_id == invoice.id)))


@pytest.mark.parametrize(("lang", "message"), [
    ("fr", "« Carottes (1 kg) » de Ferme A : au plus 1 unité peut encore être créditée, "
           "soit 3,50 € TTC."),
    ("en", "“Carottes (1 kg)” from Ferme A: at most 1 more unit can be credited, "
           "€3.50 incl. VAT."),
])
def test_a_credit_note_beyond_what_is_left_is_refused_naming_the_line(
        client, db, market, login, form_post, lang, message):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 2, m["juice"].id: 1})
    (inv,) = factories.invoices_of(order)
    carrots, juice = inv.lines
    invoices.credit_note(db.session, inv, now=now(), quantities={carrots.id: 1})
    db.session.commit()
    login(m["farm_a"].user)
    with client.session_transaction() as session:
        session["lang"] = lang
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note",
                         {f"qty-{carrots.id}": "2", f"qty-{juice.id}": "1", "reason": "x"},
                         page=url)
    assert response.status_code == 400
    assert message in flat(response.get_data(as_text=True).replace("&#34;", '"'))
    assert len(credit_notes(inv)) == 1  # nothing issued, nothing clamped
    # Exactly what is left is accepted.
    response = form_post(f"{url}/credit-note", {f"qty-{carrots.id}": "1", "reason": "x"},
                         page=url)
    assert response.status_code == 303
    assert invoices.balance_cents(db.session, inv) == 420


@pytest.mark.parametrize(("lang", "typed", "message"), [
    ("fr", "-1", "Indiquez un nombre entier d’unités à créditer sur « Carottes (1 kg) »."),
    ("fr", "1,5", "Indiquez un nombre entier d’unités à créditer sur « Carottes (1 kg) »."),
    ("en", "abc", "Give a whole number of units to credit on “Carottes (1 kg)”."),
    ("en", "1234567", "Give a whole number of units to credit on “Carottes (1 kg)”."),
])
def test_a_credit_note_of_no_whole_number_is_refused(client, db, market, login, form_post,
                                                    lang, message, typed):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 2}))
    login(m["farm_a"].user)
    with client.session_transaction() as session:
        session["lang"] = lang
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note", {f"qty-{inv.lines[0].id}": typed}, page=url)
    assert response.status_code == 400
    assert message in flat(response.get_data(as_text=True))
    assert credit_notes(inv) == []


def test_credits_that_do_not_add_up_refuse_the_next_note_without_a_500(
        client, db, market, login, form_post, english, caplog):
    """A credit note row that took a cent of VAT too many (written by hand, say): the
    note for the rest would need negative VAT, so it is refused and the audit says why."""
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 3}))
    line = inv.lines[0]
    note = invoices.credit_note(db.session, inv, now=now(), quantities={line.id: 1})
    db.session.commit()
    too_much = line.vat_cents + 1
    db.session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id == note.id)
                       .values(vat_cents=too_much))
    db.session.execute(update(Invoice).where(Invoice.id == note.id).values(vat_cents=too_much))
    db.session.commit()
    login(m["farm_a"].user)
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note", {f"qty-{line.id}": "2"}, page=url)
    assert response.status_code == 400
    assert ("The amounts already credited on “Carottes (1 kg)” do not add up, so no credit "
            "note can be issued on it: contact the platform's team.") in flat(
        response.get_data(as_text=True).replace("&#39;", "'"))
    assert "the credit notes of line" in caplog.text
    assert len(credit_notes(inv)) == 1
    assert [i for i, _m in invoice_checks.invoice_discrepancies(db.session)] == [inv.id]


def test_the_service_says_what_is_still_creditable(db, market):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 3}))
    line = inv.lines[0]
    invoices.credit_note(db.session, inv, now=now(), quantities={line.id: 2})
    with pytest.raises(invoices.InvoiceError) as caught:
        invoices.credit_note(db.session, inv, now=now(), quantities={line.id: 2})
    assert caught.value.code == invoices.TOO_MUCH
    assert caught.value.creditable == invoices.Creditable(
        line.id, "Carottes (1 kg)", "Ferme A", 1, 350, "EUR")


def test_credits_of_one_unit_at_a_time_never_take_more_vat_than_the_line(db, market):
    """Four units at 0,10 € (5,5 %): 0,02 € of VAT on the line, 0,01 € on one unit.
    Crediting them one by one used to take 0,01 € each, 0,03 € after three, and the last
    credit note would have had -0,01 € of VAT (refused by the database: a 500)."""
    m = market
    tiny = factories.product(m["farm_a"], name="Radis", variants=(("pièce", 10, 500),))
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {tiny.variants[0].id: 4}))
    line = inv.lines[0]
    assert (line.total_cents, line.vat_cents) == (40, 2)
    notes = [invoices.credit_note(db.session, inv, now=now(), quantities={line.id: 1})
             for _ in range(4)]
    db.session.commit()
    assert [n.total_cents for n in notes] == [10, 10, 10, 10]
    assert sum(n.vat_cents for n in notes) == 2
    assert all(0 <= n.vat_cents <= n.total_cents for n in notes)
    assert invoices.balance_cents(db.session, inv) == 0
    assert invoice_checks.invoice_discrepancies(db.session) == []


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantity=st.integers(1, 30), unit=st.integers(1, 5000), rate=st.sampled_from(RATES),
       data=st.data())
def test_any_sequence_of_credit_notes_stays_within_the_line(db, market, quantity, unit, rate,
                                                            data):
    m = market
    product = factories.product(m["farm_a"], name="Lot", variants=(("lot", unit, 999),))
    product.vat_rate_bp = rate
    db.session.commit()
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {product.variants[0].id: quantity}))
    line = inv.lines[0]
    left = quantity
    while left:
        wanted = data.draw(st.integers(1, left + 1), label="units")
        if wanted > left:
            with pytest.raises(invoices.InvoiceError) as caught:
                invoices.credit_note(db.session, inv, now=now(), quantities={line.id: wanted})
            assert caught.value.creditable.quantity == left
            db.session.rollback()
            continue
        invoices.credit_note(db.session, inv, now=now(), quantities={line.id: wanted})
        db.session.commit()
        left -= wanted
        assert invoices.balance_cents(db.session, inv) == inv.total_cents - sum(
            n.total_cents for n in credit_notes(inv))
        assert invoice_checks.invoice_discrepancies(db.session) == []
    notes = credit_notes(inv)
    assert sum(n.total_cents for n in notes) == inv.total_cents
    assert sum(n.vat_cents for n in notes) == inv.vat_cents
    assert invoices.balance_cents(db.session, inv) == 0


# The audit of the live database --------------------------------------------------------------

def count_queries(session):
    statements = []
    engine = session.get_bind()

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):  # not BEGIN
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    return statements, lambda: event.remove(engine, "before_cursor_execute", seen)


def test_invoice_discrepancies_finds_a_broken_row_in_a_fixed_number_of_queries(db, market):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["juice"].id: 2, m["eggs"].id: 1})
    a, b = factories.invoices_of(order)
    note = invoices.credit_note(db.session, a, now=now(), quantities={a.lines[0].id: 1})
    db.session.commit()
    statements, stop = count_queries(db.session)
    assert invoice_checks.invoice_discrepancies(db.session) == []
    few = len(statements)
    for _ in range(3):
        factories.restaurant_order(m["cantine"], m["slot"], {m["carrots"].id: 1,
                                                             m["eggs"].id: 2})
    statements.clear()
    assert invoice_checks.invoice_discrepancies(db.session) == []
    assert len(statements) == few == 4
    stop()
    # The invoice says a cent more than its lines and than the buyer was charged.
    db.session.execute(update(Invoice).where(Invoice.id == b.id)
                       .values(total_cents=Invoice.total_cents + 1))
    # A credit note line credits more units than the invoice line has.
    db.session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id == note.id)
                       .values(quantity=4))
    db.session.commit()
    found = invoice_checks.invoice_discrepancies(db.session)
    assert sorted(i for i, _message in found) == sorted([b.id, b.id, note.id, a.id])
    messages = dict.fromkeys(m for _i, m in found)
    assert ("invoice F-000001 of Ferme B: its lines add up to €5.97 incl. VAT with €0.31 of "
            "VAT, but the document says €5.98 with €0.31 of VAT") in messages
    assert ("invoice F-000001 of Ferme B says €5.98 incl. VAT with €0.31 of VAT, but the "
            "buyer was charged €5.97 with €0.31 of VAT for that farm's part of the order"
            ) in messages
    assert any(m.startswith("credit note A-000002 of Ferme A, line “Carottes (1 kg)”: "
                            "4 x €3.50 incl. VAT is €14.00") for m in messages)
    assert any(m.startswith("invoice F-000001 of Ferme A, line “Carottes (1 kg)”: credit notes "
                            "credit 4 units") for m in messages)


def test_invoice_discrepancies_finds_a_card_payment_that_does_not_match(db, market):
    m = market
    (inv,) = factories.invoices_of(factories.restaurant_order(m["bistrot"], m["slot"],
                                                              {m["carrots"].id: 2}))
    invoices.credit_note(db.session, inv, now=now(), quantities={inv.lines[0].id: 1})
    # The card paid what was due (7,00 € less the 3,50 € credited): nothing to say...
    payment = InvoicePayment(invoice_id=inv.id, amount_cents=350, currency="EUR",
                             status=PaymentStatus.SUCCEEDED, succeeded_at=now())
    db.session.add(payment)
    db.session.commit()
    assert invoice_checks.invoice_discrepancies(db.session) == []
    # ...but a cent more was taken.
    payment.amount_cents = 351
    db.session.commit()
    assert invoice_checks.invoice_discrepancies(db.session) == [(inv.id, (
        "invoice F-000001 of Ferme A: the card paid €3.51 (€3.51 less €0.00 given back), "
        "but the invoice less its credit notes is €3.50"))]


def test_the_credit_note_form_credits_nothing_unless_typed_and_keeps_what_was_typed(
        client, db, market, login, form_post, english):
    m = market
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 2, m["juice"].id: 1})
    (inv,) = factories.invoices_of(order)
    carrots, juice = inv.lines
    db.session.commit()
    login(m["farm_a"].user)
    url = f"/farm/invoices/{inv.id}"
    page = client.get(url).get_data(as_text=True)
    # Sent as shown, the form credits nothing.
    for line in (carrots, juice):
        assert re.search(rf'name="qty-{line.id}"[^>]*value="0"', page)
    response = form_post(f"{url}/credit-note", {f"qty-{carrots.id}": "0",
                                                f"qty-{juice.id}": "0", "reason": ""}, page=url)
    assert response.status_code == 400
    assert "Type the units to credit on at least one line." in response.get_data(as_text=True)
    # Refused for too many units: what was typed comes back, not the maxima.
    response = form_post(f"{url}/credit-note", {f"qty-{carrots.id}": "3",
                                                f"qty-{juice.id}": "0", "reason": "Abîmées"},
                         page=url)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'name="qty-{carrots.id}"[^>]*value="3"', html)
    assert re.search(rf'name="qty-{juice.id}"[^>]*value="0"', html)
    assert 'value="Abîmées"' in html
    assert credit_notes(inv) == []
