"""Declarative base, shared column types and mixins, labelled enums, money helpers."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import LazyString
from sqlalchemy import DateTime, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CURRENCY = "EUR"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes, also on SQLite which stores them naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use an aware UTC datetime")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class LabelledEnum(enum.StrEnum):
    """A status or kind a person sees: ``label`` names it in the reader's language.

    Each subclass is decorated with ``labels(value=_l("..."), ...)``, naming every
    member; a member left out stops the import, so no raw code reaches a page.
    """

    @property
    def label(self) -> str:
        return str(type(self).LABELS[self])


def labels(**names: LazyString):
    """Class decorator giving a LabelledEnum the lazy label of each of its values."""

    def attach(cls: type[LabelledEnum]) -> type[LabelledEnum]:
        mismatch = {member.value for member in cls} ^ set(names)
        if mismatch:
            raise TypeError(f"{cls.__name__}: labels do not match the values {mismatch}")
        cls.LABELS = {cls(value): name for value, name in names.items()}
        return cls

    return attach


def enum_column(enum_cls, length: int = 20):
    """A Python enum stored as its values in a VARCHAR (no native database enum)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# Money -------------------------------------------------------------------

class MoneyError(ValueError):
    pass


MAX_EUROS = Decimal(10) ** 12


def parse_euros(text: str) -> int:
    """Parse what a French or English speaker types ("3,50", "3.50 €", "12") into cents."""
    cleaned = (text or "").strip().replace("€", "").replace("\u00a0", "").replace(" ", "")
    cleaned = cleaned.replace(",", ".")
    if not cleaned:
        raise MoneyError("empty")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise MoneyError("not a number") from exc
    if not amount.is_finite():
        raise MoneyError("not a number")
    # Far above any price or refund ("1e30" would overflow quantize below).
    if abs(amount) >= MAX_EUROS:
        raise MoneyError("too large")
    if amount != amount.quantize(Decimal("0.01")):
        raise MoneyError("more than two decimals")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def cents_to_decimal_str(cents: int) -> str:
    """12345 -> '123.45' (machine format, for CSV and form defaults)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


# Ids named in URLs and forms -----------------------------------------------------------

MAX_ID = 2**63 - 1  # the largest integer key both databases store


def get_by_id(session, model, ident, **options):
    """``session.get`` for an id a person can name: None, not an error, for one that
    is out of the database's range (PostgreSQL refuses integers past 2**63).
    ``options``: session.get's own (loader ``options``, ``populate_existing``...)."""
    if not isinstance(ident, int) or not 0 < ident <= MAX_ID:
        return None
    return session.get(model, ident, **options)
