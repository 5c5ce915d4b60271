"""An invoice or credit note as a PDF (ReportLab: pure Python, no system library).

Labels are translated and amounts formatted by the caller's request (Flask-Babel),
so the PDF speaks the reader's language like the HTML page.

Font: ReportLab's built-in Helvetica only knows Latin-1 (a farm called "Łódź" would
print as black boxes), so the first TrueType font of ``FONT_CANDIDATES`` found on the
machine is embedded instead: DejaVu Sans (Debian's fonts-dejavu-core), else Liberation
Sans (fonts-liberation). Without either, Helvetica, as before."""

from __future__ import annotations

import functools
import io
import os
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from babel.numbers import format_currency as babel_format_currency
from flask_babel import format_currency, format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from marketplace.orders.models import Order
from marketplace.pickup.models import PickupSlot

from . import invoices
from .invoice_models import Invoice

# (name, regular file, bold file), the first one installed wins.
FONT_CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("DejaVuSans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("LiberationSans", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)
BUILTIN_FONTS = ("Helvetica", "Helvetica-Bold")


@functools.cache
def _registered(candidates: tuple[tuple[str, str, str], ...]) -> tuple[str, str]:
    for name, regular, bold in candidates:
        if os.path.isfile(regular) and os.path.isfile(bold):
            pdfmetrics.registerFont(TTFont(name, regular))
            pdfmetrics.registerFont(TTFont(f"{name}-Bold", bold))
            # <b> in a Paragraph of this font: its bold face (no italic is used).
            pdfmetrics.registerFontFamily(name, normal=name, bold=f"{name}-Bold",
                                          italic=name, boldItalic=f"{name}-Bold")
            return name, f"{name}-Bold"
    return BUILTIN_FONTS


def fonts() -> tuple[str, str]:
    """(regular, bold) font names for the PDF (see the module's docstring)."""
    return _registered(FONT_CANDIDATES)


def delivery_date(session: Session, invoice: Invoice) -> datetime | None:
    """When the goods are delivered: the start of the order's slot, at a pickup point or
    at the restaurant's door (a door is a pickup point of its own, wholesale/door.py).
    One query; None for an order that has gone."""
    return session.scalar(
        select(PickupSlot.starts_at).join(Order, Order.pickup_slot_id == PickupSlot.id)
        .where(Order.id == invoice.order_id))


def _money(cents: int, currency: str, sign: int = 1) -> str:
    return format_currency(sign * cents / 100, currency)


def unit_price(value: Decimal, currency: str) -> str:
    """A unit price excl. VAT with all its decimals (InvoiceLine.unit_price_excl), at
    least the currency's two, in the reader's language: "1,327 €", "€7.015"."""
    return babel_format_currency(value, currency, locale=get_locale(),
                                 decimal_quantization=False)


def _rate(bp: int) -> str:
    return format_decimal(bp / 100, format="#,##0.#") + " %"


def _party(title: str, name: str, address: str, siret: str, vat: str, style) -> Paragraph:
    # A missing identifier is said, not left out: the reader sees what the document lacks.
    parts = [f"<b>{escape(title)}</b>", escape(name)] + [escape(a) for a in address.splitlines()]
    parts.append(escape(_("SIRET: %(siret)s", siret=siret or _("not provided"))))
    parts.append(escape(_("VAT number: %(vat)s", vat=vat or _("not provided"))))
    return Paragraph("<br/>".join(parts), style)


def _day(when: datetime) -> str:
    return format_datetime(when, "d MMMM yyyy")


def render(invoice: Invoice, *, credited: Invoice | None = None) -> bytes:
    """The PDF of an invoice, or of a credit note (``credited``: the invoice it corrects)."""
    session = object_session(invoice)
    delivery_at = delivery_date(session, invoice) if session is not None else None
    regular, bold = fonts()
    styles = getSampleStyleSheet()
    styles["Title"].fontName = bold
    styles["BodyText"].fontName = regular
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    cur, sign = invoice.currency, invoice.sign
    title = (_("Credit note %(number)s", number=invoice.display_number) if invoice.is_credit_note
             else _("Invoice %(number)s", number=invoice.display_number))
    story = [Paragraph(escape(title), styles["Title"])]
    facts = [_("Date: %(date)s", date=_day(invoice.issued_at)),
             _("Order %(number)s", number=invoice.order_id)]
    if delivery_at is not None:
        facts.append(_("Delivery date: %(date)s", date=_day(delivery_at)))
    if credited is not None:
        facts.append(_("Corrects invoice %(number)s of %(date)s", number=credited.display_number,
                       date=_day(credited.issued_at)))
        if invoice.reason:
            facts.append(_("Reason: %(reason)s", reason=invoice.reason))
    else:
        facts.append(_("Due date: %(date)s", date=_day(invoice.due_at)))
    story.append(Paragraph("<br/>".join(escape(f) for f in facts), body))
    story.append(Spacer(1, 6 * mm))
    parties = Table([[
        _party(_("Seller"), invoice.seller_name, invoice.seller_address, invoice.seller_siret,
               invoice.seller_vat_number, body),
        _party(_("Buyer"), invoice.buyer_name, invoice.buyer_address, invoice.buyer_siret,
               invoice.buyer_vat_number, body),
    ]], colWidths=[85 * mm, 85 * mm])
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [parties, Spacer(1, 6 * mm)]

    rows = [[_("Item"), _("Qty"), _("Unit price excl. VAT"), _("VAT"), _("Total excl. VAT"),
             _("Total incl. VAT")]]
    for line in invoice.lines:
        rows.append([Paragraph(escape(line.description), small), str(line.quantity),
                     unit_price(line.unit_price_excl, cur), _rate(line.vat_rate_bp),
                     _money(line.total_excl_cents, cur, sign), _money(line.total_cents, cur, sign)])
    lines = Table(rows, colWidths=[60 * mm, 12 * mm, 28 * mm, 16 * mm, 27 * mm, 27 * mm],
                  repeatRows=1)
    lines.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("FONTNAME", (0, 0), (-1, -1), regular),
        ("FONTNAME", (0, 0), (-1, 0), bold),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    rounding = _("Each line: quantity × unit price excl. VAT, rounded to the cent, "
                 "gives its total excl. VAT.")
    story += [lines, Spacer(1, 2 * mm), Paragraph(escape(rounding), small), Spacer(1, 3 * mm)]

    summary = [[_("VAT rate"), _("Excl. VAT"), _("VAT"), _("Incl. VAT")]]
    for rate, excl, vat, incl in invoice.vat_by_rate:
        summary.append([_rate(rate), _money(excl, cur, sign), _money(vat, cur, sign),
                        _money(incl, cur, sign)])
    summary.append([_("Total"), _money(invoice.total_excl_cents, cur, sign),
                    _money(invoice.vat_cents, cur, sign), _money(invoice.total_cents, cur, sign)])
    table = Table(summary, colWidths=[30 * mm, 30 * mm, 30 * mm, 30 * mm], hAlign="RIGHT")
    table.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("FONTNAME", (0, 0), (-1, -1), regular),
        ("FONTNAME", (0, 0), (-1, 0), bold),
        ("FONTNAME", (0, -1), (-1, -1), bold),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
    ]))
    story += [table, Spacer(1, 6 * mm)]
    if invoice.paid_at is not None:
        story.append(Paragraph(escape(_("Paid on %(date)s.", date=_day(invoice.paid_at))), body))
    story.append(Paragraph(escape(invoices.LATE_PAYMENT_MENTION), small))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=title, author=invoice.seller_name,
                            leftMargin=18 * mm, rightMargin=18 * mm)
    doc.build(story)
    return out.getvalue()
