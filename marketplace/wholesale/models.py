"""Restaurant accounts.

A variant's wholesale settings (who it is sold to, its case size) are columns of
``Variant`` (catalogue/models.py); a farm's wholesale minimum is a column of
``Producer``; a variant's quantity tiers are ``WholesaleTier`` (catalogue/models.py).
Here: the business details of a restaurant account.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import TimestampMixin

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

