"""Card payments, Stripe events, refunds and the farms' ledger.

Rules:
- One PaymentIntent per order, created with the idempotency key ``order-<id>`` for
  the order's server-computed total, stored on the order's ``Payment`` and reused:
  a double click or a retried checkout never makes a second charge.
- An order is confirmed only from what Stripe itself says about its intent (a
  verified webhook, or a server-side retrieve), through ``apply_intent``: one
  function, idempotent, that never moves a payment back (a late "failed" event
  after "succeeded" changes nothing).
- A refund is recorded first (with its ledger lines) in the caller's transaction,
  then sent to Stripe after the commit with the idempotency key ``refund-<id>``;
  one that could not be sent is retried by the scheduled jobs.
- Ledger lines are keyed by the event they record (``entry_key``, unique).
- A restaurant's invoice paid by card (issue 6): one PaymentIntent per invoice
  (key ``invoice-<id>``) on its ``InvoicePayment``, for what is still due (total less
  credit notes, computed here); ``apply_intent`` applies an intent of an invoice to
  it. The invoice is paid once (conditional updates), with the ledger lines
  ``invoice-sale:<invoice>`` and ``invoice-commission:<invoice>``. A farm marking
  the invoice paid by hand first cancels the open intent at Stripe (see
  ``cancel_or_retrieve``), so the restaurant never pays twice.

Plain functions with explicit arguments; they flush, never commit; network calls
(``gateway``) happen outside the functions that only touch the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.models import utcnow
from marketplace.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    SubOrder,
)
from marketplace.orders.signals import Refused, invoice_terms_of
from marketplace.sqlite import write_intent
from marketplace.transactions import after_commit

from . import gateway
from .models import (
    InvoicePayment,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)

log = logging.getLogger(__name__)

DEFAULT_COMMISSION_BP = 1000  # 10 %


def _get(obj, key, default=None):
    """A field of a Stripe object or of a plain dict (tests, stored payloads)."""
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


# Commission and ledger ---------------------------------------------------------------------

def commission_bp(producer, config: Mapping) -> int:
    """The platform's share in basis points: the farm's own rate, else the setting."""
    own = getattr(producer, "commission_bp", None)
    if own is not None:
        return own
    return int(config.get("COMMISSION_BP", DEFAULT_COMMISSION_BP))


def commission_of(amount_cents: int, bp: int) -> int:
    """Commission on an amount, rounded half up to the cent."""
    return (amount_cents * bp + 5000) // 10000


def _entry(session: Session, *, key: str, sub: SubOrder, kind: LedgerKind, amount_cents: int,
           now: datetime, bp: int = 0, refund: Refund | None = None) -> LedgerEntry | None:
    """Write one ledger line unless its key exists (an event applied twice)."""
    if amount_cents == 0:
        return None
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.entry_key == key)) is not None:
        return None
    entry = LedgerEntry(entry_key=key, producer_id=sub.producer_id, order_id=sub.order_id,
                        sub_order_id=sub.id, refund_id=refund.id if refund else None, kind=kind,
                        amount_cents=amount_cents, currency=sub.order.currency,
                        commission_bp=bp, created_at=now)
    session.add(entry)
    return entry


def record_sales(session: Session, order: Order, config: Mapping, *, now: datetime,
                 supplied: bool = False) -> None:
    """Sale and commission lines for each active sub-order (``supplied``: what the farm
    actually supplied, for an order paid at pickup; else the subtotal paid by card)."""
    for sub in order.active_sub_orders:
        amount = sub.supplied_cents if supplied else sub.subtotal_cents
        bp = commission_bp(sub.producer, config)
        _entry(session, key=f"sale:{sub.id}", sub=sub, kind=LedgerKind.SALE,
               amount_cents=amount, now=now, bp=bp)
        _entry(session, key=f"commission:{sub.id}", sub=sub, kind=LedgerKind.COMMISSION,
               amount_cents=-commission_of(amount, bp), now=now, bp=bp)
        if order.payment_method == PaymentMethod.AT_PICKUP:
            _entry(session, key=f"at-pickup:{sub.id}", sub=sub, kind=LedgerKind.PAID_AT_PICKUP,
                   amount_cents=-amount, now=now)
    session.flush()


# How to pay -------------------------------------------------------------------------------

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


# Card payment -------------------------------------------------------------------------------

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
    canceled; for an invoice's intent, see apply_invoice_intent."""
    from marketplace.orders import services as orders

    intent_id = _get(intent, "id")
    payment = session.scalar(select(Payment).where(Payment.intent_id == intent_id))
    if payment is None:
        invoice_payment = invoice_payment_by_intent(session, intent_id)
        if invoice_payment is None:
            return "unknown"
        return apply_invoice_intent(session, invoice_payment, intent, config, now=now)
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
            orders.confirm(session, order)
            record_sales(session, order, config, now=now)
            return "confirmed"
        if order.status == OrderStatus.CANCELLED:
            # Paid after the order expired (its stock is gone): give the money back.
            order.paid_at = now
            request_refund(session, order, order.total_cents, config,
                           reason="paid after the order expired", now=now)
            return "refund_late"
        return "unchanged"
    return _apply_unsettled(session, payment, intent)


