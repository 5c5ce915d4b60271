"""The cart: one basket across several producers, kept in the Flask session.

A cart is a plain dict ``{"<variant id>": quantity}`` (string keys, because the
session is JSON). The functions here take the cart and explicit arguments and
never read ``request`` or ``current_user``. ``add``, ``set_quantity`` and
``remove`` return a NEW dict and raise ``CartError`` without touching the one
they were given, so a refused request never changes or loses the cart.

Prices always come from the database: ``price_cart`` loads every variant of the
cart in one query and computes line totals and VAT in integer cents. Prices
include VAT, so a line's VAT is ``total * rate / (10000 + rate)`` rounded half
up to the cent, computed per line and then summed per rate.

Given ``buyer``, an approved restaurant pays wholesale prices (see
marketplace/catalogue/pricing.py): the tier price for the quantity, by whole
cases (a line that is not is put aside, with its message, as unavailable, so
checkout refuses it) and each farm's minimum (``ProducerGroup.minimum_cents``).
Anyone else pays retail prices and cannot buy wholesale-only variants.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from marketplace.accounts.models import User
from marketplace.catalogue import pricing
from marketplace.catalogue.food import format_reference_price
from marketplace.catalogue.models import Product, Variant
from marketplace.models import CURRENCY
from marketplace.producers.models import Producer

CART_KEY = "cart"  # the key of the Flask session the cart is kept under
MAX_LINES = 200  # a restaurant's quick order may hold 200 lines
MAX_QUANTITY = 999
MAX_VARIANT_ID = 2**63 - 1

# Error codes; the views turn them into translated messages.
BAD_QUANTITY = "bad_quantity"  # not a whole number
QUANTITY_TOO_SMALL = "quantity_too_small"
QUANTITY_TOO_LARGE = "quantity_too_large"
BAD_VARIANT = "bad_variant"  # malformed id
UNKNOWN_VARIANT = "unknown_variant"  # no such public variant
NOT_IN_CART = "not_in_cart"
TOO_MANY_LINES = "too_many_lines"

# Why a line cannot be bought (not counted in totals).
DELETED = "deleted"
VARIANT_INACTIVE = "variant_inactive"
PRODUCT_INACTIVE = "product_inactive"
PRODUCER_HIDDEN = "producer_hidden"
WHOLESALE_ONLY = "wholesale_only"  # sold to approved restaurants only
CASE_SIZE = pricing.CASE_SIZE  # a wholesale line not in whole cases: see line.problem

# Warnings on a line that is still counted.
OUT_OF_STOCK = "out_of_stock"
OVER_STOCK = "over_stock"
OUT_OF_SEASON = "out_of_season"

_WHOLE = re.compile(r"[+-]?[0-9]+")


class CartError(ValueError):
    """A refused cart change; ``code`` is one of the error codes above."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# Parsing ----------------------------------------------------------------------

def parse_quantity(raw) -> int:
    """A quantity as typed: a whole number from 1 to MAX_QUANTITY."""
    if isinstance(raw, bool):
        raise CartError(BAD_QUANTITY)
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw if raw is not None else "").strip()
        if not _WHOLE.fullmatch(text):
            raise CartError(BAD_QUANTITY)
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > 4:  # avoid huge int conversions
            raise CartError(QUANTITY_TOO_SMALL if text.startswith("-") else QUANTITY_TOO_LARGE)
        # Without the leading zeros: "000...0001" (thousands of zeros) is 1, and int()
        # never sees more than four digits.
        value = -int(digits or "0") if text.startswith("-") else int(digits or "0")
    if value < 1:
        raise CartError(QUANTITY_TOO_SMALL)
    if value > MAX_QUANTITY:
        raise CartError(QUANTITY_TOO_LARGE)
    return value


def parse_variant_id(raw) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise CartError(BAD_VARIANT)
    value = int(text)
    if not 1 <= value <= MAX_VARIANT_ID:
        raise CartError(BAD_VARIANT)
    return value


def load(raw) -> dict[str, int]:
    """The cart stored in the session, cleaned: anything malformed is dropped."""
    cart: dict[str, int] = {}
    if not isinstance(raw, dict):
        return cart
    for key, quantity in raw.items():
        if len(cart) >= MAX_LINES:
            break
        try:
            variant_id = parse_variant_id(key)
            if not isinstance(quantity, int):
                raise CartError(BAD_QUANTITY)
            cart[str(variant_id)] = parse_quantity(quantity)
        except CartError:
            continue
    return cart


