"""Who pays which price: retail for everyone, tier prices by whole cases for approved
restaurants, and a farm's wholesale minimum.

Who sees what (``visible_to``): a household, a visitor or a restaurant not yet
approved sees the variants sold retail ("retail" or "both") at their retail
price, and never a wholesale-only variant. An approved restaurant sees every
variant: the ones sold wholesale ("wholesale" or "both") at the tier price for
its quantity and by whole cases, with the farm's wholesale minimum; the
retail-only ones at their retail price, in any quantity, like a household.

The cart (orders), the catalogue's pages and the farm's page all price through
these functions; wholesale builds restaurant accounts, invoices and standing
orders on top of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import format_currency
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role

from .models import Variant, WholesaleTier

MAX_TIERS = 3
BELOW_MINIMUM = "below_minimum"
CASE_SIZE = "case_size"

# Buyers --------------------------------------------------------------------------------

def is_wholesale_buyer(user) -> bool:
    """An approved restaurant account (None and anonymous visitors are not)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return getattr(user, "role", None) == Role.RESTAURANT and user.approved_at is not None


def visible_to(user, variant: Variant) -> bool:
    """Whether this buyer may see and order the variant (rule in the module docstring)."""
    return variant.sold_retail or is_wholesale_buyer(user)


# Prices and cases ----------------------------------------------------------------------

def tiers_for(session: Session, variant_ids: Iterable[int]) -> dict[int, list[WholesaleTier]]:
    """variant id -> its tiers by ascending min_quantity, in ONE query."""
    ids = sorted(set(variant_ids))
    found: dict[int, list[WholesaleTier]] = {}
    if not ids:
        return found
    for tier in session.scalars(
        select(WholesaleTier)
        .where(WholesaleTier.variant_id.in_(ids))
        .order_by(WholesaleTier.variant_id, WholesaleTier.min_quantity)
    ):
        found.setdefault(tier.variant_id, []).append(tier)
    return found


def unit_price_cents(variant: Variant, quantity: int, tiers: Iterable[WholesaleTier],
                     wholesale: bool) -> int:
    """What one unit costs: for a wholesale purchase of a variant sold wholesale, the
    tier with the largest min_quantity <= quantity; else the retail price."""
    if not wholesale or not variant.sold_wholesale:
        return variant.price_cents
    best = None
    for tier in tiers:
        if tier.min_quantity > quantity:
            continue
        if best is None or tier.min_quantity > best.min_quantity:
            best = tier
    return best.unit_price_cents if best is not None else variant.price_cents


def case_problem(variant: Variant, quantity: int):
    """None when ``quantity`` is a whole number of cases (at least one), else a message
    that names the case size."""
    size = max(variant.case_size or 1, 1)
    if quantity >= size and quantity % size == 0:
        return None
    return _l(
        "Sold by the case of %(size)d: order %(one)d, %(two)d, %(three)d...",
        size=size, one=size, two=2 * size, three=3 * size,
    )


def buyer_case_problem(buyer, variant: Variant, quantity: int):
    """``case_problem`` where cases bind (an approved restaurant buying a variant sold
    wholesale, as ``orders.cart.price_cart`` prices it), else None."""
    if is_wholesale_buyer(buyer) and variant.sold_wholesale:
        return case_problem(variant, quantity)
    return None


# Farm minimums ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MinimumGap:
    producer_id: int
    producer_name: str
    minimum_cents: int
    subtotal_cents: int

    @property
    def missing_cents(self) -> int:
        return max(self.minimum_cents - self.subtotal_cents, 0)

    @property
    def met(self) -> bool:
        return self.missing_cents == 0


def minimum_gaps(cart_view) -> dict[int, MinimumGap]:
    """producer id -> its wholesale minimum, the cart's subtotal for it and what is
    missing, for the producer groups of a cart priced for a wholesale buyer that hold
    a wholesale line (``price_cart`` fills ``group.minimum_cents``; it already loaded
    the producers, so this needs no query). The subtotal counts every counted line
    of that farm, retail-only ones included: the minimum is what makes the delivery
    worth the farm's while."""
    return {
        group.producer_id: MinimumGap(
            group.producer_id, group.producer_name, group.minimum_cents, group.subtotal_cents
        )
        for group in cart_view.groups
        if group.minimum_cents > 0
    }


@dataclass(frozen=True)
class Problem:
    code: str  # CASE_SIZE or BELOW_MINIMUM
    message: object  # a lazy translated string
    line: object | None = None  # the cart line concerned, if any
    producer_name: str = ""  # the farm whose minimum is not reached


def checkout_problem(cart_view) -> Problem | None:
    """The first wholesale rule the priced cart breaks (a line not in whole cases, a
    farm's minimum not reached), or None. Checkout refuses the order on it."""
    for line in cart_view.unavailable:
        if line.unavailable == CASE_SIZE:
            item = f"{line.product_name} ({line.variant_label})"
            return Problem(CASE_SIZE, _l("%(item)s: %(problem)s", item=item,
                                         problem=line.problem), line)
    below = minimum_problems(cart_view)
    return below[0] if below else None


def minimum_problems(cart_view) -> list[Problem]:
    """One problem for each farm whose wholesale minimum the priced cart misses."""
    return [
        Problem(BELOW_MINIMUM, _l(
            "%(amount)s more from %(producer)s to reach its minimum of %(minimum)s.",
            amount=format_currency(gap.missing_cents / 100, "EUR"),
            producer=gap.producer_name,
            minimum=format_currency(gap.minimum_cents / 100, "EUR"),
        ), producer_name=gap.producer_name)
        for gap in minimum_gaps(cart_view).values() if not gap.met
    ]


# Tiers, as a farm sets them ----------------------------------------------------------------

def set_tiers(session: Session, variant: Variant, tiers: Iterable[tuple[int, int]]) -> None:
    """Replace the variant's tiers by (min_quantity, unit_price_cents) pairs.
    Raises ValueError on a repeated min_quantity or a value out of range."""
    pairs = sorted(tiers)
    quantities = [q for q, _price in pairs]
    if len(set(quantities)) != len(quantities):
        raise ValueError("repeated min_quantity")
    if len(pairs) > MAX_TIERS or any(q < 1 or p < 1 for q, p in pairs):
        raise ValueError("tier out of range")
    session.execute(delete(WholesaleTier).where(WholesaleTier.variant_id == variant.id))
    for quantity, price in pairs:
        session.add(WholesaleTier(variant_id=variant.id, min_quantity=quantity,
                                  unit_price_cents=price))
    session.flush()