def _apply_unsettled(session: Session, payment, intent) -> str:
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


# Invoices paid by card (issue 6) -----------------------------------------------------------

OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED)


class InvoicePaymentError(ValueError):
    """A card payment of an invoice that cannot start; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


ALREADY_PAID = "already_paid"
NOTHING_DUE = "nothing_due"
NOT_AN_INVOICE = "not_an_invoice"
AT_PICKUP = "at_pickup"


def invoice_payment_of(session: Session, invoice) -> InvoicePayment | None:
    return session.scalar(select(InvoicePayment).where(InvoicePayment.invoice_id == invoice.id))


def invoice_payment_by_intent(session: Session, intent_id) -> InvoicePayment | None:
    if not intent_id:
        return None
    return session.scalar(select(InvoicePayment).where(InvoicePayment.intent_id == intent_id))


def invoice_due_cents(session: Session, invoice) -> int:
    """What a card payment of the invoice is for: its total less its credit notes
    (computed here, never taken from the page); 0 once paid."""
    from marketplace.wholesale import invoices

    return invoices.balance_cents(session, invoice)


def check_invoice_payable(session: Session, invoice) -> int:
    """The amount due, or InvoicePaymentError when no card payment may start."""
    from marketplace.wholesale.invoice_models import InvoiceKind

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


def _lock_invoice(session: Session, invoice) -> None:
    """Serialise the card payment's start, its application and the farm's manual mark
    on one invoice (PostgreSQL row lock; SQLite writes are serial already)."""
    from marketplace.wholesale.invoice_models import Invoice

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
    payment = invoice_payment_of(session, invoice)
    if payment is None:
        payment = InvoicePayment(invoice_id=invoice.id, amount_cents=_amount(intent) or due,
                                 currency=invoice.currency)
        try:
            with session.begin_nested():
                session.add(payment)
        except IntegrityError:
            payment = invoice_payment_of(session, invoice)
    if not payment.intent_id or (replacing and payment.intent_id == replacing):
        payment.intent_id = _get(intent, "id")
        payment.client_secret = _get(intent, "client_secret")
        payment.amount_cents = _amount(intent) or due
        payment.status = PaymentStatus.CREATED
        payment.last_error = ""
    session.flush()
    return payment


def set_invoice_amount(session: Session, payment: InvoicePayment, amount_cents: int) -> None:
    """Record the amount the intent was changed to at Stripe (a credit note meanwhile)."""
    if payment.status != PaymentStatus.SUCCEEDED:
        payment.amount_cents = amount_cents
        session.flush()


def _amount(intent) -> int | None:
    # Stripe sends integers; localstripe answers an updated amount as a string.
    value = _get(intent, "amount_received") or _get(intent, "amount")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record_invoice_sale(session: Session, invoice, amount_cents: int, config: Mapping, *,
                        now: datetime) -> None:
    """The money the platform now holds for the farm: the sale and the commission on
    the invoice's sub-order, keyed by the invoice (never the order's keys, never twice)."""
    sub = session.get(SubOrder, invoice.sub_order_id)
    bp = commission_bp(sub.producer, config)
    _entry(session, key=f"invoice-sale:{invoice.id}", sub=sub, kind=LedgerKind.SALE,
           amount_cents=amount_cents, now=now, bp=bp)
    _entry(session, key=f"invoice-commission:{invoice.id}", sub=sub,
           kind=LedgerKind.COMMISSION, amount_cents=-commission_of(amount_cents, bp),
           now=now, bp=bp)
    session.flush()


def apply_invoice_intent(session: Session, payment: InvoicePayment, intent, config: Mapping,
                         *, now: datetime) -> str:
    """``apply_intent`` for an invoice's intent. Returns invoice_paid, unchanged,
    amount_mismatch, paid_twice (Stripe took money for an invoice the farm had marked
    paid by hand: logged, to be refunded by an admin), failed, requires_action, canceled."""
    from marketplace.wholesale import invoices
    from marketplace.wholesale.invoice_models import Invoice

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
            record_invoice_sale(session, invoice, amount, config, now=now)
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
    return _apply_unsettled(session, payment, intent)


def open_invoice_intent(session: Session, invoice) -> str | None:
    """The id of the invoice's intent the buyer may still pay, if any."""
    payment = invoice_payment_of(session, invoice)
    if payment is not None and payment.intent_id and payment.status in OPEN_STATUSES:
        return payment.intent_id
    return None


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


