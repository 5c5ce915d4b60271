"""The relay desk: the points a person is relay of, the neighbours they help there,
and orders placed for them (paid at pickup) through the ordinary checkout, in one
request from a table of what the market day offers. Works without JavaScript."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user, login_required
from werkzeug.utils import secure_filename

from marketplace.accounts import services as accounts
from marketplace.accounts import tokens
from marketplace.extensions import db
from marketplace.models import get_by_id, utcnow
from marketplace.orders import cart as cart_service
from marketplace.orders import services as orders
from marketplace.orders.models import PaymentMethod
from marketplace.orders.views import place_from_form
from marketplace.pickup.models import PickupPoint, PickupSlot
from marketplace.relays import mails, paper, services
from marketplace.relays.forms import HandOverForm, NameRelayForm, NeighbourForm
from marketplace.web.display import cutoff_people_say, date_people_say, display_tz, hour_people_say
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import parse_id
from marketplace.wholesale import quick_order as quick
from marketplace.wholesale.quick_routes import grid_variants

bp = Blueprint("relays", __name__, url_prefix="/relay")

MAX_LINES_SHOWN = 2000


def _point_or_404(point_id: int) -> PickupPoint:
    """A point the signed-in person is relay of (an admin: any point); 404 otherwise."""
    point = get_by_id(db.session, PickupPoint, point_id)
    if point is None or not (current_user.is_admin
                             or services.is_relay(db.session, current_user, point)):
        abort(404)
    return point


def _neighbour_or_404(point: PickupPoint, neighbour_id: int):
    neighbour = services.neighbour_of_relay(db.session, current_user, point, neighbour_id)
    if neighbour is None:
        abort(404)
    return neighbour


@bp.get("")
@login_required
def desk():
    return render_template("relays/desk.html",
                           points=services.relay_points(db.session, current_user))


def _render_point(point, *, name_form=None, status=200):
    may_name = services.may_name_relays(current_user, point)
    return render_template(
        "relays/point.html", point=point,
        neighbours=services.neighbours_of(db.session, point), may_name=may_name,
        assignments=services.assignments(db.session, point) if may_name else [],
        name_form=name_form or NameRelayForm(formdata=None), end_form=ConfirmForm(),
        slots=services.open_slots(db.session, point, utcnow(), tz=display_tz()),
    ), status


@bp.get("/points/<int:point_id>")
@login_required
def point(point_id: int):
    return _render_point(_point_or_404(point_id))


@bp.get("/points/<int:point_id>/paper/<int:slot_id>.pdf")
@login_required
def paper_form(point_id: int, slot_id: int):
    """The paper order form of one of the point's open market days, to print."""
    point = _point_or_404(point_id)
    slot = next((s for s in services.open_slots(db.session, point, utcnow(), tz=display_tz())
                 if s.id == slot_id), None)
    if slot is None:
        abort(404)
    # No buyer: the retail items anyone may order, as a neighbour sees them.
    rows = paper.lines(grid_variants(slot, None, limit=MAX_LINES_SHOWN))
    starts = to_user_timezone(slot.starts_at)
    address = ", ".join(part for part in (point.address, f"{point.postcode} {point.commune}"
                                          .strip()) if part)
    response = make_response(paper.render(
        point_name=point.name, point_address=address,
        day=_("%(day)s at %(time)s", day=date_people_say(starts.date()),
              time=hour_people_say(starts.time())),
        cutoff=cutoff_people_say(slot.cutoff_at), rows=rows))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{secure_filename(f"{point.name} {starts.date()}")}.pdf"')
    return response


@bp.post("/points/<int:point_id>/relays")
@login_required
def name_relay(point_id: int):
    point = _point_or_404(point_id)
    if not services.may_name_relays(current_user, point):
        abort(404)
    form = NameRelayForm()
    if not form.validate_on_submit():
        return _render_point(point, name_form=form, status=400)
    try:
        made = services.name_relay(db.session, point, form.email.data, by=current_user,
                                   now=utcnow())
    except services.RelayError as exc:
        db.session.rollback()
        form.email.errors = [str(exc.message)]
        return _render_point(point, name_form=form, status=400)
    mails.relay_named(db.session, made)
    db.session.commit()
    flash(_("%(name)s is now relay of %(point)s.", name=made.user.display_name,
            point=point.name), "success")
    return redirect(url_for(".point", point_id=point.id), code=303)


@bp.post("/points/<int:point_id>/relays/<int:assignment_id>/end")
@login_required
def end_relay(point_id: int, assignment_id: int):
    point = _point_or_404(point_id)
    if not services.may_name_relays(current_user, point) or not ConfirmForm().validate_on_submit():
        abort(404)
    ended = services.end_relay(db.session, point, assignment_id, now=utcnow())
    if ended is None:
        abort(404)
    db.session.commit()
    flash(_("%(name)s is no longer relay of %(point)s.", name=ended.user.display_name,
            point=point.name), "success")
    return redirect(url_for(".point", point_id=point.id), code=303)


