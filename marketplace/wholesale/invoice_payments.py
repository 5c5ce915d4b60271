"""A restaurant pays one of its invoices by card: what may be paid (an invoice, not a
credit note, unpaid, not paid at the counter, something due: its total less its
credit notes, computed here, never taken from the page), the intent applied once to
the invoice with its ledger lines (``invoice-sale:<invoice>``), and a credit note on
an invoice paid by card given back to the card. The PaymentIntent itself is payments'
(payments/services/invoice_payments.py). A farm marking the invoice paid by hand first
cancels the open intent at Stripe (payments' ``cancel_or_retrieve``), so the
restaurant never pays twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.orders.models import Order, OrderLine, PaymentMethod, SubOrder
from marketplace.payments import services as payments
from marketplace.payments import signals as payment_signals
from marketplace.payments.models import InvoicePayment, PaymentStatus, Refund, RefundStatus
from marketplace.payments.services.stripe_objects import amount as _amount
from marketplace.payments.services.stripe_objects import get as _get

from . import invoices
from .invoice_models import Invoice, InvoiceKind

log = logging.getLogger(__name__)


class InvoicePaymentError(ValueError):
    """A card payment of an invoice that cannot start; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


ALREADY_PAID = "already_paid"


NOTHING_DUE = "nothing_due"


NOT_AN_INVOICE = "not_an_invoice"


AT_PICKUP = "at_pickup"


def invoice_due_cents(session: Session, invoice) -> int:
    """What a card payment of the invoice is for: its total less its credit notes
    (computed here, never taken from the page); 0 once paid."""
    return invoices.balance_cents(session, invoice)


def check_invoice_payable(session: Session, invoice) -> int:
    """The amount due, or InvoicePaymentError when no card payment may start."""
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvoicePaymentError(NOT_AN_INVOICE)
    if invoice.paid_at is not None:
        raise InvoicePaymentError(ALREADY_PAID)
    if invoice.payment_method == PaymentMethod.AT_PICKUP.value:
        # Paid at the counter, to the host: a card payment too would be paid twice.
        raise InvoicePaymentError(AT_PICKUP)
    due = invoice_due_cents(session, invoice)
    if due <= 0:
        raise InvoicePaymentError(NOTHING_DUE)
    return due


def _lock_invoice(session: Session, invoice) -> None:
    """Serialise the card payment's start, its application and the farm's manual mark
    on one invoice (PostgreSQL row lock; SQLite writes are serial already)."""
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    session.refresh(invoice)


def store_invoice_intent(session: Session, invoice, intent, *,
                         replacing: str | None = None) -> InvoicePayment | None:
    """Keep the intent on the invoice's InvoicePayment (created once: a concurrent click
    that stored it first wins, with the same intent). None when the invoice was paid
    meanwhile (the caller cancels the intent it made)."""
    _lock_invoice(session, invoice)
    try:
        due = check_invoice_payable(session, invoice)
    except InvoicePaymentError:
        return None
    payment = payments.invoice_payment_of(session, invoice)
    if payment is None:
        payment = InvoicePayment(invoice_id=invoice.id, amount_cents=_amount(intent) or due,
                                 currency=invoice.currency)
        try:
            with session.begin_nested():
                session.add(payment)
        except IntegrityError:
            payment = payments.invoice_payment_of(session, invoice)
    if not payment.intent_id or (replacing and payment.intent_id == replacing):
        payment.intent_id = _get(intent, "id")
        payment.client_secret = _get(intent, "client_secret")
        payment.amount_cents = _amount(intent) or due
        payment.status = PaymentStatus.CREATED
        payment.last_error = ""
    session.flush()
    return payment


