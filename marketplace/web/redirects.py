"""Redirects to a target the request names (``?next=``, a hidden form field).

Only a path on this site is followed; anything else is dropped, so a link cannot
send a person elsewhere after signing in or choosing a place.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a local path ("/catalogue?page=2"), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
