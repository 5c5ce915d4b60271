"""Choosing a market day ("Où et quand ?"): a pickup point and the date of one of its
open slots, from the buyer's place. GET shows the choices; POST (with CSRF) keeps one,
sorts the cart for it and adds the item that was waiting for a market day."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.discover.map_routes import PICKUP_KIND_LABELS
from marketplace.extensions import db
from marketplace.geo import location as buyer_location
from marketplace.geo.forms import LocationForm
from marketplace.models import utcnow
from marketplace.orders import cart as cart_service
from marketplace.orders import market_day as market_day_service
from marketplace.orders.cart import CART_KEY
from marketplace.orders.routes import ASKED_KEY, PENDING_KEY, add_pending, session_cart
from marketplace.pickup import market_days
from marketplace.pickup.market_day_views import (
    current_market_day,
    day_name,
    describe_cutoff,
    refusal_message,
    remember,
)
from marketplace.web.display import display_tz, weekday_names
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import parse_id
from marketplace.web.redirects import safe_next

bp = Blueprint("market_day", __name__)


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _render(*, next_url: str | None, error: str | None = None, next_slot=None,
            offered=None, status: int = 200):
    here = buyer_location.current_location(session, current_user)
    location_form = LocationForm(formdata=None)
    location_form.next.data = url_for("market_day.choose", next=next_url)
    if here is not None:
        location_form.radius_km.data = here.radius_km
    choices = market_days.next_openings(
        db.session, user_id=_user_id(), now=utcnow(),
        near=(here.latitude, here.longitude) if here else None, tz=display_tz())
    return render_template(
        "market_day/choose.html", choices=choices, here=here, current=current_market_day(),
        location_form=location_form, next_url=next_url, error=error, next_slot=next_slot,
        offered=offered,
        pending=session.get(PENDING_KEY), form=ConfirmForm(),
    ), status


@bp.get("/market-day")
def choose():
    """The chooser; ``?slot=ID`` (the link of a market-day e-mail) offers that day first,
    to keep with one click (a POST: a link alone never changes the choice)."""
    offered = None
    slot_id = parse_id(request.args.get("slot"))
    if slot_id is not None:
        offered = market_days.market_day_of(db.session, slot_id, user_id=_user_id(),
                                            now=utcnow(), tz=display_tz())
    return _render(next_url=safe_next(request.args.get("next")), offered=offered)


@bp.get("/points/<int:point_id>")
def point(point_id: int):
    """A pickup point's public page: where it is, when it opens, its next market days to
    choose, the farms that come, and (signed in) its market-day e-mails. A restaurant's
    own door is only that restaurant's: 404 for anyone else, as for an unknown point."""
    page = market_days.point_page(db.session, point_id, user_id=_user_id(), now=utcnow(),
                                  tz=display_tz())
    if page is None:
        abort(404)
    return render_template("market_day/point.html", page=page, point=page.point,
                           current=current_market_day(), day_names=dict(weekday_names()),
                           describe_cutoff=describe_cutoff,
                           kind_label=PICKUP_KIND_LABELS.get(page.point.kind, _("Pickup point")))


@bp.post("/market-day")
def keep():
    form = ConfirmForm()
    next_url = safe_next(request.form.get("next"))
    if not form.validate_on_submit():
        abort(400)
    slot_id = parse_id(request.form.get("slot_id"))
    if slot_id is None:
        return _render(next_url=next_url, status=400,
                       error=_("This market day was not recognised. Choose one in the list."))
    slot = market_days.slot_with_point(db.session, slot_id)
    refusal = market_days.refusal(db.session, slot, user_id=_user_id(), now=utcnow(),
                                  tz=display_tz())
    if refusal is not None:
        return _render(next_url=next_url, error=refusal_message(refusal, slot),
                       next_slot=refusal.next_slot, status=refusal.status)
    day = market_days.MarketDay(slot, market_days.local_date(slot, display_tz()))
    remember(day)
    _sort_cart(day)
    flash(_("Your market day: %(point)s, %(day)s.", point=slot.pickup_point.name,
            day=day_name(day.day)), "success")
    back = add_pending()
    return redirect(next_url or back or url_for("catalogue.index"), code=303)


def _sort_cart(day: market_days.MarketDay) -> None:
    """What fits the new market day stays in the cart; the rest is kept aside, said."""
    fitted = market_day_service.fit(
        db.session, session_cart(), session.get(market_day_service.ASIDE_KEY) or {}, day,
        buyer=current_user, tz=display_tz(), now=utcnow())
    session[CART_KEY] = fitted.cart
    session[market_day_service.ASIDE_KEY] = fitted.aside
    for line in fitted.set_aside:
        flash(_("Kept aside, not in your cart for this market day: %(item)s — %(reason)s",
                item=_line_name(line), reason=fitted.reasons[line.variant_id]), "warning")
    for line in fitted.restored:
        flash(_("Back in your cart: %(item)s.", item=_line_name(line)), "success")


def _line_name(line: cart_service.CartLine) -> str:
    if line.product_name:
        return f"{line.product_name} ({line.variant_label})"
    return _("An item no longer sold")


@bp.post("/market-day/later")
def later():
    """Browse and fill the cart first: the waiting item is added without a market day."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session[ASKED_KEY] = True
    back = add_pending()
    return redirect(safe_next(request.form.get("next")) or back
                    or url_for("catalogue.index"), code=303)


@bp.post("/market-day/aside/remove")
def remove_aside():
    """Forget a line kept aside."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        variant_id = cart_service.parse_variant_id(request.form.get("variant_id"))
        aside = cart_service.remove(
            cart_service.load(session.get(market_day_service.ASIDE_KEY)), variant_id)
    except cart_service.CartError:
        abort(404)
    session[market_day_service.ASIDE_KEY] = aside
    flash(_("Removed from the items kept aside."), "success")
    return redirect(url_for("orders.show"), code=303)
