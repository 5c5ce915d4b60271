"""The e-mails of an order's life, one function per event, and the reminders.

Each function renders a plain-text e-mail in the buyer's language (templates/mail/),
with times in the site's time zone, and queues it in the caller's transaction under
a key that makes it unique: applying the same event twice sends one e-mail. Each
returns the queued message, or None when that e-mail was already queued.
They need a Flask app context (templates, translations, settings), not a request.

What the buyer's money does is told once: the ready e-mail states the refund of the
units a farm could not supply, the cancellation e-mail the refund of the whole order,
and ``refund_recorded`` any other refund (receivers.py says which refund is whose).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from flask_babel import force_locale, format_currency, format_datetime, ngettext
from flask_babel import gettext as _
from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from marketplace.orders.models import Order, OrderLine, OrderStatus, PaymentMethod, SubOrder
from marketplace.payments import services as payments
from marketplace.payments.models import Refund, RefundStatus
from marketplace.payments.services.delays import REFUND_DELAY
from marketplace.pickup.models import PickupSlot

from .models import OutboxMessage
from .preferences import BUYER_REMINDER, switched_off
from .services import Attachment, already_queued, queue

SLOT_FORMAT = "EEEE d MMMM, HH:mm"
REMINDER_KEY = "order-reminder:"
READY_KEY = "sub-order-ready:"
CANCELLED_KEY = "order-cancelled:"
REFUND_KEY = "refund:"
# Orders reminded: those whose slot starts between now + start and now + end. Run
# once a day (e.g. at 18:00) to remind every order the day before.
REMINDER_WINDOW = (timedelta(hours=12), timedelta(hours=36))
# The scheduled jobs (every minute) remind from this local hour the day before.
REMINDER_HOUR = 18
REMINDED_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.READY)


@contextmanager
def language_of(user) -> Iterator[None]:
    config = current_app.config
    locale = user.locale if user.locale in config["LANGUAGES"] else None
    with force_locale(locale or config["BABEL_DEFAULT_LOCALE"]):
        yield


def public_url(endpoint: str, **values) -> str:
    """A page's address at PUBLIC_URL (commands have no request to take a host from)."""
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                       url_scheme=parts.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def order_url(order_id: int) -> str:
    """The order's page at PUBLIC_URL."""
    return public_url("checkout.order", order_id=order_id)


def _when(slot: PickupSlot) -> str:
    return format_datetime(slot.starts_at, SLOT_FORMAT)


def _queue(session: Session, order: Order, key: str, make_subject: Callable[[], str],
           template: str, *, attachments: tuple[Attachment, ...] = (),
           **context) -> OutboxMessage | None:
    buyer = order.buyer
    # The subject is made here too: gettext must run in the buyer's language.
    with language_of(buyer):
        subject = make_subject()
        body = render_template(template, order=order, buyer=buyer, slot=order.pickup_slot,
                               order_url=order_url(order.id), refund_delay=REFUND_DELAY,
                               **context)
    return queue(session, to=buyer.email, subject=subject, body=body, key=key,
                 attachments=attachments)


def order_confirmed(session: Session, order: Order) -> OutboxMessage | None:
    return _queue(
        session, order, f"order-confirmed:{order.id}",
        lambda: _("Order %(number)s confirmed", number=order.id),
        "mail/order_confirmed.txt",
    )


def sub_order_ready(session: Session, sub_order: SubOrder) -> OutboxMessage | None:
    """One farm's part of an order is ready to collect: what is ready (the units
    supplied), apart from it what is missing, and what that changes for the buyer's
    money: refunded to the card (the short lines' refunds, recorded before this
    e-mail), or less to pay at the counter."""
    order = sub_order.order
    short_lines = [line for line in sub_order.lines if line.quantity_short]
    return _queue(
        session, order, f"{READY_KEY}{sub_order.id}",
        lambda: _("Order %(number)s: your items from %(producer)s are ready",
                  number=order.id, producer=sub_order.producer.name),
        "mail/sub_order_ready.txt", sub_order=sub_order,
        ready_lines=[line for line in sub_order.lines if line.supplied_quantity],
        short_lines=short_lines,
        refunded_cents=_refunded_for_lines(session, short_lines),
        to_pay_cents=amount_to_pay_at_pickup(order),
    )


