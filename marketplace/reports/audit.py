"""The money audit (`flask payments audit`, and nightly in the scheduled jobs): checks
the rules of docs/money.md on the live database, in a fixed number of aggregate
queries, and, when Stripe is configured, each card payment and its refunds against
Stripe's own objects. Each run is stored (payments' ``AuditRun``) for the admin page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import force_locale, format_currency, format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.catalogue.models import Product, Variant
from marketplace.notifications import services as outbox
from marketplace.orders.models import (
    ACTIVE_STATUSES,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    SubOrder,
)
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import (
    AuditRun,
    InvoicePayment,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from marketplace.payments.services.stripe_objects import get as _get
from marketplace.pickup.models import PickupSlot
from marketplace.producers.models import Producer
from marketplace.wholesale.invoice_checks import invoice_discrepancies
from marketplace.wholesale.invoice_models import Invoice

# An order holds its slot place from checkout until it is cancelled: a collected order
# keeps it (the place was used).
HOLDS_A_PLACE = (*ACTIVE_STATUSES, OrderStatus.COLLECTED)

# The sign each kind of ledger line has, summed over a sub-order (a refused refund's
# reversing lines bring its kind back towards zero, never past it).
SIGNS = {LedgerKind.SALE: 1, LedgerKind.COMMISSION: -1, LedgerKind.REFUND: -1,
         LedgerKind.COMMISSION_REFUND: 1, LedgerKind.PAID_AT_PICKUP: -1,
         LedgerKind.TRANSFER: -1}


@dataclass(frozen=True)
class Discrepancy:
    """One broken rule: which, where (order, farm) and the amounts (cents, or places
    and units when ``unit`` says so) expected and found."""

    rule: str
    message: str  # a lazy string: shown in the reader's language
    order_id: int | None = None
    farm_id: int | None = None
    expected: int | None = None
    found: int | None = None
    unit: str = "cents"

    def describe(self, farms: Mapping[int, str] | None = None) -> str:
        where = []
        if self.order_id is not None:
            where.append(_("order %(id)s", id=self.order_id))
        if self.farm_id is not None:
            name = (farms or {}).get(self.farm_id)
            where.append(name + f" (#{self.farm_id})" if name else
                         _("farm %(id)s", id=self.farm_id))
        text = f"[{self.rule}] " + (", ".join(where) + ": " if where else "") + str(self.message)
        if self.expected is not None or self.found is not None:
            text += " " + _("Expected %(expected)s, found %(found)s.",
                            expected=self._amount(self.expected),
                            found=self._amount(self.found))
        return text

    def _amount(self, value: int | None) -> str:
        if value is None:
            return "-"
        return format_currency(value / 100, "EUR") if self.unit == "cents" else str(value)


Check = Callable[[Session], list[Discrepancy]]



def invoice_checks(session: Session) -> list[Discrepancy]:
    """The rules of invoices and credit notes (wholesale/invoice_checks.py, whose
    messages are plain English), each with the order and farm of its document."""
    found = invoice_discrepancies(session)
    if not found:
        return []
    where = {row.id: (row.order_id, row.producer_id) for row in session.execute(
        select(Invoice.id, Invoice.order_id, Invoice.producer_id)
        .where(Invoice.id.in_({invoice_id for invoice_id, _message in found})))}
    return [Discrepancy("invoice", message, order_id=where.get(invoice_id, (None, None))[0],
                        farm_id=where.get(invoice_id, (None, None))[1])
            for invoice_id, message in found]


#: More checks the audit runs, each ``(session) -> list[Discrepancy]``.
EXTRA_CHECKS: list[Check] = [invoice_checks]


def audit(session: Session, config: Mapping, *, now: datetime, stripe: bool = True,
          extra_checks: Iterable[Check] | None = None) -> list[Discrepancy]:
    """Every discrepancy between the rules of docs/money.md and the database (and
    Stripe, when configured and ``stripe``). Reads only; a fixed number of queries,
    plus two Stripe calls per card payment. ``now``: kept for checks that need it."""
    found = [*_sub_order_checks(session), *_refund_checks(session), *_order_checks(session),
             *_line_checks(session), *_ledger_farm_checks(session), *_stock_checks(session),
             *_place_checks(session)]
    for check in (EXTRA_CHECKS if extra_checks is None else extra_checks):
        found.extend(check(session))
    if stripe and gateway.is_configured(config):
        try:
            found.extend(stripe_checks(session, config))
        except gateway.PaymentGatewayError as exc:
            found.append(Discrepancy("stripe_unreachable", _l(
                "Stripe could not be asked; its payments and refunds were not compared: "
                "%(error)s", error=str(exc))))
    return found


# Sub-orders: the farms' ledger against what was sold, paid and refunded --------------------

def _supplied():
    short = OrderLine.quantity_short
    value = case((short == 0, OrderLine.line_total_cents),
                 else_=OrderLine.unit_price_cents * (OrderLine.quantity - short))
    return (select(OrderLine.sub_order_id, func.sum(value).label("supplied"))
            .group_by(OrderLine.sub_order_id).subquery())


def _sub_order_checks(session: Session) -> list[Discrepancy]:
    """Per sub-order, two queries: its ledger by kind, and what it sold."""
    ledger: dict[int, dict[LedgerKind, int]] = defaultdict(dict)
    rates: dict[int, int] = {}
    for sub_id, kind, total, bp in session.execute(
            select(LedgerEntry.sub_order_id, LedgerEntry.kind,
                   func.sum(LedgerEntry.amount_cents), func.max(LedgerEntry.commission_bp))
            .group_by(LedgerEntry.sub_order_id, LedgerEntry.kind)):
        ledger[sub_id][LedgerKind(kind)] = int(total)
        if LedgerKind(kind) == LedgerKind.COMMISSION:
            rates[sub_id] = int(bp)
    supplied = _supplied()
    rows = session.execute(
        select(SubOrder.id, SubOrder.order_id, SubOrder.producer_id, SubOrder.subtotal_cents,
               SubOrder.status, Order.payment_method, Order.paid_at.is_not(None),
               func.coalesce(supplied.c.supplied, 0))
        .join(Order, Order.id == SubOrder.order_id)
        .outerjoin(supplied, supplied.c.sub_order_id == SubOrder.id)
        .order_by(SubOrder.id))
    found = []
    for sub_id, order_id, farm_id, subtotal, status, method, paid, supplied_cents in rows:
        kinds = ledger.get(sub_id, {})

        def report(rule, message, expected, got, order_id=order_id, farm_id=farm_id):
            found.append(Discrepancy(rule, message, order_id, farm_id, expected, got))

        sale = kinds.get(LedgerKind.SALE, 0)
        commission = -kinds.get(LedgerKind.COMMISSION, 0)
        refunded = -kinds.get(LedgerKind.REFUND, 0)
        given_back = kinds.get(LedgerKind.COMMISSION_REFUND, 0)
        at_pickup = -kinds.get(LedgerKind.PAID_AT_PICKUP, 0)
        transferred = -kinds.get(LedgerKind.TRANSFER, 0)
        for kind, total in kinds.items():
            if total * SIGNS[kind] < 0:
                report("ledger_sign", _l("Its %(kind)s lines add up to the wrong sign.",
                                         kind=kind.value), 0, total)
        expected_sale = None
        if method == PaymentMethod.CARD:
            expected_sale = subtotal if paid else 0
        elif method == PaymentMethod.AT_PICKUP and status == OrderStatus.COLLECTED:
            expected_sale = int(supplied_cents)
        if expected_sale is not None and sale != expected_sale:
            report("ledger_sale", _l("Its sale in the ledger is not what the buyer paid for "
                                     "this farm's part."), expected_sale, sale)
        if method != PaymentMethod.INVOICE and sale > 0 and sub_id in rates:
            taken = payments.commission_of(sale, rates[sub_id])
            if commission != taken:
                report("ledger_commission", _l("The commission taken is not the farm's rate "
                                               "of its sale."), taken, commission)
        if given_back > commission:
            report("commission_given_back", _l("More commission was given back than was "
                                               "taken."), commission, given_back)
        if refunded > sale:
            report("refunds_within_paid", _l("More was refunded on this farm's part than it "
                                             "was paid."), sale, refunded)
        expected_at_pickup = sale if method == PaymentMethod.AT_PICKUP else 0
        if at_pickup != expected_at_pickup:
            report("ledger_paid_at_pickup", _l("What the host took at the counter is not "
                                               "this farm's sale."), expected_at_pickup,
                   at_pickup)
        owed = sale - commission - refunded + given_back - at_pickup
        if transferred > owed and transferred > 0:
            report("transfer_within_owed", _l("More was transferred to the farm than its "
                                              "ledger owes it."), owed, transferred)
    return found


def _ledger_farm_checks(session: Session) -> list[Discrepancy]:
    """A ledger line counted for another farm or order than its sub-order's (one query):
    each farm's total would then be wrong."""
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.order_id, LedgerEntry.producer_id,
               SubOrder.order_id, SubOrder.producer_id)
        .join(SubOrder, SubOrder.id == LedgerEntry.sub_order_id)
        .where((LedgerEntry.producer_id != SubOrder.producer_id)
               | (LedgerEntry.order_id != SubOrder.order_id))
        .order_by(LedgerEntry.id))
    return [Discrepancy("ledger_farm", _l("Ledger line %(id)s belongs to farm %(farm)s, order "
                                          "%(order)s.", id=entry_id, farm=farm, order=order),
                        entry_order, entry_farm, None, None)
            for entry_id, entry_order, entry_farm, order, farm in rows]


