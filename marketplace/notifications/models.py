"""The outbox: e-mails written in the same transaction as the change they announce,
sent after it commits (or later, by `flask notifications deliver`); and the buyers'
market day e-mails they asked for, per pickup point."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.models import UTCDateTime, utcnow
from marketplace.pickup.models import PickupPoint


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    # One message per event ("order-confirmed:42"), even if the event is applied twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by the sender that took the message, so two senders never both send it; a
    # claim older than services.CLAIM_TIMEOUT is from a sender that died and is retaken.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Tries so far, the one that succeeded included.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Headers besides From, To, Subject, Date and Message-ID, as a JSON object of
    # name -> value (List-Unsubscribe), written verbatim: services.queue checks them.
    headers: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        order_by="OutboxAttachment.position", cascade="all, delete-orphan",
        passive_deletes=True)

    def __repr__(self) -> str:
        state = "sent" if self.sent_at else f"pending, {self.attempts} attempt(s)"
        return f"<OutboxMessage {self.id} {self.dedupe_key or ''} {state}>"


class OutboxAttachment(db.Model):
    """A file an outbox message carries (an invoice's PDF, a pick list as CSV), written
    in the same transaction as its message and kept with it for the retries."""

    __tablename__ = "outbox_attachments"
    __table_args__ = (
        UniqueConstraint("message_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class MarketDaySubscription(db.Model):
    """A buyer asked for the market day e-mails of a pickup point: when orders open
    for its next market day, and a reminder before its cut-off (market_days.py)."""

    __tablename__ = "market_day_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "pickup_point_id"),
        # A subscription that wants nothing is deleted, not kept empty.
        CheckConstraint("opening OR cutoff", name="some_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True)
    # The kinds of e-mail wanted.
    opening: Mapped[bool] = mapped_column(default=False)
    cutoff: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
    pickup_point: Mapped[PickupPoint] = relationship()

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind))


class NoticePreference(db.Model):
    """A person's choice about one kind of notice that may be switched off (the kinds
    are listed in preferences.py); no row means the default: on, each as it happens.
    For a farm's new orders, ``digest_hour`` (local time) asks for one e-mail a day
    listing them instead of one per order."""

    __tablename__ = "notice_preferences"
    __table_args__ = (
        UniqueConstraint("user_id", "kind"),
        CheckConstraint("digest_hour IS NULL OR (digest_hour >= 0 AND digest_hour <= 23)",
                        name="digest_hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(default=True)
    digest_hour: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DigestItem(db.Model):
    """A farm's sub-order confirmed while the farm asked for a daily digest: listed in
    the next digest (``digest_key`` set then), so each is told once."""

    __tablename__ = "notice_digest_items"

    sub_order_id: Mapped[int] = mapped_column(
        ForeignKey("sub_orders.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    digest_key: Mapped[str | None] = mapped_column(String(120))
