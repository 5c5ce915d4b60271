"""Stripe's events: stored by event id (unique) in the same transaction as their
effect, so a repeated event changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    StripeEvent,
)
from .card import apply_intent
from .refunds import apply_refund_object
from .stripe_objects import get as _get

log = logging.getLogger(__name__)


def handle_event(session: Session, event, config: Mapping, *, now: datetime) -> str:
    """Apply a verified Stripe event once: its id is stored in the same transaction as
    its effect (a savepoint guards the insert), so a repeat changes nothing."""
    event_id = _get(event, "id")
    event_type = str(_get(event, "type", ""))
    obj = _get(_get(event, "data", {}), "object", {})
    try:
        with session.begin_nested():
            session.add(StripeEvent(id=event_id, type=event_type[:80],
                                    object_id=str(_get(obj, "id", ""))[:255], received_at=now))
    except IntegrityError:
        return "duplicate"
    if event_type.startswith("payment_intent."):
        return apply_intent(session, obj, config, now=now)
    if event_type.startswith("refund.") or event_type == "charge.refund.updated":
        return apply_refund_object(session, obj, now=now)
    return "ignored"
