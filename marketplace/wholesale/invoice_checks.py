"""The rules invoices and credit notes obey, checked over the live database.

``invoice_discrepancies`` runs a fixed number of queries (four), whatever the number
of invoices, and returns one plain English message per broken rule with the id of
the document concerned. The rules (docs/invoices.md):

- a document's total and VAT are the sums of its lines' (so VAT per rate sums to the
  VAT total and excl. VAT + VAT = incl. VAT), and an invoice's are its sub-order's:
  what the buyer was charged;
- every line is VAT-included quantity x unit price, contains no more VAT than its
  total, and its printed unit price excl. VAT multiplies out to its total excl. VAT;
- what credit notes credit on an invoice line never exceeds that line (units,
  amount, VAT), and a credit note only credits lines of the invoice it corrects;
- an invoice paid by card: what the card paid less what went back to it is the
  invoice less its credit notes.
"""

from __future__ import annotations

from collections.abc import Iterator

from babel.numbers import format_currency
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from marketplace.orders.models import SubOrder
from marketplace.payments.models import InvoicePayment, PaymentStatus, Refund, RefundStatus

from .invoice_models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    display_number,
    line_total_cents,
    unit_price_excl,
)


def _money(cents: int, currency: str) -> str:
    return format_currency(cents / 100, currency, locale="en")


def _document(kind: InvoiceKind, number: int, farm: str) -> str:
    """"invoice F-000012 of Ferme A": how a message names a document."""
    noun = "credit note" if kind == InvoiceKind.CREDIT_NOTE else "invoice"
    return f"{noun} {display_number(kind, number)} of {farm}"


def _documents(session: Session) -> Iterator[tuple[int, str]]:
    """Totals of each document against its lines, and an invoice's against its
    sub-order."""
    lines = (select(InvoiceLine.invoice_id.label("invoice_id"),
                    func.count(InvoiceLine.id).label("count"),
                    func.sum(InvoiceLine.total_cents).label("total"),
                    func.sum(InvoiceLine.vat_cents).label("vat"))
             .group_by(InvoiceLine.invoice_id).subquery())
    rows = session.execute(
        select(Invoice.id, Invoice.kind, Invoice.number, Invoice.seller_name,
               Invoice.currency, Invoice.total_cents, Invoice.vat_cents, lines.c.count,
               lines.c.total, lines.c.vat,
               SubOrder.subtotal_cents, SubOrder.vat_cents)
        .outerjoin(lines, lines.c.invoice_id == Invoice.id)
        .outerjoin(SubOrder, SubOrder.id == Invoice.sub_order_id)
        .order_by(Invoice.id)
    ).all()
    for (invoice_id, kind, number, farm, currency, total, vat, count, lines_total,
         lines_vat, sub_total, sub_vat) in rows:
        what = _document(kind, number, farm)
        if not count:
            yield (invoice_id, f"{what} has no lines")
            continue
        if (total, vat) != (lines_total, lines_vat):
            yield (invoice_id, (
                f"{what}: its lines add up to {_money(lines_total, currency)} incl. VAT with "
                f"{_money(lines_vat, currency)} of VAT, but the document says "
                f"{_money(total, currency)} with {_money(vat, currency)} of VAT"))
        if kind == InvoiceKind.INVOICE and sub_total is not None and (total, vat) != (
                sub_total, sub_vat):
            yield (invoice_id, (
                f"{what} says {_money(total, currency)} incl. VAT with "
                f"{_money(vat, currency)} of VAT, but the buyer was charged "
                f"{_money(sub_total, currency)} with {_money(sub_vat, currency)} of VAT "
                "for that farm's part of the order"))


def _lines(session: Session) -> Iterator[tuple[int, str]]:
    """Each line on its own: VAT-included quantity x unit price, VAT within the total,
    the printed unit price excl. VAT multiplying out."""
    rows = session.execute(
        select(InvoiceLine.invoice_id, InvoiceLine.description, InvoiceLine.quantity,
               InvoiceLine.unit_price_cents, InvoiceLine.total_cents, InvoiceLine.vat_cents,
               Invoice.currency, Invoice.kind, Invoice.number, Invoice.seller_name)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position, InvoiceLine.id)
    ).all()
    for invoice_id, description, quantity, unit, total, vat, currency, *document in rows:
        where = f"{_document(*document)}, line “{description}”"
        if total != quantity * unit:
            yield (invoice_id, (
                f"{where}: {quantity} x {_money(unit, currency)} incl. VAT is "
                f"{_money(quantity * unit, currency)}, but the line says "
                f"{_money(total, currency)}"))
        if not 0 <= vat <= total or quantity <= 0:
            yield (invoice_id, (
                f"{where}: {_money(vat, currency)} of VAT in a total of "
                f"{_money(total, currency)} for {quantity} units"))
            continue
        excl = total - vat
        printed = unit_price_excl(excl, quantity)
        if line_total_cents(quantity, printed) != excl:
            yield (invoice_id, (
                f"{where}: {quantity} x {printed} excl. VAT does not give the printed "
                f"{_money(excl, currency)}"))


