"""Restaurant accounts: their business details.

Who buys at wholesale prices, tier prices, cases and farm minimums are the
catalogue's pricing rules (catalogue/pricing.py); SIRET and VAT numbers are
checked by accounts/business_ids.py.

Plain functions with explicit arguments; they flush, never commit, and never
read ``request`` or ``current_user``.

"""

from __future__ import annotations

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


