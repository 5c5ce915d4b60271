"""The quick-order grid's rules: quantities as typed with a message per bad line, the
rows a filter keeps, prices and totals without VAT (priced by the cart, as checkout
prices), each farm's minimum, and a past order's quantities as a starting point."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalogue import pricing
from marketplace.catalogue.models import Variant
from marketplace.orders import cart as cart_service
from marketplace.orders.models import Order, OrderLine, OrderStatus, SubOrder
from marketplace.pickup.models import PickupSlot
from marketplace.wholesale.invoice_models import unit_price_excl as invoice_unit_price

FIELD_PREFIX = "q-"
# The orders looked at for a starting point: enough to find last week's same day.
PAST_ORDERS_LOOKED_AT = 12
NOT_PREFILLED = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)


UNIT_PRICE_STEP = Decimal("0.001")
CENT = Decimal("0.01")


def unit_price_excl(cents: int, rate_bp: int) -> Decimal:
    """A unit price excl. VAT (currency units) as professionals read it: the price with
    VAT divided by 1 + the rate, to a tenth of a cent ("1,327 €" for 1,40 € at 5.5 %).
    Rounded to the cent it would not multiply out: 7 x 1,33 € is 9,31 € where the line
    (VAT rounded once on 9,80 €) is 9,29 €; 7 x 1,327 € reads 9,29 €."""
    exact = Decimal(cents) * 10_000 / (10_000 + rate_bp)  # cents
    price = (exact / 100).quantize(UNIT_PRICE_STEP, ROUND_HALF_UP)
    whole_cents = price.quantize(CENT)
    return whole_cents if whole_cents == price else price  # "2,37 €", not "2,370 €"


# Quantities as typed ----------------------------------------------------------------------

@dataclass
class Typed:
    """What the grid's form holds: ``raw`` as typed (to show it again), the valid
    ``quantities`` by variant id, a message per bad line, and whether a field named
    an item the grid does not list."""

    raw: dict[str, str] = field(default_factory=dict)
    quantities: dict[int, int] = field(default_factory=dict)
    errors: dict[int, object] = field(default_factory=dict)
    unknown: bool = False


def read_quantities(form: Mapping[str, str], by_id: Mapping[int, Variant], buyer) -> Typed:
    """Each ``q-<variant id>`` field of ``form`` checked against the grid's variants
    ``by_id``: a whole number of units (empty or 0: not ordered), in whole cases where
    cases bind, at most the stock."""
    typed = Typed(raw={k: v for k, v in form.items() if k.startswith(FIELD_PREFIX)})
    for key, value in typed.raw.items():
        # "007" is 7; and thousands of zeros typed must not reach int().
        digits = value.strip().lstrip("0")
        if not digits:
            continue
        variant = by_id.get(field_variant_id(key))
        if variant is None:
            typed.unknown = True
            continue
        problem = _quantity_problem(digits, variant, buyer)
        if problem is not None:
            typed.errors[variant.id] = problem
        else:
            typed.quantities[variant.id] = int(digits)
    return typed


def field_variant_id(key: str) -> int | None:
    try:
        return cart_service.parse_variant_id(key[len(FIELD_PREFIX):])
    except cart_service.CartError:
        return None


def _quantity_problem(digits: str, variant: Variant, buyer):
    if digits.startswith("-") and digits[1:].isascii() and digits[1:].isdigit():
        return _l("A quantity cannot be negative: type 0 or leave it empty.")
    if not (digits.isascii() and digits.isdigit()):
        return _l("Enter a whole number of units, such as 12.")
    try:
        quantity = cart_service.parse_quantity(digits)
    except cart_service.CartError:  # digits, not 0: too large
        return _l("At most %(max)d units on one line.", max=cart_service.MAX_QUANTITY)
    # Cases bind wholesale sales only, as in the cart (a retail-only item is sold by
    # the unit, whatever case size the farm typed).
    problem = pricing.buyer_case_problem(buyer, variant, quantity)
    if problem is not None:
        return problem
    if quantity > variant.stock:
        return _l("Only %(num)d in stock.", num=max(variant.stock, 0))
    return None


# The rows ---------------------------------------------------------------------------------

def _folded(text: str) -> str:
    """Lower case without accents: "Pômmes" matches "pomme"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def matches(variant: Variant, words: str) -> bool:
    """Whether every word of the filter begins a word of the item's name, its variant
    or its farm ("pom" finds "Pommes", "ferme b" finds Ferme B's items)."""
    names = _folded(" ".join((variant.product.name, variant.label,
                              variant.product.producer.name))).split()
    return all(any(name.startswith(word) for name in names)
               for word in _folded(words).split())


