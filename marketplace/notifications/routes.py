"""Buyers choose the market day e-mails of a pickup point; one-click unsubscribing."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.extensions import csrf, db
from marketplace.models import get_by_id, utcnow
from marketplace.pickup.models import PickupPoint
from marketplace.web.redirects import safe_next

from . import market_days, preferences
from .forms import MarketDayMailsForm, NoticesForm

bp = Blueprint("market_day_mails", __name__, url_prefix="/market-day-mails")
notices_bp = Blueprint("notices", __name__)


@bp.app_context_processor
def inject_market_day_mails():
    def market_day_mails_form(point: PickupPoint):
        """The form of the point's e-mails for the signed-in buyer, ticked as stored;
        None where none can be chosen."""
        if not current_user.is_authenticated or not market_days.can_subscribe(point):
            return None
        subscription = market_days.subscription_of(db.session, current_user.id, point.id)
        return MarketDayMailsForm(
            formdata=None, opening=bool(subscription and subscription.opening),
            cutoff=bool(subscription and subscription.cutoff),
            next=request.full_path.rstrip("?"))

    def market_day_mail_points():
        """The points the signed-in buyer gets market day e-mails from (account page)."""
        if not current_user.is_authenticated:
            return []
        return market_days.points_subscribed(db.session, current_user.id)

    return {"market_day_mails_form": market_day_mails_form,
            "market_day_mail_points": market_day_mail_points}


@bp.post("/points/<int:point_id>")
@login_required
def choose(point_id: int):
    point = get_by_id(db.session, PickupPoint, point_id)
    if not market_days.can_subscribe(point):
        abort(404)
    form = MarketDayMailsForm()
    if not form.validate_on_submit():
        abort(400)
    kinds = {kind for kind in market_days.KINDS if getattr(form, kind).data}
    market_days.set_kinds(db.session, current_user, point, kinds, now=utcnow())
    if kinds:
        flash(_("Saved: we will e-mail you about the market days at %(point)s.",
                point=point.name), "success")
    else:
        flash(_("Saved: no more market day e-mails from %(point)s.", point=point.name),
              "success")
    return redirect(safe_next(form.next.data) or url_for("checkout.orders"), code=303)


# The link of every market day e-mail and its List-Unsubscribe header. No CSRF token:
# the POST comes from the mail client (RFC 8058 one-click) or from a page seen without
# signing in; the signed token in the URL is what allows it, not a session cookie a
# forged request could ride on, so a forger would need the token itself.
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    config = current_app.config
    try:
        if request.method == "GET":
            # A GET never unsubscribes: mail scanners open links on their own.
            subscription, point, kind = market_days.subscription_of_token(db.session, config,
                                                                          token)
            return render_template("notifications/unsubscribe.html", point=point, kind=kind,
                                   subscribed=subscription is not None, done=False)
        stopped, point, kind = market_days.unsubscribe(db.session, config, token)
    except market_days.BadToken:
        return render_template("notifications/unsubscribe.html", bad_link=True), 400
    return render_template("notifications/unsubscribe.html", point=point, kind=kind,
                           subscribed=False, done=True, stopped=stopped)


# The notices a person may switch off -------------------------------------------------------

def _notices_form() -> NoticesForm:
    """The form as stored (defaults where nothing was chosen)."""
    form = NoticesForm(formdata=None)
    new_order = preferences.preference_of(db.session, current_user.id,
                                          preferences.FARM_NEW_ORDER)
    if new_order is not None:
        form.farm_new_order.data = ("off" if not new_order.enabled
                                    else "digest" if new_order.digest_hour is not None
                                    else "each")
        if new_order.digest_hour is not None:
            form.digest_hour.data = new_order.digest_hour
    form.farm_slot_summary.data = preferences.wants(db.session, current_user.id,
                                                    preferences.FARM_SLOT_SUMMARY)
    form.buyer_reminder.data = preferences.wants(db.session, current_user.id,
                                                 preferences.BUYER_REMINDER)
    return form


@notices_bp.route("/account/notices", methods=["GET", "POST"])
@login_required
def notices():
    optional = preferences.optional_for(current_user)
    form = NoticesForm() if request.method == "POST" else _notices_form()
    if request.method == "POST":
        if not optional:
            abort(400)
        if not form.validate_on_submit():
            return render_template("notifications/notices.html", form=form, optional=optional,
                                   required=preferences.required_for(current_user)), 400
        kinds = {kind.name for kind in optional}
        if preferences.FARM_NEW_ORDER in kinds:
            choice = form.farm_new_order.data
            preferences.choose(db.session, current_user, preferences.FARM_NEW_ORDER,
                               enabled=choice != "off",
                               digest_hour=form.digest_hour.data if choice == "digest"
                               else None, now=utcnow())
            preferences.choose(db.session, current_user, preferences.FARM_SLOT_SUMMARY,
                               enabled=bool(form.farm_slot_summary.data), now=utcnow())
        if preferences.BUYER_REMINDER in kinds:
            preferences.choose(db.session, current_user, preferences.BUYER_REMINDER,
                               enabled=bool(form.buyer_reminder.data), now=utcnow())
        flash(_("Your e-mail choices are saved."), "success")
        return redirect(url_for("notices.notices"), code=303)
    return render_template("notifications/notices.html", form=form, optional=optional,
                           required=preferences.required_for(current_user))
