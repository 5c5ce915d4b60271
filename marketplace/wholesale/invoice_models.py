"""Invoices and credit notes that farms issue to restaurants.

An invoice is frozen when issued: seller and buyer identities and the lines are
copied onto it, so that editing a farm, a restaurant or a product never changes a
document already sent. A credit note corrects an invoice: it is a new document with
its own number in the same per-farm sequence, that points at the invoice it
credits. Its amounts are stored POSITIVE (with ``kind = credit_note``) and shown
with a minus sign: the same CHECK constraints hold for both kinds.

Numbers: one sequence per producer, ``invoice_counters.last_number``, taken with a
single ``UPDATE ... RETURNING`` in the transaction that inserts the document (see
invoices.next_number), so a number is never skipped or used twice.

Money: the lines keep what the buyer was charged. Each line stores its quantity, its
VAT-included unit price and total (the order line's: quantity x unit price) and the
VAT that total contains; excl. VAT = incl. VAT - VAT, per line, per rate and in total,
so the invoice's total is the sub-order's to the cent and a card payment of what is
due (total less credit notes) is exactly that. The unit price excl. VAT printed on
the documents is the line's total excl. VAT divided by its quantity, with as many
decimals as the quantity needs (``unit_price_excl``): quantity x printed unit price,
rounded half up to the cent, is the printed line total, whatever the quantity
(docs/invoices.md says why this representation and not another).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.models import CURRENCY, UTCDateTime, enum_column, utcnow


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceCounter(db.Model):
    """The last number a farm gave (invoices and credit notes share the sequence)."""

    __tablename__ = "invoice_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number"),)

    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(default=0)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("producer_id", "number", name="producer_number"),
        CheckConstraint("number > 0", name="number"),
        CheckConstraint("total_cents >= 0", name="total"),
        CheckConstraint("vat_cents >= 0 AND vat_cents <= total_cents", name="vat"),
        CheckConstraint(
            "(kind = 'invoice' AND sub_order_id IS NOT NULL AND credits_invoice_id IS NULL)"
            " OR (kind = 'credit_note' AND sub_order_id IS NULL"
            " AND credits_invoice_id IS NOT NULL)",
            name="kind_links",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="RESTRICT"), index=True
    )
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int]
    kind: Mapped[InvoiceKind] = mapped_column(enum_column(InvoiceKind), default=InvoiceKind.INVOICE)
    # An invoice: the sub-order it bills (one invoice per sub-order).
    sub_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sub_orders.id", ondelete="RESTRICT"), unique=True
    )
    # A credit note: the invoice it corrects.
    # NO ACTION (not RESTRICT) on self-references: checked at the statement's end,
    # so that emptying the table in one statement works on SQLite.
    credits_invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How the order was to be paid (card, at_pickup, invoice): shown on the document.
    payment_method: Mapped[str] = mapped_column(String(20), default="")
    total_cents: Mapped[int]  # VAT included
    vat_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    reason: Mapped[str] = mapped_column(Text, default="")  # a credit note's reason

    # Frozen identities (legal mentions between professionals in France).
    seller_name: Mapped[str] = mapped_column(String(160))
    seller_address: Mapped[str] = mapped_column(Text, default="")
    seller_siret: Mapped[str] = mapped_column(String(20), default="")
    seller_vat_number: Mapped[str] = mapped_column(String(20), default="")
    buyer_name: Mapped[str] = mapped_column(String(160))
    buyer_address: Mapped[str] = mapped_column(Text, default="")
    buyer_siret: Mapped[str] = mapped_column(String(20), default="")
    buyer_vat_number: Mapped[str] = mapped_column(String(20), default="")

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", passive_deletes=True,
        order_by="InvoiceLine.position",
    )
    credits_invoice: Mapped[Invoice | None] = relationship(
        remote_side=[id], foreign_keys=[credits_invoice_id]
    )
    producer = relationship("Producer")
    buyer = relationship("User")

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def display_number(self) -> str:
        return display_number(self.kind, self.number)

    @property
    def sign(self) -> int:
        return -1 if self.is_credit_note else 1

    @property
    def total_excl_cents(self) -> int:
        return self.total_cents - self.vat_cents

    @property
    def vat_by_rate(self) -> list[tuple[int, int, int, int]]:
        """(rate bp, excl. VAT, VAT, incl. VAT) per rate, lowest rate first."""
        rates: dict[int, list[int]] = {}
        for line in self.lines:
            row = rates.setdefault(line.vat_rate_bp, [0, 0])
            row[0] += line.total_cents
            row[1] += line.vat_cents
        return [(rate, total - vat, vat, total) for rate, (total, vat) in sorted(rates.items())]

    def __repr__(self) -> str:
        return f"<Invoice {self.producer_id}/{self.display_number}>"


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price"),
        CheckConstraint("vat_rate_bp >= 0", name="vat_rate"),
        CheckConstraint("vat_cents >= 0 AND vat_cents <= total_cents", name="vat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    # A credit note's line: the invoice line it credits (caps what may be credited).
    credits_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice_lines.id"), index=True
    )
    # An invoice's line: the order line it bills (a credit note's line: the same as
    # the line it credits), so that a short or cancelled line is credited on its own.
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_lines.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]  # VAT included, as ordered
    vat_rate_bp: Mapped[int]
    vat_cents: Mapped[int]
    total_cents: Mapped[int]  # VAT included

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    @property
    def unit_price_excl(self) -> Decimal:
        """The unit price excl. VAT printed on the documents, in currency units."""
        return unit_price_excl(self.total_excl_cents, self.quantity)

    @property
    def total_excl_cents(self) -> int:
        return self.total_cents - self.vat_cents


def display_number(kind: InvoiceKind, number: int) -> str:
    """F-000012 for an invoice, A-000013 for a credit note (avoir)."""
    return ("A-" if kind == InvoiceKind.CREDIT_NOTE else "F-") + f"{number:06d}"


CENT = Decimal("0.01")


def unit_price_decimals(quantity: int) -> int:
    """Decimals of a printed unit price: two more than the quantity has digits, so that
    the quantity times the rounding error of the price stays under half a cent."""
    return 2 + len(str(quantity))


def unit_price_excl(total_excl_cents: int, quantity: int) -> Decimal:
    """A line's unit price excl. VAT (currency units): its total divided by its
    quantity, rounded half up to ``unit_price_decimals`` decimals. The rounding error
    is at most half of the last decimal, times the quantity < 10 ** (decimals - 2):
    less than half a cent, so ``line_total_cents`` of it gives the total back."""
    step = Decimal(1).scaleb(-unit_price_decimals(quantity))
    return (Decimal(total_excl_cents) / 100 / quantity).quantize(step, ROUND_HALF_UP)


def line_total_cents(quantity: int, unit_price: Decimal) -> int:
    """Quantity x unit price (currency units) in cents, rounded half up: how a reader
    checks a printed line."""
    return int((quantity * unit_price).quantize(CENT, ROUND_HALF_UP) * 100)