# Webhooks -----------------------------------------------------------------------------------

def handle_event(session: Session, event, config: Mapping, *, now: datetime) -> str:
    """Apply a verified Stripe event once: its id is stored in the same transaction as
    its effect (a savepoint guards the insert), so a repeat changes nothing."""
    event_id = _get(event, "id")
    event_type = str(_get(event, "type", ""))
    obj = _get(_get(event, "data", {}), "object", {})
    try:
        with session.begin_nested():
            session.add(StripeEvent(id=event_id, type=event_type[:80],
                                    object_id=str(_get(obj, "id", ""))[:255], received_at=now))
    except IntegrityError:
        return "duplicate"
    if event_type.startswith("payment_intent."):
        return apply_intent(session, obj, config, now=now)
    if event_type.startswith("refund.") or event_type == "charge.refund.updated":
        return apply_refund_object(session, obj)
    return "ignored"


# Refunds ------------------------------------------------------------------------------------

class RefundError(Refused):
    """A refund that cannot be made: ``message`` says why (lazy string). A Refused of
    orders' signals, so that an order change it refuses is rolled back with the reason."""


def refunded_cents(session: Session, order_id: int) -> int:
    return int(session.scalar(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.order_id == order_id, Refund.status != RefundStatus.FAILED)
    ))


def refundable_cents(session: Session, order: Order) -> int:
    if order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return 0
    return order.total_cents - refunded_cents(session, order.id)


def request_refund(session: Session, order: Order, amount_cents: int, config: Mapping, *,
                   reason: str, now: datetime, sub_order: SubOrder | None = None,
                   line: OrderLine | None = None) -> Refund:
    """Record a refund (sent to Stripe after the commit) and its ledger lines: on the
    sub-order given, else spread over the order's sub-orders in proportion."""
    from flask_babel import lazy_gettext as _

    if amount_cents <= 0:
        raise RefundError(_("Enter an amount above zero."))
    _lock_order(session, order)
    left = refundable_cents(session, order)
    if amount_cents > left:
        raise RefundError(_("At most %(amount)s can still be refunded on this order.",
                            amount=f"{left / 100:.2f} €"))
    refund = Refund(order_id=order.id, sub_order_id=sub_order.id if sub_order else None,
                    order_line_id=line.id if line else None, amount_cents=amount_cents,
                    currency=order.currency, reason=reason[:255], created_at=now)
    session.add(refund)
    session.flush()
    _refund_entries(session, refund, _split(order, amount_cents, sub_order), config, now=now)
    send_refunds_after_commit(session, config)
    return refund


