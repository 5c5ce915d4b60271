"""What the views that place orders share (checkout, the quick order, the CSV upload,
a relay's order for a neighbour): placing the order a form sends once, and the
answer to that form sent again. Placing the order once is orders.services.place_once."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.orders import services
from marketplace.orders.cart import CART_KEY
from marketplace.orders.models import Order, OrderStatus, PaymentMethod
from marketplace.web.display import display_tz


def place_from_form(*, buyer, cart: dict, slot_id: int, payment_method,
                    placed_by_id: int | None = None) -> tuple[Order, bool]:
    """``orders.services.place_once`` of a ``checkout`` with the form's checkout token,
    now, the display time zone and the payment hold: (order, True), or (the order
    this form placed before, False). CheckoutError goes to the caller, which rolls
    back."""
    config = current_app.config
    return services.place_once(db.session, lambda token: services.checkout(
        db.session, buyer=buyer, cart=cart, slot_id=slot_id, now=utcnow(),
        tz=display_tz(), payment_method=payment_method, token=token,
        placed_by_id=placed_by_id,
        hold=timedelta(minutes=config.get("PAYMENT_HOLD_MINUTES", 30)), config=config,
    ), buyer_id=buyer.id, raw_token=request.form.get("checkout_token"))


def show_placed_before(order: Order):
    """The answer to a form sent again: the order it placed, nothing new."""
    session.pop(CART_KEY, None)
    flash(_("This order was already placed: here it is. Nothing was ordered twice."), "info")
    if order.payment_method == PaymentMethod.CARD and order.status == OrderStatus.PENDING_PAYMENT:
        return redirect(url_for("payments.pay", order_id=order.id), code=303)
    return redirect(url_for("checkout.order", order_id=order.id), code=303)
