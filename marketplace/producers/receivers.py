"""How producers reacts to accounts (accounts/signals.py): a producer account gets its
farm when it is created."""

from __future__ import annotations

from marketplace.accounts import signals
from marketplace.accounts.models import Role

from . import services


def _give_a_farm(user, *, session, **_kw):
    if user.role == Role.PRODUCER:
        services.create_farm_for(session, user)


def connect_receivers() -> None:
    signals.account_created.connect(_give_a_farm, weak=False)
