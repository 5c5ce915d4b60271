"""What a person typed -> one place, several homonyms, or suggestions. Never raises
for what a person types (database failures still raise).

Accepted: a commune in any case, with or without accents and hyphens ("saint-lo",
"Saint Lô", "ROCHEFORT EN TERRE", "St-Avé"); a postcode ("56000", "56 000"); a
commune narrowed by its département, as a code or a name, or by a postcode
("Saint-Lô (50)", "saint-lo 50", "Sainte-Marie, Morbihan", "Sainte-Marie
Morbihan", "Vannes 56000"). Import it through marketplace.geo.services.
"""

from __future__ import annotations

import difflib
import enum
import logging
from dataclasses import dataclass, field

from geopy.exc import GeopyError
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from .models import Department, Place, PlacePostcode
from .normalize import MAX_QUERY_LENGTH, PlaceQuery, department_code, parse_query, postcode
from .normalize import search_key as make_key

log = logging.getLogger(__name__)

MAX_CANDIDATES = 30
MAX_SUGGESTIONS = 8
_CLOSE_CUTOFF = 0.75
_POOL_LIMIT = 5000
_ARTICLES = frozenset({"saint", "sainte", "saints", "saintes", "le", "la", "les", "l"})


class ResolutionStatus(enum.StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PlaceInfo:
    """A place as the UI and the API show it; `place_id` is None for a geocoder's answer."""

    name: str
    department_code: str
    department_name: str
    latitude: float
    longitude: float
    population: int | None = None
    postcodes: tuple[str, ...] = ()
    place_id: int | None = None
    geonames_id: int | None = None
    source: str = "gazetteer"

    @property
    def label(self) -> str:
        """'Saint-Lô (50)', or the name alone when the département is unknown."""
        return f"{self.name} ({self.department_code})" if self.department_code else self.name

    @property
    def full_label(self) -> str:
        """'Saint-Lô (50, Manche)': the label of a choice between homonyms."""
        if not self.department_code:
            return self.name
        return f"{self.name} ({self.department_code}, {self.department_name})"

    def as_dict(self) -> dict:
        return {
            "name": self.name, "label": self.label, "department_code": self.department_code,
            "department_name": self.department_name, "lat": self.latitude,
            "lon": self.longitude, "population": self.population,
            "postcodes": list(self.postcodes), "place_id": self.place_id,
            "geonames_id": self.geonames_id, "source": self.source,
        }


@dataclass(frozen=True)
class Resolution:
    """The answer to a place query.

    status found: `place` is set. ambiguous: `candidates` (most populated first; the
    user picks one, e.g. by adding the département). unknown: `suggestions`
    (possibly empty) and `reason`: empty, too_long, not_found, unknown_postcode,
    not_in_department (the name exists elsewhere: the suggestions), no_gazetteer
    (the tables are empty: run `flask geo load-gazetteer`).
    """

    status: ResolutionStatus
    query: str
    place: PlaceInfo | None = None
    candidates: tuple[PlaceInfo, ...] = ()
    suggestions: tuple[PlaceInfo, ...] = ()
    reason: str = ""
    source: str = "gazetteer"
    extra: dict = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.status is ResolutionStatus.FOUND

    @property
    def ambiguous(self) -> bool:
        return self.status is ResolutionStatus.AMBIGUOUS

    @property
    def unknown(self) -> bool:
        return self.status is ResolutionStatus.UNKNOWN

    def as_dict(self) -> dict:
        return {
            "status": self.status.value, "query": self.query, "reason": self.reason,
            "source": self.source,
            "place": self.place.as_dict() if self.place else None,
            "candidates": [c.as_dict() for c in self.candidates],
            "suggestions": [s.as_dict() for s in self.suggestions],
        }


def _unknown(query: str, reason: str, suggestions=()) -> Resolution:
    return Resolution(ResolutionStatus.UNKNOWN, query, suggestions=tuple(suggestions),
                      reason=reason)


def _by_population(places):
    return sorted(places, key=lambda p: (-(p.population or -1), p.department_code, p.name,
                                         p.place_id or 0))


def _outcome(query: str, places: list[PlaceInfo], reason: str) -> Resolution:
    if len(places) == 1:
        return Resolution(ResolutionStatus.FOUND, query, place=places[0], reason=reason)
    return Resolution(ResolutionStatus.AMBIGUOUS, query,
                      candidates=tuple(_by_population(places)[:MAX_CANDIDATES]), reason=reason)


# Queries ----------------------------------------------------------------------------

def _infos(session, criteria, *, order_by_population: bool = False, limit: int | None = None):
    stmt = select(Place).where(*criteria)
    if order_by_population:
        stmt = stmt.order_by(func.coalesce(Place.population, -1).desc(), Place.name, Place.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    places = list(session.scalars(stmt).unique())
    if not places:
        return []
    codes: dict[int, list[str]] = {p.id: [] for p in places}
    for place_id, code in session.execute(
        select(PlacePostcode.place_id, PlacePostcode.postcode)
        .where(PlacePostcode.place_id.in_(list(codes)))
        .order_by(PlacePostcode.postcode)
    ):
        codes[place_id].append(code)
    return [
        PlaceInfo(name=p.name, department_code=p.department_code,
                  department_name=p.department.name, latitude=p.latitude,
                  longitude=p.longitude, population=p.population,
                  postcodes=tuple(codes[p.id]), place_id=p.id, geonames_id=p.geonames_id)
        for p in places
    ]


def _by_key(session, key: str) -> list[PlaceInfo]:
    return _infos(session, [Place.search_key == key]) if key else []


def _by_postcode(session, code: str) -> list[PlaceInfo]:
    ids = select(PlacePostcode.place_id).where(PlacePostcode.postcode == code)
    return _infos(session, [Place.id.in_(ids)])


def _startswith(session, column, prefix: str):
    """Prefix match that uses the key's index: keys are [a-z0-9 ] only, so in byte
    order they all sort below chr(127). PostgreSQL may use a linguistic collation,
    hence LIKE there (with the index's text_pattern_ops)."""
    if session.get_bind().dialect.name == "postgresql":
        return column.like(prefix + "%")
    return and_(column >= prefix, column < prefix + "\x7f")


def _departments(session) -> list[tuple[str, str, str]]:
    return list(session.execute(
        select(Department.code, Department.name, Department.search_key)
    ).all())


def _qualifier_filter(session, qualifier: str):
    """A predicate on PlaceInfo from '50', 'Manche', '2A', '50000'; None if not understood."""
    code = postcode(qualifier)
    if code:
        return lambda p: code in p.postcodes
    dept = department_code(qualifier)
    if dept:
        return lambda p: p.department_code == dept
    key = make_key(qualifier)
    if not key:
        return None
    for dept_code, _name, dept_key in _departments(session):
        if dept_key == key:
            return lambda p, dept_code=dept_code: p.department_code == dept_code
    return None


def _trailing_department(session, key: str) -> tuple[str, str] | None:
    """'sainte marie morbihan' -> ('sainte marie', '56') when no place has the whole key."""
    words = key.split()
    by_key = {dept_key: code for code, _name, dept_key in _departments(session)}
    for n in range(min(4, len(words) - 1), 0, -1):
        code = by_key.get(" ".join(words[-n:]))
        if code:
            return " ".join(words[:-n]), code
    return None


def _pool_prefix(key: str) -> str:
    words = key.split()
    if len(words) > 1 and words[0] in _ARTICLES:
        return f"{words[0]} {words[1][:1]}"
    return key[:2]


def suggest(session, key: str, *, limit: int = MAX_SUGGESTIONS) -> list[PlaceInfo]:
    """Places whose key starts with `key` (most populated first), then the closest
    names (difflib) among keys that share their first letters."""
    if not key:
        return []
    found = _infos(session, [_startswith(session, Place.search_key, key),
                             Place.search_key != key],
                   order_by_population=True, limit=limit)
    if len(found) < limit:
        pool = list(session.scalars(
            select(Place.search_key).distinct()
            .where(_startswith(session, Place.search_key, _pool_prefix(key)))
            .limit(_POOL_LIMIT)
        ))
        close = difflib.get_close_matches(key, pool, n=limit, cutoff=_CLOSE_CUTOFF)
        if close:
            ratio = {k: difflib.SequenceMatcher(None, key, k).ratio() for k in close}
            seen = {p.place_id for p in found}
            more = [p for p in _infos(session, [Place.search_key.in_(close)])
                    if p.place_id not in seen]
            more.sort(key=lambda p: (-ratio.get(make_key(p.name), 0.0), -(p.population or -1),
                                     p.department_code, p.name))
            found += more[: limit - len(found)]
    return found


def _postcode_suggestions(session, code: str) -> list[PlaceInfo]:
    ids = select(PlacePostcode.place_id).where(
        _startswith(session, PlacePostcode.postcode, code[:3])
    )
    return _infos(session, [Place.id.in_(ids)], order_by_population=True, limit=MAX_SUGGESTIONS)


# The resolver -------------------------------------------------------------------------

def _resolve_in_gazetteer(session, query: str, parsed: PlaceQuery) -> Resolution:
    if parsed.postcode:
        places = _by_postcode(session, parsed.postcode)
        if places:
            return _outcome(query, places, "postcode")
        return _unknown(query, "unknown_postcode",
                        _postcode_suggestions(session, parsed.postcode))

    if parsed.qualifier and parsed.full_key != parsed.key:
        whole = _by_key(session, parsed.full_key)  # "Paris 15" is a place of its own
        if whole:
            return _outcome(query, whole, "name")

    places = _by_key(session, parsed.key)
    if parsed.qualifier:
        keep = _qualifier_filter(session, parsed.qualifier)
        if keep is not None:
            narrowed = [p for p in places if keep(p)]
            if places and not narrowed:
                return _unknown(query, "not_in_department",
                                _by_population(places)[:MAX_CANDIDATES])
            places = narrowed
    elif not places:
        split = _trailing_department(session, parsed.key)
        if split:
            name_key, code = split
            homonyms = _by_key(session, name_key)
            places = [p for p in homonyms if p.department_code == code]
            if homonyms and not places:
                return _unknown(query, "not_in_department",
                                _by_population(homonyms)[:MAX_CANDIDATES])

    if places:
        return _outcome(query, places, "name")
    return _unknown(query, "not_found", suggest(session, parsed.key))


def _from_location(location) -> PlaceInfo:
    raw = location.raw if isinstance(getattr(location, "raw", None), dict) else {}
    name = raw.get("name") or (location.address or "").split(",")[0].strip()
    postcodes = raw.get("postcodes") or ()
    return PlaceInfo(
        name=name or location.address or "",
        department_code=raw.get("department_code") or "",
        department_name=raw.get("department_name") or "",
        latitude=float(location.latitude), longitude=float(location.longitude),
        population=raw.get("population"), postcodes=tuple(postcodes),
        place_id=raw.get("place_id") if raw.get("source") == "gazetteer" else None,
        geonames_id=raw.get("geonames_id"), source=raw.get("source") or "geocoder",
    )


def resolve_place(query, *, session: Session, geocoder=None) -> Resolution:
    """Resolve what a person typed against the gazetteer tables.

    geocoder: an optional geopy geocoder (see geocoders.geocoder_for) asked when the
    gazetteer knows nothing of the query (a street address, say); its answer comes
    back as found with `source` set to the service that answered. The gazetteer
    geocoder itself is never asked twice.
    """
    text = query if isinstance(query, str) else ""
    text = " ".join(text.replace("\x00", " ").split())
    if not text:
        return _unknown("", "empty")
    if len(text) > MAX_QUERY_LENGTH:
        return _unknown(text[:MAX_QUERY_LENGTH], "too_long")
    parsed = parse_query(text)
    if not parsed.key and not parsed.postcode:
        return _unknown(text, "not_found")
    result = _resolve_in_gazetteer(session, text, parsed)
    if result.unknown and result.reason == "not_found":
        # The gazetteer answers from the same table: no point asking it again.
        if geocoder is not None and not getattr(geocoder, "is_gazetteer", False):
            try:
                location = geocoder.geocode(text, exactly_one=True)
            except GeopyError as exc:  # already logged by the geocoder
                log.info("geocoder failed for %r: %s", text, exc)
                location = None
            if location is not None:
                info = _from_location(location)
                return Resolution(ResolutionStatus.FOUND, text, place=info, reason="geocoder",
                                  source=info.source, extra=dict(location.raw or {}))
        if not result.suggestions and session.scalar(select(Place.id).limit(1)) is None:
            return _unknown(text, "no_gazetteer")
    return result
