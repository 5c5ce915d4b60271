"""Refunds: recorded first, with their ledger lines, in the caller's transaction,
never more than what is left to refund; sent to Stripe after the commit (key
``refund-<id>``); one that could not be sent is retried by the scheduled jobs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from flask_babel import LazyString, format_currency
from flask_babel import lazy_gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.orders.models import Order, OrderLine, PaymentMethod, SubOrder
from marketplace.orders.signals import Refused
from marketplace.sqlite import write_intent
from marketplace.transactions import after_commit

from .. import gateway, signals
from ..models import (
    InvoicePayment,
    LedgerEntry,
    LedgerKind,
    Payment,
    Refund,
    RefundStatus,
)
from .ledger import add_entry, commission_bp, commission_of, reverse_entries
from .stripe_objects import get as _get

log = logging.getLogger(__name__)


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


def refundable_by_farm(session: Session, order: Order) -> list[tuple[SubOrder, int]]:
    """(sub-order, what can still be refunded on it) for each sub-order of a card-paid
    order: what that farm's part was paid, less what its ledger says was refunded on it
    (a refused refund's lines are reversed there, so FAILED refunds do not count), in
    one query. Nothing for an order not paid by card."""
    if order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return [(sub, 0) for sub in order.sub_orders]
    refunded = dict(session.execute(
        select(LedgerEntry.sub_order_id, func.sum(LedgerEntry.amount_cents))
        .join(Refund, Refund.id == LedgerEntry.refund_id)
        .where(LedgerEntry.order_id == order.id, LedgerEntry.kind == LedgerKind.REFUND,
               Refund.invoice_payment_id.is_(None))
        .group_by(LedgerEntry.sub_order_id)
    ).all())
    return [(sub, max(0, sub.subtotal_cents + int(refunded.get(sub.id) or 0)))
            for sub in order.sub_orders]


def line_refundable_cents(session: Session, line: OrderLine) -> int:
    """What can still be refunded on one order line: its total less the refunds that
    named it (not counting FAILED ones). The sub-order's own limit applies too."""
    return max(0, line.line_total_cents - _line_refunded(session, line))


def _line_refunded(session: Session, line: OrderLine) -> int:
    return int(session.scalar(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.order_line_id == line.id, Refund.status != RefundStatus.FAILED)
    ))


def _amount(cents: int, currency: str) -> LazyString:
    """An amount formatted when the message is shown, in the reader's language."""
    return LazyString(format_currency, cents / 100, currency)


def request_refund(session: Session, order: Order, amount_cents: int, config: Mapping, *,
                   reason: str, now: datetime, sub_order: SubOrder | None = None,
                   line: OrderLine | None = None) -> Refund:
    """Record a refund (sent to Stripe after the commit) and its ledger lines: on the
    sub-order (or line) given, never more than is still refundable there; else spread
    over the sub-orders in proportion to what each still has refundable. RefundError,
    saying what is still refundable for which farm, when the amount is above that."""

    if amount_cents <= 0:
        raise RefundError(_("Enter an amount above zero."))
    _lock_order(session, order)
    if line is not None and sub_order is None:
        sub_order = line.sub_order
    left = refundable_by_farm(session, order)
    if sub_order is not None:
        sub_left = next((cents for sub, cents in left if sub.id == sub_order.id), 0)
        if line is not None:
            line_left = min(sub_left, line_refundable_cents(session, line))
            if amount_cents > line_left:
                raise RefundError(_(
                    "At most %(amount)s can still be refunded for %(item)s (%(farm)s).",
                    amount=_amount(line_left, order.currency), item=line.product_name,
                    farm=sub_order.producer.name))
        if amount_cents > sub_left:
            raise RefundError(_("At most %(amount)s can still be refunded for %(farm)s.",
                                amount=_amount(sub_left, order.currency),
                                farm=sub_order.producer.name))
        shares = [(sub_order, amount_cents)]
    else:
        total_left = min(refundable_cents(session, order), sum(cents for _s, cents in left))
        if amount_cents > total_left:
            raise RefundError(_too_much(order, left, total_left))
        shares = allocate(amount_cents, left)
    refund = Refund(order_id=order.id, sub_order_id=sub_order.id if sub_order else None,
                    order_line_id=line.id if line else None, amount_cents=amount_cents,
                    currency=order.currency, reason=reason[:255], created_at=now)
    session.add(refund)
    session.flush()
    refund_entries(session, refund, shares, config, now=now)
    send_refunds_after_commit(session, config, now=now)
    signals.refund_recorded.send(refund, session=session, config=config, now=now)
    return refund


