"""Invoices, credit notes and payment terms for restaurants: the rules.

Plain functions with explicit arguments; they flush, never commit.

- When: ``issue_for_order`` runs from ``orders.services.confirm`` (the one place an
  order becomes confirmed) when the buyer is a restaurant: one invoice per
  sub-order, from its farm. Due date: issue date + the restaurant's payment terms
  for an order "on invoice"; else the issue date (card: already paid, so marked
  paid at once) or the pickup (pay at pickup).
- Numbers: ``next_number`` takes the farm's next number with ONE ``UPDATE ...
  RETURNING`` in the transaction that inserts the document. On PostgreSQL the row
  lock makes concurrent confirmations wait for each other; on SQLite writes are
  serialised by BEGIN IMMEDIATE. A rollback after taking a number rolls the counter
  back with it: no gap, no repeat.
- Corrections: never an edit. ``credit_note`` issues a new document (own number,
  same sequence) for all or part of an invoice's lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import lazy_gettext as _
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import Role, User
from marketplace.models import get_by_id
from marketplace.orders.cart import vat_included
from marketplace.orders.models import Order, OrderStatus, PaymentMethod, SubOrder
from marketplace.payments import services as payments
from marketplace.producers.models import Producer

from .invoice_models import Invoice, InvoiceCounter, InvoiceKind, InvoiceLine
from .models import LEGAL_MAX_PAYMENT_TERMS_DAYS, RestaurantProfile


def line_description(line) -> str:
    """"Comté (500 g), 24,80 €/kg": the price per kilogram or litre on the invoice line
    (Directive 98/6/EC), computed from the order line's net quantity."""
    text = f"{line.product_name} ({line.variant_label})"
    return f"{text}, {line.unit_price}" if line.unit_price else text


@dataclass(frozen=True)
class Creditable:
    """What is still creditable on an invoice line: a refused credit note says it."""

    line_id: int
    description: str
    farm: str
    quantity: int
    total_cents: int  # VAT included
    currency: str


class InvoiceError(ValueError):
    """A refused invoice operation; ``code`` says which, ``creditable`` (TOO_MUCH,
    BAD_QUANTITY, CREDITS_DO_NOT_ADD_UP) the line concerned and what may still be
    credited on it."""

    def __init__(self, code: str, creditable: Creditable | None = None):
        super().__init__(code)
        self.code = code
        self.creditable = creditable


# Required on invoices between professionals in France (Code de commerce, L441-10);
# a legal mention, printed in French whatever the reader's language.
LATE_PAYMENT_MENTION = (
    "Pénalités de retard : 3 fois le taux d'intérêt légal ; indemnité forfaitaire pour "
    "frais de recouvrement : 40 €. Pas d'escompte pour paiement anticipé."
)

NOTHING_TO_CREDIT = "nothing_to_credit"
TOO_MUCH = "too_much"
BAD_QUANTITY = "bad_quantity"
CREDITS_DO_NOT_ADD_UP = "credits_do_not_add_up"
NOT_AN_INVOICE = "not_an_invoice"
NOT_A_RESTAURANT = "not_a_restaurant"
NO_PROFILE = "no_profile"
BAD_TERMS = "bad_terms"
CARD_PAYMENT_OPEN = "card_payment_open"


# Restaurants and their terms ------------------------------------------------------------

def restaurant_profile(session: Session, user_id: int) -> RestaurantProfile | None:
    return session.scalar(select(RestaurantProfile).where(RestaurantProfile.user_id == user_id))


def payment_terms_days(session: Session, buyer: User) -> int | None:
    """Days an approved restaurant may take to pay its invoices, or None (pay now)."""
    if buyer is None or buyer.role != Role.RESTAURANT or not buyer.is_approved:
        return None
    profile = restaurant_profile(session, buyer.id)
    return profile.payment_terms_days or None if profile is not None else None


def set_payment_terms(session: Session, user: User, days: int | None):
    """Grant (days) or withdraw (None) payment terms to an approved restaurant."""
    if user is None or user.role != Role.RESTAURANT or not user.is_approved:
        raise InvoiceError(NOT_A_RESTAURANT)
    if days is not None and not 1 <= days <= LEGAL_MAX_PAYMENT_TERMS_DAYS:
        raise InvoiceError(BAD_TERMS)
    profile = restaurant_profile(session, user.id)
    if profile is None:
        raise InvoiceError(NO_PROFILE)
    profile.payment_terms_days = days
    session.flush()
    return profile


