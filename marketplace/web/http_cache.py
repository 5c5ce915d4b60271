"""What browsers and proxies may keep.

Static files: url_for("static", ...) adds ``?v=<hash of the file's content>``, so
a changed file has a new URL, and a response to such a URL may be kept a year
(``immutable``).

Public pages: a response to an anonymous visitor who has no session (no cookie
sent, none set) is the same for every such visitor. It gets an ETag and
``Cache-Control: public, no-cache``: a browser or proxy keeps it but asks again
each time, and an unchanged page is answered ``304 Not Modified`` without its
body. Anything else (signed in, a cart in the session) is left to the other
headers the app sets: those pages are per person.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, request, session
from flask_login import current_user

YEAR = 365 * 24 * 3600
_CACHEABLE_TYPES = {"text/html", "application/json"}


def register(app: Flask) -> None:
    hashes: dict[str, tuple[float, str]] = {}
    static = Path(app.static_folder)

    def content_hash(filename: str) -> str | None:
        path = static / filename
        try:
            if not path.is_file():  # a folder (Leaflet's images/), or missing
                return None
            mtime = path.stat().st_mtime
        except OSError:
            return None
        known = hashes.get(filename)
        if known is None or known[0] != mtime:
            known = hashes[filename] = (
                mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
        return known[1]

    @app.url_defaults
    def _static_version(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = content_hash(values["filename"])
            if version is not None:
                values["v"] = version

    @app.after_request
    def _http_cache(response):
        if request.endpoint == "static":
            if request.args.get("v") and response.status_code in (200, 304):
                response.cache_control.public = True
                response.cache_control.max_age = YEAR
                response.cache_control.immutable = True
            return response
        if (request.method in ("GET", "HEAD") and response.status_code == 200
                and response.mimetype in _CACHEABLE_TYPES
                and not response.direct_passthrough
                and "Set-Cookie" not in response.headers
                and app.config["SESSION_COOKIE_NAME"] not in request.cookies
                and not session.modified
                and not current_user.is_authenticated
                and not response.cache_control.no_store):
            response.cache_control.public = True
            response.cache_control.no_cache = True
            response.add_etag()
            response.make_conditional(request)
        return response
