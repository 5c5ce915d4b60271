from __future__ import annotations

from babel.numbers import format_decimal as format_degrees
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from wtforms import SelectChoice

from marketplace.accounts import business_ids
from marketplace.accounts.decorators import producer_required
from marketplace.extensions import db
from marketplace.geo.services import geocoder_for
from marketplace.media import ImageRejected, delete_photo_once_committed, save_photo
from marketplace.producers import services
from marketplace.producers.forms import FarmProfileForm
from marketplace.producers.views import current_farm
from marketplace.web.ids import page_arg

bp = Blueprint("producers", __name__)


def _digits(text: str | None) -> str:
    return business_ids.normalize_digits(text)


@bp.route("/producers")
def index():
    page = page_arg()
    pagination = services.list_public_producers(db.session, page, 30)
    return render_template("producers/index.html", pagination=pagination)


def _degrees(value: float) -> str:
    # Coordinates are written as GPS devices and map sites write them: a point.
    return format_degrees(round(value, 2), format="0.00", locale="en")


def _words(label: str, lat: float, lon: float) -> str:
    """'Ploemeur (56), 47.73, -3.42': where the farm is, for those who see no map."""
    return ", ".join(part for part in (label, _degrees(lat), _degrees(lon)) if part)


def _locate(form, farm):
    """The farm's location from the form, or None with the problem on the fields."""
    try:
        return services.locate_farm(
            db.session, geocoder_for(current_app.config, lambda: db.session), farm,
            address=(form.address.data or "").strip(),
            postcode=(form.postcode.data or "").strip(),
            commune=(form.commune.data or "").strip(),
            latitude=float(form.latitude.data) if form.latitude.data is not None else None,
            longitude=float(form.longitude.data) if form.longitude.data is not None else None,
            place_id=form.place_id.data,
        ), ()
    except services.LocationProblem as problem:
        if problem.reason == "missing":
            form.commune.errors = [_("Enter your farm's commune or postcode: without a "
                                     "location your farm would not appear in searches.")]
        elif problem.reason == "ambiguous":
            form.commune.errors = [_("Several communes have this name: pick yours below.")]
        elif problem.reason == "too_far":
            form.latitude.errors = [_(
                "This point is %(km)s km from %(place)s: check the pin, or the latitude and "
                "longitude (west of Greenwich, the longitude is negative).",
                km=format_decimal(round(problem.distance_km)), place=problem.place.label)]
        elif problem.choices:
            form.commune.errors = [_("We cannot find this commune or postcode. Did you mean:")]
        else:
            form.commune.errors = [_("We cannot find this commune or postcode: check the "
                                     "spelling, or type the postcode.")]
        return None, [c for c in problem.choices if c.place_id is not None]


def _map_data(form, farm) -> dict:
    point = None
    if form.latitude.data is not None and form.longitude.data is not None \
            and not (form.latitude.errors or form.longitude.errors):
        point = (float(form.latitude.data), float(form.longitude.data))
    elif farm.latitude is not None and farm.longitude is not None:
        point = (farm.latitude, farm.longitude)
    tile_url = current_app.config.get("MAP_TILE_URL") or ""
    return {
        "point": {"lat": point[0], "lon": point[1]} if point else None,
        # No tile URL: no tile layer, the pin shows on a plain background.
        "tiles": {"url": tile_url,
                  "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION") or ""}
        if tile_url else None,
        "icon_path": url_for("static", filename="vendor/leaflet/images/"),
        "text": {"pin": _("Your farm: drag the pin to where it is")},
    }


@bp.route("/farm/profile", methods=["GET", "POST"])
@producer_required
def edit_profile():
    farm = current_farm()
    form = FarmProfileForm(obj=farm)
    locale = str(get_locale())
    form.labels.choices = [
        SelectChoice(lb.id, f"{lb.code} — {lb.name_for(locale)}")
        for lb in services.all_labels(db.session)
    ]
    if request.method == "GET":
        form.labels.data = [lb.id for lb in farm.labels]
    choices = ()
    if form.validate_on_submit():
        location, choices = _locate(form, farm)
        photo_paths = None
        if location is not None and form.photo.data and getattr(form.photo.data, "filename",
                                                                 None):
            try:
                photo_paths = save_photo(
                    form.photo.data.stream,
                    current_app.config["UPLOAD_FOLDER"],
                    "farms",
                    current_app.config["THUMBNAIL_SIZE"],
                )
            except ImageRejected:
                form.photo.errors = [_("This file is not an image we can read.")]
        if location is not None and not form.photo.errors:
            old = (farm.photo_path, farm.thumb_path)
            fields = {
                "name": form.name.data.strip(),
                "description": (form.description.data or "").strip(),
                "commune": location.commune,
                "postcode": location.postcode,
                "address": (form.address.data or "").strip(),
                "latitude": location.latitude,
                "longitude": location.longitude,
                "delivery_radius_km": form.delivery_radius_km.data,
                "wholesale_minimum_cents": form.wholesale_minimum_cents.cents or 0,
                "standing_orders_first": bool(form.standing_orders_first.data),
                "siret": _digits(form.siret.data) or None,
                "vat_number": _digits(form.vat_number.data) or None,
            }
            if photo_paths:
                fields["photo_path"], fields["thumb_path"] = photo_paths
            try:
                services.update_profile(db.session, farm, label_ids=form.labels.data or [],
                                        **fields)
            except services.ProfileRefused as refused:
                # The form's own checks come first; this is the rule's last word.
                form.delivery_radius_km.errors = [str(refused.message)]
                return _render(form, farm, choices, 400)
            if photo_paths:  # the old files go once the new ones are committed
                delete_photo_once_committed(db.session, current_app.config["UPLOAD_FOLDER"],
                                            *old)
            if location.geocoded:
                # The commune's point, or the geocoder's for the address: the farmer checks it.
                flash(_("Your farm profile is saved. We placed your farm at %(place)s: if it "
                        "is elsewhere, move the pin or correct the coordinates.",
                        place=_words(location.place.label, location.latitude,
                                     location.longitude)), "success")
                return redirect(url_for("producers.edit_profile", _anchor="location"))
            flash(_("Your farm profile is saved."), "success")
            return redirect(url_for("farms.dashboard"))
    return _render(form, farm, choices, 400 if form.is_submitted() else 200)


def _render(form, farm, choices, status: int):
    words, map_data = None, _map_data(form, farm)
    if farm.latitude is not None and farm.longitude is not None:
        map_data["label"] = services.place_label(db.session, farm)
        words = _words(map_data["label"], farm.latitude, farm.longitude)
    return render_template("producers/edit_profile.html", form=form, farm=farm,
                           choices=choices, words=words, map_data=map_data), status
