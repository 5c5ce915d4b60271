"""Checkout and the buyer's orders: thin views over orders.services.

Only the slot id is read from the checkout form: prices, producers and quantities
come from the session cart and the database, whatever else the form carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from marketplace.extensions import db, limiter
from marketplace.geo.location import current_location
from marketplace.geo.services import distance_km
from marketplace.models import utcnow
from marketplace.orders import cart as cart_service
from marketplace.orders import fulfilment, services, signals
from marketplace.orders.cart import CART_KEY
from marketplace.orders.models import Actor, Order, OrderStatus, PaymentMethod, SubOrder
from marketplace.orders.routes import session_cart
from marketplace.orders.views import show_placed_before
from marketplace.pickup.market_day_views import current_market_day
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus
from marketplace.web.display import display_tz
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import page_arg, parse_id
from marketplace.web.limits import by_account_or_address, setting

from . import services as payments
from .models import RefundStatus
from .services.delays import REFUND_DELAY
from .signals import cancel_card_refunds_of, invoices_of

bp = Blueprint("checkout", __name__)

MAX_SLOTS_SHOWN = 200


def enabled_payment_methods(buyer=None) -> frozenset[str]:
    """How the signed-in buyer may pay here (payments.services.payment_methods)."""
    return payments.payment_methods(db.session, buyer, current_app.config)


def _terms_days(buyer) -> int | None:
    if not getattr(buyer, "is_authenticated", False):
        return None
    return signals.invoice_terms_of(db.session, buyer)


@dataclass
class PointChoice:
    point: PickupPoint
    distance_km: float | None
    slots: list[PickupSlot] = field(default_factory=list)


def _choices(now) -> list[PointChoice]:
    """Active points with open slots (before cut-off, room left), nearest first."""
    slots = db.session.scalars(
        select(PickupSlot)
        .join(PickupSlot.pickup_point)
        .where(
            PickupPoint.is_active.is_(True),
            PickupPoint.open_to(getattr(current_user, "id", None)),
            PickupSlot.status == SlotStatus.OPEN,
            PickupSlot.cutoff_at > now,
            PickupSlot.taken < PickupSlot.capacity,
        )
        .options(contains_eager(PickupSlot.pickup_point))
        .order_by(PickupSlot.starts_at, PickupSlot.id)
        .limit(MAX_SLOTS_SHOWN)
    ).all()
    location = current_location(session, current_user)
    points: dict[int, PointChoice] = {}
    for slot in slots:
        choice = points.get(slot.pickup_point_id)
        if choice is None:
            point = slot.pickup_point
            km = distance_km((location.latitude, location.longitude), point) if location else None
            choice = points[point.id] = PointChoice(point, km)
        choice.slots.append(slot)
    return sorted(points.values(), key=lambda c: (
        c.distance_km if c.distance_km is not None else 0.0, c.point.name.casefold(), c.point.id))


def _render_checkout(*, slot_id=None, error=None, error_line=None, status=200):
    now = utcnow()
    market_day = current_market_day()
    if slot_id is None and market_day is not None:
        slot_id = market_day.slot_id
    view = cart_service.price_cart(session_cart(), db.session, buyer=current_user)
    chosen = db.session.get(PickupSlot, slot_id, options=[joinedload(PickupSlot.pickup_point)]
                            ) if slot_id else None
    if chosen is not None and not chosen.pickup_point.is_open_to(current_user.id):
        chosen = None  # another restaurant's door: as unknown as in services.checkout
    problems: dict[int, str] = {}
    slot_problem = None
    food_miles = None
    if chosen is not None:
        food_miles = services.food_miles_for_slot(db.session, view, chosen)
        problems = services.serving_problems(
            db.session, view, chosen, tz=display_tz(), now=utcnow(),
            standing_days_ahead=services.standing_days(current_app.config))
        problem = services.slot_problem(chosen, now)
        slot_problem = str(problem.message) if problem else None
    # With a market day, checkout confirms it: no list of slots to choose from.
    confirming = market_day is not None and chosen is not None and chosen.id == market_day.slot_id
    return render_template(
        "orders/checkout.html",
        cart=view,
        market_day=market_day if confirming else None,
        choices=[] if confirming else _choices(now),
        chosen=chosen,
        problems=problems,
        slot_problem=slot_problem,
        food_miles=food_miles,
        error=error,
        error_line=error_line,
        location=current_location(session, current_user),
        card_enabled=PaymentMethod.CARD.value in enabled_payment_methods(),
        terms_days=_terms_days(current_user),
    ), status


@bp.get("/checkout")
@login_required
def show():
    return _render_checkout(slot_id=parse_id(request.args.get("slot_id")))


@bp.app_template_global()
def new_checkout_token() -> str:
    """For the hidden ``checkout_token`` field of every form that places an order."""
    return services.new_checkout_token()


@bp.post("/checkout")
@limiter.limit(setting("RATELIMIT_CHECKOUT"), key_func=by_account_or_address)
@login_required
def place():
    slot_id = parse_id(request.form.get("slot_id"))
    if slot_id is None and current_market_day() is not None:
        slot_id = current_market_day().slot_id
    # A form without the field means pay at pickup (the form before card payment
    # existed); a method not offered is refused with a message.
    payment_method = request.form.get("payment_method") or PaymentMethod.AT_PICKUP.value

    def place_order(token):
        if payment_method not in enabled_payment_methods(current_user):
            raise services.CheckoutError(services.PAYMENT_METHOD, _l("Choose how to pay."))
        return services.checkout(
            db.session, buyer=current_user, cart=session_cart(), slot_id=slot_id,
            now=utcnow(), tz=display_tz(), payment_method=payment_method, token=token,
            hold=timedelta(minutes=current_app.config.get("PAYMENT_HOLD_MINUTES", 30)),
            config=current_app.config,
        )

    try:
        order, placed = services.place_once(
            db.session, place_order, buyer_id=current_user.id,
            raw_token=request.form.get("checkout_token"))
    except services.CheckoutError as exc:
        db.session.rollback()
        return _render_checkout(
            slot_id=slot_id, error=str(exc.message),
            error_line=exc.line.variant_id if exc.line else None, status=exc.status,
        )
    if not placed:
        return show_placed_before(order)
    session.pop(CART_KEY, None)
    if order.payment_method == PaymentMethod.CARD:
        return redirect(url_for("payments.pay", order_id=order.id), code=303)
    if order.payment_method == PaymentMethod.INVOICE:
        flash(_("Your order is confirmed: each farm sends you its invoice, due at your "
                "payment terms."), "success")
    elif order.status == OrderStatus.CONFIRMED:
        flash(_("Your order is confirmed: you pay at pickup. A confirmation e-mail is on its "
                "way."), "success")
    else:
        flash(_("Your order is placed. Please note the pickup slot."), "success")
    return redirect(url_for("checkout.order", order_id=order.id), code=303)


ORDERS_PER_PAGE = 20


@bp.get("/orders")
@login_required
def orders():
    page = page_arg()
    # One more than a page: whether there are older orders, without counting them all.
    shown = services.orders_of(db.session, current_user, limit=ORDERS_PER_PAGE + 1,
                               offset=(page - 1) * ORDERS_PER_PAGE)
    return render_template("orders/orders.html", orders=shown[:ORDERS_PER_PAGE], page=page,
                           has_older=len(shown) > ORDERS_PER_PAGE)


def _own_order_or_404(order_id: int, options=()):
    order = services.order_of(db.session, current_user, order_id, options=options)
    if order is None:
        abort(404)
    return order


@dataclass
class Money:
    """What the order's page says of the buyer's money: for a card order what was
    paid, each refund (with its label) and what is left paid; for an order on invoice
    the invoices' due dates."""

    refunds: list  # (Refund, label): on the card payment, for a card order
    other_refunds: list = field(default_factory=list)  # an invoice's, for a card order
    paid_cents: int = 0
    refunded_cents: int = 0
    state: object = None  # payments.payment_state: refunded in full or in part
    invoices: list = field(default_factory=list)

    @property
    def net_cents(self) -> int:
        return self.paid_cents - self.refunded_cents

    @property
    def unpaid_due(self):
        """The last due date of the invoices still to pay, or None."""
        due = [due_at for due_at, paid in self.invoices if not paid]
        return max(due) if due else None


