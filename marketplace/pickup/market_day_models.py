"""The market day a signed-in buyer chose: where and when they collect (one slot)."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.models import TimestampMixin


class ChosenMarketDay(TimestampMixin, db.Model):
    """A buyer's market day, kept on the account so that it follows them to another
    device; visitors keep theirs in the session only."""

    __tablename__ = "chosen_market_days"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    pickup_slot_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_slots.id", ondelete="CASCADE"), index=True
    )
