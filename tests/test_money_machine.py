"""Money that adds up over any sequence of events: a Hypothesis rule-based state
machine on the real services, database and localstripe (three farms at different
commission rates, a household and a restaurant on invoice terms) places, pays, fails,
marks short, refunds, credits, cancels, hands over, expires and pays the farms out,
replays webhooks and delivers them late, and checks the rules of money after every
step against its own model and raw SQL sums. Refused actions must change nothing.

`make test` runs a few examples; `make test-money` a long run (HYPOTHESIS_PROFILE)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalogue.models import Variant
from marketplace.extensions import db
from marketplace.orders import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import (
    Actor,
    CounterPayment,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    SubOrder,
)
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import LedgerEntry, LedgerKind, Payment, PaymentStatus, Refund
from marketplace.payments.models import RefundStatus as RS
from marketplace.pickup.models import PickupSlot
from marketplace.producers.models import Producer
from marketplace.transactions import run_after_commit
from marketplace.wholesale import invoice_payments, invoices
from marketplace.wholesale.invoice_models import Invoice, InvoiceKind, InvoiceLine
from tests import factories
from tests.clock import now
from tests.stripe_server import CARD_DECLINED, CARD_OK, event_payload

HOLD = timedelta(minutes=30)  # PAYMENT_HOLD_MINUTES, as the checkout view passes it
CAPACITY = 5
# name, commission (basis points), variants (label, unit price, stock)
FARMS = (
    ("Ferme A", 1000, (("carottes 1 kg", 350, 6), ("poireaux botte", 133, 5))),
    ("Ferme B", 1500, (("œufs douzaine", 597, 6),)),
    ("Ferme C", 750, (("jus 1 l", 701, 4),)),
)
HOUSEHOLD, RESTAURANT = "household", "restaurant"
BUYERS = st.sampled_from([HOUSEHOLD, RESTAURANT])
METHODS = st.sampled_from([PaymentMethod.CARD, PaymentMethod.CARD, PaymentMethod.AT_PICKUP,
                           PaymentMethod.INVOICE])
STRAY = st.integers(0, 3).map(lambda n: n == 0)  # now and then, an action bound to fail
PERCENT = st.integers(1, 150)
CARTS = st.dictionaries(st.integers(0, 3), st.integers(1, 3), min_size=1, max_size=4)
ALIVE = (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.READY,
         OrderStatus.COLLECTED)


def commission(amount: int, bp: int) -> int:
    """The platform's share, rounded half up (written here, not imported)."""
    return (amount * bp + 5000) // 10000


def money_profile() -> str:
    wanted = os.environ.get("HYPOTHESIS_PROFILE", "")
    return wanted if wanted.startswith("money") else "money"


# The model ---------------------------------------------------------------------------------

@dataclass
class MLine:
    id: int
    variant: int  # index into the machine's variants
    quantity: int
    unit: int
    short: int = 0
    refunded: int = 0  # card refunds naming this line (shorts, credit notes)
    credited: int = 0  # units credited on the restaurant's invoice

    @property
    def total(self) -> int:
        return self.unit * self.quantity


@dataclass
class MSub:
    id: int
    farm: int
    lines: list[MLine]
    status: OrderStatus
    sale: int = 0  # the farm's SALE line
    at_pickup: int = 0  # what the host took for the farm
    transfer: int = 0  # what the platform sent the farm
    marked_ready: bool = False  # the farm pressed "ready"

    @property
    def subtotal(self) -> int:
        return sum(line.total for line in self.lines)


@dataclass
class MOrder:
    id: int
    buyer: str
    method: PaymentMethod
    status: OrderStatus
    subs: list[MSub]
    expires_at: object = None
    captured: int = 0  # money Stripe took for the order
    refunded: int = 0  # money given back to the card
    paid_at_stripe: bool = False  # the intent succeeded at Stripe
    applied: bool = False  # and we know it
    intent: dict | None = None
    events: list[dict] = field(default_factory=list)
    invoiced: bool = False

    @property
    def total(self) -> int:
        return sum(sub.subtotal for sub in self.subs)

    @property
    def lines(self) -> list[MLine]:
        return [line for sub in self.subs for line in sub.lines]

    def move(self, status: OrderStatus) -> None:
        """The order and all its sub-orders to STATUS."""
        self.status = status
        for sub in self.subs:
            sub.status = status


