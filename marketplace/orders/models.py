"""Orders: one order per checkout, one sub-order per producer, lines with copied prices.

The state machine lives in ONE table, ``TRANSITIONS``: for each (from, to) move,
the roles that may make it. ``services.transition`` is the only code that changes
a status.
"""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalogue.food import NetUnit, format_reference_price, mask_allergens
from marketplace.extensions import db
from marketplace.models import CURRENCY, LabelledEnum, UTCDateTime, enum_column, labels, utcnow
from marketplace.orders.cart import vat_included


@labels(pending_payment=_l("Waiting for payment"), confirmed=_l("Confirmed"),
        ready=_l("Ready to collect"), collected=_l("Collected"), cancelled=_l("Cancelled"),
        refunded=_l("Refunded"))
class OrderStatus(LabelledEnum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    READY = "ready"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@labels(at_pickup=_l("At pickup"), card=_l("Card"), invoice=_l("On invoice"))
class PaymentMethod(LabelledEnum):
    AT_PICKUP = "at_pickup"  # paid to the host at the counter
    CARD = "card"  # paid online (Stripe)
    INVOICE = "invoice"  # a restaurant with payment terms: paid against the farms' invoices


@labels(cash=_l("Cash"), cheque=_l("Cheque"), card=_l("Card"))
class CounterPayment(LabelledEnum):
    """How a pay-at-pickup order was paid at the counter, as the host records it."""

    CASH = "cash"
    CHEQUE = "cheque"
    CARD = "card"


class Actor(enum.StrEnum):
    BUYER = "buyer"
    PRODUCER = "producer"
    HOST = "host"
    ADMIN = "admin"
    SYSTEM = "system"


S, A = OrderStatus, Actor

# The one state machine: (from, to) -> who may make the move. Applies to orders and
# to sub-orders alike (a producer marks its sub-order ready; the host marks collected).
TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], frozenset[Actor]] = {
    (S.PENDING_PAYMENT, S.CONFIRMED): frozenset({A.SYSTEM, A.ADMIN}),  # payment received
    (S.PENDING_PAYMENT, S.CANCELLED): frozenset({A.BUYER, A.SYSTEM, A.ADMIN}),  # or expired
    (S.CONFIRMED, S.READY): frozenset({A.PRODUCER, A.ADMIN}),
    (S.CONFIRMED, S.CANCELLED): frozenset({A.BUYER, A.PRODUCER, A.ADMIN}),
    (S.CONFIRMED, S.REFUNDED): frozenset({A.SYSTEM, A.ADMIN}),
    (S.READY, S.COLLECTED): frozenset({A.HOST, A.ADMIN}),
    # The farm brought the order but did not press "ready": the host may still hand it over.
    (S.CONFIRMED, S.COLLECTED): frozenset({A.HOST, A.ADMIN}),
    # Undo a check-off ticked by mistake on the distribution sheet: back to ready, or to
    # prepare when the farm had not said it was ready.
    (S.COLLECTED, S.READY): frozenset({A.HOST, A.ADMIN}),
    (S.COLLECTED, S.CONFIRMED): frozenset({A.HOST, A.ADMIN}),
    (S.READY, S.CANCELLED): frozenset({A.ADMIN}),
    (S.CANCELLED, S.REFUNDED): frozenset({A.SYSTEM, A.ADMIN}),
    (S.COLLECTED, S.REFUNDED): frozenset({A.ADMIN}),
}

del S, A

# Orders that still hold stock and a slot place.
ACTIVE_STATUSES = frozenset({
    OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED, OrderStatus.READY,
})

# Sub-orders a farm still has to prepare or has prepared (not cancelled, not refunded).
FULFILMENT_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.READY, OrderStatus.COLLECTED)


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_cents >= 0", name="total"),
        CheckConstraint("vat_cents >= 0 AND vat_cents <= total_cents", name="vat"),
        Index("ix_orders_status_expires_at", "status", "expires_at"),
        Index("ix_orders_checkout_token", "checkout_token", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    pickup_slot_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_slots.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus), default=OrderStatus.PENDING_PAYMENT
    )
    total_cents: Mapped[int] = mapped_column(default=0)
    vat_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_method: Mapped[PaymentMethod] = mapped_column(
        enum_column(PaymentMethod), default=PaymentMethod.AT_PICKUP,
        server_default=PaymentMethod.AT_PICKUP.value,
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Pay at pickup: how the host was paid (cash, cheque, card at the counter).
    paid_with: Mapped[CounterPayment | None] = mapped_column(enum_column(CounterPayment))
    # The random token of the form that placed the order: the same form sent twice
    # (a double click, the back button, a replayed request) finds this order again
    # instead of placing a second one.
    checkout_token: Mapped[str | None] = mapped_column(String(64))
    # Who placed the order for the buyer when it was not the buyer: a relay ordering
    # for a neighbour who is not online (None: the buyer did).
    placed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)

    buyer = relationship("User", foreign_keys=[buyer_id])
    placed_by = relationship("User", foreign_keys=[placed_by_id])
    pickup_slot = relationship("PickupSlot")
    sub_orders: Mapped[list[SubOrder]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SubOrder.id",
    )

    @property
    def lines(self) -> list[OrderLine]:
        return [line for sub in self.sub_orders for line in sub.lines]

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None

    @property
    def to_pay_at_pickup(self) -> bool:
        """Money the host takes at the counter (an order on invoice is paid to the
        farms against their invoices, a card order online)."""
        return self.payment_method == PaymentMethod.AT_PICKUP and not self.is_paid

    @property
    def active_sub_orders(self) -> list[SubOrder]:
        return [sub for sub in self.sub_orders if sub.status != OrderStatus.CANCELLED]

    @property
    def amount_due_cents(self) -> int:
        """What the buyer owes for what the farms actually supply (short lines left out)."""
        return sum(sub.supplied_cents for sub in self.active_sub_orders)

    @property
    def supplied_cents(self) -> int:
        """What the order comes to once the units the farms could not supply are left
        out (every farm's part, cancelled or not: what the lines say)."""
        return sum(sub.supplied_cents for sub in self.sub_orders)

    @property
    def supplied_vat_cents(self) -> int:
        return sum(sub.supplied_vat_cents for sub in self.sub_orders)

    @property
    def food_km_total(self) -> float:
        return sum(sub.food_km for sub in self.sub_orders)

    @property
    def food_km_average(self) -> float:
        return self.food_km_total / len(self.sub_orders) if self.sub_orders else 0.0