@bp.route("/points/<int:point_id>/neighbours/new", methods=["GET", "POST"])
@login_required
def new_neighbour(point_id: int):
    point = _point_or_404(point_id)
    form = NeighbourForm()
    if form.validate_on_submit():
        try:
            neighbour = services.register_neighbour(
                db.session, point, relay=current_user, name=form.display_name.data,
                phone=form.phone.data or "", postal_address=form.postal_address.data or "",
                purpose=form.purpose.data, today=utcnow().date(),
                hash_method=current_app.config["PASSWORD_HASH_METHOD"])
        except services.RelayError as exc:
            db.session.rollback()
            form.phone.errors = [str(exc.message)]
        else:
            db.session.commit()
            flash(_("%(name)s is registered.", name=neighbour.user.display_name), "success")
            return redirect(url_for(".neighbour", point_id=point.id,
                                    neighbour_id=neighbour.id), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("relays/new_neighbour.html", point=point, form=form), status


@bp.get("/points/<int:point_id>/neighbours/<int:neighbour_id>")
@login_required
def neighbour(point_id: int, neighbour_id: int):
    point = _point_or_404(point_id)
    return _render_neighbour(point, _neighbour_or_404(point, neighbour_id))


def _render_neighbour(point, neighbour, *, form=None, status=200):
    return render_template(
        "relays/neighbour.html", point=point, neighbour=neighbour,
        orders=services.orders_of_neighbour(db.session, neighbour),
        hand_over_form=form or HandOverForm(formdata=None)), status


@bp.post("/points/<int:point_id>/neighbours/<int:neighbour_id>/hand-over")
@login_required
def hand_over(point_id: int, neighbour_id: int):
    """Give the neighbour their account: their e-mail, a link to choose a password."""
    point = _point_or_404(point_id)
    neighbour = _neighbour_or_404(point, neighbour_id)
    form = HandOverForm()
    if not form.validate_on_submit():
        return _render_neighbour(point, neighbour, form=form, status=400)
    try:
        user = services.hand_over(db.session, neighbour, form.email.data, now=utcnow())
    except services.RelayError as exc:
        db.session.rollback()
        form.email.errors = [str(exc.message)]
        return _render_neighbour(point, neighbour, form=form, status=400)
    config = current_app.config
    mails.handed_over(db.session, neighbour, by=current_user,
                      token=accounts.password_reset_token(config, user),
                      max_age=tokens.max_age(config, tokens.RESET))
    db.session.commit()
    flash(_("%(name)s has their own account now: a link to choose a password went to "
            "%(email)s.", name=user.display_name, email=user.email), "success")
    return redirect(url_for(".neighbour", point_id=point.id, neighbour_id=neighbour.id),
                    code=303)


def _chosen_slot(point, slots) -> PickupSlot | None:
    """The slot named by ``slot_id`` among the point's open ones, else the first."""
    if "slot_id" not in request.values:
        return slots[0] if slots else None
    wanted = parse_id(request.values.get("slot_id"))
    return next((slot for slot in slots if slot.id == wanted), None)


def _render_order(point, neighbour, slots, slot, variants, *, typed=None, error=None,
                  status=200):
    typed = typed or quick.Typed()
    buyer = neighbour.user
    return render_template(
        "relays/order.html", point=point, neighbour=neighbour, slots=slots, slot=slot,
        rows=quick.rows(variants, {}, buyer), raw=typed.raw, errors=typed.errors,
        error=error, totals=quick.totals(db.session, typed.quantities, buyer),
    ), status


@bp.route("/points/<int:point_id>/neighbours/<int:neighbour_id>/order",
          methods=["GET", "POST"])
@login_required
def order(point_id: int, neighbour_id: int):
    point = _point_or_404(point_id)
    neighbour = _neighbour_or_404(point, neighbour_id)
    buyer = neighbour.user
    slots = services.open_slots(db.session, point, utcnow(), tz=display_tz())
    slot = _chosen_slot(point, slots)
    variants = grid_variants(slot, buyer, limit=MAX_LINES_SHOWN) if slot else []

    def render(**kw):
        return _render_order(point, neighbour, slots, slot, variants, **kw)

    if request.method == "GET":
        return render()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if slot is None:
        return render(status=400, error=_("Choose a delivery or pickup date."))
    typed = quick.read_quantities(request.form, {v.id: v for v in variants}, buyer)
    if typed.unknown:
        return render(typed=typed, status=400, error=_(
            "An item of the form is not sold for this slot any more: reload the page."))
    if typed.errors:
        return render(typed=typed, status=400,
                      error=_("Some quantities need a look: see the marked lines."))
    if len(typed.quantities) > cart_service.MAX_LINES:
        return render(typed=typed, status=400, error=_(
            "More than %(max)d lines have a quantity: one order holds at most %(max)d "
            "items. Place two orders.", max=cart_service.MAX_LINES))
    if request.form.get("action") == "recalculate":
        return render(typed=typed)
    if not typed.quantities:
        return render(typed=typed, status=400,
                      error=_("Type a quantity for at least one item."))
    cart = {str(k): q for k, q in typed.quantities.items()}
    try:
        placed_order, placed = place_from_form(
            buyer=buyer, cart=cart, slot_id=slot.id, payment_method=PaymentMethod.AT_PICKUP,
            placed_by_id=current_user.id)
    except orders.CheckoutError as exc:
        db.session.rollback()
        if exc.line:
            typed.errors[exc.line.variant_id] = str(exc.message)
        return render(typed=typed, error=str(exc.message), status=exc.status)
    if placed:
        flash(_("Order %(number)s is placed for %(name)s.", number=placed_order.id,
                name=buyer.display_name), "success")
    else:
        flash(_("This order was already placed: here it is. Nothing was ordered twice."),
              "info")
    return redirect(url_for(".receipt", point_id=point.id, neighbour_id=neighbour.id,
                            order_id=placed_order.id), code=303)


@bp.get("/points/<int:point_id>/neighbours/<int:neighbour_id>/orders/<int:order_id>")
@login_required
def receipt(point_id: int, neighbour_id: int, order_id: int):
    point = _point_or_404(point_id)
    neighbour = _neighbour_or_404(point, neighbour_id)
    found = services.order_of_neighbour(db.session, neighbour, order_id)
    if found is None:
        abort(404)
    return render_template("relays/receipt.html", point=point, neighbour=neighbour,
                           order=found)
