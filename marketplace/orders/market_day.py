"""The cart belongs to the market day: what fits it stays in the cart, what does not
(farm not there that day, out of stock, out of season, no longer sold) is kept
aside, with its reason, and comes back when a later market day fits it again.

Plain functions with explicit arguments; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _
from sqlalchemy.orm import Session

from marketplace.orders import cart as cart_service
from marketplace.orders.services import serving_problems
from marketplace.pickup.market_days import MarketDay

ASIDE_KEY = "cart_aside"  # the Flask session's key of the lines kept aside


@dataclass
class Fit:
    cart: dict[str, int]
    aside: dict[str, int]
    # Lines moved out of the cart now, and lines that came back, with the reason
    # of each line kept aside (variant id -> message).
    set_aside: list[cart_service.CartLine] = field(default_factory=list)
    restored: list[cart_service.CartLine] = field(default_factory=list)
    reasons: dict[int, object] = field(default_factory=dict)


def line_problems(session: Session, view: cart_service.CartView, market_day: MarketDay, *,
                  tz: str, now: datetime) -> dict[int, object]:
    """variant id -> why that line cannot be collected at the market day."""
    problems: dict[int, object] = dict(serving_problems(session, view, market_day.slot,
                                                        tz=tz, now=now))
    for line in view.lines:
        if line.variant_id in problems:
            continue
        if cart_service.OUT_OF_STOCK in line.warnings:
            problems[line.variant_id] = _("Out of stock.")
        elif cart_service.OUT_OF_SEASON in line.warnings:
            problems[line.variant_id] = _("Out of season on that date.")
    for line in view.unavailable:
        if line.unavailable != cart_service.CASE_SIZE:
            problems[line.variant_id] = _("No longer sold.")
    return problems


def fit(session: Session, cart: dict, aside: dict, market_day: MarketDay, *, buyer,
        tz: str, now: datetime) -> Fit:
    """Sort the cart and the lines kept aside for this market day."""
    cart = cart_service.load(cart)
    aside = {k: q for k, q in cart_service.load(aside).items() if k not in cart}
    everything = {**aside, **cart}
    view = cart_service.price_cart(everything, session, month=market_day.day.month,
                                   buyer=buyer)
    problems = line_problems(session, view, market_day, tz=tz, now=now)
    result = Fit(cart={}, aside={}, reasons=problems)
    for line in [*view.lines, *view.unavailable]:
        key = str(line.variant_id)
        if line.variant_id in problems:
            result.aside[key] = everything[key]
            if key in cart:
                result.set_aside.append(line)
        else:
            result.cart[key] = everything[key]
            if key in aside:
                result.restored.append(line)
    return result
