"""How views show times and days: the site's display time zone and day names.

Dates are stored in UTC; pages, forms and files show them in the time zone of the
settings (BABEL_DEFAULT_TIMEZONE, from TIMEZONE), in the current language.
"""

from __future__ import annotations

from datetime import date, datetime, time

from babel.dates import get_day_names
from flask import current_app
from flask_babel import format_date, format_time, get_locale, to_user_timezone
from flask_babel import gettext as _


def display_tz() -> str:
    """The name of the time zone dates are shown in ("Europe/Paris")."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def weekday_names() -> list[tuple[int, str]]:
    """(0, 'Monday') ... (6, 'Sunday') in the current language."""
    names = get_day_names("wide", locale=str(get_locale() or "en"))
    return [(day, names[day].capitalize()) for day in range(7)]


def hour_people_say(wall: time) -> str:
    """A wall-clock time as said in the current language: "18 h", "18 h 30" in French,
    "6 pm", "6:30 pm" in English (no-break spaces, so a phone never splits it)."""
    language = str(get_locale() or "en")
    if language.startswith("fr"):
        minutes = f"\u00a0{wall.minute:02d}" if wall.minute else ""
        return f"{wall.hour}\u00a0h{minutes}"
    pattern = "h:mm\u00a0a" if wall.minute else "h\u00a0a"
    return format_time(wall, pattern, rebase=False).lower()


def date_people_say(day: date, *, weekday: bool = True, year: bool = False) -> str:
    """A date as written in the current language: "mercredi 9 décembre", "vendredi
    1er janvier" (French writes the first of the month so), "Wednesday 9 December"."""
    number = "d"
    if day.day == 1 and str(get_locale() or "en").startswith("fr"):
        number = "d'er'"
    pattern = ("EEEE " if weekday else "") + number + " MMMM" + (" y" if year else "")
    return format_date(day, pattern, rebase=False)


def cutoff_people_say(instant: datetime) -> str:
    """An instant (a cut-off) as people say it, in the display time zone and the current
    language: "mercredi 9 décembre à 18 h", "Wednesday 9 December at 6 pm"."""
    local = to_user_timezone(instant)
    return _("%(day)s at %(time)s", day=date_people_say(local.date()),
             time=hour_people_say(local.time()))