# Refunds: allocated to the farms exactly, never above what was paid ------------------------

def _refund_checks(session: Session) -> list[Discrepancy]:
    """Each refund's ledger lines (one query): a refund not refused gives back its amount
    exactly, on the sub-order it names if it names one; a refused one nets to zero."""
    lines = (select(LedgerEntry.refund_id, LedgerEntry.sub_order_id, LedgerEntry.amount_cents)
             .where(LedgerEntry.kind == LedgerKind.REFUND).subquery())
    elsewhere = case((Refund.sub_order_id.is_not(None)
                      & (lines.c.sub_order_id != Refund.sub_order_id), 1), else_=0)
    rows = session.execute(
        select(Refund.id, Refund.order_id, Refund.amount_cents, Refund.status,
               SubOrder.producer_id, func.coalesce(func.sum(lines.c.amount_cents), 0),
               func.coalesce(func.sum(elsewhere), 0))
        .outerjoin(lines, lines.c.refund_id == Refund.id)
        .outerjoin(SubOrder, SubOrder.id == Refund.sub_order_id)
        .group_by(Refund.id, Refund.order_id, Refund.amount_cents, Refund.status,
                  SubOrder.producer_id)
        .order_by(Refund.id))
    found = []
    for refund_id, order_id, amount, status, farm_id, ledger, misplaced in rows:
        expected = 0 if RefundStatus(status) == RefundStatus.FAILED else amount
        if -int(ledger) != expected:
            found.append(Discrepancy(
                "refund_allocated", _l("Refund %(id)s is not given back by the farms exactly "
                                       "(their ledger lines).", id=refund_id),
                order_id, farm_id, expected, -int(ledger)))
        if misplaced:
            found.append(Discrepancy(
                "refund_farm", _l("Refund %(id)s names one farm's part but is taken from "
                                  "another's.", id=refund_id), order_id, farm_id))
    return found


