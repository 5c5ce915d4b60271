"""The farms' ledger: one line per money event (sale, commission, refund, commission
given back, paid at pickup, transfer), keyed by the event (``entry_key``, unique), and
the commission rate of each farm."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.orders.models import Order, PaymentMethod, SubOrder

from ..models import (
    LedgerEntry,
    LedgerKind,
    Refund,
)

log = logging.getLogger(__name__)


DEFAULT_COMMISSION_BP = 1000  # 10 %


def commission_bp(producer, config: Mapping) -> int:
    """The platform's share in basis points: the farm's own rate, else the setting."""
    own = getattr(producer, "commission_bp", None)
    if own is not None:
        return own
    return int(config.get("COMMISSION_BP", DEFAULT_COMMISSION_BP))


def commission_of(amount_cents: int, bp: int) -> int:
    """Commission on an amount, rounded half up to the cent."""
    return (amount_cents * bp + 5000) // 10000


def add_entry(session: Session, *, key: str, sub: SubOrder, kind: LedgerKind, amount_cents: int,
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
                 supplied: bool = False, cancelled_too: bool = False) -> None:
    """Sale and commission lines for each active sub-order (``supplied``: what the farm
    actually supplied, for an order paid at pickup; else the subtotal paid by card).
    ``cancelled_too``: every sub-order, for a payment that landed after the order was
    cancelled (its refund then takes back exactly what these lines gave)."""
    for sub in order.sub_orders if cancelled_too else order.active_sub_orders:
        amount = sub.supplied_cents if supplied else sub.subtotal_cents
        bp = commission_bp(sub.producer, config)
        # A check-off undone took its lines back (``undo_counter_sales``): the next one
        # writes its own, under keys of its own.
        again = _counter_undos(session, sub) if supplied else 0
        suffix = f":{again}" if again else ""
        add_entry(session, key=f"sale:{sub.id}{suffix}", sub=sub, kind=LedgerKind.SALE,
               amount_cents=amount, now=now, bp=bp)
        add_entry(session, key=f"commission:{sub.id}{suffix}", sub=sub,
               kind=LedgerKind.COMMISSION, amount_cents=-commission_of(amount, bp), now=now,
               bp=bp)
        if order.payment_method == PaymentMethod.AT_PICKUP:
            add_entry(session, key=f"at-pickup:{sub.id}{suffix}", sub=sub,
                   kind=LedgerKind.PAID_AT_PICKUP, amount_cents=-amount, now=now)
    session.flush()


COUNTER_KINDS = (LedgerKind.SALE, LedgerKind.COMMISSION, LedgerKind.PAID_AT_PICKUP)
UNDO_PREFIX = "undo:"


def _counter_undos(session: Session, sub: SubOrder) -> int:
    """How many check-offs of the sub-order were undone (one reversed sale line each)."""
    return int(session.scalar(
        select(func.count(LedgerEntry.id))
        .where(LedgerEntry.sub_order_id == sub.id, LedgerEntry.kind == LedgerKind.SALE,
               LedgerEntry.entry_key.startswith(UNDO_PREFIX))))


def reverse_entries(session: Session, entries, key_of, *, now: datetime) -> None:
    """Cancel ledger lines by opposite lines (a line is never changed or deleted), each
    under ``key_of(entry)``; a line already reversed (its key taken) is left, so doing it
    twice reverses once. One query for the keys taken."""
    keys = {entry.id: key_of(entry) for entry in entries}
    taken = set(session.scalars(
        select(LedgerEntry.entry_key).where(LedgerEntry.entry_key.in_(keys.values())))
    ) if keys else set()
    for entry in entries:
        if keys[entry.id] in taken:
            continue
        session.add(LedgerEntry(
            entry_key=keys[entry.id], producer_id=entry.producer_id, order_id=entry.order_id,
            sub_order_id=entry.sub_order_id, refund_id=entry.refund_id, kind=entry.kind,
            amount_cents=-entry.amount_cents, currency=entry.currency,
            commission_bp=entry.commission_bp, created_at=now))
    session.flush()


def undo_counter_sales(session: Session, order: Order, *, now: datetime) -> None:
    """A check-off of an order paid at the counter was undone: its sale, commission and
    paid-at-pickup lines are cancelled by opposite lines (key ``undo:<line id>``), so the
    farm's account is as before it; the next check-off writes what is then supplied."""
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.order_id == order.id, LedgerEntry.kind.in_(COUNTER_KINDS),
               ~LedgerEntry.entry_key.startswith(UNDO_PREFIX))
        .order_by(LedgerEntry.id)
    ).all()
    reverse_entries(session, entries, lambda entry: f"{UNDO_PREFIX}{entry.id}", now=now)


def record_invoice_sale(session: Session, invoice, amount_cents: int, config: Mapping, *,
                        now: datetime) -> None:
    """The money the platform now holds for the farm: the sale and the commission on
    the invoice's sub-order, keyed by the invoice (never the order's keys, never twice)."""
    sub = session.get(SubOrder, invoice.sub_order_id)
    bp = commission_bp(sub.producer, config)
    add_entry(session, key=f"invoice-sale:{invoice.id}", sub=sub, kind=LedgerKind.SALE,
           amount_cents=amount_cents, now=now, bp=bp)
    add_entry(session, key=f"invoice-commission:{invoice.id}", sub=sub,
           kind=LedgerKind.COMMISSION, amount_cents=-commission_of(amount_cents, bp),
           now=now, bp=bp)
    session.flush()


def month_bounds(year: int, month: int, tz: str) -> tuple[datetime, datetime]:
    """The month in the site's time zone, as UTC instants [start, end)."""

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