def _refunded_for_lines(session: Session, lines: list[OrderLine]) -> int:
    if not lines:
        return 0
    return int(session.scalar(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.order_line_id.in_([line.id for line in lines]),
               Refund.status != RefundStatus.FAILED)
    ))


def amount_to_pay_at_pickup(order: Order) -> int:
    """What the buyer still hands over at the counter (0 for an order paid by card)."""
    if order.payment_method != PaymentMethod.AT_PICKUP or order.is_paid:
        return 0
    return order.amount_due_cents


def order_reminder(session: Session, order: Order, *,
                   to_pay_cents: int | None = None) -> OutboxMessage | None:
    """The day before: what to collect, where, when, and what is left to pay at
    pickup (``to_pay_cents``, by default ``amount_to_pay_at_pickup``; 0: paid)."""
    if to_pay_cents is None:
        to_pay_cents = amount_to_pay_at_pickup(order)
    return _queue(
        session, order, f"{REMINDER_KEY}{order.id}",
        lambda: _("Reminder: collect order %(number)s on %(when)s",
                  number=order.id, when=_when(order.pickup_slot)),
        "mail/order_reminder.txt", to_pay_cents=to_pay_cents,
    )


def order_cancelled(session: Session, order: Order, reason: str = "") -> OutboxMessage | None:
    """The order is cancelled: what the cancellation gives back to the card (payments
    and wholesale recorded those refunds before this e-mail), apart from what earlier
    refunds, each told by its own e-mail, gave back; or nothing was charged."""
    refunds = [refund for refund in payments.refunds_of(session, order)
               if refund.status != RefundStatus.FAILED]
    told = _told_refunds(session, refunds)
    return _queue(
        session, order, f"{CANCELLED_KEY}{order.id}",
        lambda: _("Order %(number)s cancelled", number=order.id),
        "mail/order_cancelled.txt", reason=reason,
        refunded_cents=sum(r.amount_cents for r in refunds if r.id not in told),
        earlier_cents=sum(r.amount_cents for r in refunds if r.id in told),
    )


def _told_refunds(session: Session, refunds: list[Refund]) -> set[int]:
    """The refunds another e-mail told already: by one of their own, or (the missing
    units') by the ready e-mail of their farm's part."""
    if not refunds:
        return set()
    keys = set(session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.in_(
            [f"{REFUND_KEY}{r.id}" for r in refunds]
            + [f"{READY_KEY}{r.sub_order_id}" for r in refunds if r.order_line_id]))))
    told = set()
    for refund in refunds:
        if f"{REFUND_KEY}{refund.id}" in keys:
            told.add(refund.id)
        elif refund.order_line_id and refund.reason == payments.SHORT_REASON and \
                f"{READY_KEY}{refund.sub_order_id}" in keys:
            told.add(refund.id)
    return told


def refund_recorded(session: Session, refund: Refund) -> OutboxMessage | None:
    """A refund the buyer is not told of by another e-mail (receivers.py says which):
    its amount, what it is for (the farm, the line, the admin's reason) and when it
    reaches the card. One e-mail per refund."""
    order = refund.order
    if order.status == OrderStatus.CANCELLED and \
            not already_queued(session, f"{CANCELLED_KEY}{order.id}"):
        return None  # the cancellation e-mail, queued next, states it
    line = session.get(OrderLine, refund.order_line_id) if refund.order_line_id else None
    if line is not None and line.quantity_short and \
            not already_queued(session, f"{READY_KEY}{line.sub_order_id}"):
        return None  # the ready e-mail, queued next, states it
    sub = session.get(SubOrder, refund.sub_order_id) if refund.sub_order_id else None
    short = line is not None and refund.reason == payments.SHORT_REASON
    # Our own reasons (missing units, a cancelled order's) say nothing more than the
    # purpose; an admin's or a credit note's does, in the buyer's words (refund_label).
    told = order.status == OrderStatus.CANCELLED or short
    return _queue(
        session, order, f"{REFUND_KEY}{refund.id}",
        lambda: _("Order %(number)s: %(amount)s refunded", number=order.id,
                  amount=format_currency(refund.amount_cents / 100, refund.currency)),
        "mail/refund.txt", refund=refund,
        purpose=lambda: _refund_purpose(order, sub, line if not short else None,
                                        short_line=line if short else None,
                                        amount_cents=refund.amount_cents),
        reason=None if told else lambda: str(payments.refund_label(refund.reason)),
    )


