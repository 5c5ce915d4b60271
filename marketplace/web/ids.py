"""Ids and page numbers typed in a form or a query string.

A URL's ``<int:...>`` is checked by the app's ``int`` converter; an id read from
``request.form`` or ``request.args`` goes through ``parse_id`` (or ``id_arg`` for a
query string), and then ``marketplace.models.get_by_id``; a page number through
``page_arg``. None of them lets a number past what the databases store reach a query.
"""

from __future__ import annotations

from flask import abort, request

MAX_PAGE = 10_000  # an offset the databases take, whatever ?page= says


def parse_id(raw) -> int | None:
    """An id typed in a form or query string ("12"), or None for anything else."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text) or None


def id_arg(name: str) -> int | None:
    """``?name=ID``: None when it is absent or empty; anything else that is no id
    (a word, a negative or a 20-digit number) names nothing: 404."""
    raw = request.args.get(name, "")
    if not raw.strip():
        return None
    ident = parse_id(raw)
    if ident is None:
        abort(404)
    return ident


def page_arg(name: str = "page", last: int = MAX_PAGE) -> int:
    """``?page=N`` from 1 to ``last``: 1 for what is no page number, ``last`` past it
    (a page beyond the end lists nothing)."""
    return min(parse_id(request.args.get(name)) or 1, last)
