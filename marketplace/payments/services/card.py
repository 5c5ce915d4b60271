"""Card payments of orders: one PaymentIntent per order (idempotency key
``order-<id>``, the server-computed total), applied from what Stripe says (a verified
webhook or a server-side retrieve), never moved back from succeeded; an intent that
is not an order's is offered to the domains above (``signals.intent_received``:
a restaurant's invoice). Also how a buyer may pay, and the reconciliation with
Stripe."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.orders.signals import invoice_terms_of

from .. import gateway, signals
from ..models import (
    InvoicePayment,
    Payment,
    PaymentStatus,
)
from .invoice_payments import OPEN_STATUSES, invoice_payment_by_intent
from .ledger import record_sales
from .refunds import PAID_LATE_REASON, request_refund
from .stripe_objects import get as _get

log = logging.getLogger(__name__)


def payment_methods(session: Session, buyer, config: Mapping) -> frozenset[str]:
    """Pay at pickup always; card when Stripe is configured (make run: localstripe);
    on invoice for a buyer granted payment terms (a restaurant: wholesale answers
    orders' ``invoice_terms`` signal)."""
    methods = {PaymentMethod.AT_PICKUP.value}
    if gateway.is_configured(config):
        methods.add(PaymentMethod.CARD.value)
    if getattr(buyer, "is_authenticated", False) and invoice_terms_of(session, buyer):
        methods.add(PaymentMethod.INVOICE.value)
    return frozenset(methods)


def payment_of(session: Session, order: Order) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.order_id == order.id))


def create_intent(order: Order, config: Mapping):
    """The order's PaymentIntent at Stripe, for its server-computed total. Idempotent
    (key ``order-<id>``): asked twice, Stripe answers with the same intent. Raises
    gateway.PaymentGatewayError when Stripe cannot be reached. No database access, so
    the caller holds no lock during the call."""
    return gateway.create_payment_intent(
        config, amount_cents=order.total_cents, currency=order.currency.lower(),
        order_id=order.id, idempotency_key=f"order-{order.id}",
        metadata={"order_id": str(order.id)},
        description=f"Circuit Court order {order.id}",
    )


def store_intent(session: Session, order: Order, intent) -> Payment:
    """Keep the intent on the order's Payment (created once: a concurrent click that
    created it first wins, with the same intent)."""
    payment = payment_of(session, order)
    if payment is None:
        payment = Payment(order_id=order.id, amount_cents=order.total_cents,
                          currency=order.currency)
        try:
            with session.begin_nested():
                session.add(payment)
        except IntegrityError:
            payment = payment_of(session, order)
    if not payment.intent_id:
        payment.intent_id = _get(intent, "id")
        payment.client_secret = _get(intent, "client_secret")
    session.flush()
    return payment


def start_card_payment(session: Session, order: Order, config: Mapping) -> Payment:
    """The order's Payment with its PaymentIntent, created once and reused."""
    payment = payment_of(session, order)
    if payment is not None and payment.intent_id:
        return payment
    return store_intent(session, order, create_intent(order, config))


def _intent_error(intent) -> str:
    error = _get(intent, "last_payment_error") or {}
    return str(_get(error, "message", "") or _get(error, "code", "") or "")


def apply_intent(session: Session, intent, config: Mapping, *, now: datetime) -> str:
    """Bring our records in line with a PaymentIntent as Stripe reports it. Idempotent;
    a payment never moves back from succeeded. Returns what it did (for logs and tests):
    unknown, unchanged, confirmed, refund_late, amount_mismatch, failed, requires_action,
    canceled; for another document's intent, what its receiver returns."""
    intent_id = _get(intent, "id")
    payment = session.scalar(select(Payment).where(Payment.intent_id == intent_id))
    if payment is None:  # another document's intent (an invoice's), or not ours
        outcomes = [outcome for _receiver, outcome in signals.intent_received.send(
            intent, session=session, config=config, now=now) if outcome]
        return outcomes[0] if outcomes else "unknown"
    status = _get(intent, "status")
    if payment.status == PaymentStatus.SUCCEEDED:
        return "unchanged"
    if status == "succeeded":
        amount = _get(intent, "amount_received") or _get(intent, "amount")
        currency = str(_get(intent, "currency", "")).upper()
        order = session.get(Order, payment.order_id)
        if amount != payment.amount_cents or amount != order.total_cents or \
                currency != order.currency:
            payment.last_error = f"amount {amount} {currency} != order {order.total_cents}"
            log.error("PaymentIntent %s: %s", intent_id, payment.last_error)
            session.flush()
            return "amount_mismatch"
        payment.status = PaymentStatus.SUCCEEDED
        payment.succeeded_at = now
        payment.last_error = ""
        # Conditional: a concurrent webhook and retrieve confirm the order once.
        switched = session.execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == order.id,
                   Order.__table__.c.status == OrderStatus.PENDING_PAYMENT)
            .values(paid_at=now)
        ).rowcount == 1
        session.refresh(order)
        if switched:
            orders.confirm(session, order, now=now, config=config)
            record_sales(session, order, config, now=now)
            return "confirmed"
        if order.status == OrderStatus.CANCELLED:
            # Paid after the order expired (its stock is gone): give the money back.
            order.paid_at = now
            record_sales(session, order, config, now=now, cancelled_too=True)
            request_refund(session, order, order.total_cents, config,
                           reason=PAID_LATE_REASON, now=now)
            return "refund_late"
        return "unchanged"
    return apply_unsettled(session, payment, intent)