def _refund_purpose(order: Order, sub: SubOrder | None, line: OrderLine | None, *,
                    short_line: OrderLine | None = None, amount_cents: int = 0) -> str:
    """What a refund is for, in the buyer's words (called in the buyer's language):
    for missing units, the units this refund covers (more missing units than an
    earlier refund covered are told as such)."""
    if order.status == OrderStatus.CANCELLED:
        return _("your payment for an order that was already cancelled")
    if short_line is not None:
        item = f"{short_line.product_name} ({short_line.variant_label})"
        producer = short_line.sub_order.producer.name
        units = amount_cents // short_line.unit_price_cents \
            if short_line.unit_price_cents else short_line.quantity_short
        if 0 < units < short_line.quantity_short:
            return ngettext("%(num)d more missing unit of %(item)s from %(producer)s "
                            "(%(total)d missing in all)",
                            "%(num)d more missing units of %(item)s from %(producer)s "
                            "(%(total)d missing in all)", units, item=item,
                            producer=producer, total=short_line.quantity_short)
        return ngettext("%(num)d × %(item)s from %(producer)s, which the farm could not "
                        "supply", "%(num)d × %(item)s from %(producer)s, which the farm "
                        "could not supply", short_line.quantity_short, item=item,
                        producer=producer)
    if line is not None:
        item = f"{line.product_name} ({line.variant_label})"
        return _("%(item)s from %(producer)s", item=item, producer=line.sub_order.producer.name)
    if sub is not None:
        return _("your items from %(producer)s", producer=sub.producer.name)
    return ""  # the whole order: the first sentence says so already


def slot_moved(session: Session, order: Order, old_slot: PickupSlot, new_slot: PickupSlot,
               reason: str = "") -> OutboxMessage | None:
    """The order moved from ``old_slot`` to ``new_slot`` (time, or point, or both).

    The key names the move itself, not only where the order ends up: both slots and the
    moment of the move, which is the order's ``updated_at`` as the UPDATE that moved it
    set it (fulfilment.move_orders refreshes the order before telling its buyer). So an
    order moved A→B, B→A, then A→B again gets three e-mails, and one move told twice
    (a retry) still gets one."""
    moved_at = order.updated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
    return _queue(
        session, order, f"slot-moved:{order.id}:{old_slot.id}:{new_slot.id}:{moved_at}",
        lambda: _("Order %(number)s: new pickup time", number=order.id),
        "mail/slot_moved.txt", old_slot=old_slot, new_slot=new_slot, reason=reason,
    )


def pay_url(order_id: int) -> str:
    """The order's card payment page at PUBLIC_URL."""
    return public_url("payments.pay", order_id=order_id)


def standing_order_to_pay(session: Session, order: Order) -> OutboxMessage | None:
    """The standing order job placed this order for card payment: the restaurant pays
    it from the link before ``expires_at``, or it is cancelled and its items go back."""
    return _queue(
        session, order, f"standing-to-pay:{order.id}",
        lambda: _("Standing order %(number)s: pay it by card", number=order.id),
        "mail/standing_to_pay.txt", pay_url=pay_url(order.id),
    )


# Reminders --------------------------------------------------------------------------------

