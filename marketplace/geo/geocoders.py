"""Geocoding behind geopy's geocoder interface.

* `GazetteerGeocoder`: answers from the gazetteer tables; its adapter cannot open a
  connection, so it never reaches the network. The default.
* `NominatimWithFallback`: geopy's Nominatim (a timeout, an identifying user agent,
  at most one request per NOMINATIM_MIN_DELAY_S seconds from this process, answers
  cached), falling back to the gazetteer on any geopy service error (timeout,
  service unavailable, refused connection, rate limit, HTTP error). A fallback
  answer says so in its `raw`: source "gazetteer", fallback_from "nominatim",
  fallback_reason.

Views and the CLI call `geocoder_for(current_app.config, lambda: db.session)`: the
settings and the session factory come from the caller; nothing here reads Flask's
globals.
Every Location's `raw` carries at least: source, name, department_code,
department_name (empty when the service does not say).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from geopy.adapters import BaseSyncAdapter
from geopy.exc import GeocoderRateLimited, GeocoderServiceError
from geopy.geocoders import Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point
from sqlalchemy.orm import scoped_session

from .distance import search_radius
from .models import Place
from .resolver import _infos, resolve_place

log = logging.getLogger(__name__)

PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
GEOCODERS = ("gazetteer", "nominatim")
GEO_DEFAULTS = {
    "GEOCODER": "gazetteer",
    "NOMINATIM_DOMAIN": PUBLIC_NOMINATIM,
    "NOMINATIM_SCHEME": "https",
    "NOMINATIM_USER_AGENT": "circuit-court/0.1",
    "NOMINATIM_MIN_DELAY_S": 1.0,
    "GEOCODER_TIMEOUT": 5.0,
}
_CACHE_SIZE = 1000
_REVERSE_RADII_KM = (5, 15, 50)


# Settings ---------------------------------------------------------------------------

def _float(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise RuntimeError(f"Setting {name} must be a number, got {raw!r}") from exc
    if not value >= minimum:  # also refuses NaN
        raise RuntimeError(f"Setting {name} must be at least {minimum}, got {raw!r}")
    return value


def load_geo_settings(environ: Mapping[str, str] | None = None) -> dict:
    """The geocoding settings from environment variables, with offline defaults."""
    environ = os.environ if environ is None else environ
    kind = (environ.get("GEOCODER") or GEO_DEFAULTS["GEOCODER"]).strip().lower()
    if kind not in GEOCODERS:
        raise RuntimeError(f"Setting GEOCODER must be one of {', '.join(GEOCODERS)}, got {kind!r}")
    scheme = (environ.get("NOMINATIM_SCHEME") or GEO_DEFAULTS["NOMINATIM_SCHEME"]).strip().lower()
    if scheme not in ("http", "https"):
        raise RuntimeError(f"Setting NOMINATIM_SCHEME must be http or https, got {scheme!r}")
    return {
        "GEOCODER": kind,
        "NOMINATIM_DOMAIN": (environ.get("NOMINATIM_DOMAIN")
                             or GEO_DEFAULTS["NOMINATIM_DOMAIN"]).strip(),
        "NOMINATIM_SCHEME": scheme,
        "NOMINATIM_USER_AGENT": (environ.get("NOMINATIM_USER_AGENT")
                                 or GEO_DEFAULTS["NOMINATIM_USER_AGENT"]).strip(),
        "NOMINATIM_MIN_DELAY_S": _float(environ, "NOMINATIM_MIN_DELAY_S",
                                        GEO_DEFAULTS["NOMINATIM_MIN_DELAY_S"], 0.0),
        "GEOCODER_TIMEOUT": _float(environ, "GEOCODER_TIMEOUT",
                                   GEO_DEFAULTS["GEOCODER_TIMEOUT"], 0.1),
    }


# The gazetteer geocoder -------------------------------------------------------------------

class OfflineAdapter(BaseSyncAdapter):
    """A geopy adapter that never connects: whatever asks it for a URL gets an error."""

    def get_json(self, url, *, timeout, headers):
        raise GeocoderServiceError(f"offline geocoder: no network request allowed ({url})")

    def get_text(self, url, *, timeout, headers):
        raise GeocoderServiceError(f"offline geocoder: no network request allowed ({url})")


def _query_text(query) -> str:
    if isinstance(query, Mapping):  # a structured query: its values, in order
        return ", ".join(str(v) for v in query.values() if v not in (None, ""))
    return query if isinstance(query, str) else ""


def _address(info) -> str:
    parts = [info.name, info.postcodes[0] if info.postcodes else "", info.department_name,
             "France"]
    return ", ".join(p for p in parts if p)


def _location(info, **extra) -> Location:
    raw = {**info.as_dict(), **extra}
    return Location(_address(info), Point(info.latitude, info.longitude), raw)


class GazetteerGeocoder(Geocoder):
    """geopy geocoder answered from the gazetteer tables, offline.

    session_factory: a callable returning a SQLAlchemy session, given by the caller,
    e.g. `lambda: db.session` (in an application context). A scoped session is used
    as it is; a plain Session (from a sessionmaker) is closed after each call.

    geocode() returns, for a homonym, every candidate most populated first (the
    first one with exactly_one=True); raw["status"] says found or ambiguous.
    """

    is_gazetteer = True  # resolver.resolve_place does not ask it twice

    def __init__(self, session_factory: Callable):
        super().__init__(adapter_factory=OfflineAdapter, user_agent="circuit-court-gazetteer")
        self.session_factory = session_factory

    @contextlib.contextmanager
    def _session(self):
        session = self.session_factory()
        try:
            yield session
        finally:
            if not isinstance(session, scoped_session):
                session.close()

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, limit=None,
                **kwargs):
        with self._session() as session:
            resolution = resolve_place(_query_text(query), session=session)
        if resolution.found:
            places = [resolution.place]
        elif resolution.ambiguous:
            places = list(resolution.candidates)
        else:
            return None
        locations = [_location(p, status=resolution.status.value) for p in places]
        if exactly_one:
            return locations[0]
        return locations[:limit] if limit else locations

    def reverse(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, limit=None,
                **kwargs):
        """The nearest places (within 50 km) of a point."""
        point = Point(query)
        wanted = 1 if exactly_one else (limit or 10)
        with self._session() as session:
            for radius in _REVERSE_RADII_KM:
                hits = search_radius(Place, point.latitude, point.longitude, radius,
                                     limit=wanted, session=session)
                if hits:
                    infos = {i.place_id: i for i in _infos(
                        session, [Place.id.in_([h.obj.id for h in hits])])}
                    locations = [_location(infos[h.obj.id], status="found",
                                           distance_km=h.distance_km) for h in hits]
                    return locations[0] if exactly_one else locations
        return None


# Nominatim with a fallback --------------------------------------------------------------

class _RateGate:
    """At most one call per `min_delay` seconds in this process, waiting at most `max_wait`."""

    def __init__(self, min_delay: float):
        self.min_delay = min_delay
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self, max_wait: float) -> bool:
        with self._lock:
            now = time.monotonic()
            wait = self._next - now
            if wait > max_wait:
                return False
            self._next = max(now, self._next) + self.min_delay
        if wait > 0:
            time.sleep(wait)
        return True


_registry_lock = threading.Lock()
_gates: dict[str, _RateGate] = {}
_clients: dict[tuple, Nominatim] = {}
_cache: OrderedDict = OrderedDict()


def _gate(domain: str, min_delay: float) -> _RateGate:
    with _registry_lock:
        gate = _gates.get(domain)
        if gate is None:
            gate = _gates[domain] = _RateGate(min_delay)
        gate.min_delay = min_delay
        return gate


def _nominatim(domain: str, scheme: str, user_agent: str, timeout: float) -> Nominatim:
    key = (domain, scheme, user_agent, timeout)
    with _registry_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = Nominatim(domain=domain, scheme=scheme,
                                               user_agent=user_agent, timeout=timeout)
        return client


def clear_cache() -> None:
    with _registry_lock:
        _cache.clear()


def _department_from_nominatim(raw: dict) -> tuple[str, str]:
    address = raw.get("address") or {}
    code = address.get("ISO3166-2-lvl6") or ""
    code = code[3:] if code.startswith("FR-") else ""
    return code, address.get("county") or address.get("state_district") or ""


def _tag_nominatim(location: Location) -> Location:
    raw = dict(location.raw or {})
    code, name = _department_from_nominatim(raw)
    raw.update(source="nominatim", department_code=code, department_name=name,
               name=raw.get("name") or location.address.split(",")[0].strip())
    return Location(location.address, location.point, raw)


class NominatimWithFallback(Geocoder):
    """geopy's Nominatim, rate-limited and cached, answering from `fallback` on failure."""

    def __init__(self, nominatim: Nominatim, fallback: Geocoder, *, min_delay_seconds: float = 1.0,
                 max_wait_seconds: float | None = None):
        super().__init__(adapter_factory=OfflineAdapter, user_agent=nominatim.headers["User-Agent"])
        self.nominatim = nominatim
        self.fallback = fallback
        self.gate = _gate(nominatim.domain, min_delay_seconds)
        self.max_wait_seconds = nominatim.timeout if max_wait_seconds is None else max_wait_seconds

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, **kwargs):
        kwargs.setdefault("country_codes", "fr")
        kwargs.setdefault("addressdetails", True)
        key = (self.nominatim.domain, repr(query), exactly_one, repr(sorted(kwargs.items())))
        with _registry_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        try:
            if not self.gate.acquire(self.max_wait_seconds):
                raise GeocoderRateLimited("too many Nominatim requests from this process")
            result = self.nominatim.geocode(query, exactly_one=exactly_one, timeout=timeout,
                                            **kwargs)
        except GeocoderServiceError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("Nominatim at %s failed (%s); answering from the gazetteer",
                        self.nominatim.domain, reason)
            return self._fallback(query, exactly_one, reason)
        if result is None:
            tagged = None
        elif exactly_one:
            tagged = _tag_nominatim(result)
        else:
            tagged = [_tag_nominatim(r) for r in result]
        with _registry_lock:
            _cache[key] = tagged
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return tagged

    def _fallback(self, query, exactly_one: bool, reason: str):
        result = self.fallback.geocode(query, exactly_one=exactly_one)
        if result is None:
            return None
        results = [result] if exactly_one else result
        marked = [Location(r.address, r.point, {**r.raw, "fallback_from": "nominatim",
                                                 "fallback_reason": reason})
                  for r in results]
        return marked[0] if exactly_one else marked


