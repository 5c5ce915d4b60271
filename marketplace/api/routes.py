"""JSON API v1 (read-only GET): producers and pickup points around a point.

Every parameter is checked here; a missing or bad one gets a 400 whose JSON body
names it: ``{"error": "...", "parameter": "lat"}``. Unknown parameters are ignored.
Distances are exact geodesic kilometres (geopy, through geo.services) rounded to
0.01 km (10 m); items are sorted by that exact distance, nearest first.
"""

from __future__ import annotations

import math
import re

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from marketplace.api.openapi import DEFAULT_LIMIT, MAX_LIMIT, document
from marketplace.extensions import db, limiter
from marketplace.geo.location import MAX_RADIUS_KM, MIN_RADIUS_KM
from marketplace.geo.services import search_radius
from marketplace.pickup.models import PickupPoint
from marketplace.producers.models import Producer
from marketplace.producers.services import is_public
from marketplace.web.limits import setting

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Every route of the API, per client address: a 429 in JSON with Retry-After past it.
limiter.limit(setting("RATELIMIT_API"))(bp)

DISTANCE_DECIMALS = 2
# Plain decimal numbers only: float() alone would also take "nan", "inf", "1_0".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class BadParameter(Exception):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@bp.errorhandler(BadParameter)
def bad_parameter(error: BadParameter):
    return jsonify(error=error.message, parameter=error.parameter), 400


def _number(name: str, low: float, high: float) -> float:
    raw = request.args.get(name, "").strip()
    if not raw:
        raise BadParameter(name, _("The parameter %(name)s is required.", name=name))
    value = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not math.isfinite(value):
        raise BadParameter(name, _("The parameter %(name)s must be a number.", name=name))
    if not low <= value <= high:
        raise BadParameter(
            name,
            _("The parameter %(name)s must be between %(low)s and %(high)s.",
              name=name, low=_plain(low), high=_plain(high)),
        )
    return value


def _plain(number: float) -> str:
    return f"{number:g}"


def search_args() -> tuple[float, float, float]:
    """lat, lon and radius_km from the query string, checked in that order."""
    lat = _number("lat", -90, 90)
    lon = _number("lon", -180, 180)
    radius_km = _number("radius_km", MIN_RADIUS_KM, MAX_RADIUS_KM)
    return lat, lon, radius_km


def _limit() -> int:
    if not request.args.get("limit", "").strip():
        return DEFAULT_LIMIT
    value = _number("limit", 1, MAX_LIMIT)
    if value != int(value):
        raise BadParameter("limit", _("The parameter %(name)s must be a number.", name="limit"))
    return int(value)


def _items(model, where) -> dict:
    lat, lon, radius_km = search_args()
    # Only the nearest `limit` get an exact geodesic distance: a 100 km search in a
    # dense region would otherwise compute thousands.
    hits = search_radius(model, lat, lon, radius_km, where=where, limit=_limit(),
                         session=db.session)
    items = [
        {
            "id": hit.obj.id,
            "name": hit.obj.name,
            "lat": hit.obj.latitude,
            "lon": hit.obj.longitude,
            "distance_km": round(hit.distance_km, DISTANCE_DECIMALS),
        }
        for hit in hits
    ]
    return {"items": items, "count": len(items)}


@bp.get("/producers")
def producers():
    # Public farms only: their account has been approved by an admin.
    return _items(Producer, (is_public(),))


@bp.get("/pickup-points")
def pickup_points():
    # A restaurant's door is private: never listed.
    return _items(PickupPoint, (PickupPoint.is_active.is_(True), PickupPoint.open_to(None)))


@bp.get("/openapi.json")
def openapi():
    return document()
