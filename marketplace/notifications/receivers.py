"""The buyer's e-mails for what happens to orders (orders/signals.py)."""

from __future__ import annotations

from marketplace.orders import signals

from . import orders as notify


def _confirmed(order, *, session, **_kw):
    notify.order_confirmed(session, order)


def _cancelled(order, *, session, reason="", **_kw):
    notify.order_cancelled(session, order, reason=reason)


def _ready(sub, *, session, **_kw):
    notify.sub_order_ready(session, sub)


def _moved(order, *, session, old_slot, new_slot, reason="", **_kw):
    notify.slot_moved(session, order, old_slot, new_slot, reason=reason)


def connect_receivers() -> None:
    signals.order_confirmed.connect(_confirmed, weak=False)
    signals.order_cancelled.connect(_cancelled, weak=False)
    signals.sub_order_ready.connect(_ready, weak=False)
    signals.order_moved.connect(_moved, weak=False)
