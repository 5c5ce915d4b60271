"""A restaurant's order as a CSV file: the template it downloads for one slot (one row
per variant it can order then, quantity empty), and the same file filled in and
uploaded back, checked line by line against what the slot can deliver.

Columns of the template: variant_id, farm, product, variant, case_size, unit_price
(what one unit costs the restaurant in an order of one case, as the cart prices it),
tier_prices, quantity; in French (id_variante... quantité, ";" and decimal commas)
for a French account. Only variant_id and quantity are read back (header names in
English or French, any case and any order, other columns ignored); a row whose
quantity is empty or 0 is skipped. The file may be separated by "," or ";", in
UTF-8 (with or without a BOM) or in Windows-1252 (an older Excel's "CSV"): only
digits are read from it.

``parse_order`` raises csv_io.CsvImportError listing every problem, each a
``LineError`` (line as a spreadsheet numbers it, header = 1; the column and the value
concerned); else it returns the lines to hand to orders.checkout. Nothing here
reads the request or the signed-in user, writes or commits: the view places the
order through checkout in the same request.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from marketplace.catalogue import csv_io, pricing
from marketplace.catalogue.models import Product, Variant
from marketplace.downloads import ENGLISH, CsvStyle, escape_cell, unescape_cell
from marketplace.orders import cart as cart_service
from marketplace.pickup.models import PickupSlot

COLUMNS = ("variant_id", "farm", "product", "variant", "case_size", "unit_price",
           "tier_prices", "quantity")
# The same columns as the French template names them; an upload reads either name.
FRENCH_COLUMNS = {"variant_id": "id_variante", "farm": "ferme", "product": "produit",
                  "variant": "variante", "case_size": "colis", "unit_price": "prix_unitaire",
                  "tier_prices": "prix_par_quantite", "quantity": "quantité"}
COLUMN_NAMES = csv_io.column_names({c: c for c in COLUMNS}, FRENCH_COLUMNS)
REQUIRED_COLUMNS = ("variant_id", "quantity")
MAX_CSV_BYTES = csv_io.MAX_CSV_BYTES
MAX_ROWS = csv_io.MAX_ROWS  # rows read, ordered or not
MAX_LINES = cart_service.MAX_LINES  # rows ordered: the lines of one order
# The most one cart line holds: checkout drops a larger quantity, so it is refused here.
MAX_QUANTITY = cart_service.MAX_QUANTITY

_SPACES = re.compile(r"[\s\u00a0\u202f]")


@dataclass(frozen=True)
class LineError(csv_io.CsvError):
    """A problem of the file, shown in the report; line None: the whole file."""

    column: str = ""
    value: str = ""


@dataclass(frozen=True)
class UploadedLine:
    line: int
    variant: Variant
    quantity: int


@dataclass(frozen=True)
class UploadedOrder:
    lines: list[UploadedLine]

    @property
    def cart(self) -> dict[str, int]:
        return {str(item.variant.id): item.quantity for item in self.lines}

    def line_of(self, variant_id: int | None) -> UploadedLine | None:
        return next((item for item in self.lines if item.variant.id == variant_id), None)


def _item(variant: Variant) -> str:
    return f"{variant.product.name} ({variant.label})"


def _file_error(message: str) -> csv_io.CsvImportError:
    return csv_io.CsvImportError([LineError(None, message)])


# The template -----------------------------------------------------------------------

def column_names(style: CsvStyle) -> list[str]:
    """The template's header in the style's language."""
    return [FRENCH_COLUMNS[c] for c in COLUMNS] if style.locale == "fr" else list(COLUMNS)


def template_rows(variants: Iterable[Variant], tiers: dict,
                  style: CsvStyle = ENGLISH) -> list[list[str]]:
    """Header then one row per variant, quantity empty, priced for an approved
    restaurant (the only buyer of the file), in the style's language and number
    format. Texts a farm typed are escaped so a spreadsheet does not run them as
    formulas."""
    rows = [column_names(style)]
    for variant in variants:
        by_case = variant.sold_wholesale
        case_size = variant.case_size if by_case else 1
        variant_tiers = tiers.get(variant.id, ())
        tier_text = " / ".join(
            f"{tier.min_quantity}+: {style.amount(tier.unit_price_cents)}"
            for tier in variant_tiers
        ) if by_case else ""
        rows.append([
            str(variant.id),
            escape_cell(variant.product.producer.name),
            escape_cell(variant.product.name),
            escape_cell(variant.label),
            str(case_size),
            style.amount(pricing.unit_price_cents(
                variant, case_size, variant_tiers, wholesale=by_case)),
            tier_text,
            "",
        ])
    return rows


def template_csv(variants: Iterable[Variant], tiers: dict, style: CsvStyle = ENGLISH) -> bytes:
    return style.encode(template_rows(variants, tiers, style))


def template_filename(slot: PickupSlot, tz: str) -> str:
    day = slot.starts_at.astimezone(ZoneInfo(tz)).date()
    return f"order-{day.isoformat()}-slot-{slot.id}.csv"


# Step 1: read the file ----------------------------------------------------------------

def _read_bytes(data) -> bytes:
    if hasattr(data, "read"):
        data = data.read(MAX_CSV_BYTES + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_CSV_BYTES:
        raise _file_error(_(
            "The file is too large (at most %(mb)d MB). An order file holds at most "
            "%(max)d lines with a quantity.",
            mb=MAX_CSV_BYTES // (1024 * 1024), max=MAX_LINES))
    return bytes(data)


def _decode(data: bytes) -> str:
    """UTF-8 (BOM or not) as the catalogue import reads it; else Windows-1252, which
    only a file that is not text at all fails to decode."""
    try:
        return csv_io._decode(data)
    except csv_io.CsvImportError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise _file_error(_(
                "This file is not a CSV text file. Save it as CSV UTF-8.")) from None


def read_rows(data) -> list[tuple[int, str, str]]:
    """(line, variant_id cell, quantity cell) of every row that is not blank.

    ``data``: bytes, str or a binary stream. Raises CsvImportError on a file that
    cannot be read or whose header lacks a required column.
    """
    text = _decode(_read_bytes(data))
    if not text.strip():
        raise _file_error(_("The file is empty."))
    if "\x00" in text:  # a spreadsheet's own file (.xlsx, .ods) or a UTF-16 export
        raise _file_error(_("This file is not a CSV text file. Save it as CSV UTF-8."))
    reader = csv.reader(io.StringIO(text, newline=""),
                        delimiter=csv_io._sniff_delimiter(text))
    line = 0
    rows: list[tuple[int, str, str]] = []
    try:
        header: list[str] = []
        while not any(cell.strip() for cell in header):  # blank lines before the header
            header = next(reader, None)
            if header is None:
                raise _file_error(_("The file is empty."))
            line += 1
        header_line = line
        positions: dict[str, int] = {}
        errors = []
        for index, cell in enumerate(header):
            name = csv_io.column_name(cell, COLUMN_NAMES)
            if name in REQUIRED_COLUMNS and name in positions:
                errors.append(LineError(header_line, _(
                    "The column \u201c%(name)s\u201d appears twice.", name=name),
                    name, csv_io._shown(cell)))
            elif name in REQUIRED_COLUMNS:
                positions[name] = index
        missing = [name for name in REQUIRED_COLUMNS if name not in positions]
        if missing:
            errors.append(LineError(header_line, _(
                "Missing columns: %(names)s. The first line must name the columns, "
                "at least variant_id and quantity: download the file from this page "
                "and fill in its quantity column.", names=", ".join(missing)),
                ", ".join(missing), csv_io._shown(",".join(header), 60)))
        if errors:
            raise csv_io.CsvImportError(errors)
        id_at, quantity_at = positions["variant_id"], positions["quantity"]
        for line, record in enumerate(reader, start=header_line + 1):
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                raise csv_io.CsvImportError([LineError(line, _(
                    "The file has more than %(max)d rows.", max=MAX_ROWS))])
            rows.append((
                line,
                record[id_at] if id_at < len(record) else "",
                record[quantity_at] if quantity_at < len(record) else "",
            ))
    except csv.Error as exc:
        raise csv_io.CsvImportError([LineError(line + 1, _(
            "The file cannot be read as CSV (%(reason)s).", reason=str(exc)))]) from exc
    return rows


# Step 2: check every row ---------------------------------------------------------------

def _cell(raw: str) -> str:
    return unescape_cell(_SPACES.sub("", raw))


def _quantity_problem(text: str) -> str | None:
    """What is wrong with a quantity cell, its leading zeros dropped."""
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        return _("The quantity cannot be negative: leave it empty, or 0, to order none.")
    if not (text.isascii() and text.isdigit()):
        return _("Write a whole number of units, such as 12.")
    if len(text) > 4 or int(text) > MAX_QUANTITY:
        return _("At most %(max)d units on one line.", max=MAX_QUANTITY)
    return None


def _stock_problem(variant: Variant, quantity: int) -> str | None:
    if quantity <= variant.stock:
        return None
    if variant.stock <= 0:
        return _("%(item)s is out of stock.", item=_item(variant))
    return _("Only %(num)d left of %(item)s: lower the quantity.", num=variant.stock,
             item=_item(variant))


Orderable = Callable[[list[int]], Iterable[Variant]]


def check_rows(session: Session, rows: list[tuple[int, str, str]], *,
               orderable: Orderable, buyer) -> UploadedOrder:
    """Check every row against what the slot can deliver to the buyer: ``orderable(ids)``
    gives the variants among ``ids`` that it can (quick_routes.grid_variants, with only
    these ids: the whole offer, whatever the grid shows). Raises CsvImportError with all
    the problems found."""
    errors: list[LineError] = []
    wanted: list[tuple[int, str, int | None, int]] = []  # line, id cell, id, quantity
    seen: dict[int, int] = {}
    ordered = 0
    for line, raw_id, raw_quantity in rows:
        # "007" is 7; and thousands of zeros in a cell must not reach int().
        quantity_text = _cell(raw_quantity).lstrip("0")
        if not quantity_text:
            continue  # empty or 0
        ordered += 1
        if ordered == MAX_LINES + 1:
            errors.append(LineError(line, _(
                "More than %(max)d lines have a quantity: one order holds at most %(max)d "
                "items. Split the order in two files.", max=MAX_LINES),
                "quantity", csv_io._shown(raw_quantity)))
        problem = _quantity_problem(quantity_text)
        if problem:
            errors.append(LineError(line, problem, "quantity", csv_io._shown(raw_quantity)))
        id_text = _cell(raw_id)
        if not id_text:
            errors.append(LineError(line, _(
                "The variant_id is missing: keep the column as the downloaded file has it."),
                "variant_id", ""))
            continue
        try:
            variant_id = cart_service.parse_variant_id(id_text)
        except cart_service.CartError:
            errors.append(LineError(line, _(
                "The variant_id is not a number: keep the column as the downloaded file "
                "has it."), "variant_id", csv_io._shown(raw_id)))
            continue
        if variant_id in seen:
            errors.append(LineError(line, _(
                "This item is already on line %(line)d: one line per item.",
                line=seen[variant_id]), "variant_id", csv_io._shown(raw_id)))
            continue
        seen[variant_id] = line
        if not problem:
            wanted.append((line, raw_id, variant_id, int(quantity_text)))

    ids = sorted({variant_id for _line, _raw, variant_id, _q in wanted})
    by_id = {variant.id: variant for variant in orderable(ids)} if ids else {}
    missing = [variant_id for variant_id in ids if variant_id not in by_id]
    known = {}
    if missing:
        known = {variant.id: variant for variant in session.scalars(
            select(Variant).where(Variant.id.in_(missing))
            .options(joinedload(Variant.product).joinedload(Product.producer)))}
    lines: list[UploadedLine] = []
    for line, raw_id, variant_id, quantity in wanted:
        variant = by_id.get(variant_id)
        if variant is None:
            if variant_id in known:
                message = _(
                    "%(item)s cannot be ordered for this date: its farm does not deliver "
                    "there that day, or no longer sells it.", item=_item(known[variant_id]))
            else:
                message = _("No item has this variant_id: download the file again.")
            errors.append(LineError(line, message, "variant_id", csv_io._shown(raw_id)))
            continue
        problem = pricing.buyer_case_problem(buyer, variant, quantity)
        problem = str(problem) if problem else _stock_problem(variant, quantity)
        if problem:
            errors.append(LineError(line, problem, "quantity", str(quantity)))
            continue
        lines.append(UploadedLine(line, variant, quantity))

    if not errors and not lines:
        errors.append(LineError(None, _(
            "No line has a quantity: type how many you want in the quantity column.")))
    if not errors:
        errors.extend(_minimum_errors(session, lines, buyer))
    if errors:
        raise csv_io.CsvImportError(errors)
    return UploadedOrder(lines)


def _minimum_errors(session: Session, lines: list[UploadedLine], buyer) -> list[LineError]:
    """Every farm whose wholesale minimum the order misses (checkout stops at the first)."""
    view = cart_service.price_cart({str(i.variant.id): i.quantity for i in lines}, session,
                                   buyer=buyer)
    return [LineError(None, str(problem.message), "quantity",
                      csv_io._shown(problem.producer_name))
            for problem in pricing.minimum_problems(view)]


def parse_order(session: Session, data, *, orderable: Orderable, buyer) -> UploadedOrder:
    """Read and check the whole file; CsvImportError lists every problem."""
    return check_rows(session, read_rows(data), orderable=orderable, buyer=buyer)


def checkout_error(order: UploadedOrder, exc) -> LineError:
    """An orders.CheckoutError as a row of the report, on the line it concerns."""
    variant_id = exc.line.variant_id if exc.line is not None else None
    item = order.line_of(variant_id)
    if item is None:
        return LineError(None, str(exc.message))
    return LineError(item.line, str(exc.message), "quantity", str(item.quantity))
