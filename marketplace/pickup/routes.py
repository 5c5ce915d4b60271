"""Hosts manage the schedules and dated slots of their points; producers their rounds."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.decorators import producer_required, role_required
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.pickup import rounds as rounds_service
from marketplace.producers.views import current_farm
from marketplace.web.display import display_tz, weekday_names
from marketplace.web.forms import ConfirmForm
from marketplace.web.ids import parse_id

from . import services
from .forms import CloseSlotForm, ScheduleForm
from .market_day_views import describe_cutoff
from .models import SlotStatus

bp = Blueprint("pickup", __name__)

host_required = role_required(Role.HOST, Role.ADMIN)
WEEKDAYS = frozenset("0123456")  # a round's day as the form sends it, Monday = 0


def point_or_404(point_id: int):
    point = services.managed_point(db.session, current_user, point_id)
    if point is None:
        abort(404)
    return point


def render_point(point, *, form=None, close_form=None, close_slot_id=None, error=None,
                  preview=None, status=200):
    slots = services.upcoming_slots(db.session, point, utcnow())
    return render_template(
        "pickup/point.html",
        point=point,
        error=error,
        preview=preview,
        holidays=services.coming_holidays(db.session, point, now=utcnow(), tz=display_tz(),
                                          language=str(get_locale() or "fr")),
        describe_cutoff=describe_cutoff,
        schedules=services.schedules_of(db.session, point),
        slots=slots,
        open_slots=[s for s in slots if s.status == SlotStatus.OPEN],
        form=form or ScheduleForm(formdata=None, cutoff_mode="days"),
        close_form=close_form or CloseSlotForm(formdata=None),
        close_slot_id=close_slot_id,
        confirm_form=ConfirmForm(formdata=None),
        day_names=dict(weekday_names()),
        now=utcnow(),
    ), status


@bp.route("/pickup/points")
@host_required
def points():
    return render_template("pickup/points.html",
                           points=services.points_managed_by(db.session, current_user))


@bp.route("/pickup/points/<int:point_id>")
@host_required
def point(point_id: int):
    return render_point(point_or_404(point_id))


@bp.route("/pickup/points/<int:point_id>/schedules", methods=["POST"])
@host_required
def add_schedule(point_id: int):
    point = point_or_404(point_id)
    form = ScheduleForm()
    if not form.validate_on_submit():
        return render_point(point, form=form, status=400)
    if form.preview.data:  # "See the effect": the next two dates, nothing saved
        return render_point(point, form=form, preview=services.next_openings(
            db.session, point, weekday=form.weekday.data, starts_at=form.starts_at.data,
            ends_at=form.ends_at.data, rule=form.cutoff(), now=utcnow(), tz=display_tz()))
    rule = form.cutoff()
    services.add_schedule(
        db.session, point, weekday=form.weekday.data, starts_at=form.starts_at.data,
        ends_at=form.ends_at.data, capacity=form.capacity.data, cutoff_hours=rule.hours,
        cutoff_days=rule.days, cutoff_time=rule.at,
    )
    flash(_("Opening added. Its dated slots appear once they are generated."), "success")
    return redirect(url_for("pickup.point", point_id=point.id))


@bp.route("/pickup/points/<int:point_id>/schedules/<int:schedule_id>/delete", methods=["POST"])
@host_required
def delete_schedule(point_id: int, schedule_id: int):
    point = point_or_404(point_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not services.remove_schedule(db.session, point, schedule_id):
        abort(404)
    flash(_("Opening removed. Dates already generated stay until you close them."), "success")
    return redirect(url_for("pickup.point", point_id=point.id))


@bp.route("/pickup/points/<int:point_id>/slots/generate", methods=["POST"])
@host_required
def generate(point_id: int):
    point = point_or_404(point_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    created = services.generate_slots(
        db.session, weeks=current_app.config.get("PICKUP_WEEKS_AHEAD", 4), now=utcnow(),
        tz=display_tz(), point_ids=[point.id])
    flash(_("%(n)d date(s) created.", n=created), "success")
    return redirect(url_for("pickup.point", point_id=point.id))


# Public holidays ---------------------------------------------------------------------

def holiday_post(point_id: int, raw_day: str):
    """The point and the date a holiday form names (404 for a date that is none)."""
    point = point_or_404(point_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        return point, date.fromisoformat(raw_day)
    except ValueError:
        abort(404)


@bp.route("/pickup/points/<int:point_id>/holidays/<day>/open", methods=["POST"])
@host_required
def open_holiday(point_id: int, day: str):
    point, when = holiday_post(point_id, day)
    try:
        services.open_holiday(db.session, point, when, now=utcnow(), tz=display_tz())
    except services.HolidayError:
        return render_point(point, status=400, error=_(
            "This day is not a coming public holiday of this point: nothing was changed."))
    created = services.generate_slots(
        db.session, weeks=current_app.config.get("PICKUP_WEEKS_AHEAD", 4), now=utcnow(),
        tz=display_tz(), point_ids=[point.id])
    flash(ngettext(
        "The point opens on this holiday. %(num)d date created.",
        "The point opens on this holiday. %(num)d dates created.", created)
        if created else _("The point opens on this holiday. Its dates are created with "
                          "the coming weeks."), "success")
    return redirect(url_for("pickup.point", point_id=point.id, _anchor="holidays-title"))


@bp.route("/pickup/points/<int:point_id>/holidays/<day>/close", methods=["POST"])
@host_required
def close_holiday(point_id: int, day: str):
    point, when = holiday_post(point_id, day)
    try:
        services.close_holiday(db.session, point, when, now=utcnow(), tz=display_tz())
    except services.HolidayHeld:
        return render_point(point, status=409, error=_(
            "An order holds this holiday: close that date in the list of dates, where its "
            "orders can be moved or cancelled."))
    except services.HolidayError:
        return render_point(point, status=400, error=_(
            "This holiday is not open at this point: nothing was changed."))
    flash(_("The point stays closed on this holiday."), "success")
    return redirect(url_for("pickup.point", point_id=point.id, _anchor="holidays-title"))


# Producer rounds ---------------------------------------------------------------------

@bp.route("/farm/rounds", methods=["GET", "POST"])
@producer_required
def farm_rounds():
    farm = current_farm()
    nearby = rounds_service.nearby_points(db.session, farm)
    form = ConfirmForm()
    error = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        allowed = {n.point.id for n in nearby}
        wanted = set()
        for value in request.form.getlist("round"):
            raw_point, _sep, weekday = value.partition(":")
            point_id = parse_id(raw_point)
            if point_id is None or weekday not in WEEKDAYS:
                error = _("This choice could not be understood.")
                break
            if point_id not in allowed:
                error = _("One of the pickup points chosen is outside your delivery radius "
                          "(%(km)d km).", km=farm.delivery_radius_km)
                break
            wanted.add((point_id, int(weekday)))
        if error is None:
            try:
                rounds_service.set_rounds(db.session, farm, wanted)
            except rounds_service.RoundError:
                db.session.rollback()
                error = _("One of the pickup points chosen is outside your delivery radius "
                          "(%(km)d km).", km=farm.delivery_radius_km)
            else:
                flash(_("Your delivery rounds are saved."), "success")
                return redirect(url_for("pickup.farm_rounds"))
        status = 400
    current = {(r.pickup_point_id, r.weekday) for r in rounds_service.rounds_of(db.session, farm)}
    return render_template(
        "farm/rounds.html", farm=farm, nearby=nearby, current=current, form=form,
        error=error, days=weekday_names(), doors=rounds_service.door_hours(db.session, nearby),
    ), status
