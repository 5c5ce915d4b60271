"""Restaurant accounts and their standing orders.

A variant's wholesale settings (who it is sold to, its case size) are columns of
``Variant`` (catalogue/models.py); a farm's wholesale minimum is a column of
``Producer``; a variant's quantity tiers are ``WholesaleTier`` (catalogue/models.py).
Here: the business details of a restaurant account, and its standing orders (weekly
templates, rules in standing.py) with a run per (template, slot).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import (
    LabelledEnum,
    TimestampMixin,
    UTCDateTime,
    enum_column,
    labels,
    utcnow,
)

MAX_PAYMENT_TERMS_DAYS = 90  # what the database holds (restaurants granted more before)
# Code de commerce: an invoice between professionals is due at most 60 days after its
# date (L441-10), and for perishable food at most 30 days after the end of the ten days
# in which it was delivered (L441-11). Terms run from the invoice's date here, which
# is never after the delivery, so 30 days keeps a farm selling perishable food within
# the law. What an admin may grant now is the legal bound.
LEGAL_MAX_PAYMENT_TERMS_DAYS = 60
PERISHABLE_MAX_PAYMENT_TERMS_DAYS = 30


class RestaurantProfile(TimestampMixin, db.Model):
    """The business behind a restaurant account. Approval is the account's
    ``User.approved_at``, set by an admin; until then it buys at retail prices."""

    __tablename__ = "restaurant_profiles"
    __table_args__ = (
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="lat"),
        CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="lon"
        ),
        CheckConstraint(
            f"payment_terms_days IS NULL OR "
            f"(payment_terms_days >= 0 AND payment_terms_days <= {MAX_PAYMENT_TERMS_DAYS})",
            name="payment_terms",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    business_name: Mapped[str] = mapped_column(String(120))
    siret: Mapped[str] = mapped_column(String(14))  # 14 digits, Luhn-checked
    vat_number: Mapped[str] = mapped_column(String(13))  # FR + key + SIREN
    address: Mapped[str] = mapped_column(String(255), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    commune: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # When deliveries are received, as the restaurant writes it ("Tue-Sat 8:00-11:00").
    delivery_hours: Mapped[str] = mapped_column(String(255), default="")
    # Days to pay an invoice, granted by an admin; None: pay when ordering.
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<RestaurantProfile {self.id} {self.business_name}>"


class StandingOrder(TimestampMixin, db.Model):
    __tablename__ = "standing_orders"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                          index=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # local weekday of the slots it orders for, 0 = Monday
    payment_method: Mapped[str] = mapped_column(String(20), default="at_pickup")
    name: Mapped[str] = mapped_column(String(120), default="")
    active: Mapped[bool] = mapped_column(default=True)

    lines: Mapped[list[StandingOrderLine]] = relationship(
        back_populates="standing_order", cascade="all, delete-orphan",
        order_by="StandingOrderLine.id",
    )
    pickup_point = relationship("PickupPoint")


class StandingOrderLine(db.Model):
    __tablename__ = "standing_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        UniqueConstraint("standing_order_id", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"),
                                            index=True)
    quantity: Mapped[int]

    standing_order: Mapped[StandingOrder] = relationship(back_populates="lines")
    variant = relationship("Variant")


@labels(placed=_l("Placed"), partial=_l("Partly placed"),
        failed=_l("Nothing could be ordered"), skipped=_l("Skipped"))
class RunStatus(LabelledEnum):
    PLACED = "placed"  # every line reserved
    PARTIAL = "partial"  # some lines could not be reserved (told)
    FAILED = "failed"  # nothing could be reserved (told)
    SKIPPED = "skipped"  # the restaurant skipped that week


class StandingOrderRun(db.Model):
    """What the job did for one slot: written once (unique), so a second run does nothing."""

    __tablename__ = "standing_order_runs"
    __table_args__ = (UniqueConstraint("standing_order_id", "pickup_slot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True
    )
    pickup_slot_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_slots.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
