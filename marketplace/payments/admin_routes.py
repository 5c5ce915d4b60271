"""Admin: recent card payments with their state and refunds, refunding any part of a
paid order (recorded, then sent to Stripe), each farm's commission rate, and the bank
transfers that pay the farms what the platform holds for them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_currency, format_decimal, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from marketplace.accounts.decorators import admin_required
from marketplace.extensions import db
from marketplace.models import get_by_id, parse_euros, utcnow
from marketplace.orders.models import Order, SubOrder
from marketplace.producers.models import Producer
from marketplace.web.forms import ConfirmForm

from . import services
from .cli import CommissionRateError, parse_commission_percent
from .models import AuditRun, InvoicePayment, Payment, PaymentStatus, Refund, RefundStatus

bp = Blueprint("payments_admin", __name__, url_prefix="/admin/payments")

SHOWN = 100


def _render(*, error=None, error_order=None, typed=None, status=200):
    payments = db.session.scalars(
        select(Payment).options(
            joinedload(Payment.order).joinedload(Order.buyer),
            # The farms of each order, for a refund on one farm's part (one query).
            joinedload(Payment.order).selectinload(Order.sub_orders)
            .joinedload(SubOrder.producer))
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(SHOWN)
    ).all()
    order_ids = [p.order_id for p in payments]
    # Each order's refunds on its own payment, labelled; what they add up to (failed
    # ones left out) and the payment's state once they are counted.
    refunds: dict[int, list] = {}
    refunded: dict[int, int] = {}
    for refund in db.session.scalars(
            select(Refund).where(Refund.order_id.in_(order_ids),
                                 Refund.invoice_payment_id.is_(None)).order_by(Refund.id)
    ) if order_ids else ():
        refunds.setdefault(refund.order_id, []).append(
            (refund, services.refund_label(refund.reason)))
        if refund.status != RefundStatus.FAILED:
            refunded[refund.order_id] = refunded.get(refund.order_id, 0) + refund.amount_cents
    states = {p.id: services.payment_state(p.amount_cents, refunded.get(p.order_id, 0))
              for p in payments if p.status == PaymentStatus.SUCCEEDED}
    pending = db.session.scalar(select(func.count(Refund.id)).where(
        Refund.status == RefundStatus.PENDING))
    # Invoices paid by card (restaurants): their state, an error to look into (a card
    # payment that landed on an invoice already marked paid says so), what went back.
    invoice_payments = db.session.scalars(
        select(InvoicePayment).options(joinedload(InvoicePayment.invoice))
        .order_by(InvoicePayment.created_at.desc(), InvoicePayment.id.desc()).limit(SHOWN)
    ).all()
    ids = [p.id for p in invoice_payments]
    invoice_refunded = dict(db.session.execute(
        select(Refund.invoice_payment_id, func.sum(Refund.amount_cents))
        .where(Refund.invoice_payment_id.in_(ids), Refund.status != RefundStatus.FAILED)
        .group_by(Refund.invoice_payment_id)
    ).all()) if ids else {}
    states.update({("invoice", p.id): services.payment_state(
        p.amount_cents, invoice_refunded.get(p.id, 0))
        for p in invoice_payments if p.status == PaymentStatus.SUCCEEDED})
    # The last money audit (`flask payments audit` or the nightly job; reports writes it).
    audit = db.session.scalar(select(AuditRun).order_by(AuditRun.ran_at.desc(),
                                                        AuditRun.id.desc()).limit(1))
    return render_template(
        "payments/admin.html", audit=audit, payments=payments, refunded=refunded, pending=pending,
        refunds=refunds, states=states,
        invoice_payments=invoice_payments, invoice_refunded=invoice_refunded,
        form=ConfirmForm(formdata=None), error=error, error_order=error_order,
        typed=typed or {},
    ), status


@bp.get("")
@admin_required
def index():
    return _render()


@bp.post("/orders/<int:order_id>/refund")
@admin_required
def refund(order_id: int):
    order = get_by_id(db.session, Order, order_id)
    if order is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    typed = {"amount": (request.form.get("amount") or "").strip()[:40],
             "reason": (request.form.get("reason") or "").strip()[:255],
             "sub_order": (request.form.get("sub_order") or "").strip()[:20]}

    def refused(message):
        return _render(error=message, error_order=order.id, typed=typed, status=400)

    # One farm's part of the order, or (empty) the whole order.
    sub_order = next((sub for sub in order.sub_orders if str(sub.id) == typed["sub_order"]),
                     None)
    if typed["sub_order"] and sub_order is None:
        return refused(_("Choose one of this order's farms."))
    try:
        amount = parse_euros(typed["amount"])
    except ValueError:
        return refused(_("Enter the amount in euros, such as 4,50."))
    if not typed["reason"]:
        return refused(_("Give a reason: the buyer sees it."))
    try:
        services.request_refund(db.session, order, amount, current_app.config,
                                reason=typed["reason"], now=utcnow(), sub_order=sub_order)
    except services.RefundError as exc:
        db.session.rollback()
        return refused(str(exc.message))
    flash(_("Refund recorded for order %(number)s.", number=order.id), "success")
    return redirect(url_for("payments_admin.index", _anchor=f"order-{order.id}"), code=303)


# Commission rates ------------------------------------------------------------------------

def _render_commission(*, error=None, error_farm=None, typed="", status=200):
    farms = db.session.scalars(
        select(Producer).options(joinedload(Producer.user))
        .order_by(Producer.name, Producer.id)
    ).all()
    return render_template(
        "payments/admin_commission.html", farms=farms,
        default_bp=services.commission_bp(None, current_app.config),
        form=ConfirmForm(formdata=None), error=error, error_farm=error_farm, typed=typed,
    ), status


@bp.get("/commission")
@admin_required
def commission():
    return _render_commission()


@bp.post("/commission/<int:producer_id>")
@admin_required
def set_commission(producer_id: int):
    """Set a farm's own rate (percent, as `flask payments set-commission` takes it), or
    clear it (``action=default``: the COMMISSION_BP setting). Sales recorded from now on
    use it; the ledger keeps the rate of each past sale."""
    farm = get_by_id(db.session, Producer, producer_id)
    if farm is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    typed = (request.form.get("percent") or "").strip()[:20]
    if request.form.get("action") == "default":
        rate = None
    else:
        try:
            rate = parse_commission_percent(typed)
        except CommissionRateError:
            return _render_commission(
                error=_("Enter a rate in percent from 0 to 100, with at most two decimals, "
                        "such as 8 or 7,5."), error_farm=farm.id, typed=typed, status=400)
    farm.commission_bp = rate
    if rate is None:
        flash(_("%(farm)s now pays the default commission.", farm=farm.name), "success")
    else:
        flash(_("%(farm)s now pays a commission of %(rate)s %%.", farm=farm.name,
                rate=format_decimal(rate / 100)), "success")
    return redirect(url_for("payments_admin.commission", _anchor=f"farm-{farm.id}"), code=303)


# Bank transfers to the farms -------------------------------------------------------------

def _render_payouts(*, error=None, error_farm=None, status=200):
    return render_template(
        "payments/admin_payouts.html",
        payouts=services.payouts_due(db.session, current_app.config),
        connect=bool(current_app.config.get("STRIPE_CONNECT_ENABLED")),
        form=ConfirmForm(formdata=None), error=error, error_farm=error_farm,
    ), status


@bp.get("/payouts")
@admin_required
def payouts():
    """What the platform owes each farm for the orders handed over and paid online
    (card, invoices paid by card), to pay by bank transfer."""
    return _render_payouts()


@bp.post("/payouts/<int:producer_id>")
@admin_required
def record_payout(producer_id: int):
    """The admin sent the amount shown by bank transfer: it is recorded on the farm's
    account (its ledger and statement show the transfer)."""
    farm = get_by_id(db.session, Producer, producer_id)
    if farm is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    raw = (request.form.get("amount_cents") or "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        abort(400)
    try:
        count = services.record_bank_transfer(db.session, farm, int(raw), current_app.config,
                                               now=utcnow())
    except services.PayoutError as exc:
        db.session.rollback()
        message = (_("Nothing is owed to %(farm)s now: this transfer was recorded already.",
                     farm=farm.name) if exc.owed == 0 else
                   _("What is owed to %(farm)s has changed: it is now %(amount)s. Check it "
                     "and record the transfer again.", farm=farm.name,
                     amount=format_currency(exc.owed / 100, "EUR")))
        return _render_payouts(error=message, error_farm=farm.id, status=409)
    flash(ngettext("Bank transfer to %(farm)s recorded (%(num)d order).",
                   "Bank transfer to %(farm)s recorded (%(num)d orders).",
                   count, farm=farm.name), "success")
    return redirect(url_for("payments_admin.payouts"), code=303)
