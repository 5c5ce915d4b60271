"""Distances and radius searches, exact on the WGS-84 ellipsoid.

Radius search (`search_radius`, `within_radius_ids`, `reaching`) runs in
three steps:

1. SQL: an indexed bounding box on (latitude, longitude) that surely holds every
   point within the radius (see `bounding_box`), selecting only id, latitude and
   longitude (a covering index scan on SQLite).
2. Python: the central angle to each candidate (haversine on the unit sphere). On
   the ellipsoid the geodesic distance g of a point near enough lies between
   k_lo * angle and k_hi * angle, where k_lo and k_hi are the smallest and largest
   radius of curvature over the latitudes the search can reach (`_curvature_bounds`;
   they differ by 0.3 % in France and by at most 1 % anywhere, against the 0.5 %
   haversine error on a mean-radius sphere). A candidate with k_hi * angle <= radius
   is surely inside, one with k_lo * angle > radius surely outside.
3. geopy's geodesic distance (Karney's algorithm, exact to the nanometre) for the
   candidates in the thin band between, and for every hit returned with its
   distance, since that is what is shown.

So the set returned equals a brute-force geodesic scan (distance <= radius,
inclusive), while geodesic, the costly step (about 0.1 ms each), runs only for
the boundary band and for what is displayed: pass `limit` to get the nearest
`limit` hits exactly (the page a view shows), or use `within_radius_ids` when only
the set matters (e.g. to filter the catalogue).

The searches take the session as a required keyword (the caller passes its own);
nothing here reads Flask's globals.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from geographiclib.geodesic import Geodesic
from geopy.distance import ELLIPSOIDS
from sqlalchemy import Float, bindparam, func, or_, select
from sqlalchemy.orm import Session, lazyload

_A, _B, _F = ELLIPSOIDS["WGS-84"]  # km
_E2 = _F * (2 - _F)
# The smallest radius of curvature anywhere (the meridian's, at the equator): no path
# covers an angle of latitude (or, at the equator, of longitude) faster than this.
_K_MIN = _A * (1 - _E2)
# Relative slack for floating-point rounding in the sure-inside/sure-outside tests.
_SLACK = 1e-9
_LOAD_CHUNK = 2000
# What geopy.distance.geodesic measures with: geographiclib's Geodesic on geopy's
# WGS-84 constants (in km), asked for the distance only. Calling it directly skips
# geopy's Point parsing (a tenth of the cost); tests check the results are
# identical to geodesic(a, b).km.
_GEOD = Geodesic(_A, _F)
_DISTANCE = Geodesic.DISTANCE


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the object and its geodesic distance from the search point."""

    obj: Any
    distance_km: float


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Degrees. `lon_min > lon_max` means the box crosses the antimeridian."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    all_longitudes: bool = False

    @property
    def crosses_antimeridian(self) -> bool:
        return not self.all_longitudes and self.lon_min > self.lon_max


# Validation -------------------------------------------------------------------------

def _number(value, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def validate_point(lat, lon) -> tuple[float, float]:
    """(lat, lon) as floats, or ValueError naming the bad one."""
    lat_f, lon_f = _number(lat, "latitude"), _number(lon, "longitude")
    if not -90 <= lat_f <= 90:
        raise ValueError(f"latitude must be between -90 and 90, got {lat!r}")
    if not -180 <= lon_f <= 180:
        raise ValueError(f"longitude must be between -180 and 180, got {lon!r}")
    return lat_f, lon_f


def validate_radius(radius_km) -> float:
    radius = _number(radius_km, "radius_km")
    if radius <= 0:
        raise ValueError(f"radius_km must be greater than 0, got {radius_km!r}")
    return radius


# Distances ----------------------------------------------------------------------------

def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """geopy's geodesic distance on WGS-84, in km (no validation: internal use)."""
    return _GEOD.Inverse(lat1, lon1, lat2, lon2, _DISTANCE)["s12"]


def _point(value, name: str) -> tuple[float, float]:
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        lat, lon = value.latitude, value.longitude
    else:
        try:
            lat, lon = value
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be a (latitude, longitude) pair or have latitude and longitude"
            ) from None
    return validate_point(lat, lon)


def distance_km(a, b) -> float:
    """Geodesic distance in km between two (lat, lon) pairs or objects with coordinates."""
    (lat1, lon1), (lat2, lon2) = _point(a, "a"), _point(b, "b")
    return geodesic_km(lat1, lon1, lat2, lon2)



