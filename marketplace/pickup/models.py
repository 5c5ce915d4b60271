from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User, enum_column
from marketplace.extensions import db
from marketplace.models import TimestampMixin


class PickupKind(enum.StrEnum):
    FARM_SHOP = "farm_shop"
    CAFE = "cafe"
    TOWN_HALL = "town_hall"
    THIRD_PLACE = "third_place"
    ASSOCIATION = "association"
    SHOP = "shop"
    RESTAURANT = "restaurant"


class PickupPoint(TimestampMixin, db.Model):
    """Where buyers collect their orders. Schedules and dated slots come with orders."""

    __tablename__ = "pickup_points"
    __table_args__ = (
        CheckConstraint("latitude >= -90 AND latitude <= 90", name="lat"),
        CheckConstraint("longitude >= -180 AND longitude <= 180", name="lon"),
        Index("ix_pickup_points_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PickupKind] = mapped_column(enum_column(PickupKind))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    commune: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float]
    longitude: Mapped[float]
    is_active: Mapped[bool] = mapped_column(default=True)

    host: Mapped[User | None] = relationship()