def geocoder_for(app_config: Mapping, session_factory: Callable) -> Geocoder:
    """The geocoder the settings choose (GEOCODER=gazetteer|nominatim); the gazetteer
    (the answer or the fallback) opens its sessions with `session_factory`."""
    kind = str(app_config.get("GEOCODER") or GEO_DEFAULTS["GEOCODER"]).lower()
    gazetteer = GazetteerGeocoder(session_factory)
    if kind == "gazetteer":
        return gazetteer
    if kind != "nominatim":
        raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, got {kind!r}")
    domain = str(app_config.get("NOMINATIM_DOMAIN") or GEO_DEFAULTS["NOMINATIM_DOMAIN"])
    timeout = float(app_config.get("GEOCODER_TIMEOUT") or GEO_DEFAULTS["GEOCODER_TIMEOUT"])
    min_delay = float(app_config.get("NOMINATIM_MIN_DELAY_S",
                                     GEO_DEFAULTS["NOMINATIM_MIN_DELAY_S"]))
    if domain.strip("/") == PUBLIC_NOMINATIM:
        min_delay = max(1.0, min_delay)  # the usage policy: one request per second at most
    client = _nominatim(
        domain,
        str(app_config.get("NOMINATIM_SCHEME") or GEO_DEFAULTS["NOMINATIM_SCHEME"]),
        str(app_config.get("NOMINATIM_USER_AGENT") or GEO_DEFAULTS["NOMINATIM_USER_AGENT"]),
        timeout,
    )
    return NominatimWithFallback(client, gazetteer, min_delay_seconds=min_delay,
                                 max_wait_seconds=timeout)