def line_count(cart: dict[str, int]) -> int:
    return len(cart)


# Changes ------------------------------------------------------------------------

def add(cart: dict[str, int], variant_id: int, quantity: int) -> dict[str, int]:
    """Add ``quantity`` units; adds up with what the cart already holds."""
    quantity = parse_quantity(quantity)
    key = str(parse_variant_id(variant_id))
    new = dict(cart)
    if key not in new and len(new) >= MAX_LINES:
        raise CartError(TOO_MANY_LINES)
    total = new.get(key, 0) + quantity
    if total > MAX_QUANTITY:
        raise CartError(QUANTITY_TOO_LARGE)
    new[key] = total
    return new


def set_quantity(cart: dict[str, int], variant_id: int, quantity: int) -> dict[str, int]:
    quantity = parse_quantity(quantity)
    key = str(parse_variant_id(variant_id))
    if key not in cart:
        raise CartError(NOT_IN_CART)
    new = dict(cart)
    new[key] = quantity
    return new


def remove(cart: dict[str, int], variant_id: int) -> dict[str, int]:
    key = str(parse_variant_id(variant_id))
    if key not in cart:
        raise CartError(NOT_IN_CART)
    return {k: q for k, q in cart.items() if k != key}


def orderable_variant(session: Session, variant_id: int, *, buyer=None) -> Variant:
    """The variant if a buyer may put it in the cart now, else CartError(UNKNOWN_VARIANT).
    A wholesale-only variant is orderable by an approved restaurant only."""

    variant = session.scalar(
        select(Variant)
        .join(Variant.product)
        .join(Product.producer)
        .join(Producer.user)
        .where(
            Variant.id == variant_id,
            Variant.is_active.is_(True),
            Product.is_active.is_(True),
            User.approved_at.is_not(None),
        )
        .options(joinedload(Variant.product).joinedload(Product.producer))
    )
    if variant is None or not pricing.visible_to(buyer, variant):
        raise CartError(UNKNOWN_VARIANT)
    return variant


# Pricing --------------------------------------------------------------------------

def vat_included(total_cents: int, rate_bp: int) -> int:
    """VAT contained in a VAT-included amount, rounded half up to the cent."""
    if total_cents < 0 or rate_bp < 0:
        raise ValueError("amounts and rates are not negative")
    divisor = 10000 + rate_bp
    return (2 * total_cents * rate_bp + divisor) // (2 * divisor)


@dataclass
class CartLine:
    variant_id: int
    quantity: int
    product_id: int | None = None
    product_name: str = ""
    variant_label: str = ""
    producer_id: int | None = None
    producer_name: str = ""
    unit_price_cents: int = 0
    total_cents: int = 0
    vat_rate_bp: int = 0
    vat_cents: int = 0
    stock: int = 0
    currency: str = CURRENCY
    unavailable: str | None = None  # DELETED, VARIANT_INACTIVE, ...
    problem: object | None = None  # the message of a CASE_SIZE line
    wholesale: bool = False  # priced wholesale (tiers, cases)
    case_size: int = 1
    warnings: list[str] = field(default_factory=list)  # OUT_OF_STOCK, OVER_STOCK, ...
    # Food information, copied onto the order line at checkout.
    net_quantity: int | None = None
    net_unit: str | None = None
    allergens: int = 0
    allergen_traces: int = 0

    @property
    def unit_price(self) -> str:
        """The price per kilogram or litre beside the unit price ("12,40 €/kg"), or ""."""
        return format_reference_price(self.unit_price_cents, self.net_quantity, self.net_unit,
                                      self.currency)

    @property
    def available(self) -> bool:
        return self.unavailable is None


@dataclass
class ProducerGroup:
    producer_id: int
    producer_name: str
    lines: list[CartLine] = field(default_factory=list)
    subtotal_cents: int = 0
    vat_cents: int = 0
    # The farm's wholesale minimum when the group holds a wholesale line, else 0.
    minimum_cents: int = 0

    @property
    def missing_cents(self) -> int:
        return max(self.minimum_cents - self.subtotal_cents, 0)