def _order_checks(session: Session) -> list[Discrepancy]:
    """Per order (one query): what the buyer paid by card is recorded as Stripe's intent
    said (succeeded, the order's total), and no more was refunded than was paid."""
    refunded = (select(Refund.order_id, func.sum(Refund.amount_cents).label("cents"))
                .where(Refund.status != RefundStatus.FAILED,
                       Refund.invoice_payment_id.is_(None))
                .group_by(Refund.order_id).subquery())
    rows = session.execute(
        select(Order.id, Order.payment_method, Order.paid_at.is_not(None), Order.total_cents,
               Payment.status, Payment.amount_cents, func.coalesce(refunded.c.cents, 0))
        .outerjoin(Payment, Payment.order_id == Order.id)
        .outerjoin(refunded, refunded.c.order_id == Order.id)
        .where((Order.payment_method == PaymentMethod.CARD) | refunded.c.cents.is_not(None))
        .order_by(Order.id))
    found = []
    for order_id, method, paid, total, status, amount, refund_total in rows:
        card_paid = method == PaymentMethod.CARD and paid
        if refund_total > (total if card_paid else 0):
            found.append(Discrepancy("order_refunds_within_paid", _l(
                "More was refunded on this order than the buyer paid by card."),
                order_id, None, total if card_paid else 0, int(refund_total)))
        if method != PaymentMethod.CARD:
            continue
        succeeded = status == PaymentStatus.SUCCEEDED
        if paid and (not succeeded or amount != total):
            found.append(Discrepancy("card_payment", _l(
                "The order is paid but its card payment is not recorded as the order's "
                "total, received."), order_id, None, total, amount if succeeded else 0))
        elif succeeded and not paid:
            found.append(Discrepancy("card_payment", _l(
                "The card payment succeeded but the order is not marked paid."),
                order_id, None, 0, amount))
    return found


