"""A restaurant pays one of its invoices by card (Stripe.js in the page): the "Pay by
card" button, the payment page, its confirmation and the return from it. The invoice
is paid only from Stripe's own word, as an order is (payments/routes.py), and, as
there, writes are short transactions of their own so that no lock is held while
Stripe answers."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentStatus
from marketplace.payments.routes import PAYMENT_METHOD_ID, confirm_with_card, refused
from marketplace.payments.services.stripe_objects import get
from marketplace.sqlite import write_intent
from marketplace.web.forms import ConfirmForm

from . import invoice_payments, invoices
from .invoice_models import InvoiceKind
from .invoice_routes import restaurant_page

bp = Blueprint("invoice_payments", __name__)
log = logging.getLogger(__name__)


def _own_invoice_or_404(invoice_id: int):
    """The signed-in buyer's invoice (not a credit note); 404 for anyone else."""
    invoice = invoices.invoice_of_buyer(db.session, current_user.id, invoice_id)
    if invoice is None or invoice.kind != InvoiceKind.INVOICE:
        abort(404)
    return invoice


def _invoice_refusal(invoice, exc: invoice_payments.InvoicePaymentError):
    message = {
        invoice_payments.ALREADY_PAID: _(
            "This invoice is already paid: no card payment can be made."),
        invoice_payments.AT_PICKUP: _("This order is paid at pickup: pay it there."),
    }.get(exc.code) or _("Nothing is due on this invoice.")
    return restaurant_page(invoice, error=message), 409


def _invoice_url(invoice_id: int) -> str:
    return url_for("invoices.restaurant_show", invoice_id=invoice_id)


