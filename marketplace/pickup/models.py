from __future__ import annotations

import enum
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
    or_,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import LabelledEnum, TimestampMixin, UTCDateTime, enum_column, labels


class PickupKind(enum.StrEnum):
    FARM_SHOP = "farm_shop"
    CAFE = "cafe"
    TOWN_HALL = "town_hall"
    THIRD_PLACE = "third_place"
    ASSOCIATION = "association"
    SHOP = "shop"
    RESTAURANT = "restaurant"


class PickupPoint(TimestampMixin, db.Model):
    """Where buyers collect their orders, on dated slots generated from weekly schedules."""

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
    # The host takes payment at the counter (cash, cheque, card) for orders placed
    # with "pay at pickup".
    accepts_pay_at_pickup: Mapped[bool] = mapped_column(default=True, server_default=true())
    # A restaurant's door: a delivery destination of its own kind, that only
    # this buyer may order for; hidden from everyone else's lists, maps and API.
    private_buyer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )

    host: Mapped[User | None] = relationship(foreign_keys=[host_id])

    @classmethod
    def open_to(cls, user_id: int | None):
        """SQL condition: the points this user may see and order for (every public
        point, and the user's own door if it has one)."""
        if user_id is None:
            return cls.private_buyer_id.is_(None)
        return or_(cls.private_buyer_id.is_(None), cls.private_buyer_id == user_id)

    def is_open_to(self, user_id: int | None) -> bool:
        """``open_to`` for a point already loaded."""
        return self.private_buyer_id is None or self.private_buyer_id == user_id

    @property
    def is_door(self) -> bool:
        return self.private_buyer_id is not None


class PickupSchedule(TimestampMixin, db.Model):
    """A weekly opening of a pickup point, in local wall-clock time (Europe/Paris)."""

    __tablename__ = "pickup_schedules"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("cutoff_hours >= 0", name="cutoff"),
        # Either hours counted back (no day, no time), or a day before at a local time.
        CheckConstraint(
            "(cutoff_days IS NULL AND cutoff_time IS NULL) OR "
            "(cutoff_days >= 0 AND cutoff_days <= 14 AND cutoff_time IS NOT NULL)",
            name="cutoff_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # 0 = Monday, as datetime.weekday()
    starts_at: Mapped[time] = mapped_column(Time())
    ends_at: Mapped[time] = mapped_column(Time())
    capacity: Mapped[int]
    # The cut-off is either `cutoff_hours` before the opening, or, when `cutoff_time`
    # is set, `cutoff_days` days before the opening's date at that local wall-clock
    # time ("the day before at 18:00", "Tuesday at 18:00" for a Thursday).
    cutoff_hours: Mapped[int] = mapped_column(default=36)
    cutoff_days: Mapped[int | None]
    cutoff_time: Mapped[time | None] = mapped_column(Time())
    active: Mapped[bool] = mapped_column(default=True)

    pickup_point: Mapped[PickupPoint] = relationship()


@labels(open=_l("Open"), closed=_l("Closed"))
class SlotStatus(LabelledEnum):
    OPEN = "open"
    CLOSED = "closed"


class PickupSlot(TimestampMixin, db.Model):
    """A dated opening with a number of places (orders); `taken` counts the places used."""

    __tablename__ = "pickup_slots"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="taken"),
        CheckConstraint("ends_at > starts_at", name="times"),
        UniqueConstraint("pickup_point_id", "starts_at"),
        Index("ix_pickup_slots_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("pickup_schedules.id", ondelete="SET NULL"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int]
    taken: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[SlotStatus] = mapped_column(
        enum_column(SlotStatus), default=SlotStatus.OPEN, server_default=SlotStatus.OPEN.value
    )
    closed_reason: Mapped[str] = mapped_column(Text, default="")
    # When the standing orders for this slot were placed (wholesale/standing.py); until
    # then farms that serve standing orders first take no one-off order for it.
    standing_placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    pickup_point: Mapped[PickupPoint] = relationship()

    @property
    def places_left(self) -> int:
        return self.capacity - self.taken


class HolidayOpening(TimestampMixin, db.Model):
    """A public holiday on which the host opens the point all the same: slots are
    generated for it like any other day (holidays are skipped otherwise)."""

    __tablename__ = "pickup_holiday_openings"
    __table_args__ = (UniqueConstraint("pickup_point_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date())


class DeliveryRound(TimestampMixin, db.Model):
    """A producer brings its orders to a pickup point on a weekday (0 = Monday)."""

    __tablename__ = "delivery_rounds"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        UniqueConstraint("producer_id", "pickup_point_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="CASCADE"), index=True
    )
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]

    pickup_point: Mapped[PickupPoint] = relationship()