def order_money(order) -> Money:
    refunds = payments.refunds_of(db.session, order)
    labelled = [(refund, payments.refund_label(refund.reason)) for refund in refunds]
    money = Money(refunds=labelled)
    if order.payment_method == PaymentMethod.CARD and order.is_paid:
        # The order's own payment and its refunds; an invoice's are listed apart.
        money.refunds = [(r, label) for r, label in labelled if r.invoice_payment_id is None]
        money.other_refunds = [(r, label) for r, label in labelled if r.invoice_payment_id]
        money.paid_cents = order.total_cents
        money.refunded_cents = sum(refund.amount_cents for refund, _label in money.refunds
                                   if refund.status != RefundStatus.FAILED)
        money.state = payments.payment_state(money.paid_cents, money.refunded_cents)
    elif order.payment_method == PaymentMethod.INVOICE:
        money.invoices = invoices_of(db.session, order)
    return money


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    # What the page reads, in a fixed number of queries whatever the farms and lines.
    order = _own_order_or_404(order_id, options=(
        joinedload(Order.pickup_slot).joinedload(PickupSlot.pickup_point),
        selectinload(Order.sub_orders).selectinload(SubOrder.lines),
        selectinload(Order.sub_orders).joinedload(SubOrder.producer)))
    return render_template(
        "orders/order.html", order=order,
        can_cancel=services.can_cancel(order, Actor.BUYER, utcnow()),
        money=order_money(order),
    )


