"""Farm profiles and where a farm is. Services flush; views commit."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import SelectPagination
from geopy.exc import GeopyError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import Role, User
from marketplace.geo import services as geo
from marketplace.producers.models import Label, Producer

# A pin farther than this from its commune is a slip (a dropped minus sign, latitude
# and longitude swapped), not a farm on the commune's edge.
NEAR_COMMUNE_KM = 50
# A street address the geocoder places farther than this from the commune is another
# street of the same name elsewhere: the commune's point is kept.
NEAR_ADDRESS_KM = 20
RADIUS_ZERO = _l("With a delivery radius of 0 km your farm would no longer appear in "
                 "searches: give at least 1 km.")


class ProfileRefused(ValueError):
    """A change that would take a public farm out of the searches."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class FarmLocation:
    """Where a farm is, ready for update_profile: `geocoded` when the point is the
    geocoder's (the farmer should check the pin), not one the farmer gave."""

    latitude: float
    longitude: float
    commune: str
    postcode: str
    place: geo.PlaceInfo | None = None
    geocoded: bool = False


class LocationProblem(Exception):
    """Why a farm cannot be placed: `reason` is missing, unknown, ambiguous (pick one of
    `choices`) or too_far (the point is `distance_km` from `place`)."""

    def __init__(self, reason: str, *, choices=(), place=None, distance_km: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.choices = tuple(choices)
        self.place = place
        self.distance_km = distance_km


def create_farm_for(session: Session, user: User, name: str | None = None) -> Producer:
    producer = Producer(user_id=user.id, name=name or user.display_name)
    session.add(producer)
    session.flush()
    return producer


def farm_of(session: Session, user: User) -> Producer | None:
    return session.scalar(select(Producer).where(Producer.user_id == user.id))


def all_labels(session: Session) -> list[Label]:
    return list(session.scalars(select(Label).order_by(Label.code)))


def update_profile(session: Session, producer: Producer, *, label_ids: list[int], **fields) -> None:
    """Raises ProfileRefused for a change that would hide a public farm from the
    searches: its location removed, or a delivery radius of 0."""
    for key in fields:
        if not hasattr(Producer, key):
            raise AttributeError(key)
    if producer.is_public:
        after = {key: fields.get(key, getattr(producer, key))
                 for key in ("latitude", "longitude", "delivery_radius_km")}
        if after["latitude"] is None or after["longitude"] is None:
            raise ProfileRefused(_l("Your farm needs a location: without one it would no "
                                    "longer appear in searches."))
        if after["delivery_radius_km"] < 1:
            raise ProfileRefused(RADIUS_ZERO)
    for key, value in fields.items():
        setattr(producer, key, value)
    wanted = set(label_ids)
    producer.labels = [label for label in all_labels(session) if label.id in wanted]
    session.flush()


def is_public():
    """The criterion for a public farm (its account approved by an admin), as an
    EXISTS on the producer alone: usable in any WHERE, radius searches included."""
    return Producer.user.has(User.approved_at.is_not(None))


def public_producers_query():
    return (
        select(Producer)
        .join(Producer.user)
        .where(User.approved_at.is_not(None))
    )


def list_public_producers(session: Session, page: int, per_page: int):
    stmt = (
        public_producers_query()
        .options(selectinload(Producer.labels))
        .order_by(Producer.name, Producer.id)
    )
    # What db.paginate does, on the session given (no cap on per_page, as there).
    return SelectPagination(select=stmt, session=session, page=page, per_page=per_page,
                            max_per_page=None, error_out=False)


def get_public_producer(session: Session, producer_id: int) -> Producer | None:
    return session.scalar(
        public_producers_query()
        .where(Producer.id == producer_id)
        .options(selectinload(Producer.labels))
    )


def producers_serving(lat, lon, *, session: Session, where=(), limit: int | None = None,
                      options=()):
    """Producers whose own delivery radius reaches (lat, lon), nearest first (geo hits)."""
    return geo.reaching(Producer, Producer.delivery_radius_km, lat, lon, where=where,
                        limit=limit, session=session, options=options)


def farms_of(session: Session, users) -> dict[int, Producer]:
    """user id -> farm, for the producer accounts among `users` (one query)."""
    ids = [u.id for u in users if u.role == Role.PRODUCER]
    if not ids:
        return {}
    return {farm.user_id: farm
            for farm in session.scalars(select(Producer).where(Producer.user_id.in_(ids)))}


def location_problem_for_approval(session: Session, user: User, details: dict | None = None):
    """Why a producer account cannot be approved yet (its farm has no location, so it
    would be public yet in no search), or None. ``details``: ``farms_of`` users
    including this one (the approvals page has them), read here if not given."""
    if user.role != Role.PRODUCER:
        return None
    farm = (details if details is not None else farms_of(session, [user])).get(user.id)
    if farm is None or farm.latitude is None or farm.longitude is None:
        return _l("%(name)s has not placed its farm yet (commune or map on its profile): "
                  "it cannot be approved before.", name=user.display_name)
    return None


def _same_point(a, b) -> bool:
    return abs(a[0] - b[0]) < 1e-7 and abs(a[1] - b[1]) < 1e-7


def _chosen(resolution, place_id, reference):
    """The place a resolution settles on: the one found, the one the farmer picked
    among the homonyms or suggestions, or the only homonym near the farm's point."""
    if resolution.found:
        return resolution.place
    if place_id is not None:
        for option in (*resolution.candidates, *resolution.suggestions):
            if option.place_id == place_id:
                return option
    if resolution.ambiguous and reference is not None:
        near = [c for c in resolution.candidates
                if geo.distance_km(reference, (c.latitude, c.longitude)) <= NEAR_COMMUNE_KM]
        if len(near) == 1:
            return near[0]
    return None


def _address_point(geocoder, address: str, postcode: str, place) -> tuple[float, float] | None:
    """The street address's point from a geocoder that knows streets (the offline
    gazetteer knows communes only), if it lies in the commune's area."""
    if not address or getattr(geocoder, "is_gazetteer", False):
        return None
    code = postcode or (place.postcodes[0] if place.postcodes else "")
    try:
        found = geocoder.geocode(f"{address}, {code} {place.name}".strip(), exactly_one=True)
    except GeopyError:  # the geocoder logged it; the commune's point will do
        return None
    if found is None:
        return None
    point = (float(found.latitude), float(found.longitude))
    if geo.distance_km(point, (place.latitude, place.longitude)) > NEAR_ADDRESS_KM:
        return None
    return point


def locate_farm(session: Session, geocoder, farm: Producer, *, address: str, postcode: str,
                commune: str, latitude: float | None, longitude: float | None,
                place_id: int | None = None) -> FarmLocation:
    """Where the farm is, from its profile form. Raises LocationProblem.

    A point the farmer gave (a moved pin, typed coordinates) wins, if it lies within
    NEAR_COMMUNE_KM of the commune. Otherwise the commune (and postcode) is geocoded,
    and the street address too when the geocoder knows streets: a changed commune
    moves the farm there, and emptied coordinates put it back on its commune.
    """
    query = " ".join(part for part in (commune, postcode) if part)
    if not query:
        raise LocationProblem("missing")
    given = (latitude, longitude) if latitude is not None and longitude is not None else None
    stored = ((farm.latitude, farm.longitude)
              if farm.latitude is not None and farm.longitude is not None else None)
    same_place = stored is not None and (commune, postcode) == (farm.commune, farm.postcode)
    moved = given is not None and (stored is None or not _same_point(given, stored))
    if same_place and given is not None and not moved:
        return FarmLocation(*stored, commune=commune, postcode=postcode)

    resolution = geo.resolve_place(query, session=session, geocoder=geocoder)
    place = _chosen(resolution, place_id, given or (stored if same_place else None))
    if place is None:
        if same_place and moved and resolution.unknown:
            # A commune the gazetteer does not know, placed by hand before: still by hand.
            return FarmLocation(*given, commune=commune, postcode=postcode)
        if resolution.ambiguous:
            raise LocationProblem("ambiguous", choices=resolution.candidates)
        raise LocationProblem("unknown", choices=resolution.suggestions)

    if place.place_id is not None:  # the gazetteer's spelling, and its only postcode
        commune = place.name
        if not postcode and len(place.postcodes) == 1:
            postcode = place.postcodes[0]
    if moved:
        km = geo.distance_km(given, (place.latitude, place.longitude))
        if km > NEAR_COMMUNE_KM:
            raise LocationProblem("too_far", place=place, distance_km=km)
        return FarmLocation(*given, commune=commune, postcode=postcode, place=place)
    point = (_address_point(geocoder, address, postcode, place)
             or (place.latitude, place.longitude))
    return FarmLocation(*point, commune=commune, postcode=postcode, place=place, geocoded=True)


def place_label(session: Session, farm: Producer) -> str:
    """'Ploemeur (56)': the farm's commune with its département, from the gazetteer
    (the homonym nearest the farm), or the commune as typed."""
    query = " ".join(part for part in (farm.commune, farm.postcode) if part)
    if not query or farm.latitude is None or farm.longitude is None:
        return farm.commune
    resolution = geo.resolve_place(query, session=session)
    options = [resolution.place] if resolution.found else list(resolution.candidates)
    if not options:
        return farm.commune
    here = (farm.latitude, farm.longitude)
    nearest = min(options, key=lambda p: geo.distance_km(here, (p.latitude, p.longitude)))
    if geo.distance_km(here, (nearest.latitude, nearest.longitude)) > NEAR_COMMUNE_KM:
        return farm.commune
    return nearest.label
