"""Closing a date of a pickup point (a holiday, roadworks): its orders move to another
date of the point or are cancelled, and each buyer is told. On the host's point page
(pickup/routes.py), here because it moves orders."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.pickup import services as pickup_services
from marketplace.pickup.forms import CloseSlotForm
from marketplace.pickup.models import SlotStatus
from marketplace.pickup.routes import host_required, point_or_404, render_point
from marketplace.web.display import display_tz
from marketplace.web.ids import parse_id

from . import fulfilment

bp = Blueprint("closing", __name__)


@bp.route("/pickup/points/<int:point_id>/slots/<int:slot_id>/close", methods=["POST"])
@host_required
def close_slot(point_id: int, slot_id: int):
    point = point_or_404(point_id)
    slot = pickup_services.slot_of_point(db.session, point, slot_id)
    if slot is None:
        abort(404)
    if slot.status == SlotStatus.CLOSED:
        # A page left open in another tab, the back button, a double click.
        return _closed_already(point)
    form = CloseSlotForm()
    if not form.validate_on_submit():
        return render_point(point, close_form=form, close_slot_id=slot.id, status=400)
    now = utcnow()
    orders = fulfilment.active_orders_of_slot(db.session, slot.id)
    then = (form.then.data or "").strip()
    moved = cancelled = 0
    target = None
    if orders and then != "cancel":
        if then.startswith("move:"):
            target = pickup_services.slot_of_point(
                db.session, point, parse_id(then.removeprefix("move:")))
        if target is None:
            form.then.errors = [ngettext(
                "This date has %(num)d order: choose a date to move it to, or cancel it.",
                "This date has %(num)d orders: choose a date to move them to, or cancel them.",
                len(orders))]
            return render_point(point, close_form=form, close_slot_id=slot.id, status=400)
    try:
        pickup_services.close_slot(db.session, slot, form.reason.data)
    except pickup_services.SlotClosedAlready:
        db.session.rollback()  # closed by another request since this one read it
        return _closed_already(point)
    try:
        if target is not None:
            moved = fulfilment.move_orders(db.session, slot, target, now=now,
                                           tz=display_tz(), reason=form.reason.data.strip())
        elif orders:
            cancelled = fulfilment.cancel_orders_of_slot(
                db.session, slot, now=now, config=current_app.config,
                reason=form.reason.data.strip())
    except fulfilment.FulfilmentError as exc:
        db.session.rollback()
        form.then.errors = [str(exc.message)]
        return render_point(point, close_form=form, close_slot_id=slot.id, status=409)
    if moved:
        flash(ngettext("This date is closed. %(num)d order moved; its buyer is told.",
                       "This date is closed. %(num)d orders moved; their buyers are told.",
                       moved), "success")
    elif cancelled:
        flash(ngettext("This date is closed. %(num)d order cancelled; its buyer is told.",
                       "This date is closed. %(num)d orders cancelled; their buyers are told.",
                       cancelled), "success")
    else:
        flash(_("This date is closed."), "success")
    return redirect(url_for("pickup.point", point_id=point.id))


def _closed_already(point):
    return render_point(point, error=_("This date is closed already."), status=409)