class MoneyMachine(RuleBasedStateMachine):
    """One example: a fresh market, then random steps. The fixtures are class attributes
    (see ``test_money_adds_up``)."""

    app = None
    localstripe = None
    clock = None

    def __init__(self):
        super().__init__()
        self.config = self.app.config
        self.session = db.session
        point = factories.pickup_point()
        self.slot = factories.slot(point, capacity=CAPACITY)
        self.cutoff = self.slot.cutoff_at
        self.farms, self.rates, self.variants, self.stock0, self.prices = [], [], [], [], []
        self.variant_farm = []
        for name, bp, variants in FARMS:
            farm = factories.producer(name=name)
            farm.commission_bp = bp
            product = factories.product(farm, variants=variants)
            factories.delivery_round(farm, self.slot)
            self.farms.append(farm.id)
            self.rates.append(bp)
            for variant, (_label, price, stock) in zip(product.variants, variants, strict=True):
                self.variants.append(variant.id)
                self.variant_farm.append(len(self.farms) - 1)
                self.stock0.append(stock)
                self.prices.append(price)
        self.buyers = {HOUSEHOLD: factories.user(name="Zoé").id,
                       RESTAURANT: factories.restaurant().id}
        self.session.commit()
        self.orders: list[MOrder] = []
        self.touched: set[int] = set()  # orders to compare with Stripe after this step

    # Helpers ------------------------------------------------------------------------------

    def commit(self):
        self.session.commit()
        run_after_commit(self.session)  # as the request boundary does: refunds go to Stripe
        self.session.expire_all()

    def refused(self, action, *exceptions):
        """Run ACTION (which commits); it must raise one of EXCEPTIONS and change nothing."""
        before = self.snapshot()
        try:
            action()
        except exceptions:
            self.session.rollback()
        else:
            raise AssertionError(f"{action.__qualname__.split('.')[1]}: not refused")
        self.session.expire_all()
        assert self.snapshot() == before, "a refused action changed money, stock or statuses"

    def pick(self, index, orders):
        return orders[index % len(orders)] if orders else None

    def order_row(self, model: MOrder) -> Order:
        return self.session.get(Order, model.id)

    def sub_refunds(self) -> dict[int, tuple[int, int]]:
        """sub-order id -> (refunded, commission given back), from the ledger."""
        rows = self.session.execute(
            select(LedgerEntry.sub_order_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.order_id.in_([o.id for o in self.orders] or [0]),
                   LedgerEntry.kind.in_((LedgerKind.REFUND, LedgerKind.COMMISSION_REFUND)))
            .group_by(LedgerEntry.sub_order_id, LedgerEntry.kind)).all()
        found: dict[int, list[int]] = {}
        for sub_id, kind, total in rows:
            pair = found.setdefault(sub_id, [0, 0])
            if kind == LedgerKind.REFUND:
                pair[0] = -int(total)
            else:
                pair[1] = int(total)
        return {sub_id: (refunded, back) for sub_id, (refunded, back) in found.items()}

    def farm_left(self, sub: MSub) -> int:
        """What the farm may still give back on this sub-order: its sale, less refunds."""
        return sub.sale - self.sub_refunds().get(sub.id, (0, 0))[0]

    def left(self, order: MOrder) -> int:
        return order.captured - order.refunded

    def snapshot(self):
        """Every figure a refused action must leave as it was."""
        ids = [o.id for o in self.orders] or [0]
        q = self.session.execute
        return (
            sorted(q(select(LedgerEntry.entry_key, LedgerEntry.amount_cents)
                     .where(LedgerEntry.order_id.in_(ids))).all()),
            sorted(q(select(Refund.id, Refund.amount_cents, Refund.status)
                     .where(Refund.order_id.in_(ids))).all()),
            sorted(q(select(Variant.id, Variant.stock).where(Variant.id.in_(self.variants))).all()),
            q(select(PickupSlot.taken).where(PickupSlot.id == self.slot.id)).scalar(),
            sorted(q(select(Order.id, Order.status, Order.paid_at).where(Order.id.in_(ids))).all()),
            sorted(q(select(SubOrder.id, SubOrder.status).where(SubOrder.order_id.in_(ids))).all()),
            sorted(q(select(OrderLine.id, OrderLine.quantity_short).join(SubOrder)
                     .where(SubOrder.order_id.in_(ids))).all()),
            sorted(q(select(Invoice.id, Invoice.total_cents, Invoice.paid_at)
                     .where(Invoice.order_id.in_(ids))).all()),
            sorted(q(select(Payment.order_id, Payment.status)
                     .where(Payment.order_id.in_(ids))).all()),
        )

    def paid_by_card(self, order: MOrder):
        """A card payment applied: each active farm sold its subtotal."""
        order.captured, order.applied = order.total, True
        order.move(OrderStatus.CONFIRMED)
        for sub in order.subs:
            sub.sale = sub.subtotal
        order.invoiced = order.buyer == RESTAURANT

    def deliver(self, order: MOrder, via: str) -> str:
        """Apply the order's paid intent as the site learns of it (webhook or retrieve)."""
        t = now()
        if via == "webhook":
            event = json.loads(event_payload("payment_intent.succeeded", order.intent))
            order.events.append(event)
            outcome = payments.handle_event(self.session, event, self.config, now=t)
        else:
            payment = payments.payment_of(self.session, self.order_row(order))
            outcome = payments.refresh_from_stripe(self.session, payment, self.config, now=t)
        self.commit()
        return outcome

    # Rules --------------------------------------------------------------------------------

    @initialize(first=st.lists(st.tuples(BUYERS, METHODS, CARTS, st.booleans()),
                               min_size=1, max_size=3))
    def first_orders(self, first):
        """A few orders to start with, card ones paid at once if ``paid``."""
        for buyer, method, cart, paid in first:
            self.place(buyer, method, cart)
            if paid and self.pending_card():
                self.pay(-1, CARD_OK, "webhook")

    @rule(buyer=BUYERS, method=METHODS, cart=CARTS)
    def place(self, buyer, method, cart):
        taken = sum(1 for o in self.orders if o.status in ALIVE)
        held = self.held()
        t = now()
        refuse = (
            (method == PaymentMethod.INVOICE and buyer == HOUSEHOLD)
            or taken >= CAPACITY
            or t >= self.cutoff
            or any(self.stock0[v] - held[v] < q for v, q in cart.items())
        )

        def checkout():
            placed = orders.checkout(
                self.session, buyer=self.session.get(User, self.buyers[buyer]),
                cart={str(self.variants[v]): q for v, q in cart.items()}, slot_id=self.slot.id,
                now=t, tz=factories.TZ, hold=HOLD, payment_method=method, config=self.config)
            self.commit()
            return placed

        if refuse:
            self.refused(checkout, orders.CheckoutError)
            return
        placed = checkout()
        status = (OrderStatus.PENDING_PAYMENT if method == PaymentMethod.CARD
                  else OrderStatus.CONFIRMED)
        subs = []
        for sub in placed.sub_orders:
            farm = self.farms.index(sub.producer_id)
            lines = []
            for line in sub.lines:
                v = self.variants.index(line.variant_id)
                assert self.variant_farm[v] == farm
                assert (line.quantity, line.unit_price_cents) == (cart[v], self.prices[v])
                assert line.line_total_cents == cart[v] * self.prices[v]
                lines.append(MLine(line.id, v, cart[v], self.prices[v]))
            subs.append(MSub(sub.id, farm, lines, status))
        assert sorted(line.variant for s in subs for line in s.lines) == sorted(cart)
        assert len({s.farm for s in subs}) == len(subs)
        model = MOrder(placed.id, buyer, method, status, subs,
                       expires_at=min(t + HOLD, self.cutoff))
        model.invoiced = buyer == RESTAURANT and method != PaymentMethod.CARD
        assert placed.total_cents == model.total
        self.orders.append(model)
        self.touched.add(model.id)

    def held(self) -> list[int]:
        held = [0] * len(self.variants)
        for order in self.orders:
            if order.status in ALIVE:
                for line in order.lines:
                    held[line.variant] += line.quantity
        return held

    def pending_card(self):
        return [o for o in self.orders if o.method == PaymentMethod.CARD
                and o.status == OrderStatus.PENDING_PAYMENT and not o.paid_at_stripe]

    @precondition(lambda self: self.pending_card())
    @rule(index=st.integers(0, 50), card=st.sampled_from([CARD_OK, CARD_OK, CARD_DECLINED]),
          via=st.sampled_from(["webhook", "retrieve", "lost"]))
    def pay(self, index, card, via):
        order = self.pick(index, self.pending_card())
        self.touched.add(order.id)
        payment = payments.start_card_payment(self.session, self.order_row(order), self.config)
        intent_id = payment.intent_id
        self.commit()
        try:
            intent = gateway.confirm_payment_intent(
                self.config, intent_id, payment_method=self.localstripe.card(card),
                idempotency_key=f"machine-{order.id}-{secrets.token_hex(4)}")
        except gateway.PaymentGatewayError as exc:
            declined = exc
        else:
            declined = None
        if declined is not None:  # as the payment page does: the buyer may try again
            assert card == CARD_DECLINED
            assert not declined.unreachable
            payments.record_failure(self.session, intent_id, "declined")
            self.commit()
            if via != "lost":  # Stripe's payment_failed event, or the return page's retrieve
                failed = json.loads(str(gateway.retrieve_payment_intent(self.config, intent_id)))
                event = json.loads(event_payload("payment_intent.payment_failed", failed))
                order.events.append(event)
                payments.handle_event(self.session, event, self.config, now=now())
                self.commit()
            payment = payments.payment_of(self.session, self.order_row(order))
            assert payment.status == PaymentStatus.FAILED
            return
        assert card == CARD_OK
        assert intent["status"] == "succeeded"
        assert intent["amount"] == order.total
        order.paid_at_stripe, order.intent = True, json.loads(str(intent))
        if via != "lost":
            assert self.deliver(order, via) == "confirmed"
            self.paid_by_card(order)

    def paid_not_told(self):
        return [o for o in self.orders if o.paid_at_stripe and not o.applied]

    @precondition(lambda self: self.paid_not_told())
    @rule(index=st.integers(0, 50), via=st.sampled_from(["webhook", "retrieve"]))
    def late_news_of_payment(self, index, via):
        """The webhook of a payment arrives late (or the buyer's return page asks)."""
        order = self.pick(index, self.paid_not_told())
        self.touched.add(order.id)
        outcome = self.deliver(order, via)
        if order.status == OrderStatus.PENDING_PAYMENT:
            assert outcome == "confirmed"
            self.paid_by_card(order)
        else:  # cancelled by its buyer, or expired, meanwhile: refunded in full
            assert order.status == OrderStatus.CANCELLED
            assert outcome == "refund_late"
            # Each farm sold its part and gives it back: its ledger nets to zero.
            order.applied, order.captured = True, order.total
            order.refunded += order.total
            for sub in order.subs:
                sub.sale = sub.subtotal

    def with_events(self):
        return [o for o in self.orders if o.events]

    @precondition(lambda self: self.with_events())
    @rule(index=st.integers(0, 50), which=st.integers(0, 5))
    def replay_event(self, index, which):
        """Stripe delivers an event a second time: nothing changes."""
        order = self.pick(index, self.with_events())
        event = order.events[which % len(order.events)]
        before = self.snapshot()
        assert payments.handle_event(self.session, event, self.config, now=now()) == "duplicate"
        self.commit()
        assert self.snapshot() == before

    def told_paid(self):
        return [o for o in self.orders if o.applied]

    @precondition(lambda self: self.told_paid())
    @rule(index=st.integers(0, 50), kind=st.sampled_from(["failed", "canceled", "retrieve"]))
    def stale_news(self, index, kind):
        """An older event (failed, canceled) arrives after the payment, or the intent is
        retrieved again: nothing changes."""
        order = self.pick(index, self.told_paid())
        before = self.snapshot()
        if kind == "retrieve":
            payment = payments.payment_of(self.session, self.order_row(order))
            outcome = payments.refresh_from_stripe(self.session, payment, self.config, now=now())
        else:
            stale = dict(order.intent, status="requires_payment_method" if kind == "failed"
                         else "canceled",
                         last_payment_error={"message": "Your card was declined."})
            event = json.loads(event_payload(f"payment_intent.{kind}"
                                             if kind == "canceled" else
                                             "payment_intent.payment_failed", stale))
            order.events.append(event)
            outcome = payments.handle_event(self.session, event, self.config, now=now())
        self.commit()
        assert outcome == "unchanged"
        assert self.snapshot() == before

    def lines_of_orders(self, stray=True):
        return [(o, s, line) for o in self.orders for s in o.subs for line in s.lines
                if stray or s.status in (OrderStatus.CONFIRMED, OrderStatus.READY)
                ] or self.lines_of_orders()

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 200), short=st.integers(0, 4), stray=STRAY)
    def mark_short(self, index, short, stray):
        order, sub, line = self.pick(index, self.lines_of_orders(stray))
        short = min(short, line.quantity)
        if short == line.short:
            return
        self.touched.add(order.id)
        t = now()

        def act():
            fulfilment.set_shorts(self.session, self.session.get(SubOrder, sub.id),
                                  {line.id: short}, now=t, config=self.config)
            self.commit()

        if sub.status not in (OrderStatus.CONFIRMED, OrderStatus.READY):
            self.refused(act, fulfilment.FulfilmentError)
            return
        refund = 0
        if order.method == PaymentMethod.CARD and order.applied:
            due = line.unit * short
            if due < line.refunded and short < line.short:  # lowered below what was refunded
                self.refused(act, fulfilment.FulfilmentError)
                return
            refund = max(0, due - line.refunded)  # (a credit note may have refunded more)
            if refund > self.left(order):
                self.refused(act, fulfilment.FulfilmentError)
                return
            if refund > self.farm_left(sub):  # the farm gave its part back already
                self.refused(act, fulfilment.FulfilmentError)
                return
        act()
        line.short = short
        line.refunded += refund
        order.refunded += refund
        if order.invoiced:
            line.credited = max(line.credited, short)

    def card_paid(self):
        return [o for o in self.orders if o.captured]

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 50), percent=PERCENT, whole=st.booleans())
    def admin_refunds_order(self, index, percent, whole):
        """An admin refunds part of an order (the admin page: the whole order): a share
        of what is left on it, now and then more than that."""
        order = self.pick(index, self.card_paid() or self.orders)
        left = self.left(order)
        amount = left if whole and left > 0 else max(1, (left or order.total) * percent // 100)
        self.touched.add(order.id)
        t = now()

        def act():
            payments.request_refund(self.session, self.order_row(order), amount, self.config,
                                    reason="geste commercial", now=t)
            self.commit()

        if amount > self.left(order):
            self.refused(act, payments.RefundError)
            return
        act()
        order.refunded += amount

    @precondition(lambda self: self.card_paid())
    @rule(index=st.integers(0, 50), farm=st.integers(0, 2), percent=PERCENT)
    def admin_refunds_farm(self, index, farm, percent):
        """An admin refunds part of one farm's share of an order (a percentage of its
        subtotal, now and then more than the farm sold)."""
        order = self.pick(index, self.card_paid())
        sub = next((s for s in order.subs if s.farm == farm), order.subs[0])
        part = max(1, sub.subtotal * percent // 100)
        self.touched.add(order.id)
        t = now()

        def act():
            payments.request_refund(self.session, self.order_row(order), part, self.config,
                                    reason="produit abîmé", now=t,
                                    sub_order=self.session.get(SubOrder, sub.id))
            self.commit()

        if part > self.left(order):
            self.refused(act, payments.RefundError)
            return
        if part > self.farm_left(sub):
            self.refused(act, payments.RefundError)
            return
        act()
        order.refunded += part

    def invoiced(self):
        return [(o, s) for o in self.orders if o.invoiced for s in o.subs]

    @precondition(lambda self: self.invoiced())
    @rule(index=st.integers(0, 50), units=st.lists(st.integers(0, 3), min_size=2, max_size=2),
          whole=st.booleans())
    def farm_credits_invoice(self, index, units, whole):
        """A farm issues a credit note on its invoice to the restaurant (the farm's page:
        then the card paid at checkout gets the credited lines back)."""
        order, sub = self.pick(index, self.invoiced())
        invoice = self.session.scalar(select(Invoice).where(Invoice.sub_order_id == sub.id))
        by_order_line = {line.order_line_id: line.id for line in invoice.lines}
        wanted = {line.id: (line.quantity - line.credited if whole else units[i % 2])
                  for i, line in enumerate(sub.lines)}
        quantities = {by_order_line[k]: v for k, v in wanted.items()}
        self.touched.add(order.id)
        t = now()
        invoice_id = invoice.id

        def act():
            note = invoices.credit_note(self.session, self.session.get(Invoice, invoice_id), now=t,
                                        quantities=quantities, reason="erreur de prix")
            invoice_payments.refund_credit_note(self.session, note, self.config, now=t)
            self.commit()

        lines = {line.id: line for line in sub.lines}
        if any(v > lines[k].quantity - lines[k].credited for k, v in wanted.items()) or \
                not any(wanted.values()):
            self.refused(act, invoices.InvoiceError)
            return
        refunds = {}
        if order.method == PaymentMethod.CARD and order.applied:
            # The note corrects the invoice whatever was refunded before; the card gets
            # back only what the farm's part and each line still have.
            left = min(self.left(order), self.farm_left(sub))
            for line_id, units_ in wanted.items():
                line = lines[line_id]
                amount = min(line.unit * units_, left, line.total - line.refunded)
                if units_ and amount > 0:
                    refunds[line_id] = amount
                    left -= amount
        act()
        for line_id, units_ in wanted.items():
            lines[line_id].credited += units_
            lines[line_id].refunded += refunds.get(line_id, 0)
            order.refunded += refunds.get(line_id, 0)

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 50), actor=st.sampled_from([Actor.BUYER, Actor.ADMIN]),
          stray=STRAY)
    def cancel(self, index, actor, stray):
        order = self.pick(index, [o for o in self.orders if stray or o.status in (
            OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED)] or self.orders)
        self.touched.add(order.id)
        t = now()

        def act():
            orders.cancel(self.order_row(order), actor, t, session=self.session,
                          config=self.config, reason="")
            self.commit()

        may = {Actor.BUYER: (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED),
               Actor.ADMIN: (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED,
                             OrderStatus.READY)}[actor]
        if order.status not in may or (actor == Actor.BUYER and t >= self.cutoff):
            self.refused(act, orders.TransitionError)
            return
        refund = self.left(order)
        act()
        order.move(OrderStatus.CANCELLED)
        order.refunded += refund
        for sub in order.subs:
            if order.method == PaymentMethod.AT_PICKUP:  # nothing sold, nothing paid
                sub.sale = sub.at_pickup = 0
            if order.invoiced:
                for line in sub.lines:
                    line.credited = line.quantity

    def subs_to_prepare(self, stray=True):
        return [(o, s) for o in self.orders for s in o.subs
                if stray or s.status == OrderStatus.CONFIRMED] or self.subs_to_prepare()

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 200), stray=STRAY)
    def farm_marks_ready(self, index, stray):
        order, sub = self.pick(index, self.subs_to_prepare(stray))
        self.touched.add(order.id)
        t = now()

        def act():
            fulfilment.mark_ready(self.session, self.session.get(SubOrder, sub.id), now=t,
                                  config=self.config)
            self.commit()

        if sub.status not in (OrderStatus.CONFIRMED, OrderStatus.READY):
            self.refused(act, fulfilment.FulfilmentError)
            return
        act()
        sub.status, sub.marked_ready = OrderStatus.READY, True
        if all(s.status == OrderStatus.READY for s in order.subs):
            order.status = OrderStatus.READY

    def to_hand_over(self, stray=True):
        return [o for o in self.orders if stray or o.status in (
            OrderStatus.CONFIRMED, OrderStatus.READY)] or self.orders

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 50), paid_with=st.sampled_from([None, *CounterPayment]),
          stray=STRAY)
    def host_checks_off(self, index, paid_with, stray):
        order = self.pick(index, self.to_hand_over(stray))
        self.touched.add(order.id)
        t = now()

        def act():
            fulfilment.mark_collected(self.session, self.order_row(order), now=t,
                                      config=self.config, paid_with=paid_with)
            self.commit()

        if order.status == OrderStatus.COLLECTED:
            before = self.snapshot()
            act()
            assert self.snapshot() == before
            return
        if order.status not in (OrderStatus.CONFIRMED, OrderStatus.READY) or (
                order.method == PaymentMethod.AT_PICKUP and paid_with is None):
            self.refused(act, fulfilment.FulfilmentError)
            return
        act()
        order.move(OrderStatus.COLLECTED)
        if order.method == PaymentMethod.AT_PICKUP:  # the farms' sales: what they supplied
            for sub in order.subs:
                sub.sale = sub.at_pickup = sum(line.unit * (line.quantity - line.short)
                                               for line in sub.lines)

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 50), stray=STRAY)
    def host_undoes_check_off(self, index, stray):
        """A check-off ticked by mistake is undone: the order is to hand over (and, paid
        at the counter, to pay) again."""
        order = self.pick(index, [o for o in self.orders if stray or
                                  o.status == OrderStatus.COLLECTED] or self.orders)
        self.touched.add(order.id)

        def act():
            fulfilment.undo_collected(self.session, self.order_row(order), now=now())
            self.commit()

        if order.status != OrderStatus.COLLECTED:
            self.refused(act, fulfilment.FulfilmentError)
            return
        act()
        # Back to where each part was: ready if its farm said so, else to prepare.
        for sub in order.subs:
            sub.status = OrderStatus.READY if sub.marked_ready else OrderStatus.CONFIRMED
        order.status = (OrderStatus.READY if all(s.marked_ready for s in order.subs)
                        else OrderStatus.CONFIRMED)
        if order.method == PaymentMethod.AT_PICKUP:  # to pay again: its sales go back
            for sub in order.subs:
                sub.sale = sub.at_pickup = 0

    @precondition(lambda self: any(o.status == OrderStatus.PENDING_PAYMENT for o in self.orders))
    @rule(minutes=st.sampled_from([1, 10, 31]), stripe_answers=st.booleans())
    def time_passes_and_jobs_run(self, minutes, stripe_answers):
        """The clock moves on; the jobs ask Stripe about the holds ending (a payment whose
        webhook was lost is confirmed), then expire the unpaid orders. Stripe not
        answering, nothing expires."""
        self.clock.move_to(now() + timedelta(minutes=minutes))
        if not stripe_answers:
            return
        t = now()
        payments.check_before_expiry(self.session, self.config, now=t)
        self.commit()
        orders.expire_unpaid(self.session, t, config=self.config)
        self.commit()
        for order in self.orders:
            if order.status == OrderStatus.PENDING_PAYMENT and order.expires_at <= t:
                self.touched.add(order.id)
                if order.paid_at_stripe:
                    order.applied = True
                    self.paid_by_card(order)
                else:
                    order.move(OrderStatus.CANCELLED)

    def collected_to_pay_out(self):
        return [o for o in self.orders if o.status == OrderStatus.COLLECTED
                and o.method != PaymentMethod.AT_PICKUP]

    @precondition(lambda self: self.collected_to_pay_out())
    @rule(farm=st.integers(0, 2), wrong=st.sampled_from([0, 0, 1, -1]))
    def admin_records_payout(self, farm, wrong):
        """The admin pays a farm by bank transfer what the payouts page says it is owed."""
        farm_id = self.farms[farm]
        refunds = self.sub_refunds()
        owed_subs = []
        for order in self.orders:
            if order.method == PaymentMethod.AT_PICKUP:
                continue
            for sub in order.subs:
                if sub.farm != farm or sub.status != OrderStatus.COLLECTED or sub.transfer:
                    continue
                refunded, back = refunds.get(sub.id, (0, 0))
                net = sub.sale - commission(sub.sale, self.rates[farm]) - refunded + back
                if net > 0:
                    owed_subs.append((sub, net))
        owed = sum(net for _, net in owed_subs)
        listed = {f.id: amount for f, amount, _n in payments.payouts_due(self.session,
                                                                         self.config)}
        # (the page lists the farms of other examples too: only this one's is compared)
        assert listed.get(farm_id, 0) == owed
        t = now()

        def act():
            payments.record_bank_transfer(self.session, self.session.get(Producer, farm_id),
                                          owed + wrong, self.config, now=t)
            self.commit()

        if wrong or not owed_subs:
            self.refused(act, payments.PayoutError)
            return
        act()
        for sub, net in owed_subs:
            sub.transfer = net

    # Invariants ---------------------------------------------------------------------------

    @invariant()
    def money_adds_up(self):
        self.session.expire_all()
        self.check_statuses_stock_and_places()
        self.check_ledger_and_refunds()
        self.check_invoices()
        self.check_stripe(self.touched)
        self.touched = set()

    def check_statuses_stock_and_places(self):
        ids = [o.id for o in self.orders] or [0]
        statuses = dict(self.session.execute(
            select(Order.id, Order.status).where(Order.id.in_(ids))).all())
        sub_statuses = dict(self.session.execute(
            select(SubOrder.id, SubOrder.status).where(SubOrder.order_id.in_(ids))).all())
        for order in self.orders:
            assert statuses[order.id] == order.status, (order.id, statuses[order.id],
                                                        order.status)
            for sub in order.subs:
                assert sub_statuses[sub.id] == sub.status, (sub.id, sub_statuses[sub.id],
                                                            sub.status)
        # Stock: what is left plus what live orders hold is what the farms had (raw SQL).
        held_sql = dict(self.session.execute(
            select(OrderLine.variant_id, func.sum(OrderLine.quantity))
            .join(SubOrder, SubOrder.id == OrderLine.sub_order_id)
            .join(Order, Order.id == SubOrder.order_id)
            .where(OrderLine.variant_id.in_(self.variants), Order.status.in_(ALIVE))
            .group_by(OrderLine.variant_id)).all())
        stock = dict(self.session.execute(
            select(Variant.id, Variant.stock).where(Variant.id.in_(self.variants))).all())
        for v, variant_id in enumerate(self.variants):
            assert stock[variant_id] >= 0
            assert stock[variant_id] + int(held_sql.get(variant_id, 0)) == self.stock0[v]
            assert stock[variant_id] == self.stock0[v] - self.held()[v]
        taken = self.session.scalar(select(PickupSlot.taken).where(PickupSlot.id == self.slot.id))
        live = self.session.scalar(select(func.count(Order.id)).where(
            Order.pickup_slot_id == self.slot.id, Order.status.in_(ALIVE)))
        assert taken == live == sum(1 for o in self.orders if o.status in ALIVE) <= CAPACITY

    def check_ledger_and_refunds(self):
        ids = [o.id for o in self.orders] or [0]
        ledger: dict[tuple[int, LedgerKind], int] = {
            (sub_id, LedgerKind(kind)): int(total) for sub_id, kind, total in self.session.execute(
                select(LedgerEntry.sub_order_id, LedgerEntry.kind,
                       func.sum(LedgerEntry.amount_cents))
                .where(LedgerEntry.order_id.in_(ids))
                .group_by(LedgerEntry.sub_order_id, LedgerEntry.kind)).all()}
        by_line = dict(self.session.execute(
            select(Refund.order_line_id, func.sum(Refund.amount_cents))
            .where(Refund.order_id.in_(ids), Refund.status != RS.FAILED,
                   Refund.order_line_id.is_not(None))
            .group_by(Refund.order_line_id)).all())
        by_order = dict(self.session.execute(
            select(Refund.order_id, func.sum(Refund.amount_cents))
            .where(Refund.order_id.in_(ids), Refund.status != RS.FAILED)
            .group_by(Refund.order_id)).all())
        farm_sum = dict(self.session.execute(
            select(LedgerEntry.producer_id, func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.order_id.in_(ids)).group_by(LedgerEntry.producer_id)).all())
        farm_expected = [0] * len(self.farms)
        for order in self.orders:
            refunded_subs = 0
            for sub in order.subs:
                bp = self.rates[sub.farm]

                def kind(k, sub=sub):
                    return ledger.get((sub.id, k), 0)

                where = f"order {order.id}, farm {sub.farm}, sub-order {sub.id}"
                for k, expected in ((LedgerKind.SALE, sub.sale),
                                    (LedgerKind.COMMISSION, -commission(sub.sale, bp)),
                                    (LedgerKind.PAID_AT_PICKUP, -sub.at_pickup),
                                    (LedgerKind.TRANSFER, -sub.transfer)):
                    assert kind(k) == expected, f"{where}: {k.value} {kind(k)} != {expected}"
                refunded, back = -kind(LedgerKind.REFUND), kind(LedgerKind.COMMISSION_REFUND)
                # A farm never gives back more than it was paid for its part ...
                assert 0 <= refunded <= sub.sale, f"{where}: refunds {refunded} > {sub.sale}"
                # ... nor gets back more commission than was taken, or than the
                # commission on what it gave back.
                assert 0 <= back <= commission(sub.sale, bp), where
                assert back == commission(refunded, bp), where
                for line in sub.lines:
                    assert int(by_line.get(line.id, 0)) == line.refunded, where
                    assert line.refunded <= line.total, where
                refunded_subs += refunded
                farm_expected[sub.farm] += (sub.sale - commission(sub.sale, bp) - refunded + back
                                            - sub.at_pickup - sub.transfer)
            assert int(by_order.get(order.id, 0)) == order.refunded, order.id
            assert refunded_subs == order.refunded, order.id
            # What the buyer paid: captured less refunded, never below zero.
            assert 0 <= order.captured - order.refunded <= order.total
            row = self.order_row(order)
            assert (row.paid_at is not None) == bool(
                order.captured or (order.method == PaymentMethod.AT_PICKUP
                                   and order.status == OrderStatus.COLLECTED)), order.id
        for farm, farm_id in enumerate(self.farms):
            assert int(farm_sum.get(farm_id, 0)) == farm_expected[farm], farm

    def check_invoices(self):
        ids = [o.id for o in self.orders if o.buyer == RESTAURANT] or [0]
        docs = self.session.scalars(select(Invoice).where(Invoice.order_id.in_(ids))).all()
        issued = {d.sub_order_id: d for d in docs if d.kind == InvoiceKind.INVOICE}
        notes: dict[int, list[Invoice]] = {}
        for doc in docs:
            if doc.kind == InvoiceKind.CREDIT_NOTE:
                notes.setdefault(doc.credits_invoice_id, []).append(doc)
        for order in self.orders:
            if order.buyer != RESTAURANT:
                continue
            for sub in order.subs:
                invoice = issued.get(sub.id)
                assert (invoice is not None) == order.invoiced, (order.id, sub.id)
                if invoice is None:
                    continue
                credited = sum(n.total_cents for n in notes.get(invoice.id, []))
                assert invoice.total_cents == sub.subtotal
                assert credited == sum(line.unit * line.credited for line in sub.lines)
                assert 0 <= credited <= invoice.total_cents
                credited_lines = dict(self.session.execute(
                    select(InvoiceLine.credits_line_id, func.sum(InvoiceLine.total_cents))
                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                    .where(Invoice.credits_invoice_id == invoice.id)
                    .group_by(InvoiceLine.credits_line_id)).all())
                for line in invoice.lines:
                    assert int(credited_lines.get(line.id, 0)) <= line.total_cents
                due = invoices.balance_cents(self.session, invoice)
                if invoice.paid_at is None:
                    assert due == invoice.total_cents - credited
                else:
                    assert due == 0
                paid = (order.method == PaymentMethod.CARD
                        or (order.method == PaymentMethod.AT_PICKUP
                            and order.status == OrderStatus.COLLECTED))
                assert (invoice.paid_at is not None) == paid, (order.id, invoice.id)

    def check_stripe(self, order_ids):
        """Our payments and refunds are Stripe's: the intent took the order's total once
        it succeeded, and the refunds listed at Stripe are ours, all sent."""
        for order in self.orders:
            if order.id not in order_ids or order.method != PaymentMethod.CARD:
                continue
            payment = payments.payment_of(self.session, self.order_row(order))
            if payment is None or not payment.intent_id:
                assert not order.paid_at_stripe
                continue
            intent = gateway.retrieve_payment_intent(self.config, payment.intent_id)
            assert (intent["status"] == "succeeded") == order.paid_at_stripe
            assert (payment.status == PaymentStatus.SUCCEEDED) == order.applied
            if order.paid_at_stripe:
                assert intent["amount"] == order.total == payment.amount_cents
            at_stripe = gateway.client(self.config).v1.refunds.list(
                {"payment_intent": payment.intent_id, "limit": 100}).data if \
                order.paid_at_stripe else []
            ours = self.session.execute(select(Refund.stripe_refund_id, Refund.amount_cents,
                                               Refund.status)
                                        .where(Refund.order_id == order.id)).all()
            assert all(status == RS.SUCCEEDED for _id, _amount, status in ours), ours
            assert sorted((r["id"], r["amount"]) for r in at_stripe) == \
                sorted((rid, amount) for rid, amount, _status in ours)
            assert sum(r["amount"] for r in at_stripe) == order.refunded


