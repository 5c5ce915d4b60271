"""A farm's pages with its figures: the public page (its products, how far its orders
travel) and the farm's own home."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from marketplace.accounts.decorators import producer_required
from marketplace.catalogue import services as catalogue
from marketplace.catalogue.market_day_views import market_day_marks, market_day_view
from marketplace.catalogue.page_cache_views import shared_part
from marketplace.catalogue.pricing import is_wholesale_buyer
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.producers import services as producers
from marketplace.producers.views import current_farm
from marketplace.web.display import display_tz

from .farms import food_miles_of_producer

bp = Blueprint("farms", __name__)


@bp.route("/producers/<int:producer_id>")
def show(producer_id: int):
    producer = producers.get_public_producer(db.session, producer_id)
    if producer is None:
        abort(404)
    show_all = bool(request.args.get("all"))
    market_day, available, only = market_day_view(show_all)
    wholesale = is_wholesale_buyer(current_user)
    month = market_day.day.month if market_day else catalogue.current_month(utcnow(),
                                                                            display_tz())

    def body() -> str:
        products = catalogue.products_of_producer(
            db.session, producer.id, wholesale=wholesale, available=only,
        )
        return render_template(
            "producers/_show_body.html",
            producer=producer,
            products=products,
            food_miles=food_miles_of_producer(db.session, producer.id),
            month=month,
            market_day=market_day,
            show_all=show_all,
            marks=market_day_marks(products, market_day, available) if show_all else {},
        )

    return render_template("producers/show.html", producer=producer, body=shared_part(
        "farm-page", (producer.id, str(get_locale()), wholesale, show_all, month,
                      market_day.slot_id if market_day else None), body))


@bp.route("/farm")
@producer_required
def dashboard():
    farm = current_farm()
    return render_template(
        "producers/dashboard.html",
        farm=farm,
        product_count=catalogue.count_products(db.session, farm.id),
        food_miles=food_miles_of_producer(db.session, farm.id),
    )