@dataclass
class Row:
    """One line of the grid: the variant, its price without VAT and its tiers."""

    variant: Variant
    wholesale: bool  # priced wholesale for this buyer (tiers, cases, the farm's minimum)
    price_ht: Decimal  # currency units, to a tenth of a cent (unit_price_excl)
    tiers: list = field(default_factory=list)  # (min quantity, price without VAT)
    tier_prices: str = ""  # "10:250 20:230": the tiers with VAT, for the page's script

    @property
    def case_size(self) -> int:
        return max(self.variant.case_size or 1, 1) if self.wholesale else 1


def rows(variants: Iterable[Variant], tiers: Mapping[int, list], buyer) -> list[Row]:
    wholesale_buyer = pricing.is_wholesale_buyer(buyer)
    made = []
    for variant in variants:
        rate = variant.product.vat_rate_bp
        wholesale = wholesale_buyer and variant.sold_wholesale
        own = tiers.get(variant.id, []) if wholesale else []
        made.append(Row(
            variant, wholesale, unit_price_excl(variant.price_cents, rate),
            [(t.min_quantity, unit_price_excl(t.unit_price_cents, rate)) for t in own],
            " ".join(f"{t.min_quantity}:{t.unit_price_cents}" for t in own),
        ))
    return made


# Totals -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FarmProgress:
    producer_id: int
    producer_name: str
    subtotal_cents: int  # with VAT, as the minimum is counted
    minimum_cents: int

    @property
    def met(self) -> bool:
        return self.subtotal_cents >= self.minimum_cents


@dataclass
class Totals:
    ht_cents: int = 0
    vat_cents: int = 0
    ttc_cents: int = 0
    line_ht_cents: dict[int, int] = field(default_factory=dict)  # variant id -> line total
    # variant id -> the line's unit price excl. VAT as its invoice prints it: enough
    # decimals that quantity x unit price is the line's total (7 x 1,3271 € = 9,29 €).
    line_unit: dict[int, Decimal] = field(default_factory=dict)
    progress: dict[int, FarmProgress] = field(default_factory=dict)  # producer id -> ...


def totals(session: Session, quantities: Mapping[int, int], buyer) -> Totals:
    """The grid's totals, priced by ``orders.cart.price_cart`` exactly as checkout
    prices the same quantities (two queries whatever their number; none when empty),
    with each farm's progress towards its wholesale minimum."""
    if not quantities:
        return Totals()
    view = cart_service.price_cart({str(k): q for k, q in quantities.items()}, session,
                                   buyer=buyer)
    return Totals(
        ht_cents=view.total_cents - view.vat_cents, vat_cents=view.vat_cents,
        ttc_cents=view.total_cents,
        line_ht_cents={line.variant_id: line.total_cents - line.vat_cents
                       for line in view.lines},
        line_unit={line.variant_id: invoice_unit_price(line.total_cents - line.vat_cents,
                                                       line.quantity)
                   for line in view.lines},
        progress={gap.producer_id: FarmProgress(gap.producer_id, gap.producer_name,
                                                gap.subtotal_cents, gap.minimum_cents)
                  for gap in pricing.minimum_gaps(view).values()},
    )


# A starting point -------------------------------------------------------------------------

@dataclass(frozen=True)
class StartingPoint:
    """The quantities of a past order, for the items the grid still lists."""

    order_id: int
    delivered_on: datetime  # the start of that order's slot
    quantities: dict[int, int]


def starting_point(session: Session, buyer_id: int, slot: PickupSlot, tz: str,
                   listed: Iterable[int]) -> StartingPoint | None:
    """The buyer's latest order for a slot before ``slot``, one on the same weekday
    first (last week's Thursday for a Thursday), else the most recent one; None when
    there is none or none of its items is ``listed`` any more. Two queries."""
    zone = ZoneInfo(tz)
    past = session.execute(
        select(Order.id, PickupSlot.starts_at).join(PickupSlot, PickupSlot.id ==
                                                    Order.pickup_slot_id)
        .where(Order.buyer_id == buyer_id, Order.status.not_in(NOT_PREFILLED),
               PickupSlot.starts_at < slot.starts_at)
        .order_by(PickupSlot.starts_at.desc(), Order.id.desc())
        .limit(PAST_ORDERS_LOOKED_AT)
    ).all()
    if not past:
        return None
    weekday = slot.starts_at.astimezone(zone).weekday()
    order_id, starts_at = next(
        (row for row in past if row.starts_at.astimezone(zone).weekday() == weekday), past[0])
    wanted = set(listed)
    quantities: dict[int, int] = {}
    for variant_id, quantity in session.execute(
        select(OrderLine.variant_id, OrderLine.quantity).join(SubOrder)
        .where(SubOrder.order_id == order_id, SubOrder.status.not_in(NOT_PREFILLED))
        .order_by(OrderLine.id)
    ):
        if variant_id in wanted:
            quantities[variant_id] = min(quantities.get(variant_id, 0) + quantity,
                                         cart_service.MAX_QUANTITY)
    if not quantities:
        return None
    return StartingPoint(order_id, starts_at.astimezone(zone), quantities)