@dataclass
class CartView:
    groups: list[ProducerGroup] = field(default_factory=list)
    unavailable: list[CartLine] = field(default_factory=list)
    total_cents: int = 0
    vat_by_rate: dict[int, int] = field(default_factory=dict)  # rate bp -> cents, sorted
    currency: str = CURRENCY
    wholesale: bool = False  # priced for an approved restaurant

    @property
    def lines(self) -> list[CartLine]:
        return [line for group in self.groups for line in group.lines]

    @property
    def vat_cents(self) -> int:
        return sum(self.vat_by_rate.values())

    @property
    def is_empty(self) -> bool:
        return not self.groups and not self.unavailable

    @property
    def has_warnings(self) -> bool:
        return bool(self.unavailable) or any(line.warnings for line in self.lines)


def price_cart(cart: dict[str, int], session: Session, *, month: int | None = None,
               buyer=None) -> CartView:
    """Price the cart from the database in ONE query, whatever its number of lines
    (two for an approved restaurant: its tiers are one more).

    ``month`` (1-12) flags out-of-season products; None skips that check.
    ``buyer``: the user buying (None or anonymous: a visitor), for wholesale prices.
    """
    cart = load(cart)
    view = CartView(wholesale=pricing.is_wholesale_buyer(buyer))
    if not cart:
        return view
    ids = sorted(int(k) for k in cart)
    variants = {
        v.id: v
        for v in session.scalars(
            select(Variant)
            .where(Variant.id.in_(ids))
            # Producer.user is joined eagerly by its relationship (lazy="joined").
            .options(joinedload(Variant.product).joinedload(Product.producer))
        ).unique()
    }
    tiers = pricing.tiers_for(session, ids) if view.wholesale else {}
    groups: dict[int, ProducerGroup] = {}
    vat_by_rate: dict[int, int] = defaultdict(int)
    for variant_id in ids:
        quantity = cart[str(variant_id)]
        variant = variants.get(variant_id)
        line = CartLine(variant_id=variant_id, quantity=quantity)
        if variant is None:
            line.unavailable = DELETED
            view.unavailable.append(line)
            continue
        product = variant.product
        producer = product.producer
        line.product_id = product.id
        line.product_name = product.name
        line.variant_label = variant.label
        line.producer_id = producer.id
        line.producer_name = producer.name
        line.stock = variant.stock
        line.currency = variant.currency
        line.vat_rate_bp = product.vat_rate_bp
        line.net_quantity, line.net_unit = variant.net_quantity, variant.net_unit
        line.allergens, line.allergen_traces = product.allergens, product.allergen_traces
        if not producer.is_public:
            line.unavailable = PRODUCER_HIDDEN
        elif not product.is_active:
            line.unavailable = PRODUCT_INACTIVE
        elif not variant.is_active:
            line.unavailable = VARIANT_INACTIVE
        elif not variant.sold_retail and not view.wholesale:
            line.unavailable = WHOLESALE_ONLY
        if line.unavailable:
            view.unavailable.append(line)
            continue
        line.wholesale = view.wholesale and variant.sold_wholesale
        line.case_size = variant.case_size if line.wholesale else 1
        line.unit_price_cents = pricing.unit_price_cents(
            variant, quantity, tiers.get(variant_id, ()), line.wholesale
        )
        line.total_cents = line.unit_price_cents * quantity
        line.vat_cents = vat_included(line.total_cents, product.vat_rate_bp)
        if line.wholesale:
            line.problem = pricing.case_problem(variant, quantity)
            if line.problem is not None:
                line.unavailable = CASE_SIZE
                view.unavailable.append(line)
                continue
        if variant.stock <= 0:
            line.warnings.append(OUT_OF_STOCK)
        elif quantity > variant.stock:
            line.warnings.append(OVER_STOCK)
        if month is not None and not product.in_season(month):
            line.warnings.append(OUT_OF_SEASON)
        group = groups.get(producer.id)
        if group is None:
            group = groups[producer.id] = ProducerGroup(producer.id, producer.name)
        if line.wholesale:
            group.minimum_cents = producer.wholesale_minimum_cents
        group.lines.append(line)
        group.subtotal_cents += line.total_cents
        group.vat_cents += line.vat_cents
        vat_by_rate[line.vat_rate_bp] += line.vat_cents
        view.total_cents += line.total_cents
    for group in groups.values():
        group.lines.sort(
            key=lambda ln: (ln.product_name.casefold(), ln.variant_label, ln.variant_id)
        )
    view.groups = sorted(groups.values(), key=lambda g: (g.producer_name.casefold(), g.producer_id))
    view.vat_by_rate = dict(sorted(vat_by_rate.items()))
    view.unavailable.sort(key=lambda ln: (ln.product_name.casefold(), ln.variant_id))
    return view
