"""Restaurant profile, and a farm's wholesale settings of a variant."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.decorators import producer_required, role_required
from marketplace.accounts.models import Role
from marketplace.catalogue import services as catalogue
from marketplace.catalogue.models import SaleMode
from marketplace.extensions import db
from marketplace.wholesale import door, services
from marketplace.wholesale.forms import RestaurantProfileForm, WholesaleVariantForm

bp = Blueprint("wholesale", __name__)

restaurant_required = role_required(Role.RESTAURANT)


def _locate(commune: str, postcode: str):
    """(latitude, longitude) of the commune (narrowed by its postcode), or (None, None)."""
    from marketplace.geo.services import geocoder_for, resolve_place

    for query in (f"{commune} {postcode}".strip(), commune):
        resolution = resolve_place(query, geocoder=geocoder_for(current_app.config))
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
            siret=services.normalize_digits(form.siret.data),
            vat_number=services.normalize_digits(form.vat_number.data),
            address=form.address.data.strip(),
            postcode=postcode,
            commune=commune,
            latitude=latitude,
            longitude=longitude,
            delivery_hours=(form.delivery_hours.data or "").strip(),
        )
        door.follow_profile(db.session, current_user, services.profile_of(db.session,
                                                                          current_user))
        db.session.commit()
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


@bp.route("/farm/products/<int:product_id>/variants/<int:variant_id>/wholesale",
          methods=["POST"])
@producer_required
def variant_settings(product_id: int, variant_id: int):
    from marketplace.catalogue.routes import render_edit_page
    from marketplace.web.farm import current_farm

    try:
        variant = catalogue.get_own_variant(current_farm(), product_id, variant_id)
    except catalogue.NotFound:
        abort(404)
    form = WholesaleVariantForm(prefix=f"w{variant.id}")
    if form.validate_on_submit():
        catalogue.save_variant(variant.product, variant, sale_mode=SaleMode(form.sale_mode.data),
                               case_size=form.case_size.data)
        services.set_tiers(db.session, variant, form.tiers())
        db.session.commit()
        flash(_("The wholesale settings are saved."), "success")
        return redirect(url_for("farm.edit_product", product_id=product_id))
    return render_edit_page(variant.product, status=400, wholesale_failed=(variant.id, form))


def wholesale_forms(product, failed=None) -> dict[int, WholesaleVariantForm]:
    """variant id -> its wholesale form for the farm's product page (tiers in one query)."""
    tiers = services.tiers_for(db.session, [v.id for v in product.variants])
    forms = {}
    for variant in product.variants:
        if failed is not None and failed[0] == variant.id:
            forms[variant.id] = failed[1]
            continue
        form = WholesaleVariantForm(prefix=f"w{variant.id}", formdata=None)
        form.fill(variant, tiers.get(variant.id, []))
        forms[variant.id] = form
    return forms


@bp.app_context_processor
def _wholesale_buyer():
    # Templates (product cards) show wholesale-only variants to approved restaurants only.
    return {"wholesale_buyer": services.is_wholesale_buyer(current_user)}
