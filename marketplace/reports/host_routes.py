"""The host's distribution sheet of a slot: each buyer, what they collect from which
farm, paid or to pay, with a check-off as people collect (plain forms: works
without JavaScript, on a phone at the counter); the same list as CSV."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role
from marketplace.downloads import csv_download, escape_cell, page_csv_style
from marketplace.extensions import db
from marketplace.models import get_by_id, utcnow
from marketplace.orders import fulfilment
from marketplace.orders.models import Actor, CounterPayment, OrderStatus
from marketplace.pickup import services as pickup_services
from marketplace.pickup.models import PickupSlot
from marketplace.web.forms import ConfirmForm

from . import distribution

bp = Blueprint("distribution", __name__, url_prefix="/pickup/slots")

# A restaurant sees the sheet of its own door (managed_point checks which).
host_required = role_required(Role.HOST, Role.RESTAURANT, Role.ADMIN)


def _managed_slot_or_404(slot_id: int) -> PickupSlot:
    """The slot if the signed-in host hosts its point (or is an admin), else 404."""
    slot = get_by_id(db.session, PickupSlot, slot_id)
    if slot is None or pickup_services.managed_point(
            db.session, current_user, slot.pickup_point_id) is None:
        abort(404)
    return slot


def _actor() -> Actor:
    return Actor.ADMIN if current_user.role == Role.ADMIN else Actor.HOST


def _render(slot, *, error=None, error_order=None, status=200):
    orders = distribution.distribution_sheet(db.session, slot.id)
    to_collect = [o for o in orders if o.status != OrderStatus.COLLECTED]
    return render_template(
        "pickup/sheet.html", slot=slot, orders=orders, form=ConfirmForm(formdata=None),
        remaining=len(to_collect),
        to_take_cents=sum(o.amount_due_cents for o in to_collect if o.to_pay_at_pickup),
        payments=list(CounterPayment), error=error, error_order=error_order,
    ), status


@bp.get("/<int:slot_id>/sheet")
@host_required
def sheet(slot_id: int):
    return _render(_managed_slot_or_404(slot_id))


@bp.get("/<int:slot_id>/sheet.csv")
@host_required
def sheet_csv(slot_id: int):
    slot, style = _managed_slot_or_404(slot_id), page_csv_style()
    rows = [[_("order"), _("buyer"), _("farms"), _("status"), _("payment"), _("paid with"),
             _("amount (EUR)"), _("to take at the counter (EUR)"), _("allergens"),
             _("placed by")]]
    for order in distribution.distribution_sheet(db.session, slot.id):
        rows.append([
            str(order.id), escape_cell(order.buyer.display_name),
            escape_cell(", ".join(sub.producer.name for sub in order.active_sub_orders)),
            order.status.label, order.payment_method.label,
            order.paid_with.label if order.paid_with else "",
            style.amount(order.amount_due_cents),
            style.amount(order.amount_due_cents if order.to_pay_at_pickup else 0),
            ", ".join(str(a.label) for a in sorted(
                {a for sub in order.active_sub_orders for a in sub.allergens_delivered})),
            escape_cell(order.placed_by.display_name if order.placed_by else ""),
        ])
    day = format_datetime(slot.starts_at, "yyyy-MM-dd")
    return csv_download(style.encode(rows), f"distribution-{day}-slot{slot.id}.csv")


def _order_or_404(slot, order_id: int):
    order = fulfilment.order_in_slot(db.session, slot.id, order_id)
    if order is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return order


@bp.post("/<int:slot_id>/orders/<int:order_id>/collected")
@host_required
def collected(slot_id: int, order_id: int):
    slot = _managed_slot_or_404(slot_id)
    order = _order_or_404(slot, order_id)
    raw = (request.form.get("paid_with") or "").strip()
    try:
        paid_with = CounterPayment(raw) if raw else None
    except ValueError:
        return _render(slot, error=_("Choose cash, cheque or card."), error_order=order.id,
                       status=400)
    try:
        fulfilment.mark_collected(db.session, order, now=utcnow(), actor=_actor(),
                                  paid_with=paid_with, config=current_app.config)
    except fulfilment.FulfilmentError as exc:
        db.session.rollback()
        return _render(slot, error=str(exc.message), error_order=order.id, status=409
                       if order.status not in (OrderStatus.CONFIRMED, OrderStatus.READY)
                       else 400)
    flash(_("%(buyer)s has collected order %(number)s.", buyer=order.buyer.display_name,
            number=order.id), "success")
    return redirect(url_for("distribution.sheet", slot_id=slot.id, _anchor=f"order-{order.id}"),
                    code=303)


@bp.post("/<int:slot_id>/orders/<int:order_id>/undo")
@host_required
def undo(slot_id: int, order_id: int):
    slot = _managed_slot_or_404(slot_id)
    order = _order_or_404(slot, order_id)
    try:
        fulfilment.undo_collected(db.session, order, now=utcnow(), actor=_actor())
    except fulfilment.FulfilmentError as exc:
        db.session.rollback()
        return _render(slot, error=str(exc.message), error_order=order.id, status=409)
    flash(_("Order %(number)s is back to collect.", number=order.id), "success")
    return redirect(url_for("distribution.sheet", slot_id=slot.id, _anchor=f"order-{order.id}"),
                    code=303)
