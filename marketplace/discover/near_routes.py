"""The buyer's side of distance matching: set a location, see what is near."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from marketplace.extensions import db
from marketplace.geo import location as buyer_location
from marketplace.geo.forms import RADIUS_CHOICES, LocationForm
from marketplace.geo.geocoders import geocoder_for
from marketplace.geo.models import Place
from marketplace.geo.resolver import resolve_place
from marketplace.geo.services import search_radius
from marketplace.models import get_by_id
from marketplace.pickup.models import PickupPoint
from marketplace.producers.models import Producer
from marketplace.producers.services import is_public
from marketplace.web.redirects import safe_next

bp = Blueprint("near", __name__)

# The nearest ones only: a page of 100 farms is already long on a phone.
NEAR_LIMIT = 100

UNKNOWN_REASONS = {
    "empty": lambda: _("Type a commune or a postcode, or use your position."),
    "too_long": lambda: _("That is too long for a place name."),
    "unknown_postcode": lambda: _("We do not know this postcode."),
    "not_in_department": lambda: _("There is no such commune in that département."),
    "no_gazetteer": lambda: _("The list of communes is not loaded yet. Please try again later."),
}


def _coordinates(form) -> tuple[float, float] | None:
    try:
        lat, lon = float(form.latitude.data), float(form.longitude.data)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _save_and_go(form, label: str, lat: float, lon: float):
    here = buyer_location.BuyerLocation(label, lat, lon, form.radius_km.data)
    buyer_location.remember_location(session, current_user, here)
    return redirect(safe_next(form.next.data) or url_for("near.index"))


@bp.route("/location", methods=["GET", "POST"])
def location():
    form = LocationForm()
    here = buyer_location.current_location(session, current_user)
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if here is not None:
            form.radius_km.data = here.radius_km
    resolution = None
    if form.validate_on_submit():
        if form.latitude.data or form.longitude.data:
            point = _coordinates(form)
            if point is not None:
                return _save_and_go(form, _("my position"), *point)
            form.place.errors = [_("Your browser sent a position we cannot read.")]
        elif form.place_id.data is not None:
            place = get_by_id(db.session, Place, form.place_id.data)
            if place is not None:
                return _save_and_go(form, place.label, place.latitude, place.longitude)
            form.place.errors = [_("This place is not in our list any more. Type it again.")]
        else:
            resolution = resolve_place(
                form.place.data or "", session=db.session,
                geocoder=geocoder_for(current_app.config, lambda: db.session),
            )
            if resolution.found:
                info = resolution.place
                return _save_and_go(form, info.label, info.latitude, info.longitude)
            if resolution.ambiguous:
                form.place.errors = [_("Several places have this name: which one?")]
            else:
                message = UNKNOWN_REASONS.get(resolution.reason)
                if message is not None:
                    form.place.errors = [message()]
                elif resolution.suggestions:
                    form.place.errors = [_("We do not know this place. Did you mean:")]
                else:
                    form.place.errors = [_("We do not know this place. Check the spelling.")]
    status = 400 if form.is_submitted() else 200
    return (
        render_template("near/location.html", form=form, here=here, resolution=resolution),
        status,
    )


def approved_producers():
    return (is_public(),)


@bp.route("/near")
def index():
    here = buyer_location.current_location(session, current_user)
    if here is None:
        return redirect(url_for("near.location", next=request.full_path))
    radius = request.args.get("radius_km", type=int)
    if radius is not None and radius != here.radius_km:
        here = buyer_location.BuyerLocation(
            here.label, here.latitude, here.longitude, buyer_location.clamp_radius(radius)
        )
    producers = search_radius(
        Producer, here.latitude, here.longitude, here.radius_km, where=approved_producers(),
        options=(selectinload(Producer.labels),), limit=NEAR_LIMIT, session=db.session,
    )
    points = search_radius(
        PickupPoint, here.latitude, here.longitude, here.radius_km,
        where=(PickupPoint.is_active.is_(True), PickupPoint.open_to(None)), limit=NEAR_LIMIT,
        session=db.session,
    )
    return render_template(
        "near/index.html",
        here=here,
        producers=producers,
        points=points,
        radius_choices=RADIUS_CHOICES,
    )
