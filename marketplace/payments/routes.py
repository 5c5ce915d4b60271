"""Paying an order by card (Stripe.js in the page), the return from the payment, and
the Stripe webhook. The order is confirmed only from Stripe's own word: the webhook
(signature checked) or a server-side retrieve on return, never the browser.

These views wait on Stripe, so their writes are short transactions of their own,
committed inside ``write_intent`` blocks rather than once at the end of the request:
no lock is held while Stripe answers, and a refused card is recorded although the
answer is a 402."""

from __future__ import annotations

import logging
import re

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

from marketplace.extensions import csrf, db
from marketplace.models import utcnow
from marketplace.orders import services as orders
from marketplace.orders.models import OrderStatus, PaymentMethod
from marketplace.sqlite import write_intent
from marketplace.web.forms import ConfirmForm

from . import gateway, services
from .models import PaymentStatus
from .services.stripe_objects import get

bp = Blueprint("payments", __name__)
log = logging.getLogger(__name__)


def _own_card_order_or_404(order_id: int):
    order = orders.order_of(db.session, current_user, order_id)
    if order is None or order.payment_method != PaymentMethod.CARD:
        abort(404)
    return order


@bp.get("/orders/<int:order_id>/pay")
@login_required
def pay(order_id: int):
    order = _own_card_order_or_404(order_id)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect(url_for("checkout.order", order_id=order.id))
    config = current_app.config
    payment = services.payment_of(db.session, order)
    if payment is None or not payment.intent_id:
        try:
            intent = services.create_intent(order, config)
        except gateway.PaymentGatewayError as exc:
            log.warning("order %s: payment service error: %s", order.id, exc)
            return render_template("payments/pay.html", order=order, payment=None,
                                   unreachable=True), 503
        db.session.rollback()  # end the read (SQLite): the write below takes the lock
        with write_intent():
            payment = services.store_intent(db.session, order, intent)
            db.session.commit()
    return render_template(
        "payments/pay.html", order=order, payment=payment, unreachable=False,
        publishable_key=config["STRIPE_PUBLISHABLE_KEY"], stripe_js=config["STRIPE_JS_URL"],
        failed=payment.status == PaymentStatus.FAILED,
    )


PAYMENT_METHOD_ID = re.compile(r"^(pm|card|src)_[A-Za-z0-9_]{1,250}$")


def _decline_text(exc: gateway.PaymentGatewayError) -> str:
    if exc.user_message == gateway.CARD_DECLINED:
        return _("The card was declined by the bank.")
    if exc.unreachable:
        return _("The payment service cannot be reached just now. Nothing was charged: try "
                 "again in a moment.")
    return _("The payment could not be made. Nothing was charged.")


@bp.post("/orders/<int:order_id>/pay/confirm")
@login_required
def confirm(order_id: int):
    """The page sends the id of the payment method Stripe.js made from the card; the
    order's one intent is confirmed with it (the same card sent twice, a double click,
    is the same idempotent request: one charge). Answers JSON for the page's script."""
    order = _own_card_order_or_404(order_id)
    if not ConfirmForm().validate_on_submit():
        return jsonify(error=_("The form has expired: reload the page.")), 400
    method = (request.form.get("payment_method") or "").strip()
    if not PAYMENT_METHOD_ID.fullmatch(method):
        return jsonify(error=_("The card could not be read: check it and try again.")), 400
    if order.status != OrderStatus.PENDING_PAYMENT:
        return jsonify(status="done")
    payment = services.payment_of(db.session, order)
    if payment is None or not payment.intent_id:
        return jsonify(error=_("Reload the page to pay.")), 409
    intent_id = payment.intent_id
    db.session.rollback()  # no lock held while Stripe answers
    return confirm_with_card(intent_id, method, f"order-{order_id}-confirm-{method}")


def refused(intent_id: str, exc: gateway.PaymentGatewayError):
    """The page's answer when Stripe refused the card (402: recorded, the buyer may try
    again) or could not be reached (503)."""
    if not exc.unreachable:
        with write_intent():
            services.record_failure(db.session, intent_id, str(_decline_text(exc)))
            db.session.commit()
    return jsonify(error=_decline_text(exc)), 503 if exc.unreachable else 402


def confirm_with_card(intent_id: str, method: str, idempotency_key: str):
    """Confirm an intent (an order's or an invoice's) with the card the page's Stripe.js
    made, and apply what Stripe answers. JSON for the page's script."""
    config = current_app.config
    try:
        intent = gateway.confirm_payment_intent(config, intent_id, payment_method=method,
                                                idempotency_key=idempotency_key)
    except gateway.PaymentGatewayError as exc:
        return refused(intent_id, exc)
    with write_intent():
        outcome = services.apply_intent(db.session, intent, config, now=utcnow())
        db.session.commit()
    return jsonify(status=get(intent, "status"), outcome=outcome)


@bp.get("/orders/<int:order_id>/pay/return")
@login_required
def pay_return(order_id: int):
    """Back from the payment form: ask Stripe what happened (never trust the browser)."""
    order = _own_card_order_or_404(order_id)
    payment = services.payment_of(db.session, order)
    if payment is None or not payment.intent_id:
        return redirect(url_for("payments.pay", order_id=order.id))
    try:
        intent = gateway.retrieve_payment_intent(current_app.config, payment.intent_id)
    except gateway.PaymentGatewayError:
        flash(_("We could not check your payment with the bank just now. Your order is kept; "
                "it is confirmed as soon as the payment is known."), "warning")
        return redirect(url_for("checkout.order", order_id=order.id), code=303)
    db.session.rollback()  # end the read (SQLite): the write below takes the lock
    with write_intent():
        outcome = services.apply_intent(db.session, intent, current_app.config, now=utcnow())
        db.session.commit()
    if outcome == "refund_late" or (order.status == OrderStatus.CANCELLED and
                                    order.paid_at is not None):
        # Paid after the order expired (this request or the webhook just before it).
        flash(_("Your payment arrived after the order had expired: it is refunded in full."),
              "warning")
        return redirect(url_for("checkout.order", order_id=order.id), code=303)
    if outcome in ("confirmed", "unchanged") and order.status != OrderStatus.PENDING_PAYMENT:
        flash(_("Payment received: your order is confirmed."), "success")
        return redirect(url_for("checkout.order", order_id=order.id), code=303)
    # Not paid (yet): declined, authentication failed or abandoned. The buyer may retry.
    return redirect(url_for("payments.pay", order_id=order.id), code=303)


@bp.post("/stripe/webhook")
@csrf.exempt  # Stripe cannot send a CSRF token: the signature stands for it
def webhook():
    config = current_app.config
    payload = request.get_data(cache=False)
    try:
        event = gateway.construct_event(config, payload,
                                        request.headers.get("Stripe-Signature", ""))
    except gateway.WebhookSignatureError as exc:
        log.warning("Stripe webhook refused: %s", exc)
        return jsonify(error="invalid signature or payload"), 400
    outcome = services.handle_event(db.session, event, config, now=utcnow())
    return jsonify(received=True, outcome=outcome)
