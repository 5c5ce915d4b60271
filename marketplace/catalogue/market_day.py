"""What can be collected at a market day: the farms there that day, in stock, in
season on that date; and, for what cannot, why and the farm's next date there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from marketplace.catalogue.models import Product
from marketplace.pickup import market_days
from marketplace.pickup.market_days import MarketDay

NOT_THERE = "not_there"  # the farm does not deliver the point that day
OUT_OF_STOCK = "out_of_stock"
OUT_OF_SEASON = "out_of_season"


@dataclass(frozen=True)
class Availability:
    """The catalogue's filter for a market day (see services.browse)."""

    producer_ids: frozenset[int]
    month: int


@dataclass(frozen=True)
class Mark:
    """Why a product cannot be collected at the market day; ``next_day``: when its
    farm is next at the same point, if it is."""

    reason: str
    next_day: date | None = None


def availability(session: Session, market_day: MarketDay, *, tz: str) -> Availability:
    """One query: the farms delivering the point that day."""
    return Availability(market_days.serving_producer_ids(session, market_day.slot, tz=tz),
                        market_day.day.month)


def marks(session: Session, products: Iterable[Product], market_day: MarketDay,
          available: Availability, *, now: datetime, tz: str) -> dict[int, Mark]:
    """product id -> its Mark, for the products that cannot be collected that day.
    Two queries at most, whatever the number of products."""
    products = list(products)
    away = {p.producer.id: p.producer for p in products
            if p.producer_id not in available.producer_ids}
    next_days = market_days.next_dates(session, market_day, away.values(), now=now, tz=tz)
    found: dict[int, Mark] = {}
    for product in products:
        if product.producer_id not in available.producer_ids:
            found[product.id] = Mark(NOT_THERE, next_days.get(product.producer_id))
        elif not product.in_season(available.month):
            found[product.id] = Mark(OUT_OF_SEASON)
        elif not product.in_stock:
            found[product.id] = Mark(OUT_OF_STOCK)
    return found