def test_money_adds_up(app, localstripe, clock):
    """Random sequences of what buyers, farms, hosts, admins and Stripe do: every
    invariant holds after every step."""
    MoneyMachine.app, MoneyMachine.localstripe, MoneyMachine.clock = app, localstripe, clock
    with app.test_request_context():
        run_state_machine_as_test(MoneyMachine, settings=settings.get_profile(money_profile()))


# Sequences the machine found, kept as plain tests ------------------------------------------

@pytest.fixture
def machine(app, localstripe, clock):
    """A fresh market, driven step by step; every invariant checked after each step."""
    MoneyMachine.app, MoneyMachine.localstripe, MoneyMachine.clock = app, localstripe, clock
    with app.test_request_context():
        yield MoneyMachine()


def steps(machine, *calls):
    machine.money_adds_up()
    for name, *args in calls:
        getattr(machine, name)(*args)
        machine.money_adds_up()


# Carrots (Ferme A, 3.50) and eggs (Ferme B, 5.97) by card, paid through the webhook.
CARROTS_AND_EGGS = [("place", HOUSEHOLD, PaymentMethod.CARD, {0: 1, 2: 1}),
                    ("pay", 0, CARD_OK, "webhook")]


def test_a_short_after_a_credit_note_refunds_nothing_more(machine):
    """The farm credits all three kilos of carrots (refunded to the card), then marks one
    short: nothing more goes back, and lowering it again is refused."""
    steps(machine, ("place", RESTAURANT, PaymentMethod.CARD, {0: 3}),
          ("pay", 0, CARD_OK, "webhook"),
          ("farm_credits_invoice", 0, [3, 0], False),
          ("mark_short", 0, 1, True),
          ("mark_short", 0, 0, True))
    assert machine.orders[0].refunded == 1050
    assert machine.orders[0].lines[0].short == 1