def apply_invoice_intent(session: Session, payment: InvoicePayment, intent, config: Mapping,
                         *, now: datetime) -> str:
    """``apply_intent`` for an invoice's intent. Returns invoice_paid, unchanged,
    amount_mismatch, paid_twice (Stripe took money for an invoice the farm had marked
    paid by hand: logged, to be refunded by an admin), failed, requires_action, canceled."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return "unchanged"
    status = _get(intent, "status")
    invoice = session.get(Invoice, payment.invoice_id)
    if status == "succeeded":
        _lock_invoice(session, invoice)  # invoice first, then its payment: one lock order
        amount = _amount(intent)
        currency = str(_get(intent, "currency", "")).upper()
        due = invoice.total_cents - invoices.credited_cents(session, invoice)
        if amount != payment.amount_cents or amount != due or currency != invoice.currency:
            payment.last_error = (f"amount {amount} {currency} != invoice due {due} "
                                  f"{invoice.currency} (intent {payment.amount_cents})")
            log.error("PaymentIntent %s (invoice %s): %s", _get(intent, "id"), invoice.id,
                      payment.last_error)
            session.flush()
            return "amount_mismatch"
        table = InvoicePayment.__table__
        # Conditional: a concurrent webhook and retrieve apply the payment once (the
        # second waits for the first's row lock, then finds it succeeded).
        won = session.execute(
            update(table).where(table.c.id == payment.id,
                                table.c.status != PaymentStatus.SUCCEEDED.value)
            .values(status=PaymentStatus.SUCCEEDED.value, succeeded_at=now, last_error="",
                    updated_at=now)
        ).rowcount == 1
        session.refresh(payment)
        if not won:
            return "unchanged"
        if invoices.mark_paid(session, invoice, now=now):
            payments.record_invoice_sale(session, invoice, amount, config, now=now)
            return "invoice_paid"
        # The farm's manual mark cancels the intent first, so this should not happen.
        payment.last_error = "the invoice was already marked paid: refund this card payment"
        log.error("PaymentIntent %s: invoice %s was already marked paid by hand; the card "
                  "payment of %s cents must be refunded", _get(intent, "id"), invoice.id,
                  amount)
        session.flush()
        return "paid_twice"
    if payment.status == PaymentStatus.CANCELED:
        return "unchanged"  # a late event about an intent canceled here
    return payments.apply_unsettled(session, payment, intent)


def refund_credit_note(session: Session, note, config: Mapping, *, now: datetime,
                       order_payment: bool = True) -> list[Refund]:
    """A credit note on an invoice the restaurant paid gives the money back, at most
    what is left of that payment (sent after the commit, like every refund), with the
    farm's ledger lines:
    - an invoice paid by card (its own intent): the note's amount on that intent;
    - an order paid by card at checkout (``order_payment``): each credited line on the
      order's intent, as a refund of that order line, so that marking the same units
      short later refunds nothing more (refund_line_short counts the line's refunds).
      The automatic credit notes (short units, a cancelled order) pass False: the
      order's own refund was made already.
    Nothing when the invoice is not paid (the note lowers what is due) or was paid
    another way (the farm repays by transfer)."""
    invoice = session.get(Invoice, note.credits_invoice_id)
    if invoice is None:
        return []
    sub = session.get(SubOrder, invoice.sub_order_id)
    # The note's number and the farm's own reason for it (refund_label shows both).
    reason = f"{payments.CREDIT_NOTE_REASON}{note.display_number}"
    if note.reason:
        reason = f"{reason}: {note.reason}"[:255]
    payment = payments.invoice_payment_of(session, invoice)
    if payment is not None and payment.status == PaymentStatus.SUCCEEDED:
        session.execute(select(InvoicePayment.id).where(InvoicePayment.id == payment.id)
                        .with_for_update())
        refunded = int(session.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0))
            .where(Refund.invoice_payment_id == payment.id,
                   Refund.status != RefundStatus.FAILED)
        ))
        amount = min(note.total_cents, payment.amount_cents - refunded)
        if amount <= 0:
            return []
        refund = Refund(order_id=invoice.order_id, sub_order_id=sub.id,
                        invoice_payment_id=payment.id, amount_cents=amount,
                        currency=payment.currency, reason=reason, created_at=now)
        session.add(refund)
        session.flush()
        payments.refund_entries(session, refund, [(sub, amount)], config, now=now)
        payments.send_refunds_after_commit(session, config, now=now)
        payment_signals.refund_recorded.send(refund, session=session, config=config, now=now)
        return [refund]
    order = session.get(Order, invoice.order_id)
    if not order_payment or order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return []
    # What is still refundable on the farm's part and on each line (a line refunded
    # already, short or by an admin, gives back only what is left of it).
    left = dict((s.id, cents) for s, cents in payments.refundable_by_farm(session, order))
    left = left.get(sub.id, 0)
    refunds = []
    for line in note.lines:
        order_line = session.get(OrderLine, line.order_line_id) if line.order_line_id else None
        amount = min(line.total_cents, left)
        if order_line is not None:
            amount = min(amount, payments.line_refundable_cents(session, order_line))
        if amount <= 0:
            continue
        refunds.append(payments.request_refund(session, order, amount, config, reason=reason,
                                               now=now, sub_order=sub, line=order_line))
        left -= amount
    return refunds



def card_refund_on_cancel(session: Session, order: Order) -> int:
    """What a cancellation of ``order`` would give back to the card on its invoices
    paid by card (credit_cancelled credits what is left of each; refund_credit_note
    gives back at most what is left of the payment)."""
    total = 0
    for invoice in session.scalars(select(Invoice).where(
            Invoice.order_id == order.id, Invoice.kind == InvoiceKind.INVOICE)):
        payment = payments.invoice_payment_of(session, invoice)
        if payment is None or payment.status != PaymentStatus.SUCCEEDED:
            continue
        refunded = int(session.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0))
            .where(Refund.invoice_payment_id == payment.id,
                   Refund.status != RefundStatus.FAILED)))
        creditable = invoice.total_cents - invoices.credited_cents(session, invoice)
        total += max(0, min(creditable, payment.amount_cents - refunded))
    return total


def apply_received_intent(intent, *, session, config, now, **_kw):
    """payments' ``intent_received``: an intent of one of our invoices."""
    payment = payments.invoice_payment_by_intent(session, _get(intent, "id"))
    if payment is None:
        return None
    return apply_invoice_intent(session, payment, intent, config, now=now)