def _too_much(order: Order, left: list[tuple[SubOrder, int]], total_left: int):
    if total_left <= 0:
        return _("Nothing can still be refunded on this order.")
    # Names read now (the message may be shown after a rollback), amounts when shown.
    parts = [(sub.producer.name, cents) for sub, cents in left if cents > 0]
    currency = order.currency
    farms = LazyString(lambda: ", ".join(
        f"{name} {format_currency(cents / 100, currency)}" for name, cents in parts))
    return _("At most %(amount)s can still be refunded: %(farms)s.",
             amount=_amount(total_left, order.currency), farms=farms)


def allocate(amount_cents: int, left: list[tuple[SubOrder, int]]) -> list[tuple[SubOrder, int]]:
    """Spread ``amount_cents`` (at most the sum of ``left``) over the sub-orders in
    proportion to what each still has refundable, by largest remainder: the shares add
    up to the amount exactly and none is above what its sub-order has left."""
    weights = [(sub, cents) for sub, cents in left if cents > 0]
    total = sum(cents for _sub, cents in weights)
    if total <= 0:
        return []
    floors = [(sub, amount_cents * cents // total, amount_cents * cents % total)
              for sub, cents in weights]
    missing = amount_cents - sum(share for _sub, share, _rest in floors)
    # Largest remainders first; on a tie, the sub-order listed first.
    ranked = sorted(range(len(floors)), key=lambda i: (-floors[i][2], i))
    extra = set(ranked[:missing])
    return [(sub, share + (index in extra)) for index, (sub, share, _rest) in enumerate(floors)
            if share + (index in extra) > 0]


def send_refunds_after_commit(session: Session, config: Mapping, *, now: datetime) -> None:
    """Once the transaction that recorded refunds commits, send them to Stripe (in a
    transaction of their own); failures stay pending for the scheduled jobs (the
    buyer's action is done either way). ``now``: the time of the change that
    recorded them, which a refused refund's reversing ledger lines carry."""
    if not gateway.is_configured(config):
        return

    def send() -> None:
        with write_intent():
            _sent, failed = send_pending_refunds(session, config, now=now)
            session.commit()
        if failed:
            log.warning("%d refund(s) could not be sent to Stripe; retried later", failed)

    after_commit(session, "payments:send-refunds", send)


def _lock_order(session: Session, order: Order) -> None:
    """Serialise the refunds of one order: two at once cannot both take what is left
    (PostgreSQL row lock, held to the commit; SQLite writes are serial already)."""
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())


