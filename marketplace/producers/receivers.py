"""How producers reacts to accounts (accounts/signals.py): a producer account gets its
farm when it is created, and is approved only once its farm is placed."""

from __future__ import annotations

from marketplace.accounts import signals
from marketplace.accounts.models import Role

from . import services


def _give_a_farm(user, *, session, **_kw):
    if user.role == Role.PRODUCER:
        services.create_farm_for(session, user)


def _approval_problem(user, *, session, details=None, **_kw):
    return services.location_problem_for_approval(session, user, details)


def _approval_details(users, *, session, **_kw):
    return services.farms_of(session, users)


def connect_receivers() -> None:
    signals.account_created.connect(_give_a_farm, weak=False)
    signals.approval_checked.connect(_approval_problem, weak=False)
    signals.approval_details.connect(_approval_details, weak=False)
