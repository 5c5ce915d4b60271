from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from wtforms import SelectChoice

from marketplace.accounts import business_ids
from marketplace.accounts.decorators import producer_required
from marketplace.extensions import db
from marketplace.media import ImageRejected, delete_photo_once_committed, save_photo
from marketplace.producers import services
from marketplace.producers.forms import FarmProfileForm
from marketplace.producers.views import current_farm

bp = Blueprint("producers", __name__)


def _digits(text: str | None) -> str:
    return business_ids.normalize_digits(text)


@bp.route("/producers")
def index():
    page = request.args.get("page", 1, type=int)
    pagination = services.list_public_producers(db.session, page, 30)
    return render_template("producers/index.html", pagination=pagination)


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
    if form.validate_on_submit():
        photo_paths = None
        if form.photo.data and getattr(form.photo.data, "filename", None):
            try:
                photo_paths = save_photo(
                    form.photo.data.stream,
                    current_app.config["UPLOAD_FOLDER"],
                    "farms",
                    current_app.config["THUMBNAIL_SIZE"],
                )
            except ImageRejected:
                form.photo.errors = [_("This file is not an image we can read.")]
        if not form.photo.errors:
            old = (farm.photo_path, farm.thumb_path)
            fields = {
                "name": form.name.data.strip(),
                "description": (form.description.data or "").strip(),
                "commune": (form.commune.data or "").strip(),
                "postcode": (form.postcode.data or "").strip(),
                "address": (form.address.data or "").strip(),
                "latitude": float(form.latitude.data) if form.latitude.data is not None else None,
                "longitude": (
                    float(form.longitude.data) if form.longitude.data is not None else None
                ),
                "delivery_radius_km": form.delivery_radius_km.data,
                "wholesale_minimum_cents": form.wholesale_minimum_cents.cents or 0,
                "standing_orders_first": bool(form.standing_orders_first.data),
                "siret": _digits(form.siret.data) or None,
                "vat_number": _digits(form.vat_number.data) or None,
            }
            if photo_paths:
                fields["photo_path"], fields["thumb_path"] = photo_paths
            services.update_profile(db.session, farm, label_ids=form.labels.data or [], **fields)
            if photo_paths:  # the old files go once the new ones are committed
                delete_photo_once_committed(db.session, current_app.config["UPLOAD_FOLDER"],
                                            *old)
            flash(_("Your farm profile is saved."), "success")
            return redirect(url_for("farms.dashboard"))
    status = 400 if form.is_submitted() else 200
    return render_template("producers/edit_profile.html", form=form, farm=farm), status
