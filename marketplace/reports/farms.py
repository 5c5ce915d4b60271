"""A farm's figures: how far its orders travel (food miles), one aggregate query."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.orders.models import OrderStatus, SubOrder
from marketplace.orders.services import FoodMiles


def food_miles_of_producer(session: Session, producer_id: int) -> FoodMiles:
    """How far a farm's orders travel to their pickup points (cancelled ones left out),
    in one aggregate query."""
    count, total = session.execute(
        select(func.count(SubOrder.id), func.coalesce(func.sum(SubOrder.food_km), 0.0))
        .where(SubOrder.producer_id == producer_id)
        .where(SubOrder.status.not_in([OrderStatus.CANCELLED]))
    ).one()
    return FoodMiles(orders=int(count), total_km=float(total))
