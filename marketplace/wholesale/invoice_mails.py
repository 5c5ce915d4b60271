"""A restaurant receives each invoice and credit note as a PDF, by e-mail, in its own
language (the PDF too). Invoices and credit notes are required documents: this e-mail
cannot be switched off."""

from __future__ import annotations

from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from marketplace.notifications import orders as notify
from marketplace.notifications.models import OutboxMessage
from marketplace.notifications.services import Attachment
from marketplace.orders.models import Order

from . import invoice_pdf, invoices
from .invoice_models import Invoice


def pdf_of(document: Invoice) -> Attachment:
    """The document's PDF in the current language, named as the download is."""
    credited = document.credits_invoice if document.is_credit_note else None
    # Numbers run per farm: the farm's name keeps the files of one order's invoices
    # from overwriting each other when saved.
    name = secure_filename(f"{document.display_number} {document.seller_name}.pdf")
    return Attachment(name, "application/pdf", invoice_pdf.render(document, credited=credited))


def _order_and_pdf(session: Session, document: Invoice) -> tuple[Order, Attachment]:
    """The document's order, and its PDF in the language of the order's buyer."""
    order = session.get(Order, document.order_id)
    with notify.language_of(order.buyer):
        return order, pdf_of(document)


def send_document(session: Session, document: Invoice) -> OutboxMessage | None:
    """The e-mail of one invoice or credit note, its PDF attached, once."""
    if notify.document_told(session, document.id):
        return None  # rendered only when it will be sent
    order, pdf = _order_and_pdf(session, document)
    return notify.document_issued(
        session, order, document_id=document.id, number=document.display_number,
        farm=document.seller_name, credit_note=document.is_credit_note,
        amount_cents=document.total_cents, pdf=pdf,
        document_url=notify.public_url("invoices.restaurant_show", invoice_id=document.id))


def credit_note_told(session: Session, note: Invoice, invoice: Invoice) -> OutboxMessage | None:
    """A farm's own credit note not refunded to a card: the credit note e-mail says
    what is left to pay, and carries the PDF."""
    order, pdf = _order_and_pdf(session, note)
    return notify.credit_note_issued(
        session, order, note_id=note.id, number=note.display_number,
        farm=invoice.seller_name, amount_cents=note.total_cents,
        due_cents=invoices.balance_cents(session, invoice),
        paid=invoice.paid_at is not None, reason=note.reason or "", pdf=pdf)
