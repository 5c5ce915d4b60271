"""The paper order form of a point's market day: a relay prints it, hands it out on
Saturday and keys the quantities in on Monday. A4, large type (the body at 13 pt),
one line per item the day offers with its price, unit and price per kilogram or
litre, and an empty box for the quantity.

``lines`` turns the day's variants (the same ones the relay's order form offers) into
rows of text; ``render`` lays them out with ReportLab and the invoices' font. Texts
are translated and formatted in the caller's language (Flask-Babel)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from flask_babel import format_currency
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from marketplace.catalogue.models import Variant
from marketplace.wholesale.invoice_pdf import fonts

BODY_PT = 13  # large type: well above the 12 pt a reader with poor sight needs
TITLE_PT = 20


@dataclass(frozen=True)
class PaperLine:
    """One line of the form, as printed."""

    farm: str
    product: str
    unit: str  # the variant's label: "1 kg", "botte"
    price: str  # "3,50 €"
    per_unit: str  # "3,50 €/kg", "" when the variant has no net quantity


def lines(variants: list[Variant]) -> list[PaperLine]:
    """The printed lines of these variants, in their order (farm, category, product)."""
    return [PaperLine(farm=v.product.producer.name, product=v.product.name, unit=v.label,
                      price=format_currency(v.price_cents / 100, v.currency),
                      per_unit=v.unit_price)
            for v in variants]


def farms(rows: list[PaperLine]) -> list[str]:
    """The farms of the form, each once, in the order of its lines."""
    return list(dict.fromkeys(row.farm for row in rows))


def render(*, point_name: str, point_address: str, day: str, cutoff: str,
           rows: list[PaperLine]) -> bytes:
    """The PDF: the point, the day, the cut-off as people say it, the farms, then a
    table of the lines with a box for the quantity and a line for the name."""
    regular, bold = fonts()
    styles = getSampleStyleSheet()
    title = styles["Title"].clone("paper-title", fontName=bold, fontSize=TITLE_PT,
                                  leading=TITLE_PT + 4)
    body = styles["BodyText"].clone("paper-body", fontName=regular, fontSize=BODY_PT,
                                    leading=BODY_PT + 5)
    story = [
        Paragraph(escape(_("Order form")), title),
        Paragraph(f"<b>{escape(point_name)}</b>", body),
    ]
    if point_address:
        story.append(Paragraph(escape(point_address), body))
    story += [
        Paragraph(escape(_("Market day: %(day)s", day=day)), body),
        Paragraph("<b>" + escape(_("Give this form back before %(when)s.", when=cutoff))
                  + "</b>", body),
        Paragraph(escape(_("Farms: %(farms)s", farms=", ".join(farms(rows)))), body),
        Spacer(1, 4 * mm),
        Paragraph(escape(_("Name:")) + " " + "_" * 40, body),
        Paragraph(escape(_("Phone:")) + " " + "_" * 40, body),
        Spacer(1, 6 * mm),
    ]
    table = [[_("Item"), _("Farm"), _("Price"), _("Quantity")]]
    for row in rows:
        item = f"<b>{escape(row.product)}</b><br/>{escape(row.unit)}"
        price = escape(row.price)
        if row.per_unit:
            price += f"<br/>{escape(row.per_unit)}"
        table.append([Paragraph(item, body), Paragraph(escape(row.farm), body),
                      Paragraph(price, body), ""])
    grid = Table(table, colWidths=[70 * mm, 45 * mm, 35 * mm, 30 * mm], repeatRows=1)
    grid.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), bold),
        ("FONTSIZE", (0, 0), (-1, 0), BODY_PT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.grey),
        # The box to write the quantity in.
        ("BOX", (3, 1), (3, -1), 1.2, colors.black),
        ("INNERGRID", (3, 1), (3, -1), 1.2, colors.black),
        ("BOTTOMPADDING", (0, 1), (-1, -1), 6),
        ("TOPPADDING", (0, 1), (-1, -1), 6),
    ]))
    story.append(grid)
    if not rows:
        story.append(Paragraph(escape(_("No farm delivers this date.")), body))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title=_("Order form"), leftMargin=15 * mm,
                      rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm
                      ).build(story)
    return out.getvalue()
