"""Reading Stripe's objects, which arrive as dicts (webhooks, localstripe) or as the
stripe library's objects."""

from __future__ import annotations


def get(obj, key, default=None):
    """A field of a Stripe object or of a plain dict (tests, stored payloads)."""
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def amount(intent) -> int | None:
    """What an intent is for, in cents (received if any); None when unreadable."""
    # Stripe sends integers; localstripe answers an updated amount as a string.
    value = get(intent, "amount_received") or get(intent, "amount")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
