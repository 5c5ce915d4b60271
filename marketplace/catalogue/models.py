from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalogue.food import (
    ALL_ALLERGENS,
    MAX_NET_QUANTITY,
    NetUnit,
    format_net_quantity,
    format_reference_price,
    mask_allergens,
)
from marketplace.extensions import db
from marketplace.models import CURRENCY, TimestampMixin, enum_column
from marketplace.producers.models import Producer

ALL_MONTHS = (1 << 12) - 1  # bit 0 = January ... bit 11 = December

# VAT rates in basis points that French food sales use (5.5 %, 10 %, 20 %, 0 for
# producers exempt under the "franchise en base").
VAT_RATES_BP = (0, 550, 1000, 2000)

MAX_PRICE_CENTS = 1_000_000  # 10,000 EUR for one unit is beyond any farm product
MAX_STOCK = 1_000_000


class SaleMode(enum.StrEnum):
    """Who a variant is sold to: households (retail), approved restaurants
    (wholesale, at tier prices and by the case) or both."""

    RETAIL = "retail"
    WHOLESALE = "wholesale"
    BOTH = "both"


def months_to_mask(months) -> int:
    mask = 0
    for m in months:
        m = int(m)
        if not 1 <= m <= 12:
            raise ValueError(f"month {m} out of range")
        mask |= 1 << (m - 1)
    return mask


def mask_to_months(mask: int) -> list[int]:
    return [m for m in range(1, 13) if mask & (1 << (m - 1))]


class Category(db.Model):
    """Shared categories (vegetables, fruit, dairy...), so buyers filter one list."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name_fr: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(default=0)

    def name_for(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_fr


class Product(TimestampMixin, db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(f"season_months >= 1 AND season_months <= {ALL_MONTHS}", name="season"),
        CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat"),
        CheckConstraint(f"allergens >= 0 AND allergens <= {ALL_ALLERGENS}", name="allergens"),
        CheckConstraint(f"allergen_traces >= 0 AND allergen_traces <= {ALL_ALLERGENS}",
                        name="allergen_traces"),
        # The catalogue's order (name, id) for each of its filters, so that a page
        # reads a few index entries instead of sorting every match
        # (tests/test_catalogue_plans.py). The (is_active, producer_id) prefix also
        # serves the public listings' counts of a farm's active products.
        Index("ix_products_active_name", "is_active", "name", "id"),
        Index("ix_products_active_category_name", "is_active", "category_id", "name", "id"),
        Index("ix_products_active_producer_name", "is_active", "producer_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(
        ForeignKey("producers.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    vat_rate_bp: Mapped[int] = mapped_column(default=550)
    season_months: Mapped[int] = mapped_column(default=ALL_MONTHS)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Food information (docs/food-information.md): the regulated allergens it
    # contains and those it may contain as traces, as bit masks of food.Allergen.
    allergens: Mapped[int] = mapped_column(default=0, server_default="0")
    allergen_traces: Mapped[int] = mapped_column(default=0, server_default="0")
    ingredients: Mapped[str] = mapped_column(Text, default="", server_default="")
    storage: Mapped[str] = mapped_column(String(255), default="", server_default="")
    origin: Mapped[str] = mapped_column(String(120), default="", server_default="")
    prepacked: Mapped[bool] = mapped_column(default=False, server_default=sa_false())

    producer: Mapped[Producer] = relationship(back_populates="products")
    category: Mapped[Category] = relationship()
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Variant.position, Variant.id",
    )
    photos: Mapped[list[ProductPhoto]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ProductPhoto.position, ProductPhoto.id",
    )

    @property
    def months(self) -> list[int]:
        return mask_to_months(self.season_months)

    def in_season(self, month: int) -> bool:
        return bool(self.season_months & (1 << (month - 1)))

    @property
    def allergen_list(self):
        return mask_allergens(self.allergens)

    @property
    def trace_list(self):
        return mask_allergens(self.allergen_traces)

    @property
    def active_variants(self) -> list[Variant]:
        return [v for v in self.variants if v.is_active]

    @property
    def in_stock(self) -> bool:
        return any(v.stock > 0 for v in self.active_variants)

    @property
    def min_price_cents(self) -> int | None:
        prices = [v.price_cents for v in self.active_variants]
        return min(prices) if prices else None

    @property
    def cover(self) -> ProductPhoto | None:
        return self.photos[0] if self.photos else None


class Variant(TimestampMixin, db.Model):
    """A way a product is sold: 500 g bag, 1 kg, 5 kg crate, piece, bunch, dozen."""

    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("price_cents > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("case_size >= 1", name="case_size_positive"),
        # The unit goes with the quantity: services.save_variant and the CSV import
        # set both or neither.
        CheckConstraint(f"net_quantity > 0 AND net_quantity <= {MAX_NET_QUANTITY}",
                        name="net_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(60))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    stock: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # Wholesale (see marketplace/wholesale): who may buy it, and the case a
    # restaurant orders by, in variant units (stock and price stay per unit).
    sale_mode: Mapped[SaleMode] = mapped_column(
        enum_column(SaleMode, 10), default=SaleMode.RETAIL, server_default=SaleMode.RETAIL.value
    )
    case_size: Mapped[int] = mapped_column(default=1, server_default="1")
    # Net quantity in the unit's base (grams, millilitres or pieces; see food.py),
    # from which the price per kilogram or litre is computed.
    net_quantity: Mapped[int | None]
    net_unit: Mapped[NetUnit | None] = mapped_column(enum_column(NetUnit, 5))

    product: Mapped[Product] = relationship(back_populates="variants")

    @property
    def unit_price(self) -> str:
        """The price per kilogram or litre, as shown beside the price ("12,40 €/kg")."""
        return format_reference_price(self.price_cents, self.net_quantity, self.net_unit,
                                      self.currency)

    @property
    def net_quantity_text(self) -> str:
        return format_net_quantity(self.net_quantity, self.net_unit)

    @property
    def sold_retail(self) -> bool:
        return self.sale_mode != SaleMode.WHOLESALE

    @property
    def sold_wholesale(self) -> bool:
        return self.sale_mode != SaleMode.RETAIL


class ProductPhoto(TimestampMixin, db.Model):
    __tablename__ = "product_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    thumb_path: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="photos")


class WholesaleTier(db.Model):
    """From ``min_quantity`` units on, a wholesale buyer pays ``unit_price_cents``
    a unit (VAT included, like every price)."""

    __tablename__ = "wholesale_tiers"
    __table_args__ = (
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("unit_price_cents > 0", name="price_positive"),
        UniqueConstraint("variant_id", "min_quantity", name="uq_wholesale_tiers_variant_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("variants.id", ondelete="CASCADE"), index=True
    )
    min_quantity: Mapped[int]
    unit_price_cents: Mapped[int]

    def __repr__(self) -> str:
        return f"<WholesaleTier variant={self.variant_id} from {self.min_quantity}>"


class CatalogueVersion(db.Model):
    """One row (id 1): a number every committed change to what the public pages show
    raises (catalogue/versions.py). Cached parts of those pages are keyed by it, in
    the database so that every worker and host sees the same number."""

    __tablename__ = "catalogue_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
