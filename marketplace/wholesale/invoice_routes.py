"""Invoices on the web: the restaurant's, the farm's, the admin's overdue list and
payment terms. Thin views over wholesale.invoices; another account's invoice is 404."""

from __future__ import annotations

import logging

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
from flask_babel import format_currency, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField

from marketplace.accounts.decorators import admin_required, producer_required, role_required
from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.models import get_by_id, utcnow
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.services.stripe_objects import get as stripe_field
from marketplace.producers.views import current_farm
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import parse_id

from . import invoice_mails, invoice_payments, invoice_pdf, invoices
from .forms import PaymentTermsForm
from .invoice_models import Invoice
from .models import LEGAL_MAX_PAYMENT_TERMS_DAYS

bp = Blueprint("invoices", __name__)
log = logging.getLogger(__name__)

restaurant_required = role_required(Role.RESTAURANT)
bp.app_template_filter("unit_price")(invoice_pdf.unit_price)


class CreditNoteForm(FlaskForm):
    reason = StringField(_l("Reason"))
    submit = SubmitField(_l("Issue the credit note"))


def _pdf_response(invoice: Invoice):
    pdf = invoice_mails.pdf_of(invoice)
    response = make_response(pdf.content)
    response.headers["Content-Type"] = pdf.content_type
    response.headers["Content-Disposition"] = f'inline; filename="{pdf.filename}"'
    return response


def _page(invoice: Invoice, **extra):
    return render_template(
        "invoices/invoice.html", invoice=invoice,
        delivery_at=invoice_pdf.delivery_date(db.session, invoice),
        credit_notes=invoices.credit_notes_of(db.session, invoice),
        balance=invoices.balance_cents(db.session, invoice),
        card_payment=None if invoice.is_credit_note
        else payments.invoice_payment_of(db.session, invoice),
        mention=invoices.LATE_PAYMENT_MENTION, **extra)


def restaurant_page(invoice: Invoice, **extra):
    """The restaurant's invoice page (also shown by the card payment's refusals)."""
    return _page(invoice, side="restaurant", **extra)


# Restaurant -------------------------------------------------------------------------------

