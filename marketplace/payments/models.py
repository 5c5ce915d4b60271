"""Card payments (one Stripe PaymentIntent per order), the Stripe events applied,
refunds, and the ledger of what each farm earns and owes.

Amounts are integer cents. Ledger entries are signed from the farm's side: a sale
is positive, the platform's commission and a refund negative; what the platform
owes a farm for a period is the sum of its entries (minus transfers made).
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.models import CURRENCY, LabelledEnum, UTCDateTime, enum_column, labels, utcnow


@labels(created=_l("Not paid yet"), requires_action=_l("Card check (3-D Secure) under way"),
        succeeded=_l("Succeeded"), failed=_l("Failed"), canceled=_l("Cancelled before payment"))
class PaymentStatus(LabelledEnum):
    CREATED = "created"  # the intent exists; the buyer has not paid (or is paying)
    REQUIRES_ACTION = "requires_action"  # 3-D Secure in progress
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the last attempt failed; the buyer may try again
    CANCELED = "canceled"  # the order expired or was cancelled before payment


class IntentRecord:
    """What we keep of a PaymentIntent, for an order's payment and an invoice's alike."""

    intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus), default=PaymentStatus.CREATED
    )
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Payment(IntentRecord, db.Model):
    """The card payment of an order: its PaymentIntent, created once and reused."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), unique=True
    )

    order = relationship("Order")


class InvoicePayment(IntentRecord, db.Model):
    """A restaurant paying one of its invoices by card: one PaymentIntent
    per invoice (idempotency key ``invoice-<id>``), created once and reused, for
    what is still due on the invoice (its total less its credit notes)."""

    __tablename__ = "invoice_payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="RESTRICT"), unique=True
    )

    invoice = relationship("Invoice")


class StripeEvent(db.Model):
    """A Stripe event applied, stored under its id in the transaction of its effect:
    the same event delivered twice finds its id taken and changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@labels(pending=_l("Being sent"), succeeded=_l("Refunded to the card"), failed=_l("Failed"))
class RefundStatus(LabelledEnum):
    PENDING = "pending"  # recorded; the call to Stripe is made (or retried) after commit
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(db.Model):
    """Money given back on a card order: the whole order (cancelled), one short line,
    or any part an admin chooses. Recorded first, then sent to Stripe with its own
    idempotency key, so a retry never refunds twice."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount"),
        Index("ix_refunds_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"),
                                          index=True)
    sub_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sub_orders.id", ondelete="RESTRICT"), index=True
    )
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_lines.id", ondelete="RESTRICT"), index=True
    )
    # A refund of an invoice paid by card (a credit note issued after the payment): it
    # goes back on that invoice's intent, not the order's.
    invoice_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice_payments.id", ondelete="RESTRICT"), index=True
    )
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    reason: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus), default=RefundStatus.PENDING
    )
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    order = relationship("Order")


@labels(sale=_l("Sales"), commission=_l("Platform commission"),
        refund=_l("Refunds to buyers"), commission_refund=_l("Commission given back on refunds"),
        paid_at_pickup=_l("Already received at pickup"), transfer=_l("Transfers to the farm"))
class LedgerKind(LabelledEnum):
    SALE = "sale"  # + the sub-order's subtotal, when the order is paid or collected
    COMMISSION = "commission"  # - the platform's share of a sale
    REFUND = "refund"  # - money given back to the buyer
    COMMISSION_REFUND = "commission_refund"  # + the commission on what was refunded
    # - paid at pickup: the farm already has the money (through the host)
    PAID_AT_PICKUP = "paid_at_pickup"
    TRANSFER = "transfer"  # - money sent to the farm (Stripe Connect or bank transfer)


class LedgerEntry(db.Model):
    """One line of a farm's account, written once: ``entry_key`` names the event
    ("sale:<sub-order>", "refund:<refund>:<sub-order>"...) under a unique constraint,
    so applying an event twice adds nothing."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_producer_created", "producer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(80), unique=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"),
                                          index=True)
    sub_order_id: Mapped[int] = mapped_column(
        ForeignKey("sub_orders.id", ondelete="RESTRICT"), index=True
    )
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("refunds.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind, length=20))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    commission_bp: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditRun(db.Model):
    """One run of the money audit (``flask payments audit``, and the nightly job that
    runs it once per local day, ``nightly_date``): when, how many discrepancies it
    found and their text, for the admin payments page. Written by reports, which
    reads every domain; kept here so that the payments page can show it."""

    __tablename__ = "audit_runs"
    __table_args__ = (
        CheckConstraint("discrepancies >= 0", name="discrepancies"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    nightly_date: Mapped[date | None] = mapped_column(Date, unique=True)
    discrepancies: Mapped[int] = mapped_column(default=0)
    stripe_checked: Mapped[bool] = mapped_column(default=False)
    report: Mapped[str] = mapped_column(Text, default="")