def send_refunds_after_commit(session: Session, config: Mapping) -> None:
    """Once the transaction that recorded refunds commits, send them to Stripe (in a
    transaction of their own); failures stay pending for the scheduled jobs (the
    buyer's action is done either way)."""
    if not gateway.is_configured(config):
        return

    def send() -> None:
        with write_intent():
            _sent, failed = send_pending_refunds(session, config)
            session.commit()
        if failed:
            log.warning("%d refund(s) could not be sent to Stripe; retried later", failed)

    after_commit(session, "payments:send-refunds", send)


def _lock_order(session: Session, order: Order) -> None:
    """Serialise the refunds of one order: two at once cannot both take what is left
    (PostgreSQL row lock, held to the commit; SQLite writes are serial already)."""
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())


def _refund_entries(session: Session, refund: Refund, shares, config: Mapping, *,
                    now: datetime) -> None:
    """The ledger lines of a refund: what each farm gives back, and the commission on
    it that the platform gives back to the farm.

    The commission given back is computed on everything refunded on the sub-order so
    far, less what was already given back (at the rate of the sale's commission line):
    refunds in small parts give back exactly the commission on their sum, never more
    than was taken."""
    for sub, share in shares:
        _entry(session, key=f"refund:{refund.id}:{sub.id}", sub=sub, kind=LedgerKind.REFUND,
               amount_cents=-share, now=now, refund=refund)
        session.flush()
        totals = dict(session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.sub_order_id == sub.id,
                   LedgerEntry.kind.in_((LedgerKind.REFUND, LedgerKind.COMMISSION_REFUND)))
            .group_by(LedgerEntry.kind)
        ).all())
        sale_bp = session.scalar(
            select(func.max(LedgerEntry.commission_bp))
            .where(LedgerEntry.sub_order_id == sub.id, LedgerEntry.kind == LedgerKind.COMMISSION))
        bp = sale_bp if sale_bp is not None else commission_bp(sub.producer, config)
        refunded = -int(totals.get(LedgerKind.REFUND) or 0)
        given_back = int(totals.get(LedgerKind.COMMISSION_REFUND) or 0)
        _entry(session, key=f"commission-refund:{refund.id}:{sub.id}", sub=sub,
               kind=LedgerKind.COMMISSION_REFUND,
               amount_cents=max(0, commission_of(refunded, bp) - given_back),
               now=now, bp=bp, refund=refund)
    session.flush()


def _reverse_refund_entries(session: Session, refund: Refund, *, now: datetime) -> None:
    """A refund Stripe refused (or that failed later): the farm did not give that money
    back after all, so each of its ledger lines is cancelled by an opposite line."""
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.refund_id == refund.id,
                                  LedgerEntry.kind.in_((LedgerKind.REFUND,
                                                        LedgerKind.COMMISSION_REFUND)))
        .order_by(LedgerEntry.id)
    ).all()
    for entry in entries:
        if session.scalar(select(LedgerEntry.id).where(
                LedgerEntry.entry_key == f"failed-{entry.entry_key}")) is not None:
            continue
        session.add(LedgerEntry(
            entry_key=f"failed-{entry.entry_key}", producer_id=entry.producer_id,
            order_id=entry.order_id, sub_order_id=entry.sub_order_id, refund_id=refund.id,
            kind=entry.kind, amount_cents=-entry.amount_cents, currency=entry.currency,
            commission_bp=entry.commission_bp, created_at=now))
    session.flush()