def within_km(a, b, radius_km: float) -> bool:
    """distance_km(a, b) <= radius_km, with the geodesic (the costly step) computed
    only when the curvature bounds of the haversine angle cannot decide."""
    (lat1, lon1), (lat2, lon2) = _point(a, "a"), _point(b, "b")
    k_lo, k_hi = _curvature_bounds(lat1, radius_km)
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    angle = 2 * math.asin(math.sqrt(min(h, 1.0)))
    if angle * k_hi * (1 + _SLACK) <= radius_km:
        return True
    if angle * k_lo / (1 + _SLACK) > radius_km:
        return False
    return geodesic_km(lat1, lon1, lat2, lon2) <= radius_km

# Bounding box and curvature bounds ----------------------------------------------------

def _latitude_reach(lat: float, radius_km: float) -> tuple[float, float]:
    """Latitudes (degrees) that any path of length radius_km from lat stays within.

    Along any path, the meridian arc covered is at most the path's length, and the
    meridian's radius of curvature is at least _K_MIN.
    """
    dlat = math.degrees(radius_km / _K_MIN) * (1 + _SLACK)
    return max(-90.0, lat - dlat), min(90.0, lat + dlat)


def bounding_box(lat, lon, radius_km) -> BoundingBox:
    """A box (degrees) that holds every point within radius_km (geodesic) of (lat, lon).

    Latitude: see _latitude_reach. Longitude: along a path, ds >= N(phi) cos(phi)
    dlon >= a cos(phi) dlon, and the path never goes poleward of the latitude reach,
    so dlon <= radius / (a cos(phi_max)) where phi_max is the reach's highest |lat|.
    Near a pole (or for a radius that spans more than half a parallel) every
    longitude is in. Across the antimeridian, lon_min > lon_max.
    """
    lat, lon = validate_point(lat, lon)
    radius_km = validate_radius(radius_km)
    lat_min, lat_max = _latitude_reach(lat, radius_km)
    phi_max = math.radians(max(abs(lat_min), abs(lat_max)))
    cos_max = math.cos(phi_max)
    if cos_max <= 1e-12:
        return BoundingBox(lat_min, lat_max, -180.0, 180.0, all_longitudes=True)
    dlon = math.degrees(radius_km / (_A * cos_max)) * (1 + _SLACK)
    if dlon >= 180:
        return BoundingBox(lat_min, lat_max, -180.0, 180.0, all_longitudes=True)
    lon_min, lon_max = lon - dlon, lon + dlon
    if lon_min < -180:
        lon_min += 360
    if lon_max > 180:
        lon_max -= 360
    return BoundingBox(lat_min, lat_max, lon_min, lon_max)


def _curvature_bounds(lat: float, radius_km: float) -> tuple[float, float]:
    """(k_lo, k_hi) in km per radian: k_lo * angle <= g <= k_hi * angle for any point
    whose geodesic distance g (or whose central angle times _K_MIN) is at most radius_km.

    On the ellipsoid, ds^2 = M^2 dphi^2 + N^2 cos^2(phi) dlon^2 with M <= N; on the
    unit sphere with the same coordinates, ds^2 = dphi^2 + cos^2(phi) dlon^2. Both
    shortest paths stay within the latitude reach, so their lengths compare through
    the smallest M (at the reach's lowest |lat|) and the largest N (highest |lat|).
    """
    lat_min, lat_max = _latitude_reach(lat, radius_km)
    lowest = 0.0 if lat_min <= 0 <= lat_max else min(abs(lat_min), abs(lat_max))
    highest = max(abs(lat_min), abs(lat_max))
    s_low = math.sin(math.radians(lowest)) ** 2
    s_high = math.sin(math.radians(highest)) ** 2
    k_lo = _A * (1 - _E2) / (1 - _E2 * s_low) ** 1.5  # meridian radius M
    k_hi = _A / math.sqrt(1 - _E2 * s_high)  # prime vertical radius N
    return k_lo, k_hi


@functools.lru_cache(maxsize=256)
def _box_select(model, shape: str, extra: tuple[str, ...]):
    """The candidate SELECT for a box shape, with bind parameters for its bounds.

    Built once per model and shape: SQLAlchemy then finds its compiled form in its
    cache without building and hashing a new statement for every search.
    """
    lat_min, lat_max, lon_min, lon_max = (
        bindparam(name, type_=Float()) for name in ("lat_min", "lat_max", "lon_min", "lon_max")
    )
    criteria = [model.latitude >= lat_min, model.latitude <= lat_max]
    if shape == "all":
        criteria.append(model.longitude.is_not(None))
    elif shape == "wrap":
        criteria.append(or_(model.longitude >= lon_min, model.longitude <= lon_max))
    else:
        criteria += [model.longitude >= lon_min, model.longitude <= lon_max]
    columns = [model.id, model.latitude, model.longitude, *(getattr(model, k) for k in extra)]
    return select(*columns).where(*criteria)


