"""What views share about the buyer's market day: it is kept in the Flask session
(every visitor) and on the account (signed in), read once per request."""

from __future__ import annotations

from flask import g, session
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.web.display import display_tz, hour_people_say, weekday_names

from . import market_days
from .market_days import MarketDay

SESSION_KEY = "market_day"  # the chosen slot's id

DAY_FORMAT = "EEEE d MMMM"


def _user_id() -> int | None:
    return current_user.id if getattr(current_user, "is_authenticated", False) else None


def current_market_day() -> MarketDay | None:
    """The buyer's market day if it can still be chosen (open, before its cut-off,
    room left), else None. One query, none for a visitor who chose nothing."""
    if "market_day" in g:
        return g.market_day
    user_id = _user_id()
    slot_id = session.get(SESSION_KEY)
    day = None
    if isinstance(slot_id, int):
        day = market_days.market_day_of(db.session, slot_id, user_id=user_id, now=utcnow(),
                                        tz=display_tz())
    # Chosen, but no longer open for orders (cut-off passed, closed, full): the header
    # asks for another one.
    g.market_day_lapsed = isinstance(slot_id, int) and day is None
    g.market_day = day
    return day


def remember(day: MarketDay) -> None:
    """Keep the market day in the session and on the account (the caller commits)."""
    session[SESSION_KEY] = day.slot_id
    user_id = _user_id()
    if user_id is not None:
        market_days.keep_on_account(db.session, user_id, day.slot_id)
    g.market_day = day


def load_on_login(sender, user, **extra) -> None:
    """Signing in on a device: the account's market day, unless one was just chosen
    here (flask_login's user_logged_in signal)."""
    if not isinstance(session.get(SESSION_KEY), int):
        slot_id = market_days.account_choice(db.session, user.id)
        if slot_id is not None:
            session[SESSION_KEY] = slot_id
    g.pop("market_day", None)


def day_name(day) -> str:
    """"jeudi 10 décembre" in the reader's language."""
    return format_date(day, DAY_FORMAT)


def refusal_message(refusal: market_days.Refusal, slot) -> str:
    """Why the slot cannot be chosen, and the next possible date at the point."""
    if refusal.code == market_days.UNKNOWN:
        return _("This market day does not exist. Choose one in the list.")
    if refusal.code == market_days.PRIVATE:
        return _("This delivery point is a restaurant's own door: only that restaurant "
                 "orders for it.")
    point = slot.pickup_point.name
    day = day_name(market_days.local_date(slot, display_tz()))
    if refusal.code == market_days.CLOSED:
        reason = _("%(point)s is closed on %(day)s.", point=point, day=day)
        if slot.closed_reason:
            reason = f"{reason} ({slot.closed_reason})"
    elif refusal.code == market_days.CUT_OFF:
        reason = _("Orders for %(point)s on %(day)s are closed: the cut-off has passed.",
                   point=point, day=day)
    else:
        reason = _("%(point)s is full on %(day)s.", point=point, day=day)
    if refusal.next_slot is None:
        return reason + " " + _("No other date is open there for now.")
    return reason + " " + _("Next possible date: %(day)s.", day=day_name(
        market_days.local_date(refusal.next_slot, display_tz())))


def describe_cutoff(schedule) -> str:
    """A schedule's cut-off in words: "36 h before", "the day before at 18 h",
    "Tuesday at 18 h (2 days before)"."""
    if schedule.cutoff_time is None:
        return _("%(h)d h before", h=schedule.cutoff_hours)
    at = hour_people_say(schedule.cutoff_time)
    days = schedule.cutoff_days
    if days == 0:
        return _("the same day at %(time)s", time=at)
    if days == 1:
        return _("the day before at %(time)s", time=at)
    day = dict(weekday_names())[(schedule.weekday - days) % 7]
    return ngettext("%(day)s at %(time)s (%(num)d day before)",
                    "%(day)s at %(time)s (%(num)d days before)", days, day=day, time=at)
