"""E-mail notifications: an outbox written in the caller's transaction, sent by SMTP
right after it commits (services), the order e-mails (orders), the market day e-mails
buyers subscribe to (market_days, routes), `flask notifications`."""

from __future__ import annotations

from flask import Flask

from marketplace.extensions import db

from . import models as _models  # noqa: F401 - the outbox table in the metadata
from .services import listen


def init_app(app: Flask) -> None:
    """Send queued e-mails right after the transaction that queued them commits."""
    listen(db.session)