def _candidate_statement(model, box: BoundingBox, where: Sequence, extra: Sequence):
    shape = "all" if box.all_longitudes else "wrap" if box.crosses_antimeridian else "box"
    stmt = _box_select(model, shape, tuple(column.key for column in extra))
    if where:
        stmt = stmt.where(*where)
    params = {"lat_min": box.lat_min, "lat_max": box.lat_max}
    if shape != "all":
        params.update(lon_min=box.lon_min, lon_max=box.lon_max)
    return stmt, params


def candidate_query(model, lat, lon, radius_km, *, where: Iterable = (), extra: Sequence = ()):
    """SELECT id, latitude, longitude (and `extra` columns) inside the bounding box,
    with the box's bounds bound (for EXPLAIN and the like)."""
    stmt, params = _candidate_statement(model, bounding_box(lat, lon, radius_km),
                                        tuple(where), tuple(extra))
    return stmt.params(params)


# The search core -------------------------------------------------------------------------

def _candidates(session, model, lat: float, lon: float, reach_km: float, where: Sequence,
                extra: Sequence = ()) -> list:
    """(id, lat, lon, *extra) rows inside the box, on the session's connection (and
    transaction): Core execution, without the ORM's per-statement overhead (so flush
    first, as the ORM would, when the session holds changes)."""
    if getattr(session, "autoflush", True) and (session.new or session.dirty or session.deleted):
        session.flush()
    stmt, params = _candidate_statement(model, bounding_box(lat, lon, reach_km), where, extra)
    return session.connection().execute(stmt, params).all()


def _score(lat: float, lon: float, reach_km: float, rows, radius_km: float | None):
    """Central angle of each row; drop the rows surely outside.

    rows: (id, lat, lon) with a fixed radius_km, or (id, lat, lon, radius) with
    radius_km None. Returns (k_lo, k_hi, [(angle, id, lat, lon, radius), ...]).
    """
    k_lo, k_hi = _curvature_bounds(lat, reach_km)
    lat0 = math.radians(lat)
    cos0 = math.cos(lat0)
    sin, cos, asin, sqrt, radians = math.sin, math.cos, math.asin, math.sqrt, math.radians
    out_factor = k_lo / (1 + _SLACK)
    scored = []
    append = scored.append
    for row in rows:
        row_id, la, lo = row[0], row[1], row[2]
        radius = radius_km if radius_km is not None else row[3]
        phi = radians(la)
        h = sin((phi - lat0) / 2) ** 2 + cos0 * cos(phi) * sin(radians(lo - lon) / 2) ** 2
        angle = 2 * asin(sqrt(h if h < 1.0 else 1.0))
        if angle * out_factor > radius:
            continue
        append((angle, row_id, la, lo, radius))
    return k_lo, k_hi, scored


def _exact_hits(lat: float, lon: float, k_lo: float, scored: list, limit: int | None,
                known: dict | None = None):
    """[(distance_km, id)] sorted, with geodesic distances: all, or the nearest `limit`.

    known: geodesic distances already computed, by id (filled in as we go).
    """
    known = {} if known is None else known

    def geodesic_to(row_id, la, lo):
        g = known.get(row_id)
        if g is None:
            g = known[row_id] = geodesic_km(lat, lon, la, lo)
        return g

    if limit is None:
        hits = []
        for _, row_id, la, lo, radius in scored:
            g = geodesic_to(row_id, la, lo)
            if g <= radius:
                hits.append((g, row_id))
        hits.sort()
        return hits
    if limit <= 0:
        return []
    scored.sort()
    worst: list[tuple[float, int]] = []  # max-heap of the best `limit` so far: (-g, -id)
    for angle, row_id, la, lo, radius in scored:
        # Rows come by increasing angle; once the lower bound on g passes the
        # limit-th best distance, no later row can enter the result.
        if len(worst) >= limit and angle * k_lo / (1 + _SLACK) > -worst[0][0]:
            break
        g = geodesic_to(row_id, la, lo)
        if g > radius:
            continue
        item = (-g, -row_id)
        if len(worst) < limit:
            heapq.heappush(worst, item)
        elif item > worst[0]:
            heapq.heapreplace(worst, item)
    return sorted((-g, -neg_id) for g, neg_id in worst)


