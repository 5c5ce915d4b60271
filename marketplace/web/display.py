"""How views show times and days: the site's display time zone and day names.

Dates are stored in UTC; pages, forms and files show them in the time zone of the
settings (BABEL_DEFAULT_TIMEZONE, from TIMEZONE), in the current language.
"""

from __future__ import annotations

from babel.dates import get_day_names
from flask import current_app
from flask_babel import get_locale


def display_tz() -> str:
    """The name of the time zone dates are shown in ("Europe/Paris")."""
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def weekday_names() -> list[tuple[int, str]]:
    """(0, 'Monday') ... (6, 'Sunday') in the current language."""
    names = get_day_names("wide", locale=str(get_locale() or "en"))
    return [(day, names[day].capitalize()) for day in range(7)]
