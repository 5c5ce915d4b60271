"""A restaurant's door as a delivery destination (rules in door.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.decorators import role_required
from marketplace.accounts.models import Role
from marketplace.catalogue import pricing
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.web.display import display_tz, weekday_names
from marketplace.web.forms import ConfirmForm

from . import door, services
from .forms import DoorForm

bp = Blueprint("door", __name__, url_prefix="/restaurant/door")


def _render(form, *, prefill=False, error=None, status=200):
    """The page; ``prefill``: the form shows the open door's days and hours."""
    point = door.door_of(db.session, current_user)
    schedules = door.door_schedules(db.session, point)
    if prefill and schedules and point.is_active:
        form.weekdays.data = [s.weekday for s in schedules]
        form.starts_at.data, form.ends_at.data = schedules[0].starts_at, schedules[0].ends_at
        form.cutoff_hours.data = schedules[0].cutoff_hours
    return render_template(
        "wholesale/door.html", form=form, close_form=ConfirmForm(formdata=None), point=point,
        schedules=schedules, days=dict(weekday_names()), error=error,
        approved=pricing.is_wholesale_buyer(current_user),
        profile=services.profile_of(db.session, current_user),
        deliveries=door.upcoming_deliveries(db.session, point if point and point.is_active
                                            else None, utcnow()),
    ), status


@bp.route("", methods=["GET", "POST"])
@role_required(Role.RESTAURANT)
def edit():
    form = DoorForm()
    if not form.is_submitted():
        return _render(form, prefill=True)
    if not pricing.is_wholesale_buyer(current_user):
        return _render(form, status=403, error=_(
            "Delivery to your door opens once an administrator has approved your account."))
    if not form.validate():
        return _render(form, status=400)
    try:
        door.save_door(
            db.session, current_user, services.profile_of(db.session, current_user),
            weekdays=set(form.weekdays.data), starts_at=form.starts_at.data,
            ends_at=form.ends_at.data, cutoff_hours=form.cutoff_hours.data, now=utcnow(),
            tz=display_tz(),
        )
    except door.DoorError as exc:
        db.session.rollback()
        return _render(form, status=409, error=str(exc.message))
    flash(_("Your delivery days are saved. Farms within reach can now choose to deliver "
            "to your door on those days."), "success")
    return redirect(url_for("door.edit"), code=303)


@bp.post("/close")
@role_required(Role.RESTAURANT)
def close():
    if not ConfirmForm().validate_on_submit():
        return _render(DoorForm(formdata=None), status=400,
                       error=_("Your form expired. Please send it again."))
    if door.close_door(db.session, current_user, now=utcnow()):
        flash(_("Deliveries to your door are stopped. Orders already placed stay."), "success")
    return redirect(url_for("door.edit"), code=303)
