"""How payments reacts to what happens to orders (orders/signals.py): refunds of what
was paid by card, and the farms' ledger for what was paid at the counter."""

from __future__ import annotations

from marketplace.orders import signals
from marketplace.orders.models import PaymentMethod

from . import services


def _refund_cancelled(order, *, session, now, config, reason="", expired=False, **_kw):
    left = services.refundable_cents(session, order)
    if left > 0:
        services.request_refund(session, order, left, config,
                                reason=services.cancelled_reason(str(reason or "")), now=now)


def _refund_short_line(line, *, session, now, config, lowered=False, **_kw):
    services.refund_line_short(session, line, config, now=now, lowered=lowered)


def _record_counter_sales(order, *, session, now, config, **_kw):
    if order.payment_method == PaymentMethod.AT_PICKUP:
        # Paid at the counter: the farms' sales (what they supplied) and the commission
        # they owe go in the ledger (once per check-off; an undo takes them back).
        services.record_sales(session, order, config, now=now, supplied=True)


def _undo_counter_sales(order, *, session, now, **_kw):
    # Checked off by mistake: what that check-off wrote in the farms' ledger goes back.
    services.undo_counter_sales(session, order, now=now)


def connect_receivers() -> None:
    signals.order_cancelled.connect(_refund_cancelled, weak=False)
    signals.line_short_changed.connect(_refund_short_line, weak=False)
    signals.order_collected.connect(_record_counter_sales, weak=False)
    signals.counter_payment_undone.connect(_undo_counter_sales, weak=False)
