from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Index, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import TimestampMixin

producer_labels = Table(
    "producer_labels",
    db.metadata,
    Column("producer_id", ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Label(db.Model):
    """A quality label or certification shown on a farm, e.g. organic "AB"."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_fr: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))

    def name_for(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_fr


class Producer(TimestampMixin, db.Model):
    """A farm: the selling side of a producer account."""

    __tablename__ = "producers"
    __table_args__ = (
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="lat"),
        CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="lon"
        ),
        CheckConstraint("delivery_radius_km >= 0", name="radius"),
        CheckConstraint("commission_bp IS NULL OR (commission_bp >= 0 AND commission_bp <= 10000)",
                        name="commission"),
        CheckConstraint("wholesale_minimum_cents >= 0", name="wholesale_minimum"),
        Index("ix_producers_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    commune: Mapped[str] = mapped_column(String(120), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    delivery_radius_km: Mapped[int] = mapped_column(default=30)
    # The platform's commission on this farm's sales, in basis points; None: the
    # COMMISSION_BP setting.
    commission_bp: Mapped[int | None] = mapped_column()
    # Stripe Connect account that receives this farm's transfers (acct_...), if any.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255))
    # Legal mentions printed on the farm's invoices to restaurants.
    siret: Mapped[str | None] = mapped_column(String(14))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    # The least a restaurant's wholesale order from this farm may come to (0: none).
    wholesale_minimum_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # Standing orders first: the weekly orders of restaurants take this farm's stock
    # before one-off orders for the same date (see wholesale/standing.py).
    standing_orders_first: Mapped[bool] = mapped_column(default=False, server_default=false())
    photo_path: Mapped[str | None] = mapped_column(String(255))
    thumb_path: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    labels: Mapped[list[Label]] = relationship(secondary=producer_labels, order_by=Label.code)
    products: Mapped[list[Product]] = relationship(  # noqa: F821
        back_populates="producer", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_public(self) -> bool:
        return self.user.is_approved

    def __repr__(self) -> str:
        return f"<Producer {self.id} {self.name}>"
