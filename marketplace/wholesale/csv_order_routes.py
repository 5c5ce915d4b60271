"""An approved restaurant orders by uploading a CSV file: it downloads the
file of what a slot can deliver, types its quantities in a spreadsheet and sends the
file back; the order is placed in the same request through the ordinary checkout,
or the page lists every problem by line and nothing is placed (see csv_order)."""

from __future__ import annotations

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SubmitField

from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role
from marketplace.catalogue import csv_io, pricing
from marketplace.downloads import csv_download, page_csv_style
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.orders import services as orders
from marketplace.orders.models import PaymentMethod
from marketplace.orders.views import place_from_form, show_placed_before
from marketplace.payments import services as payments
from marketplace.web.display import display_tz

from . import csv_order
from .quick_routes import chosen_slot, grid_variants, open_slots

bp = Blueprint("order_upload", __name__, url_prefix="/restaurant/order-upload")

MAX_ERRORS_SHOWN = 300  # as the catalogue import: the first ones help, thousands do not

PAYMENT_LABELS = {
    PaymentMethod.INVOICE.value: _l("On invoice"),
    PaymentMethod.AT_PICKUP.value: _l("At pickup: cash, cheque or card at the counter"),
    PaymentMethod.CARD.value: _l("By card, now (the order is confirmed once paid)"),
}


class OrderUploadForm(FlaskForm):
    file = FileField(
        _l("Your order (CSV file)"),
        validators=[FileRequired(message=_l("Choose the CSV file of your order."))],
        description=_l("The file downloaded from this page with its quantity column filled "
                       "in, saved as CSV, at most %(max)d lines ordered.",
                       max=csv_order.MAX_LINES),
    )
    payment_method = RadioField(_l("How to pay"), choices=[])
    submit = SubmitField(_l("Place the order"))


def _form(methods: frozenset[str]) -> OrderUploadForm:
    default = (PaymentMethod.INVOICE.value if PaymentMethod.INVOICE.value in methods
               else PaymentMethod.AT_PICKUP.value)
    form = OrderUploadForm(payment_method=default)
    form.payment_method.choices = [(value, label) for value, label in PAYMENT_LABELS.items()
                                   if value in methods]
    return form


def _render(form, slot, *, errors=(), error=None, status=200):
    errors = list(errors)
    return render_template(
        "wholesale/order_upload.html", form=form, slot=slot, slots=open_slots(utcnow()),
        upload_errors=errors[:MAX_ERRORS_SHOWN], error_count=len(errors),
        hidden_errors=max(len(errors) - MAX_ERRORS_SHOWN, 0), error=error,
        columns=csv_order.column_names(page_csv_style()), max_lines=csv_order.MAX_LINES,
        max_quantity=csv_order.MAX_QUANTITY,
    ), status


def _buyer_and_slot():
    if not pricing.is_wholesale_buyer(current_user):
        abort(404)  # an account waiting for approval orders nothing wholesale
    return chosen_slot()


@bp.route("", methods=["GET", "POST"])
@role_required(Role.RESTAURANT)
def upload():
    slot = _buyer_and_slot()
    form = _form(payments.payment_methods(db.session, current_user, current_app.config))
    if slot is None:
        if request.method == "POST":
            return _render(form, None, status=400, error=_("Choose a delivery or pickup date."))
        return _render(form, None)
    closed = orders.slot_problem(slot, utcnow())
    if request.method == "GET":
        return _render(form, slot, error=str(closed.message) if closed else None)
    if not form.validate_on_submit():
        return _render(form, slot, status=400)
    if closed:
        return _render(form, slot, error=str(closed.message), status=closed.status)
    try:
        uploaded = csv_order.parse_order(
            db.session, form.file.data.stream, buyer=current_user,
            orderable=lambda ids: grid_variants(slot, current_user, only=ids))
    except csv_io.CsvImportError as exc:
        db.session.rollback()
        return _render(form, slot, errors=exc.errors, status=400)

    try:
        order, placed = place_from_form(buyer=current_user, cart=uploaded.cart,
                                        slot_id=slot.id,
                                        payment_method=form.payment_method.data)
    except orders.CheckoutError as exc:
        db.session.rollback()
        return _render(form, slot, errors=[csv_order.checkout_error(uploaded, exc)],
                       status=exc.status)
    if not placed:
        return show_placed_before(order)
    if order.payment_method == PaymentMethod.CARD:
        return redirect(url_for("payments.pay", order_id=order.id), code=303)
    flash(_("Your order %(number)s is placed.", number=order.id), "success")
    return redirect(url_for("checkout.order", order_id=order.id), code=303)


@bp.route("/template.csv")
@role_required(Role.RESTAURANT)
def template():
    slot = _buyer_and_slot()
    if slot is None:
        abort(404)
    variants = grid_variants(slot, current_user)  # all of them: a file has no page to fill
    tiers = pricing.tiers_for(db.session, [v.id for v in variants])
    return csv_download(csv_order.template_csv(variants, tiers, page_csv_style()),
                        csv_order.template_filename(slot, display_tz()))
