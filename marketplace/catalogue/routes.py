from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from marketplace.accounts.decorators import producer_required
from marketplace.catalogue import food, pricing, services
from marketplace.catalogue.forms import DeleteForm, ProductForm, VariantForm, WholesaleVariantForm
from marketplace.catalogue.market_day_views import market_day_marks, market_day_view
from marketplace.catalogue.models import SaleMode, months_to_mask
from marketplace.catalogue.page_cache_views import shared_part
from marketplace.catalogue.pricing import is_wholesale_buyer, tiers_for, visible_to
from marketplace.extensions import db
from marketplace.geo import location as buyer_location
from marketplace.geo.services import within_radius_ids
from marketplace.media import ImageRejected, delete_photo_once_committed, save_photo
from marketplace.models import get_by_id, utcnow
from marketplace.pickup.models import PickupPoint
from marketplace.producers.models import Producer
from marketplace.producers.services import get_public_producer, is_public, producers_serving
from marketplace.producers.views import current_farm
from marketplace.web.display import display_tz
from marketplace.web.ids import id_arg, page_arg

bp = Blueprint("catalogue", __name__)
farm_bp = Blueprint("farm", __name__, url_prefix="/farm/products")


def _reach_filter():
    """Producer ids allowed by distance, and what to say about it.

    ?near=1: producers within the buyer's radius. ?pickup=ID: producers whose own
    delivery radius reaches that pickup point (the two-sided match).
    """

    approved = (is_public(),)
    pickup_id = id_arg("pickup")
    if pickup_id is not None:
        point = get_by_id(db.session, PickupPoint, pickup_id)
        # A restaurant's door is as unknown as a point that does not exist, but to it.
        viewer = current_user.id if current_user.is_authenticated else None
        if point is None or not point.is_active or not point.is_open_to(viewer):
            abort(404)
        hits = producers_serving(point.latitude, point.longitude, where=approved,
                                 session=db.session)
        return frozenset(hit.obj.id for hit in hits), {"pickup": point}
    if request.args.get("near"):
        here = buyer_location.current_location(session, current_user)
        if here is None:
            return None, {"needs_location": True}
        ids = within_radius_ids(
            Producer, here.latitude, here.longitude, here.radius_km, where=approved,
            session=db.session,
        )
        return frozenset(ids), {"near": here}
    return None, {}


def free_from_arg(codes: list[str]) -> int:
    """?free_from=gluten&free_from=milk -> an allergen mask; unknown codes are ignored
    (an old link still lists the catalogue)."""
    return food.allergens_mask(a for code in codes[:len(food.Allergen)]
                               if (a := food.allergen_by_code(code)) is not None)


@bp.route("/catalogue")
def index():
    producer_id = id_arg("producer")
    filter_producer = (None if producer_id is None
                       else get_public_producer(db.session, producer_id))
    if producer_id is not None and filter_producer is None:
        abort(404)
    producer_ids, reach = _reach_filter()
    if reach.get("needs_location"):
        return redirect(url_for("near.location", next=request.full_path))
    show_all = bool(request.args.get("all"))
    market_day, available, only = market_day_view(show_all)
    filters = services.CatalogueFilters(
        q=(request.args.get("q") or "")[:100],
        category=(request.args.get("category") or "")[:40],
        label=(request.args.get("label") or "")[:20],
        producer_id=producer_id,
        page=page_arg(),
        producer_ids=producer_ids,
        wholesale=is_wholesale_buyer(current_user),
        available=only,
        free_from=free_from_arg(request.args.getlist("free_from")),
    )
    month = market_day.day.month if market_day else services.current_month(utcnow(),
                                                                              display_tz())

    def content() -> str:
        pagination = services.browse(db.session, filters,
                                     current_app.config["CATALOGUE_PAGE_SIZE"])
        return render_template(
            "catalogue/_content.html",
            pagination=pagination,
            filters=filters,
            categories=services.all_categories(db.session),
            allergens=list(food.Allergen),
            labels=services.all_labels(db.session),
            filter_producer=filter_producer,
            reach=reach,
            month=month,
            market_day=market_day,
            show_all=show_all,
            marks=market_day_marks(pagination.items, market_day, available) if show_all else {},
        )

    # The page's body depends on the query string (the filters, and the links that
    # repeat it), the language, the month, the market day and, for the distance
    # filters, where the buyer is and the farms in reach: the same for anyone
    # asking the same.
    near = reach.get("near")
    return render_template("catalogue/index.html", content=shared_part("catalogue", (
        str(get_locale()), sorted(request.args.items(multi=True)), filters, month,
        market_day.slot_id if market_day else None,
        sorted(producer_ids) if producer_ids is not None else None,
        (near.label, near.latitude, near.longitude, near.radius_km) if near else None,
    ), content))


