"""What the platform owes each farm and pays it: Stripe Connect transfers, or bank
transfers recorded by an admin (one transfer line per sub-order, never twice)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.orders.models import Order, OrderStatus, PaymentMethod, SubOrder
from marketplace.producers.models import Producer

from .. import gateway
from ..models import (
    LedgerEntry,
    LedgerKind,
)
from .ledger import add_entry
from .stripe_objects import get as _get

log = logging.getLogger(__name__)


def _due(*where):
    """(sub-order, net, farm account) of every collected sub-order of a card-paid order
    (or of an order on invoice whose invoice was paid by card: it has ledger lines
    only then) with no transfer yet and something to pay, oldest first. The net is the
    sum of the sub-order's ledger lines (sale - commission - refunds + commission
    given back)."""

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

    rows = session.execute(_due(Producer.stripe_account_id.is_not(None)).limit(limit)).all()
    return [(sub, int(net), account) for sub, net, account in rows]


def _bank_transfer_farms(config: Mapping):
    """Farms paid by bank transfer: all of them, or those without a Connect account
    when Connect pays the others."""

    if config.get("STRIPE_CONNECT_ENABLED"):
        return [Producer.stripe_account_id.is_(None)]
    return []


def payouts_due(session: Session, config: Mapping) -> list[tuple]:
    """(farm, amount owed, sub-orders) for each farm the platform owes money to by bank
    transfer, largest first: one query."""

    due = _due(*_bank_transfer_farms(config)).subquery()
    rows = session.execute(
        select(Producer, func.sum(due.c.net), func.count())
        .join(due, due.c.producer_id == Producer.id)
        .group_by(Producer.id)
        .order_by(func.sum(due.c.net).desc(), Producer.name)
    ).all()
    return [(farm, int(amount), int(count)) for farm, amount, count in rows]


def payable_now_cents(session: Session, producer_id: int) -> int:
    """What the platform can pay the farm now, in one query: the net of its sub-orders
    handed over and not yet paid out (``_due``), whatever the month of their lines."""
    due = _due(Producer.id == producer_id).subquery()
    return int(session.scalar(select(func.coalesce(func.sum(due.c.net), 0))))


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

    # One recording at a time per farm (PostgreSQL; SQLite writes are serial).
    session.execute(select(Producer.id).where(Producer.id == farm.id).with_for_update())
    rows = session.execute(_due(Producer.id == farm.id, *_bank_transfer_farms(config))).all()
    owed = sum(int(net) for _, net, _ in rows)
    if not rows or owed != amount_cents:
        raise PayoutError(owed)
    for sub, net, _account in rows:
        entry = add_entry(session, key=f"transfer:{sub.id}", sub=sub, kind=LedgerKind.TRANSFER,
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
        entry = add_entry(session, key=f"transfer:{sub.id}", sub=sub, kind=LedgerKind.TRANSFER,
                       amount_cents=-net, now=now)
        if entry is not None:
            entry.commission_bp = 0
        log.info("transfer %s: %s cents to %s", _get(transfer, "id"), net, account)
        sent += 1
    session.flush()
    return sent, failed
