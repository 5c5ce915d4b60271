"""Cart views: parse, call the cart service, store the new cart, redirect.

The cart lives in the session under CART_KEY, for visitors and signed-in buyers
alike. A refused change renders the cart page (unchanged) with the reason and a
4xx status. The cart belongs to the buyer's market day: the first item added
without one asks where and when first (and is added once it is chosen); an item
that cannot be collected that day is refused with the reason.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.catalogue import pricing
from marketplace.catalogue.models import Variant
from marketplace.catalogue.services import current_month
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.orders import cart as cart_service
from marketplace.orders import market_day as market_day_service
from marketplace.orders.cart import CART_KEY
from marketplace.orders.forms import (
    MESSAGES,
    STATUS,
    AddToCartForm,
    RemoveLineForm,
    UpdateLineForm,
)
from marketplace.pickup.market_day_views import current_market_day, day_name
from marketplace.web.display import display_tz

bp = Blueprint("orders", __name__)

PENDING_KEY = "cart_pending"  # {"variant": id, "quantity": n}: added once a market day is chosen
ASKED_KEY = "market_day_asked"  # asked once: a buyer may browse and fill the cart first


def session_cart() -> dict[str, int]:
    return cart_service.load(session.get(CART_KEY))


def cart_count() -> int:
    """Number of lines, for a "Cart (n)" link."""
    return cart_service.line_count(session_cart())


def _store(new_cart: dict[str, int]) -> None:
    session[CART_KEY] = new_cart


def aside_lines():
    """The lines kept aside from the cart when the market day changed, priced."""
    aside = cart_service.load(session.get(market_day_service.ASIDE_KEY))
    return cart_service.price_cart(aside, db.session, buyer=current_user) if aside else None


def _render_cart(*, error: str | None = None, status: int = 200, back_url: str | None = None):
    market_day = current_market_day()
    view = cart_service.price_cart(
        session_cart(),
        db.session,
        month=market_day.day.month if market_day else current_month(utcnow(), display_tz()),
        buyer=current_user,
    )
    problems = market_day_service.line_problems(
        db.session, view, market_day, tz=display_tz(), now=utcnow()) if market_day else {}
    return (
        render_template(
            "orders/cart.html",
            cart=view,
            error=error,
            back_url=back_url,
            max_quantity=cart_service.MAX_QUANTITY,
            market_day=market_day,
            problems=problems,
            aside=aside_lines(),
        ),
        status,
    )


def _case_problem(variant, quantity: int) -> str | None:
    """For an approved restaurant, why this quantity of a wholesale variant is refused."""
    problem = pricing.buyer_case_problem(current_user, variant, quantity)
    return str(problem) if problem is not None else None


def _refuse(exc: cart_service.CartError, back_url: str | None = None):
    return _render_cart(
        error=str(MESSAGES[exc.code]), status=STATUS.get(exc.code, 400), back_url=back_url
    )


@bp.get("/cart")
def show():
    return _render_cart()


@bp.post("/cart/add")
def add():
    form = AddToCartForm()
    # Only the variant id and the quantity are read: a price or producer id sent
    # along is ignored, prices always come from the database.
    try:
        variant_id = cart_service.parse_variant_id(form.variant_id.data)
    except cart_service.CartError as exc:
        return _refuse(exc)
    back_url = None
    try:
        variant = cart_service.orderable_variant(db.session, variant_id, buyer=current_user)
        back_url = url_for("catalogue.product", product_id=variant.product_id)
        quantity = cart_service.parse_quantity(form.quantity.data)
        new_cart = cart_service.add(session_cart(), variant_id, quantity)
    except cart_service.CartError as exc:
        return _refuse(exc, back_url)
    problem = _case_problem(variant, new_cart[str(variant_id)])
    if problem:
        return _render_cart(error=problem, status=400, back_url=back_url)
    market_day = current_market_day()
    if market_day is None and not session.get(ASKED_KEY):
        # Where and when first: the item is added once a market day is chosen.
        session[ASKED_KEY] = True
        session[PENDING_KEY] = {"variant": variant_id, "quantity": quantity}
        flash(_("Where and when will you collect your order? Choose a market day: "
                "%(product)s is added to your cart right after.",
                product=variant.product.name), "info")
        return redirect(url_for("market_day.choose", next=back_url), code=303)
    problem = _not_at_market_day(new_cart, variant_id, market_day)
    if problem:
        return _render_cart(error=problem, status=409, back_url=back_url)
    _store(new_cart)
    _flash_added(variant)
    return redirect(back_url, code=303)


def _flash_added(variant) -> None:
    flash(
        _("%(product)s (%(variant)s) added to your cart.",
          product=variant.product.name, variant=variant.label),
        "success",
    )


def _not_at_market_day(new_cart, variant_id: int, market_day) -> str | None:
    """Why the line cannot be collected at the market day (None without one)."""
    if market_day is None:
        return None
    line = {str(variant_id): new_cart[str(variant_id)]}
    view = cart_service.price_cart(line, db.session, month=market_day.day.month,
                                   buyer=current_user)
    problems = market_day_service.line_problems(db.session, view, market_day,
                                                tz=display_tz(), now=utcnow())
    if variant_id not in problems:
        return None
    return _("Not at %(point)s on %(day)s: %(reason)s Change the market day to order it.",
             point=market_day.point.name, day=day_name(market_day.day),
             reason=problems[variant_id])


def add_pending() -> str | None:
    """Once a market day is chosen: add the item that was waiting for it. Returns the
    page to go back to (the product's), or None when nothing was waiting."""
    pending = session.pop(PENDING_KEY, None)
    if not isinstance(pending, dict):
        return None
    try:
        variant = cart_service.orderable_variant(
            db.session, cart_service.parse_variant_id(pending.get("variant")),
            buyer=current_user)
        new_cart = cart_service.add(session_cart(), variant.id,
                                    cart_service.parse_quantity(pending.get("quantity")))
    except cart_service.CartError as exc:
        flash(str(MESSAGES[exc.code]), "warning")
        return None
    back_url = url_for("catalogue.product", product_id=variant.product_id)
    problem = _not_at_market_day(new_cart, variant.id, current_market_day())
    if problem:
        flash(problem, "warning")
        return back_url
    _store(new_cart)
    _flash_added(variant)
    return back_url


@bp.post("/cart/update")
def update():
    form = UpdateLineForm()
    try:
        variant_id = cart_service.parse_variant_id(form.variant_id.data)
        quantity = cart_service.parse_quantity(form.quantity.data)
        new_cart = cart_service.set_quantity(session_cart(), variant_id, quantity)
    except cart_service.CartError as exc:
        return _refuse(exc)
    if pricing.is_wholesale_buyer(current_user):

        variant = db.session.get(Variant, variant_id)
        problem = _case_problem(variant, quantity) if variant is not None else None
        if problem:
            return _render_cart(error=problem, status=400)
    _store(new_cart)
    flash(_("Quantity updated."), "success")
    return redirect(url_for("orders.show"), code=303)


@bp.post("/cart/remove")
def remove():
    form = RemoveLineForm()
    try:
        variant_id = cart_service.parse_variant_id(form.variant_id.data)
        new_cart = cart_service.remove(session_cart(), variant_id)
    except cart_service.CartError as exc:
        return _refuse(exc)
    _store(new_cart)
    flash(_("Removed from your cart."), "success")
    return redirect(url_for("orders.show"), code=303)
