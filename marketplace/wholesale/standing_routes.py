"""A restaurant's standing orders: made from a past order, paused or resumed, a week
skipped, deleted. The scheduled job (`flask orders run-standing`) places the orders."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.orders import services as orders
from marketplace.orders.models import Actor
from marketplace.payments.checkout_routes import order_money
from marketplace.web.display import display_tz, weekday_names
from marketplace.web.forms import ConfirmForm

from . import standing as service

bp = Blueprint("standing", __name__, url_prefix="/restaurant/standing")

restaurant_required = role_required(Role.RESTAURANT)

# Coming dates shown for each standing order, each with its skip button or its state.
NEXT_DATES = 2


def _own_or_404(standing_id: int):
    standing = service.standing_order_of(db.session, current_user.id, standing_id)
    if standing is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return standing


def _render(status: int = 200):
    standings = service.standing_orders_of(db.session, current_user.id)
    days_ahead = orders.standing_days(current_app.config)
    next_slots = {standing_id: slots[:NEXT_DATES] for standing_id, slots in
                  service.upcoming_slots_of(db.session, standings, now=utcnow(),
                                            days_ahead=28, tz=display_tz()).items()}
    return render_template("wholesale/standing.html", standings=standings,
                           next_slots=next_slots,
                           runs=service.runs_of(db.session, standings, next_slots),
                           form=ConfirmForm(formdata=None), days_ahead=days_ahead,
                           day_names=dict(weekday_names())), status


@bp.get("")
@restaurant_required
def index():
    return _render()


@bp.post("/from-order/<int:order_id>")
@restaurant_required
def from_order(order_id: int):
    order = orders.order_of(db.session, current_user, order_id)
    if order is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.check_repeatable(order)
    except service.StandingOrderError as exc:

        flash(str(exc.message), "danger")
        return render_template(
            "orders/order.html", order=order,
            can_cancel=orders.can_cancel(order, Actor.BUYER, utcnow()),
            money=order_money(order),
        ), 400
    try:
        service.from_order(db.session, order, tz=display_tz())
    except service.StandingOrderExists as exc:
        db.session.rollback()
        flash(str(exc.message), "info")
        return redirect(url_for("standing.index", _anchor=f"standing-{exc.standing.id}"),
                        code=303)
    except service.StandingOrderError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("checkout.order", order_id=order.id), code=303)
    flash(_("This order now repeats every week. It is placed ahead of each date; you can "
            "pause it or skip a week here."), "success")
    return redirect(url_for("standing.index"), code=303)


@bp.post("/<int:standing_id>/pause")
@restaurant_required
def pause(standing_id: int):
    standing = _own_or_404(standing_id)
    standing.active = not standing.active
    flash(_("Standing order resumed.") if standing.active else _("Standing order paused."),
          "success")
    return redirect(url_for("standing.index"), code=303)


@bp.post("/<int:standing_id>/delete")
@restaurant_required
def delete(standing_id: int):
    standing = _own_or_404(standing_id)
    service.delete(db.session, standing)
    flash(_("Standing order deleted. The orders it already placed stay: cancel them from "
            "your orders if you no longer want them."), "success")
    return redirect(url_for("standing.index"), code=303)


@bp.post("/<int:standing_id>/skip")
@restaurant_required
def skip(standing_id: int):
    standing = _own_or_404(standing_id)
    raw = (request.form.get("slot_id") or "").strip()
    slots = {str(s.id): s for s in service.upcoming_slots(db.session, standing, now=utcnow(),
                                                          days_ahead=28, tz=display_tz())}
    slot = slots.get(raw)
    if slot is None:
        flash(_("This date cannot be skipped: choose one of the coming dates."), "danger")
        return redirect(url_for("standing.index"), code=303)
    if service.skip(db.session, standing, slot.id):
        flash(_("That week is skipped."), "success")
        return redirect(url_for("standing.index"), code=303)
    db.session.rollback()
    run = service.run_for(db.session, standing, slot.id)
    if run is not None and run.status == service.RunStatus.SKIPPED:
        flash(_("That week is skipped already."), "info")
        return redirect(url_for("standing.index"), code=303)
    if run is not None and run.order_id is not None:
        flash(_("That week's order is already placed (order %(number)s): cancel it from "
                "your orders instead.", number=run.order_id), "danger")
    else:
        flash(_("That week's standing order has already run: there is nothing to skip."),
              "danger")
    return _render(status=409)
