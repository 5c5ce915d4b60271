from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.models import TimestampMixin, UTCDateTime, enum_column


class Role(enum.StrEnum):
    PRODUCER = "producer"
    HOUSEHOLD = "household"
    RESTAURANT = "restaurant"
    HOST = "host"
    ADMIN = "admin"


# Roles that sell or buy wholesale wait for an admin's approval.
ROLES_NEEDING_APPROVAL = frozenset({Role.PRODUCER, Role.RESTAURANT})
# Roles a person may pick when signing up; admins are made with `flask create-admin`.
SIGNUP_ROLES = (Role.HOUSEHOLD, Role.PRODUCER, Role.RESTAURANT, Role.HOST)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role), index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # An admin refused the account (a producer or restaurant), saying why; approving it
    # later clears the refusal.
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refused_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    refusal_reason: Mapped[str | None] = mapped_column(String(1000))
    locale: Mapped[str | None] = mapped_column(String(5))
    # When the person opened the link sent to ``email``: until then no order is taken
    # and no e-mail but the account's own (confirmation, password reset) goes there.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The person deleted the account: the row stays for the orders and invoices the
    # law keeps, anonymised (services.delete_account).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where a buyer searches from (a commune, a postcode or the browser's position).
    location_label: Mapped[str | None] = mapped_column(String(160))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    search_radius_km: Mapped[int | None]
    # Part of the id kept in the session cookie (get_id): raising it ends every
    # session opened before (sign-out, password change, an admin's "end sessions").
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    def get_id(self) -> str:
        """Flask-Login's alternative id: the user and the session version it was
        opened under (see ``session_user_id``)."""
        return f"{self.id}:{self.session_version}"

    @property
    def needs_approval(self) -> bool:
        return self.role in ROLES_NEEDING_APPROVAL

    @property
    def is_approved(self) -> bool:
        return not self.needs_approval or self.approved_at is not None

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
