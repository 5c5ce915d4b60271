"""How wholesale reacts to what happens to orders (orders/signals.py): a restaurant's
invoices are issued on confirmation, credited for short units and cancellations (a
credit note on an invoice paid by card is refunded), and paid at the counter."""

from __future__ import annotations

from marketplace.orders import signals
from marketplace.orders.models import PaymentMethod
from marketplace.payments import services as payments

from . import invoices


def _issue_invoices(order, *, session, now, **_kw):
    invoices.issue_for_order(session, order, now=now)


def _credit_cancelled(order, *, session, now, config, **_kw):
    # An invoice already paid by card is refunded; a card order's own payment was
    # refunded by payments' receiver (order_payment=False).
    for note in invoices.credit_cancelled(session, order, now=now):
        payments.refund_credit_note(session, note, config, now=now, order_payment=False)


def _credit_shorts(sub, *, session, now, config, **_kw):
    note = invoices.credit_shorts(session, sub, now=now)
    if note is not None:
        payments.refund_credit_note(session, note, config, now=now, order_payment=False)


def _paid_at_counter(order, *, session, **_kw):
    if order.payment_method == PaymentMethod.AT_PICKUP:
        invoices.set_paid_at_counter(session, order, paid_at=order.paid_at)


def _counter_payment_undone(order, *, session, **_kw):
    invoices.set_paid_at_counter(session, order, paid_at=None)


def _invoice_terms(buyer, *, session, **_kw):
    return invoices.payment_terms_days(session, buyer)


def connect_receivers() -> None:
    signals.order_confirmed.connect(_issue_invoices, weak=False)
    signals.order_cancelled.connect(_credit_cancelled, weak=False)
    signals.shorts_recorded.connect(_credit_shorts, weak=False)
    signals.order_collected.connect(_paid_at_counter, weak=False)
    signals.counter_payment_undone.connect(_counter_payment_undone, weak=False)
    signals.invoice_terms.connect(_invoice_terms, weak=False)
