"""How wholesale reacts to what happens to orders (orders/signals.py) and payments
(payments/signals.py): a restaurant's invoices are issued on confirmation, credited
for short units and cancellations (a credit note on an invoice paid by card is
refunded), paid at the counter, and paid by card when their intent succeeds. A restaurant with
invoices still to pay cannot delete its account; its business details are part of
its data export, and go with the account, its door closed (accounts/signals.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from marketplace.accounts import signals as account_signals
from marketplace.orders import signals
from marketplace.orders.models import PaymentMethod
from marketplace.payments import signals as payment_signals
from marketplace.pickup.models import PickupPoint

from . import invoice_mails, invoice_payments, invoices, services
from .models import RestaurantProfile


def _site_locale(config) -> str:
    """Documents are written in the site's language, whoever acts."""
    return config.get("BABEL_DEFAULT_LOCALE", "fr")


def _issue_invoices(order, *, session, now, **_kw):
    for invoice in invoices.issue_for_order(session, order, now=now):
        invoice_mails.send_document(session, invoice)


def _credit_cancelled(order, *, session, now, config, **_kw):
    # An invoice already paid by card is refunded; a card order's own payment was
    # refunded by payments' receiver (order_payment=False).
    for note in invoices.credit_cancelled(session, order, now=now,
                                          locale=_site_locale(config)):
        invoice_payments.refund_credit_note(session, note, config, now=now, order_payment=False)
        invoice_mails.send_document(session, note)


def _credit_shorts(sub, *, session, now, config, **_kw):
    note = invoices.credit_shorts(session, sub, now=now, locale=_site_locale(config))
    if note is not None:
        invoice_payments.refund_credit_note(session, note, config, now=now, order_payment=False)
        invoice_mails.send_document(session, note)


def _paid_at_counter(order, *, session, **_kw):
    if order.payment_method == PaymentMethod.AT_PICKUP:
        invoices.set_paid_at_counter(session, order, paid_at=order.paid_at)


def _counter_payment_undone(order, *, session, **_kw):
    invoices.set_paid_at_counter(session, order, paid_at=None)


def _invoice_terms(buyer, *, session, **_kw):
    return invoices.payment_terms_days(session, buyer)


def _cancel_card_refunds(order, *, session, **_kw):
    return invoice_payments.card_refund_on_cancel(session, order)


def _order_invoices(order, *, session, **_kw):
    return invoices.due_dates_of(session, order)


def _approval_problem(user, *, session, details=None, **_kw):
    return services.approval_problem(session, user, details)


def _approval_details(users, *, session, **_kw):
    return services.restaurant_profiles_of(session, users)


def _deletion_problem(user, *, session, now, **_kw):
    # The farms' invoices stay after the deletion, frozen with the restaurant's
    # details; one still to pay needs a restaurant to pay it.
    if any(row.balance_cents > 0 for row in invoices.invoices_of_buyer(session, user.id, now)):
        return _l("Your restaurant has invoices still to pay: pay them first.")
    return None


def _exported(user, *, session, **_kw):
    profile = session.scalar(select(RestaurantProfile)
                             .where(RestaurantProfile.user_id == user.id))
    if profile is None:
        return None
    return {"restaurant": {
        "business_name": profile.business_name, "siret": profile.siret,
        "vat_number": profile.vat_number, "address": profile.address,
        "postcode": profile.postcode, "commune": profile.commune,
        "latitude": profile.latitude, "longitude": profile.longitude,
        "delivery_hours": profile.delivery_hours,
        "payment_terms_days": profile.payment_terms_days,
    }}


def _deleting(user, *, session, **_kw):
    # The invoices froze the restaurant's details; its door closes with the account.
    session.execute(delete(RestaurantProfile).where(RestaurantProfile.user_id == user.id))
    session.execute(update(PickupPoint).where(PickupPoint.private_buyer_id == user.id)
                    .values(is_active=False))


def connect_receivers() -> None:
    account_signals.approval_checked.connect(_approval_problem, weak=False)
    account_signals.deletion_checked.connect(_deletion_problem, weak=False)
    account_signals.data_exported.connect(_exported, weak=False)
    account_signals.account_deleting.connect(_deleting, weak=False)
    account_signals.approval_details.connect(_approval_details, weak=False)
    signals.order_confirmed.connect(_issue_invoices, weak=False)
    signals.order_cancelled.connect(_credit_cancelled, weak=False)
    signals.shorts_recorded.connect(_credit_shorts, weak=False)
    signals.order_collected.connect(_paid_at_counter, weak=False)
    signals.counter_payment_undone.connect(_counter_payment_undone, weak=False)
    signals.invoice_terms.connect(_invoice_terms, weak=False)
    payment_signals.cancel_card_refunds.connect(_cancel_card_refunds, weak=False)
    payment_signals.order_invoices.connect(_order_invoices, weak=False)
    payment_signals.intent_received.connect(invoice_payments.apply_received_intent, weak=False)
