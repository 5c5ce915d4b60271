"""What visitors share, cached: parts of public pages rendered once for everyone who
asks for the same thing (the catalogue's grid for given filters, a farm's products),
in the cache Flask-Caching is configured with (in-process by default, Redis when
CACHE_REDIS_URL is set).

Each entry's key holds the catalogue's version (versions.py), read once
per request: any committed change to what those parts show raises it, so a new
price, a sold-out variant or a new product shows at the next request, on every
worker. What is per person (the header's cart count and name, the CSRF tokens of
forms) is never inside a cached part.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Hashable

from flask import g
from markupsafe import Markup

from marketplace.catalogue import versions
from marketplace.extensions import cache, db

# Markup() below wraps what render_template() gave (autoescaped templates), never
# outside text.
# ruff: noqa: S704

# Hits and misses since the process started (the tests read them).
STATS: Counter[str] = Counter()


def catalogue_version() -> int | None:
    if "catalogue_version" not in g:
        g.catalogue_version = versions.current(db.session)
    return g.catalogue_version


def shared_part(name: str, parts: tuple[Hashable, ...], render: Callable[[], str]) -> Markup:
    """The HTML `render()` gives, from the cache when the same `name` and `parts`
    were rendered at the current catalogue version."""
    version = catalogue_version()
    if version is None:  # no version row: nothing can be invalidated, nothing cached
        return Markup(render())
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = f"{name}:{version}:{digest}"
    html = cache.get(key)
    if html is not None:
        STATS["hits"] += 1
        return Markup(html)
    STATS["misses"] += 1
    html = str(render())
    cache.set(key, html)
    return Markup(html)