@bp.post("/restaurant/invoices/<int:invoice_id>/pay")
@login_required
def invoice_pay_start(invoice_id: int):
    """The "Pay by card" button: the invoice's one intent, for what is due as computed
    here (anything the form sends about amounts is ignored), created once then reused."""
    invoice = _own_invoice_or_404(invoice_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        due = invoice_payments.check_invoice_payable(db.session, invoice)
    except invoice_payments.InvoicePaymentError as exc:
        return _invoice_refusal(invoice, exc)
    payment = payments.invoice_payment_of(db.session, invoice)
    if payments.usable_invoice_payment(payment):
        return redirect(url_for("invoice_payments.invoice_pay", invoice_id=invoice_id), code=303)
    replacing = payment.intent_id if payment is not None else None
    currency = invoice.currency
    config = current_app.config
    db.session.rollback()  # no lock held while Stripe answers
    try:
        intent = payments.create_invoice_intent(invoice_id, due, currency, config,
                                                replacing=replacing)
    except gateway.PaymentGatewayError as exc:
        log.warning("invoice %s: payment service error: %s", invoice_id, exc)
        return restaurant_page(_own_invoice_or_404(invoice_id), error=_(
            "The payment service cannot be reached just now. Nothing was charged: try again "
            "in a moment.")), 503
    invoice = _own_invoice_or_404(invoice_id)
    payment = invoice_payments.store_invoice_intent(db.session, invoice, intent,
                                                    replacing=replacing)
    db.session.commit()
    if payment is None:
        # Paid (or credited) meanwhile: the new intent must never be paid.
        try:
            gateway.cancel_payment_intent(config, get(intent, "id"))
        except gateway.PaymentGatewayError as exc:  # no one has its client secret
            log.warning("invoice %s: unused intent not canceled: %s", invoice_id, exc)
        try:
            invoice_payments.check_invoice_payable(db.session, invoice)
        except invoice_payments.InvoicePaymentError as exc:
            return _invoice_refusal(invoice, exc)
    return redirect(url_for("invoice_payments.invoice_pay", invoice_id=invoice_id), code=303)


@bp.get("/restaurant/invoices/<int:invoice_id>/pay")
@login_required
def invoice_pay(invoice_id: int):
    invoice = _own_invoice_or_404(invoice_id)
    try:
        due = invoice_payments.check_invoice_payable(db.session, invoice)
    except invoice_payments.InvoicePaymentError:
        return redirect(_invoice_url(invoice_id))
    payment = payments.invoice_payment_of(db.session, invoice)
    if not payments.usable_invoice_payment(payment):
        return redirect(_invoice_url(invoice_id))  # its "Pay by card" button starts one
    config = current_app.config
    return render_template(
        "payments/invoice_pay.html", invoice=invoice, payment=payment, due=due,
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"], stripe_js=config["STRIPE_JS_URL"],
        failed=payment.status == PaymentStatus.FAILED,
    )


@bp.post("/restaurant/invoices/<int:invoice_id>/pay/confirm")
@login_required
def invoice_pay_confirm(invoice_id: int):
    """As ``confirm`` for an order: the invoice's one intent, confirmed with the payment
    method Stripe.js made. If a credit note lowered what is due since the intent was
    made, the intent's amount is brought down first. Answers JSON."""
    invoice = _own_invoice_or_404(invoice_id)
    if not ConfirmForm().validate_on_submit():
        return jsonify(error=_("The form has expired: reload the page.")), 400
    method = (request.form.get("payment_method") or "").strip()
    if not PAYMENT_METHOD_ID.fullmatch(method):
        return jsonify(error=_("The card could not be read: check it and try again.")), 400
    if invoice.paid_at is not None:
        return jsonify(status="done")
    try:
        due = invoice_payments.check_invoice_payable(db.session, invoice)
    except invoice_payments.InvoicePaymentError:
        return jsonify(error=_("Nothing is due on this invoice.")), 409
    payment = payments.invoice_payment_of(db.session, invoice)
    if not payments.usable_invoice_payment(payment) or payment.status == PaymentStatus.SUCCEEDED:
        return jsonify(error=_("Reload the page to pay.")), 409
    intent_id, stored_amount = payment.intent_id, payment.amount_cents
    db.session.rollback()  # no lock held while Stripe answers
    if stored_amount != due:  # a credit note since the intent was made
        try:
            gateway.update_payment_intent_amount(current_app.config, intent_id, due)
        except gateway.PaymentGatewayError as exc:
            return refused(intent_id, exc)
        with write_intent():
            payments.set_invoice_amount(db.session, payments.invoice_payment_by_intent(
                db.session, intent_id), due)
            db.session.commit()
    return confirm_with_card(intent_id, method, f"invoice-{invoice_id}-confirm-{method}")


@bp.get("/restaurant/invoices/<int:invoice_id>/pay/return")
@login_required
def invoice_pay_return(invoice_id: int):
    """Back from the payment form: ask Stripe what happened (never trust the browser)."""
    invoice = _own_invoice_or_404(invoice_id)
    payment = payments.invoice_payment_of(db.session, invoice)
    if payment is None or not payment.intent_id:
        return redirect(_invoice_url(invoice_id), code=303)
    try:
        intent = gateway.retrieve_payment_intent(current_app.config, payment.intent_id)
    except gateway.PaymentGatewayError:
        flash(_("We could not check your payment with the bank just now. The invoice shows "
                "as paid as soon as the payment is known."), "warning")
        return redirect(_invoice_url(invoice_id), code=303)
    db.session.rollback()  # end the read (SQLite): the write below takes the lock
    with write_intent():
        outcome = payments.apply_intent(db.session, intent, current_app.config, now=utcnow())
        db.session.commit()
    invoice = _own_invoice_or_404(invoice_id)
    if invoice.paid_at is not None and outcome in ("invoice_paid", "unchanged"):
        flash(_("Payment received: invoice %(number)s is paid.",
                number=invoice.display_number), "success")
        return redirect(_invoice_url(invoice_id), code=303)
    if outcome == "amount_mismatch":
        flash(_("Your payment does not match what is due on the invoice: we are looking "
                "into it and will contact you."), "danger")
        return redirect(_invoice_url(invoice_id), code=303)
    # Not paid (yet): declined, authentication failed or abandoned. The buyer may retry.
    return redirect(url_for("invoice_payments.invoice_pay", invoice_id=invoice_id), code=303)
