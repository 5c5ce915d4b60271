"""The farm's order pages: incoming orders per slot, pick list, packing list
(printable, and as CSV), marking a buyer's order ready with any missing units."""

from __future__ import annotations

import re
from datetime import timedelta

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
from flask_babel import ngettext

from marketplace.accounts.decorators import producer_required
from marketplace.downloads import csv_download, escape_cell, page_csv_style
from marketplace.extensions import db
from marketplace.models import get_by_id, utcnow
from marketplace.orders import fulfilment
from marketplace.pickup.models import PickupSlot
from marketplace.producers.views import current_farm
from marketplace.web.forms import ConfirmForm

from . import pick_lists

bp = Blueprint("farm_orders", __name__, url_prefix="/farm/orders")

SHORT_FIELD = re.compile(r"^short-(\d{1,18})$")


def _slot_or_404(slot_id: int) -> PickupSlot:
    slot = get_by_id(db.session, PickupSlot, slot_id)
    if slot is None:
        abort(404)
    return slot


@bp.get("")
@producer_required
def index():
    farm = current_farm()
    # Yesterday's slots stay listed for a day: the farm may still check what was collected.
    slots = pick_lists.incoming_slots(db.session, farm.id, since=utcnow() - timedelta(days=1))
    return render_template("farm/orders.html", farm=farm, slots=slots)


def _render_slot(slot, farm, *, error=None, error_sub=None, status=200):
    return render_template(
        "farm/slot_orders.html", farm=farm, slot=slot,
        pick_list=pick_lists.pick_list(db.session, farm.id, slot.id),
        packing=pick_lists.packing_list(db.session, farm.id, slot.id),
        form=ConfirmForm(formdata=None), error=error, error_sub=error_sub,
        raw=request.form if error else {},
    ), status


@bp.get("/slots/<int:slot_id>")
@producer_required
def slot(slot_id: int):
    return _render_slot(_slot_or_404(slot_id), current_farm())


@bp.get("/slots/<int:slot_id>/pick-list.csv")
@producer_required
def pick_list_csv(slot_id: int):
    slot, farm = _slot_or_404(slot_id), current_farm()
    lines = pick_lists.pick_list(db.session, farm.id, slot.id)
    return csv_download(pick_lists.pick_list_csv(lines, page_csv_style()),
                        pick_lists.csv_filename("pick-list", slot))


@bp.get("/slots/<int:slot_id>/packing-list.csv")
@producer_required
def packing_list_csv(slot_id: int):
    slot, farm, style = _slot_or_404(slot_id), current_farm(), page_csv_style()
    rows = [[_("order"), _("buyer"), _("product"), _("variant"), _("quantity"), _("missing"),
             _("amount (EUR)"), _("status"), _("allergens"), _("may contain"),
             _("placed by")]]
    for sub in pick_lists.packing_list(db.session, farm.id, slot.id):
        for line in sub.lines:
            rows.append([
                str(sub.order_id), escape_cell(sub.order.buyer.display_name),
                escape_cell(line.product_name), escape_cell(line.variant_label),
                str(line.quantity), str(line.quantity_short),
                style.amount(line.supplied_total_cents),
                sub.status.label,
                ", ".join(str(a.label) for a in line.allergen_list),
                ", ".join(str(a.label) for a in line.trace_list),
                escape_cell(sub.order.placed_by.display_name if sub.order.placed_by else ""),
            ])
    return csv_download(style.encode(rows), pick_lists.csv_filename("packing-list", slot))


@bp.post("/sub-orders/<int:sub_order_id>/ready")
@producer_required
def mark_ready(sub_order_id: int):
    farm = current_farm()
    sub = fulfilment.sub_order_of(db.session, farm.id, sub_order_id)
    if sub is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    slot = db.session.get(PickupSlot, sub.order.pickup_slot_id)
    raw = {int(m.group(1)): value for key, value in request.form.items()
           if (m := SHORT_FIELD.match(key))}
    try:
        shorts = fulfilment.parse_shorts(sub, raw)
        fulfilment.mark_ready(db.session, sub, now=utcnow(), shorts=shorts,
                              config=current_app.config)
    except fulfilment.FulfilmentError as exc:
        db.session.rollback()
        return _render_slot(slot, farm, error=str(exc.message), error_sub=sub.id, status=400)
    missing = sum(line.quantity_short for line in sub.lines)
    if missing:
        flash(ngettext("Order %(number)s is ready, with %(num)d missing unit: the buyer is "
                       "told.", "Order %(number)s is ready, with %(num)d missing units: the "
                       "buyer is told.", missing, number=sub.order_id), "success")
    else:
        flash(_("Order %(number)s is ready: the buyer is told.", number=sub.order_id), "success")
    return redirect(url_for("farm_orders.slot", slot_id=slot.id, _anchor=f"sub-{sub.id}"),
                    code=303)
