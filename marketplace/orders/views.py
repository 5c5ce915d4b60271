"""What the views that place orders share (checkout, the quick order, the CSV upload):
the answer to an order form sent again. Placing the order once is
orders.services.place_once."""

from __future__ import annotations

from flask import flash, redirect, session, url_for
from flask_babel import gettext as _

from marketplace.orders.cart import CART_KEY
from marketplace.orders.models import Order, OrderStatus, PaymentMethod


def show_placed_before(order: Order):
    """The answer to a form sent again: the order it placed, nothing new."""
    session.pop(CART_KEY, None)
    flash(_("This order was already placed: here it is. Nothing was ordered twice."), "info")
    if order.payment_method == PaymentMethod.CARD and order.status == OrderStatus.PENDING_PAYMENT:
        return redirect(url_for("payments.pay", order_id=order.id), code=303)
    return redirect(url_for("checkout.order", order_id=order.id), code=303)