def restaurants_with_terms(session: Session) -> list[tuple[User, RestaurantProfile | None]]:
    """Approved restaurants and their profile (None if they have not filled it)."""
    model = RestaurantProfile
    rows = session.execute(
        select(User, model).outerjoin(model, model.user_id == User.id)
        .where(User.role == Role.RESTAURANT, User.approved_at.is_not(None))
        .order_by(User.display_name, User.id)
    ).all()
    return [(user, profile) for user, profile in rows]


# Identities ------------------------------------------------------------------------------

def _address(*parts: str | None) -> str:
    street, postcode, commune = (p or "" for p in parts)
    town = " ".join(p for p in (postcode.strip(), commune.strip()) if p)
    return "\n".join(p for p in (street.strip(), town) if p)


def seller_identity(producer: Producer) -> dict:
    return {
        "seller_name": producer.name,
        "seller_address": _address(producer.address, producer.postcode, producer.commune),
        "seller_siret": producer.siret or "",
        "seller_vat_number": producer.vat_number or "",
    }


def buyer_identity(session: Session, buyer: User) -> dict:
    profile = restaurant_profile(session, buyer.id)
    if profile is None:
        return {"buyer_name": buyer.display_name, "buyer_address": "",
                "buyer_siret": "", "buyer_vat_number": ""}
    return {
        "buyer_name": profile.business_name or buyer.display_name,
        "buyer_address": _address(profile.address, profile.postcode, profile.commune),
        "buyer_siret": profile.siret or "",
        "buyer_vat_number": profile.vat_number or "",
    }


# Numbers ---------------------------------------------------------------------------------

def next_number(session: Session, producer_id: int) -> int:
    """The farm's next document number, in the caller's transaction (see module doc)."""
    table = InvoiceCounter.__table__
    take = (update(table).where(table.c.producer_id == producer_id)
            .values(last_number=table.c.last_number + 1)
            .returning(table.c.last_number))
    number = session.execute(take).scalar()
    if number is None:
        try:
            with session.begin_nested():
                session.execute(insert(table).values(producer_id=producer_id, last_number=0))
        except IntegrityError:
            pass  # another transaction created the farm's counter first
        number = session.execute(take).scalar_one()
    return number


# Issuing ---------------------------------------------------------------------------------

def _due_at(order: Order, issued_at: datetime, terms_days: int | None) -> datetime:
    if order.payment_method == PaymentMethod.INVOICE and terms_days:
        return issued_at + timedelta(days=terms_days)
    if order.payment_method == PaymentMethod.AT_PICKUP and order.pickup_slot is not None:
        return max(issued_at, order.pickup_slot.ends_at)
    return issued_at


def issue_invoice(session: Session, sub: SubOrder, *, now: datetime,
                  terms_days: int | None = None) -> Invoice:
    """The invoice of a sub-order (the existing one if it was already issued)."""
    existing = session.scalar(select(Invoice).where(Invoice.sub_order_id == sub.id))
    if existing is not None:
        return existing
    order = sub.order
    producer = sub.producer or session.get(Producer, sub.producer_id)
    invoice = Invoice(
        producer_id=sub.producer_id, buyer_id=order.buyer_id, order_id=order.id,
        sub_order_id=sub.id, kind=InvoiceKind.INVOICE,
        number=next_number(session, sub.producer_id),
        issued_at=now, due_at=_due_at(order, now, terms_days),
        paid_at=order.paid_at if order.payment_method == PaymentMethod.CARD else None,
        payment_method=order.payment_method.value, currency=order.currency,
        total_cents=0, vat_cents=0,
        **seller_identity(producer), **buyer_identity(session, order.buyer),
    )
    for position, line in enumerate(sub.lines):
        invoice.lines.append(InvoiceLine(
            position=position, order_line_id=line.id,
            description=line_description(line),
            quantity=line.quantity, unit_price_cents=line.unit_price_cents,
            vat_rate_bp=line.vat_rate_bp, vat_cents=line.vat_cents,
            total_cents=line.line_total_cents,
        ))
        invoice.total_cents += line.line_total_cents
        invoice.vat_cents += line.vat_cents
    session.add(invoice)
    session.flush()
    return invoice


