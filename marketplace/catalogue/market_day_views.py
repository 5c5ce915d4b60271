"""What the catalogue's views share about the buyer's market day: the filter and the
marks on what cannot be collected that day."""

from __future__ import annotations

from marketplace.catalogue import market_day as market_day_service
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.pickup.market_day_views import current_market_day
from marketplace.web.display import display_tz


def market_day_view(show_all: bool):
    """(market day, its Availability, the filter to apply): the filter is None when
    there is no market day or the buyer asked to see everything (?all=1)."""
    market_day = current_market_day()
    if market_day is None:
        return None, None, None
    available = market_day_service.availability(db.session, market_day, tz=display_tz())
    return market_day, available, (None if show_all else available)


def market_day_marks(products, market_day, available):
    """product id -> Mark for the products shown that cannot be collected that day."""
    if market_day is None:
        return {}
    return market_day_service.marks(db.session, products, market_day, available,
                                    now=utcnow(), tz=display_tz())