@functools.lru_cache(maxsize=64)
def _load_select(model):
    # Relationships load lazily unless the caller asks (options): a model's joined
    # defaults (Producer.user) would cost every search a join and objects nobody shows.
    return (
        select(model)
        .where(model.id.in_(bindparam("ids", expanding=True)))
        .options(lazyload("*"))
    )


def _load(session, model, hits: list[tuple[float, int]], options: Sequence) -> list[Hit]:
    if not hits:
        return []
    ids = [row_id for _, row_id in hits]
    stmt = _load_select(model)
    if options:
        stmt = stmt.options(*options)
    objects = {}
    for start in range(0, len(ids), _LOAD_CHUNK):
        chunk = ids[start:start + _LOAD_CHUNK]
        for obj in session.scalars(stmt, {"ids": chunk}).unique():
            objects[obj.id] = obj
    # An object deleted between the two queries is left out.
    return [Hit(objects[row_id], g) for g, row_id in hits if row_id in objects]


def search_radius(model, lat, lon, radius_km, *, where: Iterable = (), limit: int | None = None,
                  session: Session, options: Sequence = ()) -> list[Hit]:
    """Objects of `model` (any mapped class with id, latitude and longitude columns)
    within radius_km (geodesic, inclusive) of (lat, lon), nearest first.

    where: extra SQLAlchemy criteria on the model (e.g. Producer.user.has(...)).
    limit: only the nearest `limit`, with geodesic computed for about that many rows
    (the page shown); None returns all, each with its geodesic distance.
    options: loader options for the objects (e.g. selectinload(Producer.labels)).
    Raises ValueError for a bad point, radius or limit.
    """
    lat, lon = validate_point(lat, lon)
    radius_km = validate_radius(radius_km)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    if limit == 0:
        return []
    where = tuple(where)
    known: dict[int, float] = {}
    for reach in _search_radii(radius_km, limit):
        rows = _candidates(session, model, lat, lon, reach, where)
        k_lo, _, scored = _score(lat, lon, reach, rows, reach)
        hits = _exact_hits(lat, lon, k_lo, scored, limit, known)
        # The nearest `limit` within `reach` are the nearest within radius_km.
        if limit is not None and len(hits) >= limit:
            break
    return _load(session, model, hits, options)


def _search_radii(radius_km: float, limit: int | None) -> list[float]:
    """With a limit, search a quarter of the radius first, doubling until `limit` hits
    are found: the nearest page rarely needs the whole disc (a sixteenth of its rows)."""
    if limit is None:
        return [radius_km]
    radii, reach = [], radius_km / 4
    while reach < radius_km:
        radii.append(reach)
        reach *= 2
    return [*radii, radius_km]


def within_radius_ids(model, lat, lon, radius_km, *, where: Iterable = (),
                      session: Session) -> set[int]:
    """Ids of the objects within radius_km (geodesic, inclusive): the set only, with
    geodesic computed just for the thin band where haversine cannot decide."""
    lat, lon = validate_point(lat, lon)
    radius_km = validate_radius(radius_km)
    rows = _candidates(session, model, lat, lon, radius_km, tuple(where))
    _, k_hi, scored = _score(lat, lon, radius_km, rows, radius_km)
    in_factor = k_hi * (1 + _SLACK)
    return {
        row_id for angle, row_id, la, lo, radius in scored
        if angle * in_factor <= radius or geodesic_km(lat, lon, la, lo) <= radius
    }


def reaching(model, radius_column, lat, lon, *, where: Iterable = (), limit: int | None = None,
             session: Session, options: Sequence = ()) -> list[Hit]:
    """Rows of ``model`` whose own radius (``radius_column``, km) reaches (lat, lon),
    nearest first (producers' delivery radius: producers.services.producers_serving).

    The bounding box uses the largest radius of all rows; each candidate is then
    checked against its own radius (geodesic, inclusive).
    """
    lat, lon = validate_point(lat, lon)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    # The largest radius of all rows (an index on the radius column makes this a single
    # index probe).
    reach = session.scalar(select(func.max(radius_column)))
    if not reach or reach <= 0:
        # Radius 0 everywhere (or no row): only a row standing on the point.
        reach = 1e-6
    rows = _candidates(session, model, lat, lon, reach, tuple(where), (radius_column,))
    k_lo, _, scored = _score(lat, lon, reach, rows, None)
    return _load(session, model, _exact_hits(lat, lon, k_lo, scored, limit), options)