def issue_for_order(session: Session, order: Order, *, now: datetime) -> list[Invoice]:
    """One invoice per active sub-order of a restaurant's order; nothing for others.

    Farms in producer id order, so that concurrent confirmations lock the farms'
    counters in the same order (no deadlock on PostgreSQL)."""
    buyer = order.buyer or session.get(User, order.buyer_id)
    if buyer.role != Role.RESTAURANT:
        return []
    terms = payment_terms_days(session, buyer)
    subs = sorted((s for s in order.sub_orders if s.status != OrderStatus.CANCELLED),
                  key=lambda s: (s.producer_id, s.id))
    return [issue_invoice(session, sub, now=now, terms_days=terms) for sub in subs]


# Credit notes ----------------------------------------------------------------------------

def credited_by_line(session: Session, invoice: Invoice) -> dict[int, tuple[int, int, int]]:
    """invoice line id -> (quantity, total, VAT) already credited."""
    rows = session.execute(
        select(InvoiceLine.credits_line_id, func.sum(InvoiceLine.quantity),
               func.sum(InvoiceLine.total_cents), func.sum(InvoiceLine.vat_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.credits_invoice_id == invoice.id)
        .group_by(InvoiceLine.credits_line_id)
    ).all()
    return {line_id: (int(q), int(t), int(v)) for line_id, q, t, v in rows}


def credited_cents(session: Session, invoice: Invoice) -> int:
    return int(session.scalar(
        select(func.coalesce(func.sum(Invoice.total_cents), 0))
        .where(Invoice.credits_invoice_id == invoice.id)
    ))


def creditable_on(invoice: Invoice, line: InvoiceLine,
                  done: dict[int, tuple[int, int, int]]) -> Creditable:
    """What is still creditable on one line of ``invoice`` (``done``: credited_by_line)."""
    q_done, t_done, _v_done = done.get(line.id, (0, 0, 0))
    return Creditable(line.id, line.description, invoice.seller_name, line.quantity - q_done,
                      line.total_cents - t_done, invoice.currency)


def credit_note(session: Session, invoice: Invoice, *, now: datetime,
                quantities: dict[int, int] | None = None, reason: str = "") -> Invoice:
    """A credit note for ``quantities`` (invoice line id -> units) of the invoice, or for
    everything not yet credited. Crediting the last units of a line credits exactly
    what is left of its amount and VAT, so a fully credited invoice nets to zero.
    More units than a line has left: InvoiceError(TOO_MUCH) naming that line and what
    is still creditable on it (nothing is clamped)."""
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvoiceError(NOT_AN_INVOICE)
    # Serialise credit notes of one invoice (PostgreSQL; SQLite writes are serial).
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    done = credited_by_line(session, invoice)
    note = Invoice(
        producer_id=invoice.producer_id, buyer_id=invoice.buyer_id, order_id=invoice.order_id,
        kind=InvoiceKind.CREDIT_NOTE, credits_invoice_id=invoice.id,
        issued_at=now, due_at=now, payment_method=invoice.payment_method,
        currency=invoice.currency, total_cents=0, vat_cents=0, reason=reason[:1000],
        **{key: getattr(invoice, key) for key in (
            "seller_name", "seller_address", "seller_siret", "seller_vat_number",
            "buyer_name", "buyer_address", "buyer_siret", "buyer_vat_number")},
    )
    for line in invoice.lines:
        q_done, _t_done, v_done = done.get(line.id, (0, 0, 0))
        creditable = creditable_on(invoice, line, done)
        left, left_total = creditable.quantity, creditable.total_cents
        left_vat = line.vat_cents - v_done
        wanted = left if quantities is None else quantities.get(line.id, 0)
        if wanted < 0 or wanted > left:
            raise InvoiceError(TOO_MUCH, creditable)
        if wanted == 0:
            continue
        if wanted == left:
            total, vat = left_total, left_vat
        else:
            total = line.unit_price_cents * wanted
            # The VAT of all the units credited so far less what earlier notes took:
            # credits of one unit at a time never add up to more than the line's VAT.
            credited_vat = vat_included(line.unit_price_cents * (q_done + wanted),
                                        line.vat_rate_bp)
            vat = min(max(credited_vat - v_done, 0), left_vat, total)
        if not 0 <= vat <= total <= left_total:
            # What was credited on the line before does not add up (invoice_checks
            # reports it): no note would.
            raise InvoiceError(CREDITS_DO_NOT_ADD_UP, creditable)
        note.lines.append(InvoiceLine(
            position=line.position, credits_line_id=line.id, order_line_id=line.order_line_id,
            description=line.description,
            quantity=wanted, unit_price_cents=line.unit_price_cents,
            vat_rate_bp=line.vat_rate_bp, vat_cents=vat, total_cents=total,
        ))
        note.total_cents += total
        note.vat_cents += vat
    if not note.lines:
        raise InvoiceError(NOTHING_TO_CREDIT)
    note.number = next_number(session, invoice.producer_id)
    session.add(note)
    session.flush()
    return note


def _document_text(message, locale: str) -> str:
    """A reason written into a document: in the site's language, whoever made the
    change."""
    with force_locale(locale):
        return str(message)


def invoice_of_sub_order(session: Session, sub: SubOrder) -> Invoice | None:
    return session.scalar(select(Invoice).where(Invoice.sub_order_id == sub.id,
                                                Invoice.kind == InvoiceKind.INVOICE))


def credit_shorts(session: Session, sub: SubOrder, *, now: datetime,
                  locale: str = "fr") -> Invoice | None:
    """After the farm marks units short on an invoiced sub-order: a credit note for the
    short units not yet credited (by an earlier short or by the farm's own credit
    note), so that the invoice less its credit notes is what the farm supplies. None
    when the sub-order has no invoice or nothing more to credit. Lowering the short
    units after they were credited credits nothing back: a credit note is final."""
    invoice = invoice_of_sub_order(session, sub)
    if invoice is None:
        return None
    done = credited_by_line(session, invoice)
    by_order_line = {line.order_line_id: line for line in invoice.lines}
    quantities = {}
    for order_line in sub.lines:
        line = by_order_line.get(order_line.id)
        if line is None:
            continue
        more = order_line.quantity_short - done.get(line.id, (0, 0, 0))[0]
        if more > 0:
            quantities[line.id] = more
    if not quantities:
        return None
    return credit_note(session, invoice, now=now, quantities=quantities,
                       reason=_document_text(_("Units the farm could not supply."), locale))


def credit_cancelled(session: Session, order: Order, *, now: datetime,
                     locale: str = "fr") -> list[Invoice]:
    """A cancelled order's invoices are credited in full (what is not credited yet)."""
    notes = []
    for invoice in session.scalars(select(Invoice).where(
            Invoice.order_id == order.id, Invoice.kind == InvoiceKind.INVOICE)
            .order_by(Invoice.producer_id, Invoice.id)):
        try:
            notes.append(credit_note(session, invoice, now=now,
                                     reason=_document_text(_("Order cancelled."), locale)))
        except InvoiceError as exc:
            if exc.code != NOTHING_TO_CREDIT:
                raise
    return notes


def set_paid_at_counter(session: Session, order: Order, *, paid_at: datetime | None) -> int:
    """An order paid at pickup: the host took the money (``paid_at``), so its invoices
    are paid; or the check-off is undone (None), so they are due again."""
    table = Invoice.__table__
    paid_then = table.c.paid_at.is_(None) if paid_at is not None else \
        table.c.paid_at.is_not(None)
    return session.execute(
        update(table).where(table.c.order_id == order.id,
                            table.c.kind == InvoiceKind.INVOICE.value,
                            table.c.payment_method == PaymentMethod.AT_PICKUP.value,
                            paid_then)
        .values(paid_at=paid_at)
    ).rowcount


# Payment ---------------------------------------------------------------------------------

def balance_cents(session: Session, invoice: Invoice) -> int:
    """What the buyer still owes on an invoice (credit notes deducted; 0 once paid)."""
    if invoice.kind != InvoiceKind.INVOICE or invoice.paid_at is not None:
        return 0
    return max(0, invoice.total_cents - credited_cents(session, invoice))


def mark_paid(session: Session, invoice: Invoice, *, now: datetime) -> bool:
    """Record that the farm was paid; False if it already was (conditional UPDATE).

    Refused (CARD_PAYMENT_OPEN) while the restaurant's card payment of the invoice may
    still go through: its intent must be canceled at Stripe first (the route does it,
    see payments.services.cancel_or_retrieve), or the restaurant could pay twice. The
    invoice's row is locked first, so a card payment cannot start in between."""

    if invoice.kind != InvoiceKind.INVOICE:
        raise InvoiceError(NOT_AN_INVOICE)
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    if payments.open_invoice_intent(session, invoice) is not None:
        raise InvoiceError(CARD_PAYMENT_OPEN)
    table = Invoice.__table__
    switched = session.execute(
        update(table).where(table.c.id == invoice.id, table.c.paid_at.is_(None))
        .values(paid_at=now)
    ).rowcount == 1
    session.refresh(invoice)
    return switched


# Reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    credited_cents: int
    overdue: bool

    @property
    def balance_cents(self) -> int:
        if self.invoice.is_credit_note or self.invoice.paid_at is not None:
            return 0
        return max(0, self.invoice.total_cents - self.credited_cents)


def _rows(session: Session, where, now: datetime) -> list[InvoiceRow]:
    invoices = session.scalars(
        select(Invoice).where(*where).options(selectinload(Invoice.lines))
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    ).all()
    ids = [inv.id for inv in invoices if not inv.is_credit_note]
    credited = dict(session.execute(
        select(Invoice.credits_invoice_id, func.sum(Invoice.total_cents))
        .where(Invoice.credits_invoice_id.in_(ids)).group_by(Invoice.credits_invoice_id)
    ).all()) if ids else {}
    rows = []
    for inv in invoices:
        c = int(credited.get(inv.id, 0) or 0)
        overdue = (not inv.is_credit_note and inv.paid_at is None and inv.due_at < now
                   and inv.total_cents - c > 0)
        rows.append(InvoiceRow(inv, c, overdue))
    return rows


def invoices_of_buyer(session: Session, buyer_id: int, now: datetime) -> list[InvoiceRow]:
    return _rows(session, [Invoice.buyer_id == buyer_id], now)


def invoices_of_producer(session: Session, producer_id: int, now: datetime) -> list[InvoiceRow]:
    """The farm's documents, overdue invoices first (oldest due first), then the newest."""
    rows = _rows(session, [Invoice.producer_id == producer_id], now)
    overdue = sorted((r for r in rows if r.overdue), key=lambda r: (r.invoice.due_at, r.invoice.id))
    return overdue + [r for r in rows if not r.overdue]


def overdue_invoices(session: Session, now: datetime, producer_id: int | None = None
                     ) -> list[InvoiceRow]:
    where = [Invoice.kind == InvoiceKind.INVOICE, Invoice.paid_at.is_(None), Invoice.due_at < now]
    if producer_id is not None:
        where.append(Invoice.producer_id == producer_id)
    rows = [r for r in _rows(session, where, now) if r.overdue]
    return sorted(rows, key=lambda r: (r.invoice.due_at, r.invoice.id))


def invoice_of_buyer(session: Session, buyer_id: int, invoice_id: int) -> Invoice | None:
    """The buyer's invoice or credit note, or None (another buyer's is not found)."""
    invoice = get_by_id(session, Invoice, invoice_id)
    return invoice if invoice is not None and invoice.buyer_id == buyer_id else None


def invoice_of_producer(session: Session, producer_id: int, invoice_id: int) -> Invoice | None:
    invoice = get_by_id(session, Invoice, invoice_id)
    return invoice if invoice is not None and invoice.producer_id == producer_id else None


def due_dates_of(session: Session, order: Order) -> list[tuple[datetime, bool]]:
    """(due date, paid) of each invoice (not credit note) of the order."""
    return [(invoice.due_at, invoice.paid_at is not None) for invoice in session.scalars(
        select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == InvoiceKind.INVOICE)
        .order_by(Invoice.id))]


def credit_notes_of(session: Session, invoice: Invoice) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.credits_invoice_id == invoice.id).order_by(Invoice.number)
    ))