def _credits(session: Session) -> Iterator[tuple[int, str]]:
    """What credit notes credit per invoice line, against that line; credit note lines
    that credit no line, or a line of another invoice than their note corrects."""
    note, target = aliased(Invoice), aliased(InvoiceLine)
    stray = case((target.invoice_id == note.credits_invoice_id, 0), else_=1)
    sums = (select(InvoiceLine.credits_line_id.label("line_id"),
                   func.min(note.id).label("note_id"),
                   func.sum(InvoiceLine.quantity).label("quantity"),
                   func.sum(InvoiceLine.total_cents).label("total"),
                   func.sum(InvoiceLine.vat_cents).label("vat"),
                   func.sum(stray).label("strays"))
            .join(note, note.id == InvoiceLine.invoice_id)
            .outerjoin(target, target.id == InvoiceLine.credits_line_id)
            .where(note.kind == InvoiceKind.CREDIT_NOTE)
            .group_by(InvoiceLine.credits_line_id).subquery())
    line, invoice = aliased(InvoiceLine), aliased(Invoice)
    rows = session.execute(
        select(sums.c.line_id, sums.c.note_id, sums.c.quantity, sums.c.total, sums.c.vat,
               sums.c.strays, line.invoice_id, line.description, line.quantity,
               line.total_cents, line.vat_cents, invoice.currency, invoice.number,
               invoice.seller_name)
        .select_from(sums)
        .outerjoin(line, line.id == sums.c.line_id)
        .outerjoin(invoice, invoice.id == line.invoice_id)
        .order_by(sums.c.note_id)
    ).all()
    for (line_id, note_id, quantity, total, vat, strays, invoice_id, description,
         line_quantity, line_total, line_vat, currency, number, farm) in rows:
        if line_id is None:
            yield (note_id, f"{quantity} credited units credit no invoice line")
            continue
        where = f"{_document(InvoiceKind.INVOICE, number, farm)}, line “{description}”"
        if strays:
            yield (invoice_id, (
                f"{where}: {strays} credit note line(s) credit it from a credit note of "
                "another invoice"))
        if quantity > line_quantity or total > line_total or vat > line_vat:
            yield (invoice_id, (
                f"{where}: credit notes credit {quantity} units, "
                f"{_money(total, currency)} incl. VAT with {_money(vat, currency)} of VAT, "
                f"more than the line's {line_quantity} units, "
                f"{_money(line_total, currency)} with {_money(line_vat, currency)} of VAT"))


def _card_payments(session: Session) -> Iterator[tuple[int, str]]:
    """An invoice paid by card: paid - refunded to the card = invoice - credit notes."""
    refunded = (select(Refund.invoice_payment_id.label("payment_id"),
                       func.sum(Refund.amount_cents).label("amount"))
                .where(Refund.invoice_payment_id.is_not(None),
                       Refund.status != RefundStatus.FAILED)
                .group_by(Refund.invoice_payment_id).subquery())
    note = aliased(Invoice)
    credited = (select(note.credits_invoice_id.label("invoice_id"),
                       func.sum(note.total_cents).label("amount"))
                .where(note.credits_invoice_id.is_not(None))
                .group_by(note.credits_invoice_id).subquery())
    rows = session.execute(
        select(Invoice.id, Invoice.number, Invoice.seller_name, Invoice.currency,
               Invoice.total_cents, InvoicePayment.amount_cents,
               func.coalesce(refunded.c.amount, 0), func.coalesce(credited.c.amount, 0))
        .join(InvoicePayment, InvoicePayment.invoice_id == Invoice.id)
        .outerjoin(refunded, refunded.c.payment_id == InvoicePayment.id)
        .outerjoin(credited, credited.c.invoice_id == Invoice.id)
        .where(InvoicePayment.status == PaymentStatus.SUCCEEDED)
        .order_by(Invoice.id)
    ).all()
    for invoice_id, number, farm, currency, total, paid, back, credit in rows:
        if paid - back != total - credit:
            paid_net, due = _money(paid - back, currency), _money(total - credit, currency)
            yield (invoice_id, (
                f"{_document(InvoiceKind.INVOICE, number, farm)}: the card paid {paid_net} "
                f"({_money(paid, currency)} less {_money(back, currency)} given back), but "
                f"the invoice less its credit notes is {due}"))


def invoice_discrepancies(session: Session) -> list[tuple[int, str]]:
    """(document id, plain English message) for every broken rule (module docstring);
    empty when invoices add up. Four queries."""
    return [*_documents(session), *_lines(session), *_credits(session),
            *_card_payments(session)]
