"""What relays keep of a person, for the account page's export and deletion
(accounts/signals.py): a neighbour's details (the point, phone, postal address,
consent) are part of their data export once the account is theirs, and deleting it
clears the phone and address (the consent stays: who recorded what, and when); a
relay whose account goes is relay nowhere any more."""

from __future__ import annotations

from sqlalchemy import select, update

from marketplace.accounts import signals as account_signals

from .models import Neighbour, RelayAssignment


def _iso(value):
    return value.isoformat() if value is not None else None


def _exported(user, *, session, **_kw):
    neighbour = session.scalar(select(Neighbour).where(Neighbour.user_id == user.id))
    if neighbour is None:
        return None
    return {"relay_neighbour": {
        "pickup_point": neighbour.pickup_point.name,
        "phone": neighbour.phone_e164,
        "postal_address": neighbour.postal_address,
        "consent_on": _iso(neighbour.consent_on),
        "consent_recorded_by": neighbour.consent_by.display_name
        if neighbour.consent_by else None,
        "consent_purpose": neighbour.consent_purpose,
        "registered_at": _iso(neighbour.created_at),
        "handed_over_at": _iso(neighbour.handed_over_at),
    }}


def _deleting(user, *, session, now, **_kw):
    session.execute(update(Neighbour).where(Neighbour.user_id == user.id)
                    .values(phone_e164=None, phone_display=None, postal_address=""))
    session.execute(update(RelayAssignment).where(RelayAssignment.user_id == user.id,
                                                  RelayAssignment.until.is_(None))
                    .values(until=now))


def connect_receivers() -> None:
    account_signals.data_exported.connect(_exported, weak=False)
    account_signals.account_deleting.connect(_deleting, weak=False)
