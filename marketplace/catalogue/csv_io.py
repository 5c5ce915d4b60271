"""A producer's catalogue as CSV: one row per variant, read and written here.

Columns (English header names): product, category, description, vat_rate, months,
active, variant, price, stock, variant_active, then the food information: allergens,
traces (allergens separated by '|'), ingredients, storage, origin, prepacked,
net_quantity, net_unit. docs/csv.md describes the format for producers.

Import is all or nothing, in three steps that callers may run one by one (the CLI
wraps each in a progress bar):

1. parse_csv(data)                         decode, sniff the delimiter, check the
                                           header;
2. check_rows(session, producer, parsed)   check every row, match products and
                                           variants against the producer's own
                                           catalogue;
3. apply_plan(session, producer, plan)     create or update, then flush.

Steps 1 and 2 raise CsvImportError with every problem found, each as (line, reason)
where the line is the row number a spreadsheet shows (the header is line 1).
import_catalogue() runs the three. Nothing here reads the request, the signed-in
user or Flask-SQLAlchemy's session (the caller passes its session in), and nothing
commits: the view or the CLI commits (the CLI inside marketplace.sqlite.write_intent()).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import format_currency
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from marketplace.catalogue.food import (
    ALLERGEN_FRENCH,
    NetUnit,
    format_allergens,
    parse_allergens,
    parse_net_quantity,
)
from marketplace.catalogue.models import (
    ALL_MONTHS,
    MAX_PRICE_CENTS,
    MAX_STOCK,
    VAT_RATES_BP,
    Category,
    Product,
    Variant,
    mask_to_months,
)
from marketplace.downloads import (
    BOM,
    ENGLISH,
    CsvStyle,
    escape_cell,
    unescape_cell,
)
from marketplace.models import CURRENCY, MoneyError, parse_euros
from marketplace.producers.models import Producer

COLUMNS = (
    "product",
    "category",
    "description",
    "vat_rate",
    "months",
    "active",
    "variant",
    "price",
    "stock",
    "variant_active",
    # Food information (docs/food-information.md), all optional.
    "allergens",
    "traces",
    "ingredients",
    "storage",
    "origin",
    "prepacked",
    "net_quantity",
    "net_unit",
)
# The same columns as a French export names them; an import reads either name.
FRENCH_COLUMNS = {
    "product": "produit",
    "category": "catégorie",
    "description": "description",
    "vat_rate": "taux_tva",
    "months": "mois",
    "active": "actif",
    "variant": "variante",
    "price": "prix",
    "stock": "stock",
    "variant_active": "variante_active",
    "allergens": "allergènes",
    "traces": "traces",
    "ingredients": "ingrédients",
    "storage": "conservation",
    "origin": "origine",
    "prepacked": "préemballé",
    "net_quantity": "quantité_nette",
    "net_unit": "unité",
}
REQUIRED_COLUMNS = ("product", "category", "vat_rate", "variant", "price", "stock")
# Optional columns: when one is left out of the file, existing products keep their
# value and new ones take the default (no description, all year, on sale).
PRODUCT_COLUMNS = ("category", "description", "vat_rate", "months", "active", "allergens",
                   "traces", "ingredients", "storage", "origin", "prepacked")
# The Product attribute each of PRODUCT_COLUMNS sets.
PRODUCT_ATTRS = ("category_id", "description", "vat_rate_bp", "season_months", "is_active",
                 "allergens", "allergen_traces", "ingredients", "storage", "origin", "prepacked")
# Text columns of the food information: column -> (attribute, at most characters).
FOOD_TEXT_COLUMNS = {"ingredients": ("ingredients", 5000),
                     "storage": ("storage", 255), "origin": ("origin", 120)}
# Units a file may name, in English or French.
UNIT_WORDS = {**{u.value: u for u in NetUnit}, "pièce": NetUnit.PIECE, "piece": NetUnit.PIECE,
              "pièces": NetUnit.PIECE, "pieces": NetUnit.PIECE}

MAX_ROWS = 5000
MAX_CSV_BYTES = 2 * 1024 * 1024
NAME_MAX = Product.__table__.c.name.type.length  # 120
LABEL_MAX = Variant.__table__.c.label.type.length  # 60
DESCRIPTION_MAX = 5000  # as ProductForm

TRUE_WORDS = frozenset({"yes", "y", "1", "true", "oui", "o", "vrai"})
FALSE_WORDS = frozenset({"no", "n", "0", "false", "non", "faux"})
FLUSH_EVERY = 100
# Letters NFKD does not take apart, for file names.
LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


# Results and errors ------------------------------------------------------------

@dataclass(frozen=True)
class CsvError:
    line: int | None  # as a spreadsheet numbers rows (header = 1); None: the whole file
    message: str


class CsvImportError(Exception):
    """The file cannot be imported; nothing was written."""

    def __init__(self, errors: Iterable[CsvError]):
        self.errors = sorted(errors, key=lambda e: e.line or 0)
        super().__init__(f"{len(self.errors)} error(s) in the CSV file")


@dataclass
class CsvRow:
    line: int
    values: dict[str, str]
    extra_cells: bool = False


@dataclass
class ParsedCsv:
    columns: tuple[str, ...]  # the known columns the header names
    rows: list[CsvRow]
    delimiter: str = ","


@dataclass
class VariantPlan:
    line: int
    fields: dict
    variant: Variant | None = None


@dataclass
class ProductPlan:
    line: int
    key: str
    fields: dict
    product: Product | None = None
    variants: list[VariantPlan] = field(default_factory=list)
    variant_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportPlan:
    products: list[ProductPlan]

    @property
    def variant_count(self) -> int:
        return sum(len(p.variants) for p in self.products)


@dataclass
class ImportSummary:
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.products_created
            or self.products_updated
            or self.variants_created
            or self.variants_updated
        )


def summary_message(summary: ImportSummary) -> str:
    return _(
        "Import done. Products: %(pc)d created, %(pu)d updated, %(pn)d unchanged. "
        "Variants: %(vc)d created, %(vu)d updated, %(vn)d unchanged.",
        pc=summary.products_created,
        pu=summary.products_updated,
        pn=summary.products_unchanged,
        vc=summary.variants_created,
        vu=summary.variants_updated,
        vn=summary.variants_unchanged,
    )


# Small parsers ------------------------------------------------------------------

def _shown(value: str, limit: int = 40) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form, to compare names."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def product_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def parse_bool(text: str) -> bool:
    word = text.strip().casefold()
    if not word or word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(text)


_MONTH_TOKEN = re.compile(r"(\d{1,2})(?:-(\d{1,2}))?")


def parse_months(text: str) -> int:
    """"1-12", "6-10", "3,4,5", "11-2" (over the new year), "" (all year) -> bit mask."""
    cleaned = re.sub(r"\s*[-\u2013\u2014]\s*", "-", text.strip())
    if not cleaned:
        return ALL_MONTHS
    mask = 0
    for token in re.split(r"[,;]", cleaned):
        token = token.strip()
        if not token:
            continue
        match = _MONTH_TOKEN.fullmatch(token)
        if not match:
            raise ValueError(text)
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not (1 <= first <= 12 and 1 <= last <= 12):
            raise ValueError(text)
        month = first
        while True:
            mask |= 1 << (month - 1)
            if month == last:
                break
            month = month % 12 + 1
    if not mask:
        raise ValueError(text)
    return mask


def format_months(mask: int) -> str:
    """Bit mask -> the shortest list of ranges, e.g. "11-2,5" ("1-12" for all year)."""
    months = set(mask_to_months(mask))
    if len(months) == 12:
        return "1-12"
    parts = []
    for start in sorted(months):
        if (start - 2) % 12 + 1 in months:
            continue  # not the first month of a run
        end = start
        while end % 12 + 1 in months:
            end = end % 12 + 1
        parts.append(str(start) if end == start else f"{start}-{end}")
    return ",".join(parts)


def parse_vat(text: str) -> int:
    cleaned = (
        text.strip().replace("%", "").replace(" ", "").replace("\u00a0", "").replace(",", ".")
    )
    try:
        rate = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not rate.is_finite():
        raise ValueError(text)
    bp = rate * 100
    if bp != bp.to_integral_value() or int(bp) not in VAT_RATES_BP:
        raise ValueError(text)
    return int(bp)


def parse_stock(text: str) -> int:
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text)
    if not re.fullmatch(r"[+-]?\d{1,12}", cleaned):
        raise ValueError(text)
    return int(cleaned)


def farm_slug(producer: Producer) -> str:
    name = (producer.name or "").translate(LIGATURES)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or f"farm-{producer.id}"


def export_filename(producer: Producer, day: date) -> str:
    return f"catalogue-{farm_slug(producer)}-{day.isoformat()}.csv"


# Export -------------------------------------------------------------------------

def _own_products(session: Session, producer: Producer) -> list[Product]:
    stmt = (
        select(Product)
        .where(Product.producer_id == producer.id)
        .options(joinedload(Product.category), selectinload(Product.variants))
        .order_by(Product.name, Product.id)
    )
    return list(session.scalars(stmt).unique())


def _yes_no(value: bool, style: CsvStyle) -> str:
    if style.locale == "fr":
        return "oui" if value else "non"
    return "yes" if value else "no"


def export_rows(session: Session, producer: Producer,
                style: CsvStyle = ENGLISH) -> list[list[str]]:
    """Header then one row per variant (one row with no variant for a product without),
    in the style's language: French headers, category names and oui/non, decimal
    commas; or the English column names and category codes."""
    french = style.locale == "fr"
    rows = [[FRENCH_COLUMNS[c] for c in COLUMNS] if french else list(COLUMNS)]
    for product in _own_products(session, producer):
        head = [
            escape_cell(product.name),
            product.category.name_fr if french else product.category.slug,
            escape_cell(product.description or ""),
            style.number(Decimal(product.vat_rate_bp) / 100),
            format_months(product.season_months),
            _yes_no(product.is_active, style),
        ]
        food = [
            format_allergens(product.allergens, french=french),
            format_allergens(product.allergen_traces, french=french),
            escape_cell(product.ingredients or ""),
            escape_cell(product.storage or ""),
            escape_cell(product.origin or ""),
            _yes_no(product.prepacked, style),
        ]
        if not product.variants:
            rows.append([*head, "", "", "", "", *food, "", ""])
        for variant in product.variants:
            rows.append([
                *head,
                escape_cell(variant.label),
                style.amount(variant.price_cents),
                str(variant.stock),
                _yes_no(variant.is_active, style),
                *food,
                _net_number(variant, style),
                _unit_word(variant.net_unit, french),
            ])
    return rows


def _net_number(variant: Variant, style: CsvStyle) -> str:
    """1500 g sold in kg -> "1,5" or "1.5" (no grouping: the spreadsheet reads a number)."""
    if not variant.net_quantity or variant.net_unit is None:
        return ""
    return style.number(Decimal(variant.net_quantity) / NetUnit(variant.net_unit).base)


def _unit_word(unit: NetUnit | None, french: bool) -> str:
    if unit is None:
        return ""
    return "pièce" if french and unit is NetUnit.PIECE else NetUnit(unit).value


def export_csv(session: Session, producer: Producer, style: CsvStyle = ENGLISH) -> bytes:
    return style.encode(export_rows(session, producer, style))


# Import, step 1: read the file --------------------------------------------------

def _file_error(message: str, line: int | None = None) -> CsvImportError:
    return CsvImportError([CsvError(line, message)])


def _decode(data) -> str:
    if hasattr(data, "read"):
        data = data.read()
    if isinstance(data, bytes | bytearray):
        try:
            return bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _file_error(
                _(
                    "The file is not in UTF-8, so its accents cannot be read. In your "
                    "spreadsheet, save it as \u201cCSV UTF-8\u201d (in Excel: File, Save as, "
                    "CSV UTF-8; in LibreOffice: character set Unicode (UTF-8)) and send it again."
                )
            ) from exc
    return data.removeprefix(BOM)


def column_name(cell: str, names: dict[str, str]) -> str:
    """The column a header cell names, in English or French, in any capitals, with
    or without accents, spaces or dashes for "_" ("Taux TVA" -> vat_rate); else the
    cell itself, folded."""
    folded = re.sub(r"[\s\-]+", "_", _fold(cell.replace(BOM, "")))
    return names.get(folded, folded)


def column_names(*names: dict[str, str]) -> dict[str, str]:
    """{header name as column_name folds it: column} for names given as {column: name}."""
    return {column_name(name, {}): column for mapping in names
            for column, name in mapping.items()}


# Every name a header may give a column.
COLUMN_NAMES = column_names({c: c for c in COLUMNS}, FRENCH_COLUMNS)


def _sniff_delimiter(text: str) -> str:
    """French Excel writes ";" where others write ","; the header line tells which."""
    first_line = text.lstrip(" \t\r\n").split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def parse_csv(data) -> ParsedCsv:
    """Decode and read the whole file (bytes, str or a binary stream)."""
    text = _decode(data)
    if not text.strip():
        raise _file_error(_("The file is empty."))
    if "\x00" in text:
        # A spreadsheet's CSV never holds NUL; a binary file or UTF-16 export does,
        # and PostgreSQL cannot store it.
        raise _file_error(_("This file is not a CSV text file. Save it as CSV UTF-8."))
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0  # the last record read
    try:
        header: list[str] = []
        while not any(cell.strip() for cell in header):  # blank lines before the header
            header = next(reader, None)
            if header is None:
                raise _file_error(_("The file is empty."))
            line += 1
        header_line = line
        names = [column_name(cell, COLUMN_NAMES) for cell in header]
        errors = []
        positions: dict[str, int] = {}
        unknown = []
        for index, name in enumerate(names):
            if not name:
                continue  # an empty column a spreadsheet kept: ignored
            if name not in COLUMNS:
                unknown.append(header[index].strip())
            elif name in positions:
                errors.append(CsvError(header_line, _(
                    "The column \u201c%(name)s\u201d appears twice.", name=name
                )))
            else:
                positions[name] = index
        if unknown:
            errors.append(CsvError(header_line, _(
                "Unknown columns: %(names)s. The columns are: %(columns)s.",
                names=", ".join(_shown(u) for u in unknown),
                columns=", ".join(COLUMNS),
            )))
        missing = [c for c in REQUIRED_COLUMNS if c not in positions]
        if missing:
            errors.append(CsvError(header_line, _(
                "Missing columns: %(names)s. The first line must name the columns: "
                "%(columns)s.",
                names=", ".join(missing),
                columns=", ".join(COLUMNS),
            )))
        if errors:
            raise CsvImportError(errors)

        used = set(positions.values())
        rows: list[CsvRow] = []
        for line, record in enumerate(reader, start=header_line + 1):
            if not any(cell.strip() for cell in record):
                continue  # blank line
            if len(rows) >= MAX_ROWS:
                raise _file_error(_(
                    "The file has more than %(max)d rows. Split it into several files "
                    "and import them one after the other.",
                    max=MAX_ROWS,
                ))
            values = {
                name: (record[index] if index < len(record) else "")
                for name, index in positions.items()
            }
            extra = any(
                cell.strip() for index, cell in enumerate(record) if index not in used
            )
            rows.append(CsvRow(line, values, extra))
    except csv.Error as exc:
        raise _file_error(
            _("The file cannot be read as CSV (%(reason)s).", reason=str(exc)), line + 1
        ) from exc
    if not rows:
        raise _file_error(_("The file has no product rows, only the column names."))
    return ParsedCsv(tuple(c for c in COLUMNS if c in positions), rows, delimiter)


# Import, step 2: check every row ------------------------------------------------

def _category_lookup(session: Session) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for category in session.scalars(select(Category)):
        for name in (category.slug, category.name_fr, category.name_en):
            lookup.setdefault(_fold(name), category.id)
    return lookup


def _text(row: CsvRow, column: str) -> str:
    return unescape_cell(row.values.get(column, "").strip())




def _check_row(row: CsvRow, columns: tuple[str, ...], categories: dict[str, int]):
    """-> (name, product fields, variant fields or None, reasons)."""
    reasons: list[str] = []
    product: dict = {}
    variant: dict = {}

    if row.extra_cells:
        reasons.append(_("This row has more cells than there are columns in the header."))

    name = _text(row, "product")
    if not name:
        reasons.append(_("The product name is missing."))
    elif len(name) > NAME_MAX:
        reasons.append(_(
            "The product name is too long (%(length)d characters, at most %(max)d).",
            length=len(name), max=NAME_MAX,
        ))
    else:
        product["name"] = name

    raw = _text(row, "category")
    if not raw:
        reasons.append(_("The category is missing."))
    elif _fold(raw) in categories:
        product["category_id"] = categories[_fold(raw)]
    else:
        reasons.append(_("Unknown category \u201c%(value)s\u201d.", value=_shown(raw)))

    if "description" in columns:
        description = _text(row, "description")
        if len(description) > DESCRIPTION_MAX:
            reasons.append(_(
                "The description is too long (%(length)d characters, at most %(max)d).",
                length=len(description), max=DESCRIPTION_MAX,
            ))
        else:
            product["description"] = description

    raw = _text(row, "vat_rate")
    try:
        if not raw:
            reasons.append(_("The VAT rate is missing (0, 5.5, 10 or 20)."))
        else:
            product["vat_rate_bp"] = parse_vat(raw)
    except ValueError:
        reasons.append(_(
            "VAT rate \u201c%(value)s\u201d is not one of 0, 5.5, 10 or 20.", value=_shown(raw)
        ))

    if "months" in columns:
        raw = _text(row, "months")
        try:
            product["season_months"] = parse_months(raw)
        except ValueError:
            reason = _(
                "Months \u201c%(value)s\u201d not understood: write them like 1-12, 6-10, "
                "3,4,5 or 11-2, or leave the cell empty for all year.",
                value=_shown(raw),
            )
            if re.search(r"[^\W\d_]|/", raw):
                reason += " " + _(
                    "Your spreadsheet may have turned them into a date: format the months "
                    "column as text."
                )
            reasons.append(reason)

    if "active" in columns:
        raw = _text(row, "active")
        try:
            product["is_active"] = parse_bool(raw)
        except ValueError:
            reasons.append(_("active \u201c%(value)s\u201d should be yes or no.",
                             value=_shown(raw)))

    _check_food(row, columns, product, reasons)

    label = _text(row, "variant")
    price_raw = _text(row, "price")
    stock_raw = _text(row, "stock")
    variant_active_raw = _text(row, "variant_active")
    if not (label or price_raw or stock_raw or variant_active_raw):
        # Only the product: how a product with no variant yet is exported.
        return name, product, None, reasons

    if not label:
        reasons.append(_("The variant is missing (how it is sold: 1 kg, piece, dozen...)."))
    elif len(label) > LABEL_MAX:
        reasons.append(_(
            "The variant is too long (%(length)d characters, at most %(max)d).",
            length=len(label), max=LABEL_MAX,
        ))
    else:
        variant["label"] = label

    if not price_raw:
        reasons.append(_("The price is missing."))
    else:
        try:
            cents = parse_euros(price_raw)
        except MoneyError:
            reasons.append(_(
                "Price \u201c%(value)s\u201d is not an amount in euros, such as 3.50.",
                value=_shown(price_raw),
            ))
        else:
            if cents <= 0:
                reasons.append(_("The price must be more than zero."))
            elif cents > MAX_PRICE_CENTS:
                reasons.append(_("The price cannot exceed %(max)s.",
                                 max=format_currency(MAX_PRICE_CENTS / 100, CURRENCY)))
            else:
                variant["price_cents"] = cents

    if not stock_raw:
        reasons.append(_("The stock is missing (write 0 if you have none)."))
    else:
        try:
            stock = parse_stock(stock_raw)
        except ValueError:
            reasons.append(_(
                "Stock \u201c%(value)s\u201d is not a whole number.", value=_shown(stock_raw)
            ))
        else:
            if not 0 <= stock <= MAX_STOCK:
                reasons.append(_("The stock must be between 0 and %(max)d.", max=MAX_STOCK))
            else:
                variant["stock"] = stock

    if "variant_active" in columns:
        try:
            variant["is_active"] = parse_bool(variant_active_raw)
        except ValueError:
            reasons.append(_("variant_active \u201c%(value)s\u201d should be yes or no.",
                             value=_shown(variant_active_raw)))

    _check_net_quantity(row, columns, variant, reasons)
    return name, product, variant, reasons


def _check_food(row: CsvRow, columns: tuple[str, ...], product: dict, reasons: list) -> None:
    """The product's food information: allergens and traces from the list of 14
    (never free text), the text columns, prepacked yes or no."""
    for column, attr in (("allergens", "allergens"), ("traces", "allergen_traces")):
        if column not in columns:
            continue
        raw = _text(row, column)
        try:
            product[attr] = parse_allergens(raw)
        except ValueError as exc:
            reasons.append(_(
                "%(column)s: \u201c%(value)s\u201d is not one of the 14 regulated allergens "
                "(%(names)s), separated by |.",
                column=column, value=_shown(str(exc)),
                names=", ".join(ALLERGEN_FRENCH.values()),
            ))
    if "allergens" in product and "allergen_traces" in product and (
            product["allergens"] & product["allergen_traces"]):
        reasons.append(_("An allergen the product contains cannot also be a trace: write it "
                         "in allergens only."))
        del product["allergen_traces"]
    for column, (attr, limit) in FOOD_TEXT_COLUMNS.items():
        if column not in columns:
            continue
        text = _text(row, column)
        if len(text) > limit:
            reasons.append(_(
                "%(column)s is too long (%(length)d characters, at most %(max)d).",
                column=column, length=len(text), max=limit,
            ))
        else:
            product[attr] = text
    if "prepacked" in columns:
        raw = _text(row, "prepacked")
        try:
            product["prepacked"] = parse_bool(raw) if raw else False
        except ValueError:
            reasons.append(_("prepacked \u201c%(value)s\u201d should be yes or no.",
                             value=_shown(raw)))


def _check_net_quantity(row: CsvRow, columns: tuple[str, ...], variant: dict,
                        reasons: list) -> None:
    """net_quantity and net_unit go together (both empty: none)."""
    if "net_quantity" not in columns and "net_unit" not in columns:
        return
    raw, unit_raw = _text(row, "net_quantity"), _text(row, "net_unit")
    if not raw and not unit_raw:
        variant["net_quantity"] = variant["net_unit"] = None
        return
    unit = UNIT_WORDS.get(unit_raw) or UNIT_WORDS.get(unit_raw.casefold())
    if unit is None:
        reasons.append(_(
            "net_unit \u201c%(value)s\u201d is not one of g, kg, ml, l or piece.",
            value=_shown(unit_raw)))
        return
    try:
        variant["net_quantity"] = parse_net_quantity(raw, unit)
    except ValueError:
        reasons.append(_(
            "net_quantity \u201c%(value)s\u201d is not a quantity such as 500 or 1.5 "
            "(in %(unit)s).", value=_shown(raw), unit=unit.value))
        return
    variant["net_unit"] = unit


def _own_catalogue(session: Session, producer: Producer) -> dict[str, list[Product]]:
    stmt = (
        select(Product)
        .where(Product.producer_id == producer.id)
        .options(selectinload(Product.variants))
        .order_by(Product.id)
    )
    by_key: dict[str, list[Product]] = {}
    for product in session.scalars(stmt):
        by_key.setdefault(product_key(product.name), []).append(product)
    return by_key


def check_rows(
    session: Session, producer: Producer, parsed: ParsedCsv, rows: Iterable[CsvRow] | None = None
) -> ImportPlan:
    """Check every row (``rows`` defaults to parsed.rows; pass a progress bar over them).

    Raises CsvImportError with all the problems found; else returns what to write.
    """
    categories = _category_lookup(session)
    existing = _own_catalogue(session, producer)
    errors: list[CsvError] = []
    plans: dict[str, ProductPlan] = {}
    bad_products: set[str] = set()

    for row in parsed.rows if rows is None else rows:
        name, product_fields, variant_fields, reasons = _check_row(
            row, parsed.columns, categories
        )
        errors.extend(CsvError(row.line, reason) for reason in reasons)
        if not name or "name" not in product_fields:
            continue
        key = product_key(name)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = ProductPlan(row.line, key, product_fields)
            matches = existing.get(key, [])
            if len(matches) > 1:
                bad_products.add(key)
                errors.append(CsvError(row.line, _(
                    "Your catalogue already has %(count)d products named \u201c%(name)s\u201d; "
                    "give them different names before importing.",
                    count=len(matches), name=_shown(name),
                )))
            elif matches:
                plan.product = matches[0]
        else:
            differ = [
                column
                for column, attr in zip(PRODUCT_COLUMNS, PRODUCT_ATTRS, strict=True)
                if attr in plan.fields
                and attr in product_fields
                and plan.fields[attr] != product_fields[attr]
            ]
            if differ:
                errors.append(CsvError(row.line, _(
                    "The product \u201c%(name)s\u201d is also on line %(line)d with another "
                    "%(columns)s. All the rows of one product must have the same "
                    "%(product_columns)s.",
                    name=_shown(name), line=plan.line, columns=", ".join(differ),
                    product_columns=", ".join(PRODUCT_COLUMNS),
                )))
        if variant_fields is None or "label" not in variant_fields:
            continue
        label_key = product_key(variant_fields["label"])
        if label_key in plan.variant_lines:
            errors.append(CsvError(row.line, _(
                "The variant \u201c%(label)s\u201d of \u201c%(name)s\u201d is already on "
                "line %(line)d.",
                label=_shown(variant_fields["label"]), name=_shown(name),
                line=plan.variant_lines[label_key],
            )))
            continue
        plan.variant_lines[label_key] = row.line
        variant_plan = VariantPlan(row.line, variant_fields)
        if plan.product is not None and key not in bad_products:
            matches = [v for v in plan.product.variants if product_key(v.label) == label_key]
            if len(matches) > 1:
                errors.append(CsvError(row.line, _(
                    "The product \u201c%(name)s\u201d already has %(count)d variants named "
                    "\u201c%(label)s\u201d; give them different names before importing.",
                    name=_shown(name), count=len(matches), label=_shown(variant_fields["label"]),
                )))
            elif matches:
                variant_plan.variant = matches[0]
        plan.variants.append(variant_plan)

    if errors:
        raise CsvImportError(errors)
    return ImportPlan(list(plans.values()))


# Import, step 3: write ----------------------------------------------------------

def _assign(obj, fields: dict) -> bool:
    changed = False
    for key, value in fields.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def apply_plan(
    session: Session, producer: Producer, plan: ImportPlan,
    products: Iterable[ProductPlan] | None = None,
) -> ImportSummary:
    """Create or update what check_rows() planned, then flush (the caller commits).

    ``products`` defaults to plan.products; pass a progress bar over them.
    """
    summary = ImportSummary()
    for count, item in enumerate(plan.products if products is None else products, start=1):
        product = item.product
        if product is None:
            product = Product(producer_id=producer.id, **item.fields)
            session.add(product)
            summary.products_created += 1
        elif product.producer_id != producer.id:  # pragma: no cover - check_rows matched own
            raise ValueError("product of another producer")
        elif _assign(product, item.fields):
            summary.products_updated += 1
        else:
            summary.products_unchanged += 1
        position = max((v.position for v in product.variants), default=-1) + 1
        for variant_plan in item.variants:
            variant = variant_plan.variant
            if variant is None:
                product.variants.append(
                    Variant(currency=CURRENCY, position=position, **variant_plan.fields)
                )
                position += 1
                summary.variants_created += 1
            elif _assign(variant, variant_plan.fields):
                summary.variants_updated += 1
            else:
                summary.variants_unchanged += 1
        if count % FLUSH_EVERY == 0:
            session.flush()
    session.flush()
    return summary


def import_catalogue(session: Session, producer: Producer, data) -> ImportSummary:
    """Check the whole file then write it, or raise CsvImportError having written nothing."""
    parsed = parse_csv(data)
    plan = check_rows(session, producer, parsed)
    return apply_plan(session, producer, plan)