def _cannot_cancel(order):
    flash(_("This order can no longer be cancelled: the cut-off has passed or it "
            "was already cancelled."), "danger")
    return render_template("orders/order.html", order=order, can_cancel=False,
                           money=order_money(order)), 409


@bp.route("/orders/<int:order_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(order_id: int):
    """A page first, saying what happens to the money (the refund to the card and its
    delay, or nothing charged), then a POST with ``confirm`` cancels. Every order
    asks, paid or not: a cancelled order's items and place go to others at once and
    cannot be taken back, so a slip of the finger costs as much either way."""
    order = _own_order_or_404(order_id)
    if not services.can_cancel(order, Actor.BUYER, utcnow()):
        return _cannot_cancel(order)
    form = ConfirmForm()
    if request.method == "GET" or "confirm" not in request.form:
        return render_template(
            "orders/cancel.html", order=order, form=form,
            refund_cents=payments.refundable_cents(db.session, order)
            + cancel_card_refunds_of(db.session, order),
            refund_delay=REFUND_DELAY)
    if not form.validate_on_submit():
        abort(400)
    try:
        services.cancel(order, Actor.BUYER, utcnow(), session=db.session,
                        config=current_app.config)
    except services.TransitionError:
        db.session.rollback()
        return _cannot_cancel(order)
    flash(_("Your order is cancelled."), "success")
    return redirect(url_for("checkout.order", order_id=order.id), code=303)


@bp.post("/orders/<int:order_id>/reorder")
@login_required
def reorder(order_id: int):
    """Put a past order's items back in the cart (what is still sold), in one click."""
    order = _own_order_or_404(order_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    wanted, missing = fulfilment.reorder_lines(db.session, order, buyer=current_user)
    cart = session_cart()
    added = 0
    for variant_id, quantity in wanted.items():
        try:
            cart = cart_service.add(cart, variant_id, quantity)
            added += 1
        except cart_service.CartError:
            missing.append(next(f"{ln.product_name} ({ln.variant_label})"
                                for ln in order.lines if ln.variant_id == variant_id))
    session[CART_KEY] = cart
    if added:
        flash(ngettext("%(num)d item of order %(number)s is back in your cart.",
                       "%(num)d items of order %(number)s are back in your cart.",
                       added, number=order.id), "success")
    if missing:
        flash(_("No longer sold or over the cart's limits: %(items)s.",
                items=", ".join(missing)), "warning")
    return redirect(url_for("orders.show"), code=303)