def _line_checks(session: Session) -> list[Discrepancy]:
    """Refunds naming an order line above that line's total (one query)."""
    refunded = func.sum(Refund.amount_cents)
    rows = session.execute(
        select(OrderLine.id, SubOrder.order_id, SubOrder.producer_id,
               OrderLine.line_total_cents, refunded)
        .join(Refund, Refund.order_line_id == OrderLine.id)
        .join(SubOrder, SubOrder.id == OrderLine.sub_order_id)
        .where(Refund.status != RefundStatus.FAILED)
        .group_by(OrderLine.id, SubOrder.order_id, SubOrder.producer_id,
                  OrderLine.line_total_cents)
        .having(refunded > OrderLine.line_total_cents)
        .order_by(OrderLine.id))
    return [Discrepancy("line_refunds_within_total", _l(
        "The refunds of order line %(id)s exceed its total.", id=line_id),
        order_id, farm_id, total, int(cents))
        for line_id, order_id, farm_id, total, cents in rows]


# Stock and slot places ----------------------------------------------------------------------

def _stock_checks(session: Session) -> list[Discrepancy]:
    rows = session.execute(
        select(Variant.id, Product.producer_id, Variant.stock)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.stock < 0).order_by(Variant.id))
    return [Discrepancy("stock_not_negative", _l("Variant %(id)s has a negative stock.",
                                                 id=variant_id),
                        None, farm_id, 0, stock, unit="units")
            for variant_id, farm_id, stock in rows]


def _place_checks(session: Session) -> list[Discrepancy]:
    """A slot's taken places against the orders that hold one (one query)."""
    holding = (select(Order.pickup_slot_id, func.count(Order.id).label("orders"))
               .where(Order.status.in_(HOLDS_A_PLACE))
               .group_by(Order.pickup_slot_id).subquery())
    held = func.coalesce(holding.c.orders, 0)
    rows = session.execute(
        select(PickupSlot.id, PickupSlot.taken, held)
        .outerjoin(holding, holding.c.pickup_slot_id == PickupSlot.id)
        .where(PickupSlot.taken != held).order_by(PickupSlot.id))
    return [Discrepancy("slot_places", _l("Slot %(id)s counts its taken places wrong: the "
                                          "orders holding one are expected.", id=slot_id),
                        None, None, int(orders), taken, unit="places")
            for slot_id, taken, orders in rows]


# Stripe -------------------------------------------------------------------------------------

