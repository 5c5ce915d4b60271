"""Relays of a point, and the neighbours they order for.

A neighbour is a ``users`` row that cannot sign in (an unusable password and an
e-mail placeholder under the reserved ``.invalid`` domain, RFC 2606, that never
receives mail), with its details here, 1:1: so that it can later be handed over to
the person (a real e-mail, a password) keeping its orders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.models import UTCDateTime, utcnow


class RelayAssignment(db.Model):
    """A volunteer named relay of a point by an admin or its host, from ``since``
    until ``until`` (None: still relay). The host is relay by right, without a row."""

    __tablename__ = "relay_assignments"
    __table_args__ = (
        # One active assignment per point and person, even named twice at once.
        Index("ix_relay_assignments_active", "pickup_point_id", "user_id", unique=True,
              sqlite_where=text("until IS NULL"), postgresql_where=text("until IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    named_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User", foreign_keys=[user_id])
    named_by = relationship("User", foreign_keys=[named_by_id])
    pickup_point = relationship("PickupPoint")

    @property
    def active(self) -> bool:
        return self.until is None


class Neighbour(db.Model):
    """What a relay knows of a neighbour without e-mail: how to reach them and their
    consent to be ordered for (when, recorded by whom, what for)."""

    __tablename__ = "relay_neighbours"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    pickup_point_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_points.id", ondelete="RESTRICT"), index=True)
    phone_e164: Mapped[str | None] = mapped_column(String(20))  # "+33612345678"
    phone_display: Mapped[str | None] = mapped_column(String(32))  # "06 12 34 56 78"
    postal_address: Mapped[str] = mapped_column(Text, default="")
    consent_on: Mapped[date] = mapped_column(Date)
    consent_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    consent_purpose: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The account was handed over to the person (a real e-mail, a password of theirs):
    # they sign in themselves; their relays still see and order for them.
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User", foreign_keys=[user_id])
    consent_by = relationship("User", foreign_keys=[consent_by_id])
    pickup_point = relationship("PickupPoint")