def refund_entries(session: Session, refund: Refund, shares, config: Mapping, *,
                    now: datetime) -> None:
    """The ledger lines of a refund: what each farm gives back, and the commission on
    it that the platform gives back to the farm.

    The commission given back is computed on everything refunded on the sub-order so
    far, less what was already given back (at the rate of the sale's commission line):
    refunds in small parts give back exactly the commission on their sum, never more
    than was taken."""
    for sub, share in shares:
        add_entry(session, key=f"refund:{refund.id}:{sub.id}", sub=sub, kind=LedgerKind.REFUND,
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
        add_entry(session, key=f"commission-refund:{refund.id}:{sub.id}", sub=sub,
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
    reverse_entries(session, entries, lambda entry: f"failed-{entry.entry_key}", now=now)


def _refund_failed(session: Session, refund: Refund, *, now: datetime) -> None:
    refund.status = RefundStatus.FAILED
    _reverse_refund_entries(session, refund, now=now)


def refund_line_short(session: Session, line: OrderLine, config: Mapping, *,
                      now: datetime, lowered: bool = False) -> Refund | None:
    """A card-paid line marked short: refund the units not supplied (what is not yet
    refunded for that line, by an earlier short or a credit note). RefundError when
    the short units were ``lowered`` below what was already refunded."""

    order = line.sub_order.order
    if order.payment_method != PaymentMethod.CARD or order.paid_at is None:
        return None
    _lock_order(session, order)
    due = line.line_total_cents - line.supplied_total_cents
    done = _line_refunded(session, line)
    if due < done and lowered:
        raise RefundError(_("%(item)s: the missing units were already refunded to the buyer.",
                            item=line.product_name))
    if due <= done:
        return None
    return request_refund(session, order, due - done, config, reason=SHORT_REASON,
                          now=now, sub_order=line.sub_order, line=line)


def apply_refund_object(session: Session, obj, *, now: datetime) -> str:
    refund = session.scalar(select(Refund).where(Refund.stripe_refund_id == _get(obj, "id")))
    if refund is None:
        return "unknown"
    status = _get(obj, "status")
    # Failed is final at Stripe (a refund may fail after it succeeded, never the other
    # way): a late "succeeded" event after "failed" changes nothing.
    if status == "succeeded" and refund.status == RefundStatus.PENDING:
        refund.status = RefundStatus.SUCCEEDED
    elif status in ("failed", "canceled") and refund.status != RefundStatus.FAILED:
        _refund_failed(session, refund, now=now)
    else:
        return "unchanged"
    session.flush()
    return refund.status.value


def send_pending_refunds(session: Session, config: Mapping, *, now: datetime,
                         limit: int = 50) -> tuple[int, int]:
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
                _refund_failed(session, refund, now=now)
            failed += 1
            continue
        refund.stripe_refund_id = _get(result, "id")
        refund.last_error = ""
        if _get(result, "status") == "succeeded":
            refund.status = RefundStatus.SUCCEEDED
        elif _get(result, "status") in ("failed", "canceled"):
            _refund_failed(session, refund, now=now)
        sent += 1
    session.flush()
    return sent, failed


# What the code stores in Refund.reason (English, for the records); refund_label says
# it to people. An admin's refund stores what the admin typed.
SHORT_REASON = "short"
CANCELLED_REASON = "cancelled"
PAID_LATE_REASON = "paid after the order expired"
CREDIT_NOTE_REASON = "credit note "


def cancelled_reason(reason: str = "") -> str:
    """The stored reason of a cancelled order's refund (with the cancellation's own)."""
    return f"{CANCELLED_REASON}: {reason}"[:255] if reason else CANCELLED_REASON


def refund_label(reason: str) -> LazyString | str:
    """A refund's reason as people read it, in their language: the units missing, a
    credit note, a cancelled order, a payment that came after the order expired; an
    admin's own words as typed. Stored reasons: "short", "credit note <number>" with
    ": <the farm's reason>" if it gave one, "cancelled" with ": <the cancellation's
    reason>" if any, "paid after the order expired", or an admin's text."""
    if reason == SHORT_REASON:
        return _("missing units")
    if reason == PAID_LATE_REASON:
        return _("payment received after the order expired")
    if reason.startswith(CREDIT_NOTE_REASON):
        number, _sep, why = reason[len(CREDIT_NOTE_REASON):].partition(": ")
        if why:  # the farm's reason for its credit note, in its words
            return _("credit note %(number)s (%(reason)s)", number=number, reason=why)
        return _("credit note %(number)s", number=number)
    if reason == CANCELLED_REASON:
        return _("order cancelled")
    if reason.startswith(CANCELLED_REASON + ": "):
        return _("order cancelled: %(reason)s", reason=reason[len(CANCELLED_REASON) + 2:])
    return reason


def payment_state(paid_cents: int, refunded_cents: int) -> LazyString | None:
    """A paid payment's state once refunds are counted: refunded in full, in part, or
    None (nothing refunded: the payment's own state says it)."""
    if paid_cents <= 0 or refunded_cents <= 0:
        return None
    if refunded_cents >= paid_cents:
        return _("Refunded")
    return _("Partially refunded")


def refunds_of(session: Session, order: Order) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.order_id == order.id)
                                .order_by(Refund.id)))