def stripe_checks(session: Session, config: Mapping) -> list[Discrepancy]:
    """Each succeeded card payment (orders' and invoices') against its PaymentIntent at
    Stripe: the amount received, and its refunds one by one (ours sent, theirs known)."""
    ours = defaultdict(list)
    for refund in session.scalars(select(Refund).where(Refund.stripe_refund_id.is_not(None))):
        key = ("invoice", refund.invoice_payment_id) if refund.invoice_payment_id else \
            ("order", refund.order_id)
        ours[key].append(refund)
    paid = [(("order", p.order_id), p.order_id, p) for p in session.scalars(
        select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED).order_by(Payment.id))]
    paid += [(("invoice", p.id), p.invoice.order_id, p) for p in session.scalars(
        select(InvoicePayment).where(InvoicePayment.status == PaymentStatus.SUCCEEDED)
        .order_by(InvoicePayment.id))]
    found = []
    for key, order_id, payment in paid:
        if not payment.intent_id:
            continue
        intent = gateway.retrieve_payment_intent(config, payment.intent_id)
        received = _get(intent, "amount_received") or (
            _get(intent, "amount") if _get(intent, "status") == "succeeded" else 0)
        if received != payment.amount_cents:
            found.append(Discrepancy("stripe_payment", _l(
                "Stripe's PaymentIntent %(intent)s received another amount than recorded.",
                intent=payment.intent_id), order_id, None, payment.amount_cents, received))
        theirs = {_get(r, "id"): r for r in gateway.list_refunds(config, payment.intent_id)
                  if _get(r, "status") not in ("failed", "canceled")}
        for refund in ours.get(key, []):
            at_stripe = theirs.pop(refund.stripe_refund_id, None)
            expected = 0 if refund.status == RefundStatus.FAILED else refund.amount_cents
            got = _get(at_stripe, "amount") if at_stripe is not None else 0
            if got != expected:
                found.append(Discrepancy("stripe_refund", _l(
                    "Refund %(id)s (%(stripe)s) is not at Stripe as recorded here.",
                    id=refund.id, stripe=refund.stripe_refund_id), order_id,
                    None, expected, got))
        for stripe_id, at_stripe in theirs.items():
            found.append(Discrepancy("stripe_refund", _l(
                "Stripe holds refund %(stripe)s, unknown here.", stripe=stripe_id),
                order_id, None, 0, _get(at_stripe, "amount")))
    return found


# Runs ---------------------------------------------------------------------------------------

def report_text(session: Session, found: list[Discrepancy]) -> str:
    """One line per discrepancy (farms by name, one query), then the summary."""
    ids = {d.farm_id for d in found if d.farm_id is not None}
    farms = dict(session.execute(select(Producer.id, Producer.name)
                                 .where(Producer.id.in_(ids))).all()) if ids else {}
    return "\n".join([*(d.describe(farms) for d in found), summary(found)])


def summary(found: list[Discrepancy]) -> str:
    if not found:
        return _("Money audit: everything adds up.")
    return ngettext("Money audit: %(num)d discrepancy.", "Money audit: %(num)d discrepancies.",
                    len(found))


def record_run(session: Session, found: list[Discrepancy], *, now: datetime,
               stripe_checked: bool, nightly_date: date | None = None) -> AuditRun:
    run = AuditRun(ran_at=now, nightly_date=nightly_date, discrepancies=len(found),
                   stripe_checked=stripe_checked, report=report_text(session, found))
    session.add(run)
    session.flush()
    return run


def nightly(session: Session, config: Mapping, *, now: datetime) -> AuditRun | None:
    """The scheduled jobs' audit: once per day in the site's time zone, from
    ``AUDIT_HOUR`` (2, local time) on, remembered by its ``nightly_date``; each admin
    is e-mailed what it found (in their language), nothing when everything adds up.
    None when today's has run (here or in a concurrent runner). The caller commits."""
    local = now.astimezone(ZoneInfo(config["BABEL_DEFAULT_TIMEZONE"]))
    if local.hour < int(config.get("AUDIT_HOUR", 2)):
        return None
    today = local.date()
    if session.scalar(select(AuditRun.id).where(AuditRun.nightly_date == today)) is not None:
        return None
    found = audit(session, config, now=now)
    try:
        with session.begin_nested():
            run = record_run(session, found, now=now, nightly_date=today,
                             stripe_checked=gateway.is_configured(config))
    except IntegrityError:  # another runner recorded today's meanwhile
        return None
    if found:
        admins = session.scalars(select(User).where(User.role == Role.ADMIN)
                                 .order_by(User.id)).all()
        for admin in admins:
            with force_locale(admin.locale or config["BABEL_DEFAULT_LOCALE"]):
                outbox.queue(session, to=admin.email, key=f"audit:{today}:{admin.id}",
                             subject=summary(found),
                             body=_("The nightly money audit of %(day)s found what follows "
                                    "(the admin payments page shows it too).",
                                    day=format_date(today)) + "\n\n"
                             + report_text(session, found))
    return run
