"""The buyer's location: kept in the account when signed in, in the session otherwise.

A view-level helper, used only by views: its `session` is Flask's session (the
cookie), not a database session. Views pass it and `current_user` explicitly;
nothing here reads Flask's globals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_RADIUS_KM = 5
MAX_RADIUS_KM = 100
DEFAULT_RADIUS_KM = 30
SESSION_KEY = "buyer_location"


@dataclass(frozen=True)
class BuyerLocation:
    label: str
    latitude: float
    longitude: float
    radius_km: int = DEFAULT_RADIUS_KM


def clamp_radius(radius_km: int | None) -> int:
    if radius_km is None:
        return DEFAULT_RADIUS_KM
    return max(MIN_RADIUS_KM, min(MAX_RADIUS_KM, int(radius_km)))


def current_location(session, user) -> BuyerLocation | None:
    if user is not None and getattr(user, "is_authenticated", False) and user.latitude is not None:
        return BuyerLocation(
            label=user.location_label or "",
            latitude=user.latitude,
            longitude=user.longitude,
            radius_km=clamp_radius(user.search_radius_km),
        )
    data = session.get(SESSION_KEY)
    if not data:
        return None
    try:
        return BuyerLocation(
            label=str(data["label"]),
            latitude=float(data["latitude"]),
            longitude=float(data["longitude"]),
            radius_km=clamp_radius(data.get("radius_km")),
        )
    except (KeyError, TypeError, ValueError):
        session.pop(SESSION_KEY, None)
        return None


def remember_location(session, user, location: BuyerLocation) -> None:
    """Keep the location in the session, and in the account when signed in (caller commits)."""
    session[SESSION_KEY] = asdict(location)
    if user is not None and getattr(user, "is_authenticated", False):
        user.location_label = location.label
        user.latitude = location.latitude
        user.longitude = location.longitude
        user.search_radius_km = location.radius_km
