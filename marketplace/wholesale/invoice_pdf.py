"""An invoice or credit note as a PDF (ReportLab: pure Python, no system library).

Labels are translated and amounts formatted by the caller's request (Flask-Babel),
so the PDF speaks the reader's language like the HTML page."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from flask_babel import format_currency, format_datetime, format_decimal
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import invoices
from .invoice_models import Invoice


def _money(cents: int, currency: str, sign: int = 1) -> str:
    return format_currency(sign * cents / 100, currency)


def _rate(bp: int) -> str:
    return format_decimal(bp / 100, format="#,##0.#") + " %"


def _party(title: str, name: str, address: str, siret: str, vat: str, style) -> Paragraph:
    parts = [f"<b>{escape(title)}</b>", escape(name)] + [escape(a) for a in address.splitlines()]
    if siret:
        parts.append(escape(_("SIRET: %(siret)s", siret=siret)))
    if vat:
        parts.append(escape(_("VAT number: %(vat)s", vat=vat)))
    return Paragraph("<br/>".join(parts), style)


def render(invoice: Invoice, *, credited: Invoice | None = None) -> bytes:
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    cur, sign = invoice.currency, invoice.sign
    title = (_("Credit note %(number)s", number=invoice.display_number) if invoice.is_credit_note
             else _("Invoice %(number)s", number=invoice.display_number))
    story = [Paragraph(escape(title), styles["Title"])]
    facts = [_("Date: %(date)s", date=format_datetime(invoice.issued_at, "d MMMM yyyy")),
             _("Order %(number)s", number=invoice.order_id)]
    if credited is not None:
        facts.append(_("Corrects invoice %(number)s of %(date)s", number=credited.display_number,
                       date=format_datetime(credited.issued_at, "d MMMM yyyy")))
    else:
        facts.append(_("Due date: %(date)s", date=format_datetime(invoice.due_at, "d MMMM yyyy")))
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
                     _money(line.unit_price_excl_cents, cur), _rate(line.vat_rate_bp),
                     _money(line.total_excl_cents, cur, sign), _money(line.total_cents, cur, sign)])
    lines = Table(rows, colWidths=[60 * mm, 12 * mm, 28 * mm, 16 * mm, 27 * mm, 27 * mm],
                  repeatRows=1)
    lines.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [lines, Spacer(1, 4 * mm)]

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
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
    ]))
    story += [table, Spacer(1, 6 * mm)]
    if invoice.paid_at is not None:
        story.append(Paragraph(escape(_("Paid on %(date)s.", date=format_datetime(
            invoice.paid_at, "d MMMM yyyy"))), body))
    story.append(Paragraph(escape(invoices.LATE_PAYMENT_MENTION), small))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=title, author=invoice.seller_name,
                            leftMargin=18 * mm, rightMargin=18 * mm)
    doc.build(story)
    return out.getvalue()
