"""Throttling the views share (Flask-Limiter, ``marketplace.extensions.limiter``): each
limit is read from its setting when a request comes, and counted per some key.

    @limiter.limit(setting("RATELIMIT_SIGN_UP"), methods=["POST"])

counts per client address (the limiter's default key); ``key_func=by_email_field`` per
account e-mail typed in the form; ``key_func=by_account_or_address`` per signed-in
person. A request over a limit gets a 429 with Retry-After (marketplace/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address
from flask_login import current_user


def setting(name: str) -> Callable[[], str]:
    """The limit named by a RATELIMIT_* setting, read per request (tests change it)."""
    return lambda: current_app.config[name]


def by_email_field() -> str:
    """The account an e-mail field names, however it is typed (case, spaces)."""
    return "e-mail:" + (request.form.get("email") or "").strip().lower()


def by_account_or_address() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()