def reminders_due(session: Session, now: datetime, *,
                  window: tuple[timedelta, timedelta] = REMINDER_WINDOW) -> list[Order]:
    """Confirmed or ready orders whose slot starts within ``window`` of ``now`` and
    that have no reminder queued yet, in one query (buyer, slot and point loaded)."""
    start, end = window
    reminder_key = literal(REMINDER_KEY) + cast(Order.id, String)
    return list(session.scalars(
        select(Order)
        .join(Order.pickup_slot)
        .where(Order.status.in_(REMINDED_STATUSES),
               PickupSlot.starts_at >= now + start,
               PickupSlot.starts_at < now + end,
               ~exists().where(OutboxMessage.dedupe_key == reminder_key))
        .options(contains_eager(Order.pickup_slot).joinedload(PickupSlot.pickup_point),
                 joinedload(Order.buyer))
        .order_by(PickupSlot.starts_at, Order.id)
    ))


def day_before_window(now: datetime, tz: str, *, hour: int = REMINDER_HOUR
                      ) -> tuple[timedelta, timedelta] | None:
    """The window of the scheduled jobs' reminders: from ``hour`` (local time), the
    slots of the next calendar day, so a Saturday morning slot is reminded on Friday
    evening, not on Thursday; None before that hour."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if local.hour < hour:
        return None
    start = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    end = datetime.combine(local.date() + timedelta(days=2), time(0), tzinfo=zone)
    return start - now, end - now


def send_reminders(session: Session, now: datetime, *,
                   window: tuple[timedelta, timedelta] = REMINDER_WINDOW) -> int:
    """Queue the reminder of every order due; returns how many were queued."""
    orders = reminders_due(session, now, window=window)
    off = switched_off(session, [order.buyer_id for order in orders], BUYER_REMINDER)
    orders = [order for order in orders if order.buyer_id not in off]
    if not orders:
        return 0
    # What each e-mail lists, in two queries rather than a few per order.
    session.scalars(
        select(Order).where(Order.id.in_([order.id for order in orders]))
        .options(selectinload(Order.sub_orders).options(
            selectinload(SubOrder.lines), joinedload(SubOrder.producer)))
    ).all()
    return sum(1 for order in orders if order_reminder(session, order) is not None)


# Documents ---------------------------------------------------------------------------------

def credit_note_issued(session: Session, order: Order, *, note_id: int, number: str,
                       farm: str, amount_cents: int, due_cents: int, paid: bool,
                       reason: str = "", pdf: Attachment | None = None
                       ) -> OutboxMessage | None:
    """A farm issued a credit note on an invoice of the order that was not paid by card
    (one paid by card is told as a refund): what is left to pay on the invoice, or, the
    invoice being paid another way, that the farm repays the amount. ``pdf``: the
    credit note itself, attached (so no document e-mail is sent for it)."""
    return _queue(
        session, order, credit_note_key(note_id),
        lambda: _("Order %(number)s: credit note %(note)s", number=order.id, note=number),
        "mail/credit_note.txt", note_number=number, farm=farm, amount_cents=amount_cents,
        due_cents=due_cents, paid=paid, reason=reason, attachments=(pdf,) if pdf else (),
    )


def credit_note_key(note_id: int) -> str:
    return f"credit-note:{note_id}"


def document_key(document_id: int) -> str:
    return f"invoice-document:{document_id}"


def document_told(session: Session, document_id: int) -> bool:
    """Whether an e-mail carrying this invoice or credit note is queued already."""
    return already_queued(session, document_key(document_id)) or \
        already_queued(session, credit_note_key(document_id))


def document_issued(session: Session, order: Order, *, document_id: int, number: str,
                    farm: str, credit_note: bool, amount_cents: int, pdf: Attachment,
                    document_url: str) -> OutboxMessage | None:
    """A farm's invoice or credit note to a restaurant, its PDF attached: one e-mail per
    document (the restaurant's accounts keep them)."""
    if credit_note:
        def subject():
            return _("Credit note %(note)s from %(farm)s", note=number, farm=farm)
    else:
        def subject():
            return _("Invoice %(invoice)s from %(farm)s", invoice=number, farm=farm)
    return _queue(
        session, order, document_key(document_id), subject, "mail/invoice_issued.txt",
        number=number, farm=farm, credit_note=credit_note, amount_cents=amount_cents,
        document_url=document_url, attachments=(pdf,),
    )
