"""The quick-order grid: everything an approved restaurant can order for one slot, from
the farms that serve it, grouped by farm and category, quantities typed in, and the
order placed in ONE request (through the ordinary checkout: stock, tiers, cases and
minimums checked there). Works without JavaScript."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role, User
from marketplace.catalogue import pricing
from marketplace.catalogue.models import Category, Product, Variant
from marketplace.extensions import db, limiter
from marketplace.models import get_by_id, utcnow
from marketplace.orders import cart as cart_service
from marketplace.orders import services as orders
from marketplace.orders.models import PaymentMethod
from marketplace.orders.views import place_from_form, show_placed_before
from marketplace.payments import services as payments
from marketplace.pickup.market_day_views import current_market_day
from marketplace.pickup.models import DeliveryRound, PickupPoint, PickupSlot, SlotStatus
from marketplace.pickup.rounds import local_weekday, point_within_radius, served
from marketplace.producers.models import Producer
from marketplace.web.display import display_tz
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import parse_id
from marketplace.web.limits import by_account_or_address, setting
from marketplace.wholesale import quick_order as quick

bp = Blueprint("quick_order", __name__, url_prefix="/restaurant/quick-order")

# Far above what one date offers (the demo's door: about 480 items); the page says so
# when a date offers more.
MAX_GRID_LINES = 5000
SLOTS_SHOWN = 60
MAX_FILTER_LENGTH = 80


def open_slots(now):
    """The dates the restaurant may order for: open, before the cut-off, room left,
    and some farm delivers (a date no farm serves would offer an empty grid)."""
    return served(db.session, db.session.scalars(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(PickupPoint.is_active.is_(True), PickupPoint.open_to(current_user.id),
               PickupSlot.status == SlotStatus.OPEN,
               PickupSlot.cutoff_at > now, PickupSlot.taken < PickupSlot.capacity)
        .options(contains_eager(PickupSlot.pickup_point))
        .order_by(PickupSlot.starts_at, PickupSlot.id).limit(SLOTS_SHOWN)
    ), tz=display_tz())


def chosen_slot() -> PickupSlot | None:
    """The slot named by ``slot_id``, else (nothing named) the buyer's market day, so
    that the grid opens on the day the restaurant chose; another restaurant's door
    counts as none."""
    if "slot_id" not in request.values:
        day = current_market_day()
        return day.slot if day is not None else None
    slot = get_by_id(db.session, PickupSlot, parse_id(request.values.get("slot_id")))
    if slot is not None and not slot.pickup_point.is_open_to(current_user.id):
        return None
    return slot


def grid_variants(slot: PickupSlot, buyer, *, limit: int | None = None,
                  only: Collection[int] | None = None) -> list[Variant]:
    """Variants the buyer may order for the slot: farms with a round at its point that
    day and the point within their radius; three queries whatever the size.

    ``limit``: at most that many (the grid's page); ``only``: just those among these
    variant ids (the lines of an uploaded file)."""
    point = slot.pickup_point
    farms = db.session.scalars(
        select(Producer).join(DeliveryRound, DeliveryRound.producer_id == Producer.id)
        .join(User, User.id == Producer.user_id)
        .where(DeliveryRound.pickup_point_id == slot.pickup_point_id,
               DeliveryRound.weekday == local_weekday(slot, display_tz()),
               User.approved_at.is_not(None))
    ).all()
    farm_ids = [f.id for f in farms if point_within_radius(f, point)]
    if not farm_ids:
        return []
    stmt = (
        select(Variant).join(Variant.product).join(Product.producer).join(Product.category)
        .where(Product.producer_id.in_(farm_ids), Product.is_active.is_(True),
               Variant.is_active.is_(True))
        .options(contains_eager(Variant.product).contains_eager(Product.producer),
                 contains_eager(Variant.product).contains_eager(Product.category))
        .order_by(Producer.name, Producer.id, Category.position, Product.name, Variant.position,
                  Variant.id)
    )
    if only is not None:
        stmt = stmt.where(Variant.id.in_(only))
    variants = db.session.scalars(stmt.limit(limit)).unique().all()
    return [v for v in variants if pricing.visible_to(buyer, v)]


def _grouped(rows, shown_ids):
    """farm id -> {producer, shown, categories: category id -> {category, shown, rows}};
    ``shown``: some row of it is in ``shown_ids``."""
    groups: OrderedDict = OrderedDict()
    for row in rows:
        product = row.variant.product
        shown = row.variant.id in shown_ids
        farm = groups.setdefault(product.producer_id, {"producer": product.producer,
                                                       "shown": False,
                                                       "categories": OrderedDict()})
        category = farm["categories"].setdefault(
            product.category_id, {"category": product.category, "shown": False, "rows": []})
        category["rows"].append(row)
        category["shown"] = category["shown"] or shown
        farm["shown"] = farm["shown"] or shown
    return groups


def _render(slot, variants, *, cut=False, typed=None, error=None, status=200,
            start=None, words=""):
    """The page; ``cut``: the date offers more than the MAX_GRID_LINES ``variants``;
    ``typed``: the form as sent, else ``start``'s quantities; ``words``: the filter."""
    typed = typed or quick.Typed()
    quantities = typed.quantities
    raw = typed.raw
    if start is not None and not raw:
        quantities = start.quantities
        raw = {f"{quick.FIELD_PREFIX}{k}": str(q) for k, q in quantities.items()}
    tiers = pricing.tiers_for(db.session, [v.id for v in variants]) if variants else {}
    # The filter hides lines, it does not drop them: what they hold stays in the form
    # and the order. A line with a problem stays in sight.
    shown_ids = {v.id for v in variants
                 if not words or v.id in typed.errors or quick.matches(v, words)}
    hidden_with_quantity = sum(
        1 for key, value in raw.items()
        if value.strip().lstrip("0") and quick.field_variant_id(key) not in shown_ids)
    return render_template(
        "wholesale/quick_order.html", slot=slot, slots=open_slots(utcnow()),
        groups=_grouped(quick.rows(variants, tiers, current_user), shown_ids), raw=raw,
        shown_ids=shown_ids, hidden_with_quantity=hidden_with_quantity, errors=typed.errors,
        error=error, cut=cut, words=words, start=start,
        totals=quick.totals(db.session, quantities, current_user),
        minimums={v.product.producer_id: v.product.producer for v in variants
                  if v.product.producer.wholesale_minimum_cents},
        methods=payments.payment_methods(db.session, current_user, current_app.config),
        max_grid_lines=MAX_GRID_LINES,
    ), status


def _words() -> str:
    return request.values.get("filter", "").strip()[:MAX_FILTER_LENGTH]


@bp.route("", methods=["GET", "POST"])
@limiter.limit(setting("RATELIMIT_CHECKOUT"), methods=["POST"], key_func=by_account_or_address)
@role_required(Role.RESTAURANT)
def grid():
    if not pricing.is_wholesale_buyer(current_user):
        abort(404)  # an account waiting for approval has no wholesale grid
    slot = chosen_slot()
    if slot is None:
        if request.method == "POST":
            return _render(None, [], status=400, error=_("Choose a delivery or pickup date."))
        return _render(None, [])
    listed = grid_variants(slot, current_user, limit=MAX_GRID_LINES + 1)
    variants = listed[:MAX_GRID_LINES]
    render = partial(_render, slot, variants, cut=len(listed) > MAX_GRID_LINES,
                     words=_words())
    if request.method == "GET":
        start = None
        if request.args.get("start") != "empty":
            start = quick.starting_point(db.session, current_user.id, slot, display_tz(),
                                         [v.id for v in variants])
        return render(start=start)

    if not ConfirmForm().validate_on_submit():
        abort(400)
    typed = quick.read_quantities(request.form, {v.id: v for v in variants}, current_user)
    render = partial(render, typed=typed)
    if typed.unknown:
        return render(status=400, error=_(
            "An item of the form is not sold for this slot any more: reload the page."))
    if len(typed.quantities) + len(typed.errors) > cart_service.MAX_LINES:
        # Checkout keeps the first MAX_LINES lines of a cart: refuse rather than drop.
        return render(status=400, error=_(
            "More than %(max)d lines have a quantity: one order holds at most %(max)d "
            "items. Place two orders.", max=cart_service.MAX_LINES))
    if typed.errors:
        return render(status=400, error=_("Some quantities need a look: see the marked lines."))
    if request.form.get("action") == "recalculate":
        return render()  # the totals, computed here; nothing placed
    if not typed.quantities:
        return render(status=400, error=_("Type a quantity for at least one item."))
    cart = {str(k): q for k, q in typed.quantities.items()}
    method = request.form.get("payment_method") or PaymentMethod.AT_PICKUP.value

    if method not in payments.payment_methods(db.session, current_user, current_app.config):
        return render(status=400, error=_("Choose how to pay."))
    try:
        order, placed = place_from_form(buyer=current_user, cart=cart, slot_id=slot.id,
                                        payment_method=method)
    except orders.CheckoutError as exc:
        db.session.rollback()
        if exc.line:
            typed.errors[exc.line.variant_id] = str(exc.message)
        return render(error=str(exc.message), status=exc.status)
    if not placed:
        return show_placed_before(order)
    if order.payment_method == PaymentMethod.CARD:
        return redirect(url_for("payments.pay", order_id=order.id), code=303)
    flash(_("Your order %(number)s is placed.", number=order.id), "success")
    return redirect(url_for("checkout.order", order_id=order.id), code=303)
