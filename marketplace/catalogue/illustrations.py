"""Category illustrations (Fluent Emoji Flat, vendored by `make vendor`): what a product
or a farm shows until it has a photo of its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from flask import url_for

from marketplace.catalogue.models import Category, Product

FOLDER = "vendor/fluent-emoji-flat"
# Category slug -> icon name; the Makefile's ILLUSTRATIONS lists the same files.
BY_CATEGORY = {
    "vegetables": "carrot",
    "fruit": "red-apple",
    "dairy": "glass-of-milk",
    "cheese": "cheese-wedge",
    "meat": "cut-of-meat",
    "poultry": "poultry-leg",
    "fish": "fish",
    "eggs": "egg",
    "bread": "baguette-bread",
    "honey": "honey-pot",
    "drinks": "beverage-box",
    "grocery": "jar",
}
# A category added later, or a farm with nothing on sale yet.
FALLBACK = "basket"
FAVICON = "seedling"


def illustration_file(slug: str | None) -> str:
    """The file under static/ that illustrates the category with this slug."""
    return f"{FOLDER}/{BY_CATEGORY.get(slug or '', FALLBACK)}.svg"


def favicon_file() -> str:
    return f"{FOLDER}/{FAVICON}.svg"


def illustration_url(category: Category | str | None) -> str:
    slug = category.slug if isinstance(category, Category) else category
    return url_for("static", filename=illustration_file(slug))


def main_category(products: Iterable[Product]) -> Category | None:
    """The category most of these products are in (the first in the shared order on a tie)."""
    counts = Counter(product.category for product in products)
    if not counts:
        return None
    return min(counts, key=lambda category: (-counts[category], category.position, category.id))
