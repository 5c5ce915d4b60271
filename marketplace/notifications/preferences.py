"""Which notices a person may switch off, and their choices (/account/notices).

Required, never switched off: what is told about a person's own orders and money
(confirmed, ready, cancelled, moved, refunds), a restaurant's invoices and credit
notes (documents it must keep), an account's approval or refusal, and the account's
security e-mails. Optional: a farm's new orders (each one, or one daily digest at an
hour it chooses) and its summary of a slot at the cut-off; a buyer's reminder the day
before collecting. Market day e-mails are
chosen per pickup point, on the point's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User

from .models import NoticePreference

FARM_NEW_ORDER = "farm_new_order"
FARM_SLOT_SUMMARY = "farm_slot_summary"
BUYER_REMINDER = "buyer_reminder"
BUYERS = frozenset({Role.HOUSEHOLD, Role.RESTAURANT})


@dataclass(frozen=True)
class Kind:
    name: str
    label: object  # a lazy string
    roles: frozenset[Role]
    digest: bool = False  # may be one daily digest instead


OPTIONAL = (
    Kind(FARM_NEW_ORDER, _l("A new order for my farm"), frozenset({Role.PRODUCER}),
         digest=True),
    Kind(FARM_SLOT_SUMMARY, _l("At each cut-off, what to bring, with the pick list (CSV)"),
         frozenset({Role.PRODUCER})),
    Kind(BUYER_REMINDER, _l("The day before I collect, a reminder of my order"), BUYERS),
)
REQUIRED = (
    (_l("My orders: confirmed, ready, cancelled, moved, refunded"), None),
    (_l("Invoices and credit notes (PDF): documents a business must keep"),
     frozenset({Role.RESTAURANT})),
    (_l("My account's approval or refusal"), frozenset({Role.PRODUCER, Role.RESTAURANT})),
    (_l("My account's security: password, e-mail address"), None),
)


def optional_for(user: User) -> tuple[Kind, ...]:
    return tuple(kind for kind in OPTIONAL if user.role in kind.roles)


def required_for(user: User) -> list:
    return [label for label, roles in REQUIRED if roles is None or user.role in roles]


def preference_of(session: Session, user_id: int, kind: str) -> NoticePreference | None:
    return session.scalar(select(NoticePreference).where(
        NoticePreference.user_id == user_id, NoticePreference.kind == kind))


def wants(session: Session, user_id: int, kind: str) -> bool:
    preference = preference_of(session, user_id, kind)
    return preference is None or preference.enabled


def digest_hour(session: Session, user_id: int, kind: str = FARM_NEW_ORDER) -> int | None:
    """The local hour of the daily digest the person chose, or None (each one)."""
    preference = preference_of(session, user_id, kind)
    return preference.digest_hour if preference is not None and preference.enabled else None


def choose(session: Session, user: User, kind: str, *, enabled: bool,
           digest_hour: int | None = None, now: datetime) -> NoticePreference:
    """Store one choice. ValueError for a kind this person cannot choose or an hour
    outside 0-23."""
    known = {k.name: k for k in optional_for(user)}
    if kind not in known:
        raise ValueError(f"{kind} cannot be chosen by this account")
    if digest_hour is not None and (not known[kind].digest or not 0 <= digest_hour <= 23):
        raise ValueError("no such digest hour")
    preference = preference_of(session, user.id, kind)
    if preference is None:
        preference = NoticePreference(user_id=user.id, kind=kind)
        session.add(preference)
    preference.enabled = enabled
    preference.digest_hour = digest_hour
    preference.updated_at = now
    session.flush()
    return preference


def switched_off(session: Session, user_ids, kind: str) -> set[int]:
    """Those of ``user_ids`` who switched ``kind`` off (one query)."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    return set(session.scalars(select(NoticePreference.user_id).where(
        NoticePreference.kind == kind, NoticePreference.enabled.is_(False),
        NoticePreference.user_id.in_(ids))))
