"""Security headers of every answer: the Content-Security-Policy, no-store for what
shows a person's own data, HSTS over HTTPS.

The policy allows scripts from this site only, plus Stripe.js from where the payment
page loads it (STRIPE_JS_URL: Stripe's own, or localstripe's stand-in) and map tiles
from the tile server (MAP_TILE_URL). No inline script or style: templates carry none
(tests/test_headers.py checks), data for scripts travels in
``<script type="application/json">`` blocks, which are not run.
"""

from __future__ import annotations

from urllib.parse import urlsplit

NONE = "'none'"
# Pages that only show what anyone sees, cached by browsers as they set it.
PUBLIC_FILE_ENDPOINTS = frozenset({"static", "main.media", "main.favicon"})

# What Stripe.js needs beyond the origin it is loaded from (Stripe's CSP guide): its
# API, and the frames of 3-D Secure.
_STRIPE_ORIGIN = "https://js.stripe.com"
_STRIPE_EXTRA = {"connect-src": ("https://api.stripe.com",),
                 "frame-src": ("https://hooks.stripe.com",)}


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, a URL template's ``{s}`` subdomain as
    ``*`` (Leaflet's tile servers, https://{s}.tile.example.org/{z}/{x}/{y}.png)."""
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, stripe_js_url: str, tile_url: str) -> str:
    stripe = origin(stripe_js_url)
    tiles = origin(tile_url)
    sources = {
        "default-src": ["'self'"],
        "script-src": ["'self'", stripe],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", tiles, stripe],
        "font-src": ["'self'"],
        "connect-src": ["'self'", stripe],
        "frame-src": [stripe],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    if stripe == _STRIPE_ORIGIN:
        for directive, extra in _STRIPE_EXTRA.items():
            sources[directive].extend(extra)
    parts = []
    for directive, values in sources.items():
        values = dict.fromkeys(v for v in values if v)  # set, in order
        parts.append(f"{directive} {' '.join(values) or NONE}")
    return "; ".join(parts)


def add_security_headers(response, *, config, endpoint: str | None, signed_in: bool):
    """``endpoint``: the request's; ``signed_in``: whether a person is signed in."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", content_security_policy(
        stripe_js_url=config["STRIPE_JS_URL"], tile_url=config["MAP_TILE_URL"]))
    if config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # A signed-in person's pages and files show their orders, invoices, account: no
    # browser or proxy keeps them (the back button after signing out, a shared
    # computer). A visitor's pages show only what anyone sees (a first visit sets a
    # session for its CSRF token alone): they keep what the view says.
    if (signed_in and endpoint not in PUBLIC_FILE_ENDPOINTS
            and "no-store" not in response.headers.get("Cache-Control", "")):
        response.headers["Cache-Control"] = "no-store"
    return response
