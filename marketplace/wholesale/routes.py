"""Restaurant profile, and a farm's wholesale settings of a variant."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts import business_ids
from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role
from marketplace.catalogue import pricing
from marketplace.extensions import db
from marketplace.geo.services import geocoder_for, resolve_place
from marketplace.wholesale import door, services
from marketplace.wholesale.forms import RestaurantProfileForm

bp = Blueprint("wholesale", __name__)

restaurant_required = role_required(Role.RESTAURANT)


def _locate(commune: str, postcode: str):
    """(latitude, longitude) of the commune (narrowed by its postcode), or (None, None)."""

    for query in (f"{commune} {postcode}".strip(), commune):
        resolution = resolve_place(query, session=db.session,
                                   geocoder=geocoder_for(current_app.config,
                                                         lambda: db.session))
        if resolution.found:
            return resolution.place.latitude, resolution.place.longitude
    return None, None


@bp.route("/restaurant/profile", methods=["GET", "POST"])
@restaurant_required
def profile():
    existing = services.profile_of(db.session, current_user)
    form = RestaurantProfileForm(obj=existing)
    if form.validate_on_submit():
        commune = form.commune.data.strip()
        postcode = form.postcode.data.strip()
        latitude, longitude = _locate(commune, postcode)
        services.save_profile(
            db.session,
            current_user,
            business_name=form.business_name.data.strip(),
            siret=business_ids.normalize_digits(form.siret.data),
            vat_number=business_ids.normalize_digits(form.vat_number.data),
            address=form.address.data.strip(),
            postcode=postcode,
            commune=commune,
            latitude=latitude,
            longitude=longitude,
            delivery_hours=(form.delivery_hours.data or "").strip(),
        )
        door.follow_profile(db.session, current_user, services.profile_of(db.session,
                                                                          current_user))
        flash(_("Your restaurant profile is saved."), "success")
        if latitude is None:
            flash(_("We could not place your commune on the map; check its spelling."),
                  "warning")
        return redirect(url_for("wholesale.profile"))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "wholesale/profile.html", form=form, profile=existing,
        approved=current_user.approved_at is not None,
    ), status


@bp.app_context_processor
def _wholesale_buyer():
    # Templates (product cards) show wholesale-only variants to approved restaurants only.
    return {"wholesale_buyer": pricing.is_wholesale_buyer(current_user)}
