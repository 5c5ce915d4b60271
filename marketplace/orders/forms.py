"""Cart forms. Fields are plain text: cart.parse_quantity / parse_variant_id decide,
so that every kind of bad input gets its own clear message (MESSAGES)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField

from marketplace.orders import cart

MESSAGES = {
    cart.BAD_QUANTITY: _l("Enter the quantity as a whole number, such as 2."),
    cart.QUANTITY_TOO_SMALL: _l(
        "The quantity must be at least 1. To take an item out, use Remove."
    ),
    cart.QUANTITY_TOO_LARGE: _l(
        "You can order at most %(max)d of one item.", max=cart.MAX_QUANTITY
    ),
    cart.BAD_VARIANT: _l("This item was not recognised."),
    cart.UNKNOWN_VARIANT: _l("This item is not on sale."),
    cart.NOT_IN_CART: _l("This item is not in your cart."),
    cart.TOO_MANY_LINES: _l(
        "Your cart is full: at most %(max)d different items.", max=cart.MAX_LINES
    ),
}

# HTTP status of each refusal: 404 when the item is not there, else 400.
STATUS = {cart.UNKNOWN_VARIANT: 404, cart.NOT_IN_CART: 404}


class AddToCartForm(FlaskForm):
    variant_id = HiddenField()
    quantity = StringField(_l("Quantity"), default="1")
    submit = SubmitField(_l("Add to cart"))


class UpdateLineForm(FlaskForm):
    variant_id = HiddenField()
    quantity = StringField(_l("Quantity"))
    submit = SubmitField(_l("Update"))


class RemoveLineForm(FlaskForm):
    variant_id = HiddenField()
    submit = SubmitField(_l("Remove"))
