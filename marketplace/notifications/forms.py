"""The market day e-mails form (the one on pickup point and order pages)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField


class MarketDayMailsForm(FlaskForm):
    opening = BooleanField(_l("E-mail me when orders open for the next market day"))
    cutoff = BooleanField(_l("Remind me the day before the order deadline if I have "
                             "not ordered yet"))
    next = HiddenField()
