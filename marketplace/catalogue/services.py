"""Catalogue rules: browsing with filters, and a producer's own products and variants.

Services flush; views commit. Browsing issues a fixed number of queries whatever
the number of rows: one count, one page of products (with producer and category
joined), then one SELECT ... IN each for variants, photos and producer labels.

Its cost does not grow with the catalogue either: the count stops at COUNT_CAP + 1
rows ("more than 1,000 products"), the page number is capped so that OFFSET never
skips more than that, and the order (name, id) is served by an index for every
filter (tests/test_catalogue_plans.py reads the query plans). So a page walks at
most about COUNT_CAP rows of an index, whether the catalogue holds a thousand
products or a million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload, lazyload, selectinload

from marketplace.accounts.models import User
from marketplace.catalogue import food, search
from marketplace.catalogue.market_day import Availability
from marketplace.catalogue.models import Category, Product, ProductPhoto, SaleMode, Variant
from marketplace.producers.models import Label, Producer, producer_labels


class NotFound(LookupError):
    pass


def current_month(now: datetime, tz_name: str) -> int:
    """The month it is at ``now`` on the wall clocks of ``tz_name``."""
    return now.astimezone(ZoneInfo(tz_name)).month


def all_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.slug)))


def all_labels(session: Session) -> list[Label]:
    return list(session.scalars(select(Label).order_by(Label.code)))


@dataclass(frozen=True)
class CatalogueFilters:
    q: str = ""
    category: str = ""
    label: str = ""
    producer_id: int | None = None
    page: int = 1
    # Only these producers (distance matching: within the buyer's radius, or
    # delivering to the chosen pickup point); None means no such restriction.
    producer_ids: frozenset[int] | None = None
    # An approved restaurant also sees products sold to restaurants only.
    wholesale: bool = False
    # Only what can be collected at the buyer's market day (market_day.Availability):
    # its farms, in stock, in season that month.
    available: Availability | None = None
    # Free from these allergens (a food.Allergen bit mask): neither contains them nor
    # may contain traces of them.
    free_from: int = 0

    @property
    def free_from_list(self):
        return food.mask_allergens(self.free_from)


def _with_card_data(stmt):
    # The statement already joins producers and users to filter on approval:
    # contains_eager fills Product.producer from that join instead of joining again.
    return stmt.options(
        contains_eager(Product.producer).contains_eager(Producer.user),
        joinedload(Product.category),
        selectinload(Product.variants),
        selectinload(Product.photos),
        selectinload(Product.producer, Producer.labels),
    )


def sold_retail():
    """A product a household may buy: not one whose variants on sale are all
    wholesale-only (one without variants on sale stays listed, as before)."""
    return ~Product.variants.any(
        (Variant.sale_mode == SaleMode.WHOLESALE) & Variant.is_active.is_(True)
    ) | Product.variants.any(
        (Variant.sale_mode != SaleMode.WHOLESALE) & Variant.is_active.is_(True)
    )


def collectable(available: Availability, *, wholesale: bool):
    """WHERE criteria on Product: collectable at the market day of ``available``."""
    in_stock = Variant.is_active.is_(True) & (Variant.stock > 0)
    if not wholesale:
        in_stock &= Variant.sale_mode != SaleMode.WHOLESALE
    return (
        Product.producer_id.in_(sorted(available.producer_ids)),
        Product.season_months.op("&")(1 << (available.month - 1)) != 0,
        Product.variants.any(in_stock),
    )


def free_from(mask: int):
    """WHERE criterion on Product: none of the allergens of ``mask``, not even as traces
    (docs/food-information.md: a residual test on rows the indexes already chose)."""
    return Product.allergens.op("|")(Product.allergen_traces).op("&")(mask) == 0


def _public_products():
    return (
        select(Product)
        .join(Product.producer)
        .join(Producer.user)
        .where(Product.is_active.is_(True), User.approved_at.is_not(None))
    )


# Beyond this many matching products the catalogue says "more than 1,000" and asks
# for a narrower search: an exact count would visit every matching product.
COUNT_CAP = 1000


class CappedPagination(SelectPagination):
    """A page of a SELECT whose count stops at ``cap`` + 1 rows: ``total`` is exact
    up to ``cap``; above it, ``more`` is true and ``total`` is ``cap`` + 1."""

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @property
    def more(self) -> bool:
        return self.total is not None and self.total > self.cap

    def _query_count(self) -> int:
        shown = len(self.items)
        if 0 < shown < self.per_page or (shown == 0 and self.page == 1):
            # The last page: the rows before it and on it are all there is.
            return min((self.page - 1) * self.per_page + shown, self.cap + 1)
        # The ORDER BY stays: with it the count walks the same index as the page.
        capped = (self._query_args["select"].options(lazyload("*"))
                  .limit(self.cap + 1).subquery())
        return self._query_args["session"].scalar(select(func.count()).select_from(capped))


def last_page(per_page: int) -> int:
    """The deepest page browse() reads: OFFSET stays below COUNT_CAP + per_page."""
    return max(1, math.ceil((COUNT_CAP + 1) / per_page))


def browse(session: Session, filters: CatalogueFilters, per_page: int):
    stmt = _public_products()
    if filters.category:
        stmt = stmt.join(Product.category).where(Category.slug == filters.category)
    if filters.label:
        stmt = stmt.where(
            exists()
            .where(producer_labels.c.producer_id == Product.producer_id)
            .where(producer_labels.c.label_id == Label.id)
            .where(Label.code == filters.label)
        )
    if filters.producer_id is not None:
        stmt = stmt.where(Product.producer_id == filters.producer_id)
    if filters.producer_ids is not None:
        stmt = stmt.where(Product.producer_id.in_(sorted(filters.producer_ids)))
    if not filters.wholesale:
        stmt = stmt.where(sold_retail())
    if filters.available is not None:
        stmt = stmt.where(*collectable(filters.available, wholesale=filters.wholesale))
    if filters.free_from:
        stmt = stmt.where(free_from(filters.free_from))
    # Text: an indexed substring match on the product's or the farm's name, ignoring
    # case and accents; every character typed is plain text (see search.py).
    matches = search.name_matches(filters.q, session.get_bind().dialect.name)
    if matches is not None:
        stmt = stmt.where(matches)
    stmt = _with_card_data(stmt.order_by(Product.name, Product.id))
    # What db.paginate does, on the session given, with the count capped and the
    # page number too (a deeper page shows the last one reachable).
    return CappedPagination(select=stmt, session=session,
                            page=min(filters.page, last_page(per_page)),
                            per_page=per_page, max_per_page=None, error_out=False)


def get_public_product(session: Session, product_id: int) -> Product | None:
    return session.scalar(_with_card_data(_public_products().where(Product.id == product_id)))


def products_of_producer(session: Session, producer_id: int, *, wholesale: bool = False,
                         available: Availability | None = None) -> list[Product]:
    stmt = _public_products().where(Product.producer_id == producer_id)
    if not wholesale:
        stmt = stmt.where(sold_retail())
    if available is not None:
        stmt = stmt.where(*collectable(available, wholesale=wholesale))
    stmt = _with_card_data(stmt.order_by(Product.name))
    return list(session.scalars(stmt).unique())


# A producer's own catalogue ----------------------------------------------------

def own_products(session: Session, producer: Producer) -> list[Product]:
    stmt = (
        select(Product)
        .where(Product.producer_id == producer.id)
        .options(
            joinedload(Product.category),
            selectinload(Product.variants),
            selectinload(Product.photos),
        )
        .order_by(Product.name, Product.id)
    )
    return list(session.scalars(stmt).unique())


def get_own_product(session: Session, producer: Producer, product_id: int) -> Product:
    product = session.scalar(
        select(Product).where(Product.id == product_id, Product.producer_id == producer.id)
    )
    if product is None:
        raise NotFound(product_id)
    return product


def get_own_variant(session: Session, producer: Producer, product_id: int,
                    variant_id: int) -> Variant:
    variant = session.scalar(
        select(Variant)
        .join(Variant.product)
        .where(
            Variant.id == variant_id,
            Variant.product_id == product_id,
            Product.producer_id == producer.id,
        )
    )
    if variant is None:
        raise NotFound(variant_id)
    return variant


def get_own_photo(session: Session, producer: Producer, product_id: int,
                  photo_id: int) -> ProductPhoto:
    photo = session.scalar(
        select(ProductPhoto)
        .join(ProductPhoto.product)
        .where(
            ProductPhoto.id == photo_id,
            ProductPhoto.product_id == product_id,
            Product.producer_id == producer.id,
        )
    )
    if photo is None:
        raise NotFound(photo_id)
    return photo


def save_product(session: Session, producer: Producer, product: Product | None,
                 **fields) -> Product:
    if product is None:
        product = Product(producer_id=producer.id)
        session.add(product)
    elif product.producer_id != producer.id:
        raise NotFound(product.id)
    for key, value in fields.items():
        setattr(product, key, value)
    session.flush()
    return product


def save_variant(session: Session, product: Product, variant: Variant | None, **fields) -> Variant:
    if variant is None:
        position = max((v.position for v in product.variants), default=-1) + 1
        variant = Variant(product=product, position=position)
        session.add(variant)
    for key, value in fields.items():
        setattr(variant, key, value)
    session.flush()
    return variant


def add_photo(session: Session, product: Product, path: str, thumb_path: str) -> ProductPhoto:
    position = max((p.position for p in product.photos), default=-1) + 1
    photo = ProductPhoto(product=product, path=path, thumb_path=thumb_path, position=position)
    session.add(photo)
    session.flush()
    return photo


def delete(session: Session, obj) -> None:
    session.delete(obj)
    session.flush()


def count_products(session: Session, producer_id: int) -> int:
    """How many products the farm has in its catalogue (one query)."""
    return session.scalar(
        select(func.count()).select_from(Product).where(Product.producer_id == producer_id)
    )