def apply_unsettled(session: Session, payment, intent) -> str:
    """An intent not (yet) paid, for an order's payment or an invoice's: 3-D Secure
    under way, canceled, or the last attempt failed."""
    status = _get(intent, "status")
    if status == "requires_action":
        payment.status = PaymentStatus.REQUIRES_ACTION
    elif status == "canceled":
        payment.status = PaymentStatus.CANCELED
    elif status in ("requires_payment_method", "requires_confirmation") and \
            _intent_error(intent):
        # Declined, or 3-D Secure failed (Stripe: requires_payment_method; localstripe
        # leaves it requires_confirmation): the buyer sees why and may try again.
        payment.status = PaymentStatus.FAILED
        payment.last_error = _intent_error(intent)[:500]
    else:
        return "unchanged"
    session.flush()
    return payment.status.value


def record_failure(session: Session, intent_id: str, message: str) -> None:
    """A declined attempt, as the page is told (the intent stays payable: retry)."""
    payment = session.scalar(select(Payment).where(Payment.intent_id == intent_id)) \
        or invoice_payment_by_intent(session, intent_id)
    if payment is not None and payment.status not in (PaymentStatus.SUCCEEDED,
                                                      PaymentStatus.CANCELED):
        payment.status = PaymentStatus.FAILED
        payment.last_error = message[:500]
        session.flush()


def refresh_from_stripe(session: Session, payment: Payment, config: Mapping, *,
                        now: datetime) -> str:
    """Retrieve the intent from Stripe (server side) and apply it."""
    intent = gateway.retrieve_payment_intent(config, payment.intent_id)
    return apply_intent(session, intent, config, now=now)


def cancel_or_retrieve(config: Mapping, intent_id: str):
    """Cancel an intent at Stripe, so that it can no longer be paid; when Stripe refuses
    (it succeeded, is processing, or was canceled already) ask it what the intent is.
    Returns the intent as Stripe now has it: apply it. Raises PaymentGatewayError when
    Stripe cannot be asked."""
    try:
        return gateway.cancel_payment_intent(config, intent_id)
    except gateway.PaymentGatewayError as exc:
        if exc.unreachable or exc.user_message != gateway.REFUSED:
            raise
    return gateway.retrieve_payment_intent(config, intent_id)


def reconcile(session: Session, config: Mapping, *, now: datetime, days: int = 3) -> dict:
    """Compare the intents Stripe holds for the last ``days`` with our payments and apply
    each (idempotent): an order whose webhook was lost while the site was down gets
    confirmed, a late payment of an expired order refunded, an invoice paid by card
    marked paid (its open payments touched in that window are retrieved too, however
    old their intent). The caller commits.
    Raises gateway.PaymentGatewayError when Stripe cannot be reached."""
    since = int(now.timestamp()) - days * 86400
    outcomes: dict[str, int] = {}
    seen: set[str] = set()
    for intent in gateway.list_payment_intents_since(config, since):
        seen.add(_get(intent, "id"))
        outcome = apply_intent(session, intent, config, now=now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # An invoice's intent is reused for as long as the invoice is unpaid, so it may be
    # older than the window: ask Stripe about the open ones the buyer used lately.
    open_ids = session.scalars(
        select(InvoicePayment.intent_id)
        .where(InvoicePayment.status.in_(OPEN_STATUSES), InvoicePayment.intent_id.is_not(None),
               InvoicePayment.updated_at >= now - timedelta(days=days))
        .order_by(InvoicePayment.id).limit(500)
    ).all()
    for intent_id in open_ids:
        if intent_id in seen:
            continue
        intent = gateway.retrieve_payment_intent(config, intent_id)
        outcome = apply_intent(session, intent, config, now=now)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def check_before_expiry(session: Session, config: Mapping, *, now: datetime) -> int:
    """Ask Stripe about the card orders whose hold ends now, before they expire: one
    paid while its webhook was lost is confirmed, not cancelled. Returns how many were
    confirmed. Stripe unreachable: nothing is asked, and the expiry waits (see jobs)."""
    payments = session.scalars(
        select(Payment).join(Order, Order.id == Payment.order_id)
        .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now,
               Payment.intent_id.is_not(None))
        .order_by(Payment.id).limit(100)
    ).all()
    confirmed = 0
    for payment in payments:
        intent = gateway.retrieve_payment_intent(config, payment.intent_id)
        if apply_intent(session, intent, config, now=now) == "confirmed":
            confirmed += 1
    return confirmed