@bp.route("/products/<int:product_id>")
def product(product_id: int):
    item = services.get_public_product(db.session, product_id)
    if item is None:
        abort(404)
    variants = [v for v in item.active_variants if visible_to(current_user, v)]
    if item.active_variants and not variants:
        abort(404)  # sold to restaurants only
    wholesale = is_wholesale_buyer(current_user)
    market_day, available, _only = market_day_view(True)
    return render_template(
        "catalogue/product.html",
        product=item,
        variants=variants,
        wholesale=wholesale,
        tiers=tiers_for(db.session, [v.id for v in variants if v.sold_wholesale])
        if wholesale else {},
        month=market_day.day.month if market_day else services.current_month(
            utcnow(), display_tz()),
        market_day=market_day,
        mark=market_day_marks([item], market_day, available).get(item.id),
    )


# A producer's own catalogue ----------------------------------------------------

def _category_choices():
    locale = str(get_locale())
    return [SelectChoice(c.id, c.name_for(locale)) for c in services.all_categories(db.session)]


def _own_product_or_404(product_id: int):
    try:
        return services.get_own_product(db.session, current_farm(), product_id)
    except services.NotFound:
        abort(404)


def _store_photo(form, product) -> bool:
    """Save an uploaded photo; False (with a field error) when it is not an image."""
    storage = form.photo.data
    if not storage or not getattr(storage, "filename", None):
        return True
    try:
        path, thumb = save_photo(
            storage.stream,
            current_app.config["UPLOAD_FOLDER"],
            "products",
            current_app.config["THUMBNAIL_SIZE"],
        )
    except ImageRejected:
        form.photo.errors = [_("This file is not an image we can read.")]
        return False
    services.add_photo(db.session, product, path, thumb)
    return True


def _product_fields(form: ProductForm) -> dict:
    return {
        "name": form.name.data.strip(),
        "category_id": form.category_id.data,
        "description": (form.description.data or "").strip(),
        "vat_rate_bp": form.vat_rate_bp.data,
        "season_months": months_to_mask(form.months.data),
        "is_active": form.is_active.data,
        "allergens": food.allergens_mask(form.allergens.data or ()),
        "allergen_traces": food.allergens_mask(form.allergen_traces.data or ()),
        "ingredients": (form.ingredients.data or "").strip(),
        "storage": (form.storage.data or "").strip(),
        "origin": (form.origin.data or "").strip(),
        "prepacked": form.prepacked.data,
    }


def _variant_fields(form: VariantForm) -> dict:
    return {
        "label": form.label.data.strip(),
        "price_cents": form.price.cents,
        "stock": form.stock.data,
        "is_active": form.is_active.data,
        **form.net_fields(),
    }


def _saved_product_form(product) -> ProductForm:
    """The product form showing the product as saved (not what was posted)."""
    form = ProductForm(obj=product, formdata=None)
    form.months.data = product.months
    form.fill_food(product)
    form.category_id.choices = _category_choices()
    return form


@farm_bp.route("/")
@producer_required
def products():
    farm = current_farm()
    return render_template(
        "farm/products.html", farm=farm, products=services.own_products(db.session, farm)
    )


@farm_bp.route("/new", methods=["GET", "POST"])
@producer_required
def new_product():
    farm = current_farm()
    form = ProductForm()
    form.category_id.choices = _category_choices()
    variant_form = VariantForm(prefix="variant")
    if form.is_submitted():
        product_ok = form.validate()
        variant_ok = variant_form.validate()
        if product_ok and variant_ok:
            product = services.save_product(db.session, farm, None, **_product_fields(form))
            services.save_variant(db.session, product, None, **_variant_fields(variant_form))
            if _store_photo(form, product):
                flash(_("The product is saved."), "success")
                return redirect(url_for("farm.edit_product", product_id=product.id))
            db.session.rollback()
        return render_template("farm/new_product.html", form=form, variant_form=variant_form), 400
    return render_template("farm/new_product.html", form=form, variant_form=variant_form)


def _render_edit(product, form, variant_forms, new_variant_form, status=200,
                 wholesale_failed=None):
    return (
        render_template(
            "farm/edit_product.html",
            product=product,
            form=form,
            variant_forms=variant_forms,
            new_variant_form=new_variant_form,
            wholesale_forms=wholesale_forms(product, wholesale_failed),
            delete_form=DeleteForm(),
        ),
        status,
    )


def render_edit_page(product, *, status=200, wholesale_failed=None):
    """The farm's product page as saved, e.g. after a refused wholesale form."""
    return _render_edit(product, _saved_product_form(product), _variant_forms(product),
                        VariantForm(prefix="new", formdata=None), status, wholesale_failed)


def _variant_forms(product, failed=None):
    forms = []
    for v in product.variants:
        if failed is not None and failed[0] == v.id:
            forms.append((v, failed[1]))
            continue
        f = VariantForm(prefix=f"v{v.id}", formdata=None, data={
            "label": v.label, "price": v.price_cents, "stock": v.stock, "is_active": v.is_active,
        })
        f.fill_net(v)
        forms.append((v, f))
    return forms


