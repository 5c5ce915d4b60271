"""Settings from environment variables, with embedded defaults that work offline.

Every setting is listed in README.md ("Settings"). No secret has a default here:
the secret key comes from SECRET_KEY or from a file generated in instance/.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from limits import parse_many


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"Setting {name} must be an integer, got {raw!r}") from exc


def _limit(name: str, default: str) -> str:
    """A rate limit as Flask-Limiter reads it ("10 per minute", "5/hour;20/day")."""
    value = os.environ.get(name) or default
    try:
        parse_many(value)
    except ValueError as exc:
        raise RuntimeError(f"Setting {name} must be a rate limit such as "
                           f"'10 per minute', got {value!r}") from exc
    return value


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else a random key kept in instance/secret_key."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting together keep one key, not two.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def load_settings(instance_path: str) -> dict:
    instance = Path(instance_path)
    default_db = f"sqlite:///{instance / 'circuit_court.db'}"
    database_url = os.environ.get("DATABASE_URL") or default_db
    # Heroku-style URLs name the old driver; psycopg 3 is the one we install.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    max_upload_mb = _int("MAX_UPLOAD_MB", 5)
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SQLITE_BUSY_TIMEOUT_MS": _int("SQLITE_BUSY_TIMEOUT_MS", 30000),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER") or str(instance / "uploads"),
        # Per-photo limit checked by the form (a clear message next to the field);
        # the request limit is larger so an oversized photo never loses the form.
        "MAX_UPLOAD_BYTES": max_upload_mb * 1024 * 1024,
        "MAX_CONTENT_LENGTH": (max_upload_mb * 2 + 2) * 1024 * 1024,
        "THUMBNAIL_SIZE": _int("THUMBNAIL_SIZE", 400),
        "BABEL_DEFAULT_LOCALE": os.environ.get("DEFAULT_LOCALE", "fr"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE", "Europe/Paris"),
        "LANGUAGES": ("fr", "en"),
        "CATALOGUE_PAGE_SIZE": _int("CATALOGUE_PAGE_SIZE", 24),
        # The cache of what visitors share (marketplace/catalogue/page_cache_views.py): in-process
        # by default, Redis when CACHE_REDIS_URL is set (or any Flask-Caching
        # CACHE_TYPE). Entries are keyed by the catalogue's version, so an edit shows
        # at once; the timeout bounds what depends on the clock (next market dates).
        "CACHE_TYPE": os.environ.get("CACHE_TYPE")
        or ("RedisCache" if os.environ.get("CACHE_REDIS_URL") else "SimpleCache"),
        "CACHE_REDIS_URL": os.environ.get("CACHE_REDIS_URL", ""),
        "CACHE_DEFAULT_TIMEOUT": _int("CACHE_DEFAULT_TIMEOUT", 300),
        "CACHE_KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "cc:"),
        # Map tiles: empty means no tile layer (markers on a plain background, works offline).
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        # How long the links e-mailed to reset a password and to confirm an address
        # work, in seconds (marketplace/accounts/tokens.py).
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 3600),
        "EMAIL_CONFIRMATION_MAX_AGE": _int("EMAIL_CONFIRMATION_MAX_AGE", 3 * 24 * 3600),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # E-mail (marketplace/notifications). An empty MAIL_SERVER queues messages in
        # the outbox without sending them; `make run` sets it to its local aiosmtpd.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 8025),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "") == "1",
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "Circuit Court <no-reply@circuit-court.localhost>"
        ),
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 10),
        # Payments: the platform's commission in basis points (1000 = 10 %), unless a
        # farm has its own rate; how long an unpaid card order holds its items.
        "COMMISSION_BP": _int("COMMISSION_BP", 1000),
        "PAYMENT_HOLD_MINUTES": _int("PAYMENT_HOLD_MINUTES", 30),
        # The nightly money audit runs once a day from this hour (site's time zone).
        "AUDIT_HOUR": _int("AUDIT_HOUR", 2),
        # Standing orders are placed for the dates starting within this many days.
        "STANDING_ORDERS_DAYS_AHEAD": _int("STANDING_ORDERS_DAYS_AHEAD", 7),
        # Links in e-mails: commands run without a request, so the site's address is set.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Stripe (marketplace/payments/gateway.py). No key: card payment is off and no
        # call leaves the machine; `make run` points these at its local localstripe.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        # Empty: Stripe's own API (https://api.stripe.com).
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "STRIPE_TIMEOUT": _int("STRIPE_TIMEOUT", 10),
        "STRIPE_MAX_NETWORK_RETRIES": _int("STRIPE_MAX_NETWORK_RETRIES", 2),
        "STRIPE_WEBHOOK_TOLERANCE": _int("STRIPE_WEBHOOK_TOLERANCE", 300),
        "STRIPE_CONNECT_ENABLED": os.environ.get("STRIPE_CONNECT_ENABLED", "") == "1",
        # Throttling (Flask-Limiter). Counts live in this process unless a storage is
        # named (redis://host:6379/0): then every app server shares them.
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        # Redis unreachable: count in this process meanwhile rather than fail every page.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "circuit-court",
        # Sign-in: per account e-mail and, apart, per client address.
        "RATELIMIT_SIGN_IN": _limit("RATELIMIT_SIGN_IN", "10 per minute"),
        "RATELIMIT_SIGN_UP": _limit("RATELIMIT_SIGN_UP", "10 per hour"),
        "RATELIMIT_PASSWORD_RESET": _limit("RATELIMIT_PASSWORD_RESET", "5 per hour"),
        "RATELIMIT_EMAIL_CONFIRMATION": _limit("RATELIMIT_EMAIL_CONFIRMATION", "10 per hour"),
        "RATELIMIT_API": _limit("RATELIMIT_API", "120 per minute"),
        "RATELIMIT_CHECKOUT": _limit("RATELIMIT_CHECKOUT", "20 per minute"),
        # Reverse proxies in front of the app that set X-Forwarded-For/-Proto: the
        # client's address (for the limits above) is read behind this many of them.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
    }
