"""The buyer's e-mails for what happens to orders (orders/signals.py) and to their
money (payments/signals.py).

Each refund is told once, by one e-mail: the refunds of a cancelled order by the
cancellation e-mail, queued right after them in the same transaction; the refund of
units a farm could not supply, recorded as the farm marks its part ready, by the
ready e-mail; every other refund (an admin's, a short marked after the ready e-mail,
a credit note, a payment that came after the order was cancelled) by an e-mail of
its own, keyed by the refund.
"""

from __future__ import annotations

from marketplace.accounts import signals as account_signals
from marketplace.orders import signals
from marketplace.payments import signals as payment_signals

from . import accounts, farms
from . import orders as notify


def _confirmed(order, *, session, now, **_kw):
    notify.order_confirmed(session, order)
    farms.new_orders(session, order, now=now)


def _cancelled(order, *, session, reason="", **_kw):
    notify.order_cancelled(session, order, reason=reason)


def _ready(sub, *, session, **_kw):
    notify.sub_order_ready(session, sub)


def _moved(order, *, session, old_slot, new_slot, reason="", **_kw):
    notify.slot_moved(session, order, old_slot, new_slot, reason=reason)


def _refunded(refund, *, session, **_kw):
    notify.refund_recorded(session, refund)


def _approved(user, *, session, **_kw):
    accounts.account_approved(session, user)


def _refused(user, *, session, reason, **_kw):
    accounts.account_refused(session, user, reason)


def connect_receivers() -> None:
    account_signals.account_approved.connect(_approved, weak=False)
    account_signals.account_refused.connect(_refused, weak=False)
    signals.order_confirmed.connect(_confirmed, weak=False)
    signals.order_cancelled.connect(_cancelled, weak=False)
    signals.sub_order_ready.connect(_ready, weak=False)
    signals.order_moved.connect(_moved, weak=False)
    payment_signals.refund_recorded.connect(_refunded, weak=False)
    accounts.connect_receivers()