def _refund_failed(session: Session, refund: Refund) -> None:
    refund.status = RefundStatus.FAILED
    _reverse_refund_entries(session, refund, now=utcnow())


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
    from marketplace.wholesale.invoice_models import Invoice

    invoice = session.get(Invoice, note.credits_invoice_id)
    if invoice is None:
        return []
    sub = session.get(SubOrder, invoice.sub_order_id)
    reason = f"credit note {note.display_number}"
    payment = invoice_payment_of(session, invoice)
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
        _refund_entries(session, refund, [(sub, amount)], config, now=now)
        send_refunds_after_commit(session, config)
        return [refund]
    order = session.get(Order, invoice.order_id)
    if not order_payment or order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return []
    refunds = []
    for line in note.lines:
        amount = min(line.total_cents, refundable_cents(session, order))
        if amount <= 0:
            break
        order_line = session.get(OrderLine, line.order_line_id) if line.order_line_id else None
        refunds.append(request_refund(session, order, amount, config, reason=reason, now=now,
                                      sub_order=sub, line=order_line))
    return refunds


def _split(order: Order, amount_cents: int, sub_order: SubOrder | None):
    if sub_order is not None:
        return [(sub_order, amount_cents)]
    subs = [s for s in order.sub_orders if s.subtotal_cents > 0]
    total = sum(s.subtotal_cents for s in subs)
    shares, given = [], 0
    for index, sub in enumerate(subs):
        share = (amount_cents - given if index == len(subs) - 1
                 else amount_cents * sub.subtotal_cents // total)
        shares.append((sub, share))
        given += share
    return shares


def refund_line_short(session: Session, line: OrderLine, config: Mapping, *,
                      now: datetime, lowered: bool = False) -> Refund | None:
    """A card-paid line marked short: refund the units not supplied (what is not yet
    refunded for that line, by an earlier short or a credit note). RefundError when
    the short units were ``lowered`` below what was already refunded."""
    from flask_babel import lazy_gettext as _

    order = line.sub_order.order
    if order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return None
    _lock_order(session, order)
    due = line.line_total_cents - line.supplied_total_cents
    done = int(session.scalar(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.order_line_id == line.id, Refund.status != RefundStatus.FAILED)
    ))
    if due < done and lowered:
        raise RefundError(_("%(item)s: the missing units were already refunded to the buyer.",
                            item=line.product_name))
    if due <= done:
        return None
    return request_refund(session, order, due - done, config, reason="short",
                          now=now, sub_order=line.sub_order, line=line)


def apply_refund_object(session: Session, obj) -> str:
    refund = session.scalar(select(Refund).where(Refund.stripe_refund_id == _get(obj, "id")))
    if refund is None:
        return "unknown"
    status = _get(obj, "status")
    # Failed is final at Stripe (a refund may fail after it succeeded, never the other
    # way): a late "succeeded" event after "failed" changes nothing.
    if status == "succeeded" and refund.status == RefundStatus.PENDING:
        refund.status = RefundStatus.SUCCEEDED
    elif status in ("failed", "canceled") and refund.status != RefundStatus.FAILED:
        _refund_failed(session, refund)
    else:
        return "unchanged"
    session.flush()
    return refund.status.value


