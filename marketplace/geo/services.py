"""What the other domains use of geo: distances and radius searches (distance.py),
geocoders (geocoders.py: the offline gazetteer, Nominatim) and place resolution
(resolver.py: a commune or postcode typed by a person)."""

from __future__ import annotations

from .distance import (
    BoundingBox,
    Hit,
    bounding_box,
    candidate_query,
    distance_km,
    geodesic_km,
    reaching,
    search_radius,
    validate_point,
    validate_radius,
    within_km,
    within_radius_ids,
)
from .geocoders import geocoder_for
from .resolver import PlaceInfo, Resolution, ResolutionStatus, resolve_place

__all__ = [
    "BoundingBox", "Hit", "PlaceInfo", "Resolution", "ResolutionStatus", "bounding_box",
    "candidate_query", "distance_km", "geocoder_for", "geodesic_km", "reaching",
    "resolve_place", "search_radius", "validate_point", "validate_radius",
    "within_km", "within_radius_ids",
]
