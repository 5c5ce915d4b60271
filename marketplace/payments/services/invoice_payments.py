"""The card payment of a document other than an order (a restaurant's invoice): its
``InvoicePayment`` row and PaymentIntent (key ``invoice-<id>``), by the invoice's id;
what is due and when it is paid are wholesale's rules (wholesale/invoice_payments.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import gateway
from ..models import (
    InvoicePayment,
    PaymentStatus,
)

log = logging.getLogger(__name__)


OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED)


def invoice_payment_of(session: Session, invoice) -> InvoicePayment | None:
    return session.scalar(select(InvoicePayment).where(InvoicePayment.invoice_id == invoice.id))


def invoice_payment_by_intent(session: Session, intent_id) -> InvoicePayment | None:
    if not intent_id:
        return None
    return session.scalar(select(InvoicePayment).where(InvoicePayment.intent_id == intent_id))


def usable_invoice_payment(payment: InvoicePayment | None) -> bool:
    """A payment whose intent the buyer can still pay with (not canceled)."""
    return payment is not None and bool(payment.intent_id) and \
        payment.status != PaymentStatus.CANCELED


def create_invoice_intent(invoice_id: int, amount_cents: int, currency: str, config: Mapping,
                          *, replacing: str | None = None):
    """The invoice's PaymentIntent at Stripe. Idempotent (key ``invoice-<id>``: asked
    twice, Stripe answers with the same intent). ``replacing``: the id of an intent that
    was canceled while the invoice stayed unpaid; its successor has its own key. No
    database access: the caller holds no lock during the call."""
    key = f"invoice-{invoice_id}" + (f"-after-{replacing}" if replacing else "")
    return gateway.create_payment_intent(
        config, amount_cents=amount_cents, currency=currency.lower(), idempotency_key=key,
        metadata={"invoice_id": str(invoice_id)},
        description=f"Circuit Court invoice {invoice_id}",
    )


def set_invoice_amount(session: Session, payment: InvoicePayment, amount_cents: int) -> None:
    """Record the amount the intent was changed to at Stripe (a credit note meanwhile)."""
    if payment.status != PaymentStatus.SUCCEEDED:
        payment.amount_cents = amount_cents
        session.flush()




def open_invoice_intent(session: Session, invoice) -> str | None:
    """The id of the invoice's intent the buyer may still pay, if any."""
    payment = invoice_payment_of(session, invoice)
    if payment is not None and payment.intent_id and payment.status in OPEN_STATUSES:
        return payment.intent_id
    return None