def send_pending_refunds(session: Session, config: Mapping, *, limit: int = 50) -> tuple[int, int]:
    """Send recorded refunds to Stripe (each with its own idempotency key, so a retry
    after a lost answer refunds once). The caller commits. Returns (sent, failed)."""
    refunds = session.scalars(
        select(Refund).where(Refund.status == RefundStatus.PENDING,
                             Refund.stripe_refund_id.is_(None))
        .order_by(Refund.id).limit(limit)
    ).all()
    sent = failed = 0
    for refund in refunds:
        if refund.invoice_payment_id is not None:
            payment = session.get(InvoicePayment, refund.invoice_payment_id)
        else:
            payment = session.scalar(select(Payment).where(Payment.order_id == refund.order_id))
        refund.attempts += 1
        try:
            result = gateway.create_refund(
                config, payment_intent_id=payment.intent_id, amount_cents=refund.amount_cents,
                idempotency_key=f"refund-{refund.id}",
                metadata={"order_id": str(refund.order_id), "refund_id": str(refund.id)},
            )
        except gateway.PaymentGatewayError as exc:
            refund.last_error = str(exc)[:500]
            if not exc.unreachable:  # refused by Stripe: retrying would not help
                _refund_failed(session, refund)
            failed += 1
            continue
        refund.stripe_refund_id = _get(result, "id")
        refund.last_error = ""
        if _get(result, "status") == "succeeded":
            refund.status = RefundStatus.SUCCEEDED
        elif _get(result, "status") in ("failed", "canceled"):
            _refund_failed(session, refund)
        sent += 1
    session.flush()
    return sent, failed


def refunds_of(session: Session, order: Order) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.order_id == order.id)
                                .order_by(Refund.id)))


# Reconcile ------------------------------------------------------------------------------------

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


# The farm's ledger ------------------------------------------------------------------------