class SubOrder(db.Model):
    __tablename__ = "sub_orders"
    __table_args__ = (
        CheckConstraint("subtotal_cents >= 0", name="subtotal"),
        CheckConstraint("vat_cents >= 0", name="vat"),
        CheckConstraint("food_km >= 0", name="food_km"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus), default=OrderStatus.PENDING_PAYMENT
    )
    subtotal_cents: Mapped[int] = mapped_column(default=0)
    vat_cents: Mapped[int] = mapped_column(default=0)
    food_km: Mapped[float] = mapped_column(Float, default=0.0)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="sub_orders")
    producer = relationship("Producer")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="sub_order", cascade="all, delete-orphan", passive_deletes=True,
        order_by="OrderLine.id",
    )

    @property
    def supplied_cents(self) -> int:
        return sum(line.supplied_total_cents for line in self.lines)

    @property
    def supplied_vat_cents(self) -> int:
        return sum(line.supplied_vat_cents for line in self.lines)

    @property
    def short_cents(self) -> int:
        return self.subtotal_cents - self.supplied_cents

    @property
    def allergens_delivered(self):
        """The regulated allergens in what the farm hands over (décret 2015-447: listed
        with each delivery to a restaurant), from the lines' copies."""
        return mask_allergens(_union(line.allergens for line in self.lines
                                     if line.supplied_quantity))

    @property
    def traces_delivered(self):
        return mask_allergens(_union(line.allergen_traces for line in self.lines
                                     if line.supplied_quantity))

    @property
    def allergens_unknown(self) -> bool:
        """A line was ordered before allergens were recorded: the list may be incomplete."""
        return any(line.allergens is None for line in self.lines if line.supplied_quantity)


def _union(masks) -> int:
    out = 0
    for mask in masks:
        out |= mask or 0
    return out


class OrderLine(db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price"),
        CheckConstraint("vat_rate_bp >= 0", name="vat_rate"),
        CheckConstraint("vat_cents >= 0", name="vat"),
        CheckConstraint("line_total_cents >= 0", name="line_total"),
        CheckConstraint("distance_km >= 0", name="distance"),
        CheckConstraint("quantity_short >= 0 AND quantity_short <= quantity", name="short"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sub_order_id: Mapped[int] = mapped_column(
        ForeignKey("sub_orders.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("variants.id", ondelete="SET NULL"), index=True
    )
    product_name: Mapped[str] = mapped_column(String(160))
    variant_label: Mapped[str] = mapped_column(String(60))
    unit_price_cents: Mapped[int]
    quantity: Mapped[int]
    vat_rate_bp: Mapped[int]
    vat_cents: Mapped[int]
    line_total_cents: Mapped[int]
    distance_km: Mapped[float] = mapped_column(Float, default=0.0)
    # Units the farm could not supply (hail, no eggs this week), set when packing.
    quantity_short: Mapped[int] = mapped_column(default=0, server_default="0")
    # Food information as the product declared it when ordered (None: ordered before
    # it was recorded): net quantity for the price per kg or litre, allergens (bit
    # masks of catalogue.food.Allergen) for the packing list and delivery sheet.
    net_quantity: Mapped[int | None]
    net_unit: Mapped[NetUnit | None] = mapped_column(enum_column(NetUnit, 5))
    allergens: Mapped[int | None]
    allergen_traces: Mapped[int | None]

    sub_order: Mapped[SubOrder] = relationship(back_populates="lines")

    @property
    def unit_price(self) -> str:
        """The price per kilogram or litre it was sold at ("12,40 €/kg"), or ""."""
        return format_reference_price(self.unit_price_cents, self.net_quantity, self.net_unit)

    @property
    def allergen_list(self):
        return mask_allergens(self.allergens)

    @property
    def trace_list(self):
        return mask_allergens(self.allergen_traces)

    @property
    def supplied_quantity(self) -> int:
        return self.quantity - self.quantity_short

    @property
    def supplied_total_cents(self) -> int:
        if not self.quantity_short:
            return self.line_total_cents
        return self.unit_price_cents * self.supplied_quantity

    @property
    def supplied_vat_cents(self) -> int:
        """The VAT in ``supplied_total_cents`` (the line's own when nothing is short)."""
        if not self.quantity_short:
            return self.vat_cents
        return vat_included(self.supplied_total_cents, self.vat_rate_bp)
