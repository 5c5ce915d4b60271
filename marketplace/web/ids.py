"""Ids typed in a form or a query string.

A URL's ``<int:...>`` is checked by the app's ``int`` converter; an id read from
``request.form`` or ``request.args`` goes through ``parse_id``, and then
``marketplace.models.get_by_id``.
"""

from __future__ import annotations


def parse_id(raw) -> int | None:
    """An id typed in a form or query string ("12"), or None for anything else."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text) or None