def month_bounds(year: int, month: int, tz: str) -> tuple[datetime, datetime]:
    """The month in the site's time zone, as UTC instants [start, end)."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def ledger_totals(session: Session, producer_id: int, start: datetime,
                  end: datetime) -> dict[LedgerKind, int]:
    """Sum of each kind of line for the farm over [start, end), in one query."""
    rows = session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.producer_id == producer_id, LedgerEntry.created_at >= start,
               LedgerEntry.created_at < end)
        .group_by(LedgerEntry.kind)
    ).all()
    return {LedgerKind(kind): int(total) for kind, total in rows}


def ledger_entries(session: Session, producer_id: int, start: datetime,
                   end: datetime) -> list[LedgerEntry]:
    return list(session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.producer_id == producer_id, LedgerEntry.created_at >= start,
               LedgerEntry.created_at < end)
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ))


# Stripe Connect transfers -------------------------------------------------------------------

def _due(*where):
    """(sub-order, net, farm account) of every collected sub-order of a card-paid order
    (or of an order on invoice whose invoice was paid by card: it has ledger lines
    only then) with no transfer yet and something to pay, oldest first. The net is the
    sum of the sub-order's ledger lines (sale - commission - refunds + commission
    given back)."""
    from marketplace.producers.models import Producer

    transferred = select(LedgerEntry.sub_order_id).where(
        LedgerEntry.kind == LedgerKind.TRANSFER).scalar_subquery()
    return (
        select(SubOrder, func.sum(LedgerEntry.amount_cents).label("net"),
               Producer.stripe_account_id)
        .join(Order, Order.id == SubOrder.order_id)
        .join(Producer, Producer.id == SubOrder.producer_id)
        .join(LedgerEntry, LedgerEntry.sub_order_id == SubOrder.id)
        .where(SubOrder.status == OrderStatus.COLLECTED,
               Order.payment_method.in_((PaymentMethod.CARD, PaymentMethod.INVOICE)),
               SubOrder.id.not_in(transferred), *where)
        .group_by(SubOrder.id, Producer.stripe_account_id)
        # Nothing to pay (all short, all refunded): never due, so it cannot hold the
        # first places of the list for ever.
        .having(func.sum(LedgerEntry.amount_cents) > 0)
        .order_by(SubOrder.id)
    )


def transfers_due(session: Session, *, limit: int = 100) -> list[tuple[SubOrder, int, str]]:
    """What Stripe Connect pays: the due sub-orders (``_due``) of farms with a Connect
    account, in one query."""
    from marketplace.producers.models import Producer

    rows = session.execute(_due(Producer.stripe_account_id.is_not(None)).limit(limit)).all()
    return [(sub, int(net), account) for sub, net, account in rows]


def _bank_transfer_farms(config: Mapping):
    """Farms paid by bank transfer: all of them, or those without a Connect account
    when Connect pays the others."""
    from marketplace.producers.models import Producer

    if config.get("STRIPE_CONNECT_ENABLED"):
        return [Producer.stripe_account_id.is_(None)]
    return []


def payouts_due(session: Session, config: Mapping) -> list[tuple]:
    """(farm, amount owed, sub-orders) for each farm the platform owes money to by bank
    transfer, largest first: one query."""
    from marketplace.producers.models import Producer

    due = _due(*_bank_transfer_farms(config)).subquery()
    rows = session.execute(
        select(Producer, func.sum(due.c.net), func.count())
        .join(due, due.c.producer_id == Producer.id)
        .group_by(Producer.id)
        .order_by(func.sum(due.c.net).desc(), Producer.name)
    ).all()
    return [(farm, int(amount), int(count)) for farm, amount, count in rows]


class PayoutError(Exception):
    """The amount owed is not the one the admin saw (it changed, or was recorded)."""

    def __init__(self, owed: int):
        super().__init__("payout refused")
        self.owed = owed


def record_bank_transfer(session: Session, farm, amount_cents: int, config: Mapping, *,
                         now: datetime) -> int:
    """The admin sent ``amount_cents`` to the farm by bank transfer: a TRANSFER line for
    each due sub-order (key ``transfer:<sub-order>``, the one Connect uses, so nothing is
    ever paid both ways or twice). PayoutError when what is owed is not that amount
    (a sub-order collected meanwhile, or the same transfer recorded twice): the admin
    checks again. Returns the number of sub-orders settled."""
    from marketplace.producers.models import Producer

    # One recording at a time per farm (PostgreSQL; SQLite writes are serial).
    session.execute(select(Producer.id).where(Producer.id == farm.id).with_for_update())
    rows = session.execute(_due(Producer.id == farm.id, *_bank_transfer_farms(config))).all()
    owed = sum(int(net) for _, net, _ in rows)
    if not rows or owed != amount_cents:
        raise PayoutError(owed)
    for sub, net, _account in rows:
        entry = _entry(session, key=f"transfer:{sub.id}", sub=sub, kind=LedgerKind.TRANSFER,
                       amount_cents=-int(net), now=now)
        if entry is not None:
            entry.commission_bp = 0
    session.flush()
    return len(rows)


def send_due_transfers(session: Session, config: Mapping, *, now: datetime) -> tuple[int, int]:
    """Pay each farm its net for the sub-orders handed over, one transfer per sub-order
    (transfer group ``order-<id>``: one cart, several farms), with the idempotency key
    ``transfer-sub-<id>`` so a retry after a lost answer pays once. The ledger gets a
    TRANSFER line. Off unless STRIPE_CONNECT_ENABLED; the caller commits."""
    if not config.get("STRIPE_CONNECT_ENABLED"):
        return 0, 0
    sent = failed = 0
    for sub, net, account in transfers_due(session):
        try:
            transfer = gateway.create_transfer(
                config, amount_cents=net, currency=sub.order.currency,
                destination_account=account, transfer_group=f"order-{sub.order_id}",
                idempotency_key=f"transfer-sub-{sub.id}",
                metadata={"order_id": str(sub.order_id), "sub_order_id": str(sub.id)})
        except gateway.PaymentGatewayError as exc:
            log.warning("transfer for sub-order %s: %s", sub.id, exc)
            failed += 1
            continue
        entry = _entry(session, key=f"transfer:{sub.id}", sub=sub, kind=LedgerKind.TRANSFER,
                       amount_cents=-net, now=now)
        if entry is not None:
            entry.commission_bp = 0
        log.info("transfer %s: %s cents to %s", _get(transfer, "id"), net, account)
        sent += 1
    session.flush()
    return sent, failed
