"""Restaurant accounts: their business details.

Who buys at wholesale prices, tier prices, cases and farm minimums are the
catalogue's pricing rules (catalogue/pricing.py); SIRET and VAT numbers are
checked by accounts/business_ids.py.

Plain functions with explicit arguments; they flush, never commit, and never
read ``request`` or ``current_user``.

"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User

from .models import RestaurantProfile

# Restaurant accounts ---------------------------------------------------------------------------

def profile_of(session: Session, user: User) -> RestaurantProfile | None:
    return session.scalar(select(RestaurantProfile).where(RestaurantProfile.user_id == user.id))


PROFILE_FIELDS = frozenset({
    "business_name", "siret", "vat_number", "address", "postcode", "commune",
    "latitude", "longitude", "delivery_hours",
})


def save_profile(session: Session, user: User, **fields) -> RestaurantProfile:
    """Create or update the restaurant's profile. Payment terms are not among the
    fields: only an admin grants them."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise AttributeError(", ".join(sorted(unknown)))
    if user.role != Role.RESTAURANT:
        raise ValueError("not a restaurant account")
    profile = profile_of(session, user)
    if profile is None:
        profile = RestaurantProfile(user_id=user.id)
        session.add(profile)
    for key, value in fields.items():
        setattr(profile, key, value)
    session.flush()
    return profile


# Approval -------------------------------------------------------------------------------------

def restaurant_profiles_of(session: Session, users) -> dict[int, RestaurantProfile]:
    """user id -> RestaurantProfile of the restaurants among ``users``: one query."""
    ids = [user.id for user in users if user.role == Role.RESTAURANT]
    if not ids:
        return {}
    return {profile.user_id: profile for profile in session.scalars(
        select(RestaurantProfile).where(RestaurantProfile.user_id.in_(ids)))}


def approval_problem(session: Session, user: User, profiles: dict | None = None):
    """Why a restaurant account cannot be approved yet, or None. A restaurant is
    approved as a business (wholesale prices, invoices carrying its identity): it needs
    its business name and SIRET first. ``profiles``: ``restaurant_profiles_of`` users
    including this one, read here if not given."""
    if user.role != Role.RESTAURANT:
        return None
    if profiles is None:
        profiles = restaurant_profiles_of(session, [user])
    profile = profiles.get(user.id)
    if profile is None or not (profile.business_name or "").strip() \
            or not (profile.siret or "").strip():
        return _l("%(name)s has not given its business name and SIRET yet "
                  "(its business details page): it cannot be approved before.",
                  name=user.display_name)
    return None