@pytest.mark.parametrize("then", [
    # Ferme A's whole part (3.50), then 1.01 on the order, of which 0.37 from Ferme A again.
    [("admin_refunds_farm", 0, 0, 100), ("admin_refunds_order", 0, 17, False)],
    # The carrots short: Ferme A's part refunded; cancelling takes 2.20 more from it.
    [("mark_short", 0, 1, True), ("cancel", 0, Actor.BUYER, True)],
    # 5.00 named for Ferme A, which sold 3.50: must be refused.
    [("admin_refunds_farm", 0, 0, 143)],
    # 0.09 on the order (0.03 from Ferme A), then the carrots short: 3.50 more from it.
    [("admin_refunds_order", 0, 1, False), ("mark_short", 0, 1, True)],
], ids=["order-wide-after-farm", "cancel-after-short", "farm-over-its-part",
        "short-after-order-wide"])
def test_refunds_never_take_more_from_a_farm_than_it_sold(machine, then):
    steps(machine, *CARROTS_AND_EGGS, *then)


def test_a_payment_after_cancellation_nets_to_zero_in_the_farms_ledgers(machine):
    steps(machine, ("place", HOUSEHOLD, PaymentMethod.CARD, {0: 1, 2: 1}),
          ("pay", 0, CARD_OK, "lost"),  # paid at Stripe; the webhook is late
          ("cancel", 0, Actor.BUYER, False),
          ("late_news_of_payment", 0, "webhook"))


