"""Geo pages: the map of producers and pickup points around the buyer."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, session, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from marketplace.extensions import db
from marketplace.geo.location import DEFAULT_RADIUS_KM, BuyerLocation, current_location
from marketplace.geo.services import search_radius
from marketplace.pickup.models import PickupKind, PickupPoint
from marketplace.producers.models import Producer
from marketplace.producers.services import is_public

bp = Blueprint("geo", __name__)

# Where the map opens when the buyer has not set a location yet.
DEFAULT_CENTRE = BuyerLocation(
    label="Vannes", latitude=47.6582, longitude=-2.7608, radius_km=DEFAULT_RADIUS_KM
)

PICKUP_KIND_LABELS = {
    PickupKind.FARM_SHOP: _l("Farm shop"),
    PickupKind.CAFE: _l("Café"),
    PickupKind.TOWN_HALL: _l("Town hall"),
    PickupKind.THIRD_PLACE: _l("Third place"),
    PickupKind.ASSOCIATION: _l("Association"),
    PickupKind.SHOP: _l("Shop"),
    PickupKind.RESTAURANT: _l("Restaurant"),
}


def _km(distance_km: float) -> str:
    return format_decimal(round(distance_km, 1), format="#,##0.0")


def _location_url() -> str:
    for endpoint in ("geo.location", "near.location"):
        try:
            return url_for(endpoint)
        except BuildError:
            continue
    return "/location"


MAP_LIMIT = 200


def _nearby(centre: BuyerLocation) -> tuple[list[dict], list[dict]]:
    args = (centre.latitude, centre.longitude, centre.radius_km)
    # The nearest MAP_LIMIT of each: a map of thousands of pins helps nobody.
    producer_hits = search_radius(
        Producer, *args, where=(is_public(),),
        limit=MAP_LIMIT, session=db.session,
    )
    point_hits = search_radius(
        PickupPoint, *args, where=(PickupPoint.is_active.is_(True), PickupPoint.open_to(None)),
        limit=MAP_LIMIT, session=db.session,
    )
    producers = [
        {
            "id": hit.obj.id,
            "kind": "producer",
            "kind_label": _("Producer"),
            "name": hit.obj.name,
            "place": hit.obj.commune,
            "lat": hit.obj.latitude,
            "lon": hit.obj.longitude,
            "distance_km": round(hit.distance_km, 2),
            "distance_label": _("%(km)s km", km=_km(hit.distance_km)),
            "url": url_for("farms.show", producer_id=hit.obj.id),
        }
        for hit in producer_hits
    ]
    points = [
        {
            "id": hit.obj.id,
            "kind": "pickup_point",
            "kind_label": str(PICKUP_KIND_LABELS.get(hit.obj.kind, _("Pickup point"))),
            "name": hit.obj.name,
            "place": ", ".join(part for part in (hit.obj.address, hit.obj.commune) if part),
            "lat": hit.obj.latitude,
            "lon": hit.obj.longitude,
            "distance_km": round(hit.distance_km, 2),
            "distance_label": _("%(km)s km", km=_km(hit.distance_km)),
            "url": url_for("market_day.point", point_id=hit.obj.id),
        }
        for hit in point_hits
    ]
    return producers, points


@bp.route("/map")
def map_page():
    location = current_location(session, current_user)
    has_location = location is not None
    centre = location or DEFAULT_CENTRE
    try:
        producers, points = _nearby(centre)
    except ValueError:
        # A stored location the search refuses: show the default area instead.
        has_location, centre = False, DEFAULT_CENTRE
        producers, points = _nearby(centre)
    tile_url = current_app.config.get("MAP_TILE_URL") or ""
    map_data = {
        "centre": {
            "lat": centre.latitude,
            "lon": centre.longitude,
            "radius_km": centre.radius_km,
            "label": centre.label,
        },
        # No tile URL: no tile layer at all, the markers show on a plain background.
        "tiles": {
            "url": tile_url,
            "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        } if tile_url else None,
        "icon_path": url_for("static", filename="vendor/leaflet/images/"),
        "markers": producers + points,
        "text": {
            "you_are_here": _("Your location"),
            "see_farm": _("See the farm"),
        },
    }
    return render_template(
        "geo/map.html",
        centre=centre,
        has_location=has_location,
        location_url=_location_url(),
        producers=producers,
        points=points,
        map_data=map_data,
    )