def _own_invoice_or_404(invoice_id: int) -> Invoice:
    invoice = invoices.invoice_of_buyer(db.session, current_user.id, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.get("/restaurant/invoices")
@restaurant_required
def restaurant_list():
    return render_template("invoices/list.html", side="restaurant",
                           rows=invoices.invoices_of_buyer(db.session, current_user.id, utcnow()))


@bp.get("/restaurant/invoices/<int:invoice_id>")
@restaurant_required
def restaurant_show(invoice_id: int):
    return restaurant_page(_own_invoice_or_404(invoice_id))


@bp.get("/restaurant/invoices/<int:invoice_id>.pdf")
@restaurant_required
def restaurant_pdf(invoice_id: int):
    return _pdf_response(_own_invoice_or_404(invoice_id))


# Farm -------------------------------------------------------------------------------------

def _farm_invoice_or_404(invoice_id: int) -> Invoice:
    invoice = invoices.invoice_of_producer(db.session, current_farm().id, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.get("/farm/invoices")
@producer_required
def farm_list():
    return render_template("invoices/list.html", side="farm", form=ConfirmForm(),
                           rows=invoices.invoices_of_producer(db.session, current_farm().id,
                                                              utcnow()))


def _farm_page(invoice: Invoice, **extra):
    return _page(invoice, side="farm", form=ConfirmForm(), credit_form=CreditNoteForm(),
                 credited=invoices.credited_by_line(db.session, invoice), **extra)


@bp.get("/farm/invoices/<int:invoice_id>")
@producer_required
def farm_show(invoice_id: int):
    return _farm_page(_farm_invoice_or_404(invoice_id))


@bp.get("/farm/invoices/<int:invoice_id>.pdf")
@producer_required
def farm_pdf(invoice_id: int):
    return _pdf_response(_farm_invoice_or_404(invoice_id))


@bp.post("/farm/invoices/<int:invoice_id>/paid")
@producer_required
def mark_paid(invoice_id: int):
    """The farm was paid (transfer, cheque...). If the restaurant has a card payment of
    the invoice under way, it is canceled at Stripe first; if Stripe says it went
    through, the invoice is paid by card instead. Either way it is paid once."""
    invoice = _farm_invoice_or_404(invoice_id)
    if not ConfirmForm().validate_on_submit() or invoice.is_credit_note:
        abort(400)
    back = (url_for("invoices.farm_list") if request.form.get("next") == "list"
            else url_for("invoices.farm_show", invoice_id=invoice.id))
    config = current_app.config
    intent_id = payments.open_invoice_intent(db.session, invoice)
    if intent_id is not None:
        db.session.rollback()  # no lock held while Stripe answers
        try:
            intent = payments.cancel_or_retrieve(config, intent_id)
        except gateway.PaymentGatewayError as exc:
            log.warning("invoice %s: card payment not canceled: %s", invoice_id, exc)
            return _farm_page(_farm_invoice_or_404(invoice_id), error=_(
                "The restaurant has started paying this invoice by card, and the payment "
                "service cannot be reached just now to stop that payment: the invoice is "
                "not marked paid. Try again in a moment.")), 409
        invoice = _farm_invoice_or_404(invoice_id)
        payments.apply_intent(db.session, intent, config, now=utcnow())
        if invoice.paid_at is not None:
            flash(_("Invoice %(number)s was paid by card by the restaurant: the amount is in "
                    "your account statement.", number=invoice.display_number), "success")
            return redirect(back, code=303)
        status = stripe_field(intent, "status")
        if status != "canceled":
            db.session.commit()  # what Stripe said is kept (an amount mismatch, say)
            return _farm_page(invoice, error=_(
                "The restaurant's card payment does not match the amount due: the invoice "
                "is not marked paid, and the platform's team is looking into it.")
                if status == "succeeded" else _(
                "A card payment of this invoice by the restaurant is under way: the invoice "
                "is not marked paid. Look again in a few minutes.")), 409
    try:
        if invoices.mark_paid(db.session, invoice, now=utcnow()):
            flash(_("Invoice %(number)s is marked paid.", number=invoice.display_number),
                  "success")
    except invoices.InvoiceError:
        db.session.rollback()
        return _farm_page(_farm_invoice_or_404(invoice_id), error=_(
            "The restaurant has just started paying this invoice by card: try again to "
            "stop that payment and mark the invoice paid.")), 409
    return redirect(back, code=303)


def _quantities(invoice: Invoice) -> dict[int, int] | None:
    """Units to credit per line from the form (qty-<line id>); None: the whole invoice."""
    if request.form.get("whole") == "1":
        return None
    quantities = {}
    for line in invoice.lines:
        raw = (request.form.get(f"qty-{line.id}") or "0").strip()
        if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
            done = invoices.credited_by_line(db.session, invoice)
            raise invoices.InvoiceError(invoices.BAD_QUANTITY,
                                        invoices.creditable_on(invoice, line, done))
        quantities[line.id] = int(raw)
    return quantities


def _credit_refusal(exc: invoices.InvoiceError) -> str:
    """Why a credit note is refused; for a line, what is still creditable on it."""
    typed_some = any((value or "").strip() not in ("", "0")
                     for key, value in request.form.items() if key.startswith("qty-"))
    if (exc.code == invoices.NOTHING_TO_CREDIT and request.form.get("whole") != "1"
            and not typed_some):
        return _("Type the units to credit on at least one line.")
    if exc.code == invoices.NOTHING_TO_CREDIT or exc.creditable is None:
        return _("Nothing left to credit on this invoice.")
    line = exc.creditable
    if exc.code == invoices.BAD_QUANTITY:
        return _("Give a whole number of units to credit on “%(line)s”.", line=line.description)
    if exc.code == invoices.CREDITS_DO_NOT_ADD_UP:
        return _("The amounts already credited on “%(line)s” do not add up, so no credit note "
                 "can be issued on it: contact the platform's team.", line=line.description)
    return ngettext(
        "“%(line)s” from %(farm)s: at most %(num)d more unit can be credited, "
        "%(amount)s incl. VAT.",
        "“%(line)s” from %(farm)s: at most %(num)d more units can be credited, "
        "%(amount)s incl. VAT.",
        line.quantity, line=line.description, farm=line.farm,
        amount=format_currency(line.total_cents / 100, line.currency))


@bp.post("/farm/invoices/<int:invoice_id>/credit-note")
@producer_required
def issue_credit_note(invoice_id: int):
    """A credit note for the units the form gives per line. Too many units on a line (or
    not a number) is refused with a 400 naming the line and what is still creditable."""
    invoice = _farm_invoice_or_404(invoice_id)
    form = CreditNoteForm()
    if not form.validate_on_submit() or invoice.is_credit_note:
        abort(400)
    try:
        note = invoices.credit_note(db.session, invoice, now=utcnow(),
                                    quantities=_quantities(invoice),
                                    reason=(form.reason.data or "").strip())
        refunds = invoice_payments.refund_credit_note(db.session, note, current_app.config,
                                              now=utcnow())
    except invoices.InvoiceError as exc:
        db.session.rollback()
        if exc.code == invoices.CREDITS_DO_NOT_ADD_UP:
            log.error("invoice %s: the credit notes of line %s do not add up", invoice_id,
                      exc.creditable.line_id)
        message = _credit_refusal(exc)
        invoice = _farm_invoice_or_404(invoice_id)
        return _page(invoice, side="farm", form=ConfirmForm(), credit_form=form,
                     credited=invoices.credited_by_line(db.session, invoice), error=message,
                     typed=request.form), 400
    flash(_("Credit note %(number)s is issued.", number=note.display_number), "success")
    if refunds:  # a refund to the card is told to the restaurant as such
        invoice_mails.send_document(db.session, note)
    else:
        invoice_mails.credit_note_told(db.session, note, invoice)
    if refunds:
        amount = format_currency(sum(r.amount_cents for r in refunds) / 100, note.currency)
        flash(_("The restaurant paid this invoice by card: %(amount)s goes back to its card.",
                amount=amount), "success")
    return redirect(url_for("invoices.farm_show", invoice_id=note.id), code=303)


# Admin ------------------------------------------------------------------------------------

@bp.get("/admin/invoices/overdue")
@admin_required
def admin_overdue():
    return render_template("invoices/overdue.html",
                           rows=invoices.overdue_invoices(db.session, utcnow()))


@bp.route("/admin/invoices/terms", methods=["GET", "POST"])
@admin_required
def admin_terms():
    form = PaymentTermsForm()
    error_user = None
    if request.method == "POST":
        user = get_by_id(db.session, User, parse_id(request.form.get("user_id")))
        if user is None:
            abort(404)
        if form.validate_on_submit():
            try:
                invoices.set_payment_terms(db.session, user, form.days.data)
                flash(_("Payment terms of %(name)s are saved.", name=user.display_name),
                      "success")
                return redirect(url_for("invoices.admin_terms"), code=303)
            except invoices.InvoiceError as exc:
                db.session.rollback()
                form.days.errors = [_("This restaurant has not filled in its business details "
                                      "yet.") if exc.code == invoices.NO_PROFILE
                                    else _("Only an approved restaurant can get payment terms.")]
        error_user = user.id
    status = 400 if error_user else 200
    return render_template("invoices/terms.html", form=form, error_user=error_user,
                           restaurants=invoices.restaurants_with_terms(db.session),
                           max_days=LEGAL_MAX_PAYMENT_TERMS_DAYS), status