@farm_bp.route("/<int:product_id>", methods=["GET", "POST"])
@producer_required
def edit_product(product_id: int):
    product = _own_product_or_404(product_id)
    form = _saved_product_form(product) if request.method == "GET" else ProductForm()
    form.category_id.choices = _category_choices()
    if form.validate_on_submit():
        services.save_product(db.session, product.producer, product, **_product_fields(form))
        if _store_photo(form, product):
            flash(_("The product is saved."), "success")
            return redirect(url_for("farm.edit_product", product_id=product.id))
        db.session.rollback()
        product = _own_product_or_404(product_id)
    status = 400 if form.is_submitted() else 200
    return _render_edit(
        product, form, _variant_forms(product), VariantForm(prefix="new", formdata=None), status
    )


@farm_bp.route("/<int:product_id>/variants", methods=["POST"])
@producer_required
def add_variant(product_id: int):
    product = _own_product_or_404(product_id)
    new_form = VariantForm(prefix="new")
    if new_form.validate_on_submit():
        services.save_variant(db.session, product, None, **_variant_fields(new_form))
        flash(_("The variant is added."), "success")
        return redirect(url_for("farm.edit_product", product_id=product.id))
    return _render_edit(product, _saved_product_form(product), _variant_forms(product), new_form,
                        400)


@farm_bp.route("/<int:product_id>/variants/<int:variant_id>", methods=["POST"])
@producer_required
def edit_variant(product_id: int, variant_id: int):
    farm = current_farm()
    try:
        variant = services.get_own_variant(db.session, farm, product_id, variant_id)
    except services.NotFound:
        abort(404)
    product = variant.product
    vform = VariantForm(prefix=f"v{variant.id}")
    if vform.validate_on_submit():
        services.save_variant(db.session, product, variant, **_variant_fields(vform))
        flash(_("The variant is saved."), "success")
        return redirect(url_for("farm.edit_product", product_id=product.id))
    return _render_edit(
        product,
        _saved_product_form(product),
        _variant_forms(product, failed=(variant.id, vform)),
        VariantForm(prefix="new", formdata=None),
        400,
    )


@farm_bp.route("/<int:product_id>/variants/<int:variant_id>/delete", methods=["POST"])
@producer_required
def delete_variant(product_id: int, variant_id: int):
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        variant = services.get_own_variant(db.session, current_farm(), product_id, variant_id)
    except services.NotFound:
        abort(404)
    services.delete(db.session, variant)
    flash(_("The variant is deleted."), "info")
    return redirect(url_for("farm.edit_product", product_id=product_id))


@farm_bp.route("/<int:product_id>/photos/<int:photo_id>/delete", methods=["POST"])
@producer_required
def delete_product_photo(product_id: int, photo_id: int):
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        photo = services.get_own_photo(db.session, current_farm(), product_id, photo_id)
    except services.NotFound:
        abort(404)
    paths = (photo.path, photo.thumb_path)
    services.delete(db.session, photo)
    delete_photo_once_committed(db.session, current_app.config["UPLOAD_FOLDER"], *paths)
    flash(_("The photo is deleted."), "info")
    return redirect(url_for("farm.edit_product", product_id=product_id))


@farm_bp.route("/<int:product_id>/delete", methods=["POST"])
@producer_required
def delete_product(product_id: int):
    if not DeleteForm().validate_on_submit():
        abort(400)
    product = _own_product_or_404(product_id)
    paths = [p for photo in product.photos for p in (photo.path, photo.thumb_path)]
    services.delete(db.session, product)
    delete_photo_once_committed(db.session, current_app.config["UPLOAD_FOLDER"], *paths)
    flash(_("The product is deleted."), "info")
    return redirect(url_for("farm.products"))


@farm_bp.route("/<int:product_id>/variants/<int:variant_id>/wholesale", methods=["POST"])
@producer_required
def variant_wholesale(product_id: int, variant_id: int):
    try:
        variant = services.get_own_variant(db.session, current_farm(), product_id, variant_id)
    except services.NotFound:
        abort(404)
    form = WholesaleVariantForm(prefix=f"w{variant.id}")
    if form.validate_on_submit():
        services.save_variant(db.session, variant.product, variant,
                              sale_mode=SaleMode(form.sale_mode.data),
                              case_size=form.case_size.data)
        pricing.set_tiers(db.session, variant, form.tiers())
        flash(_("The wholesale settings are saved."), "success")
        return redirect(url_for("farm.edit_product", product_id=product_id))
    return render_edit_page(variant.product, status=400, wholesale_failed=(variant.id, form))


def wholesale_forms(product, failed=None) -> dict[int, WholesaleVariantForm]:
    """variant id -> its wholesale form for the farm's product page (tiers in one query)."""
    tiers = pricing.tiers_for(db.session, [v.id for v in product.variants])
    forms = {}
    for variant in product.variants:
        if failed is not None and failed[0] == variant.id:
            forms[variant.id] = failed[1]
            continue
        form = WholesaleVariantForm(prefix=f"w{variant.id}", formdata=None)
        form.fill(variant, tiers.get(variant.id, []))
        forms[variant.id] = form
    return forms