def test_a_restaurants_card_order_short_credited_and_replayed(machine):
    """Short and credit-note refunds of a restaurant's card order add up with its
    invoice, Stripe's refunds and the farms' ledgers; stale and replayed events change
    nothing."""
    steps(machine, ("place", RESTAURANT, PaymentMethod.CARD, {0: 2, 1: 1, 2: 1}),
          ("pay", 0, CARD_OK, "retrieve"),
          ("mark_short", 0, 1, True),  # one of the two kilos of carrots
          ("mark_short", 0, 0, True),  # refused: already refunded
          ("farm_credits_invoice", 0, [0, 1], False),  # the leeks
          ("farm_credits_invoice", 0, [2, 1], False),  # refused: more than is left
          ("stale_news", 0, "failed"),
          ("replay_event", 0, 0))
    order = machine.orders[0]
    assert order.refunded == 350 + 133
    assert [line.credited for line in order.subs[0].lines] == [1, 1]


def test_at_pickup_and_invoice_orders_then_payouts(machine):
    """Counter sales, invoices with shorts and a card order handed over: the payout pays
    the farm exactly its net, once."""
    steps(machine, ("place", HOUSEHOLD, PaymentMethod.AT_PICKUP, {0: 1, 3: 1}),
          ("place", RESTAURANT, PaymentMethod.INVOICE, {2: 2}),
          ("place", HOUSEHOLD, PaymentMethod.CARD, {0: 2, 2: 1}),
          ("pay", 2, CARD_OK, "webhook"),
          ("mark_short", 0, 1, True),
          ("host_checks_off", 0, None, True),  # refused: how was it paid?
          ("host_checks_off", 0, CounterPayment.CASH, True),
          ("host_checks_off", 2, None, True),
          ("admin_records_payout", 0, 1),  # refused: not the amount owed
          ("admin_records_payout", 0, 0),
          ("admin_records_payout", 0, 0))  # refused: paid already
    assert machine.orders[2].subs[0].transfer == 700 - 70


@pytest.mark.parametrize("then", [
    [("mark_short", 0, 1, True), ("host_checks_off", 0, CounterPayment.CASH, True)],
    [("cancel", 0, Actor.ADMIN, True)],
], ids=["short-then-handed-over-again", "cancelled"])
def test_an_undone_counter_check_off_leaves_the_ledger_as_the_order_ends(machine, then):
    steps(machine, ("place", HOUSEHOLD, PaymentMethod.AT_PICKUP, {0: 2}),
          ("host_checks_off", 0, CounterPayment.CASH, True),
          ("host_undoes_check_off", 0, True), *then)
