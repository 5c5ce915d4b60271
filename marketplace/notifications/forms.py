"""The market day e-mails form (the one on pickup point and order pages) and the
notices page's form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField


class MarketDayMailsForm(FlaskForm):
    opening = BooleanField(_l("E-mail me when orders open for the next market day"))
    cutoff = BooleanField(_l("Remind me the day before the order deadline if I have "
                             "not ordered yet"))
    next = HiddenField()


class NoticesForm(FlaskForm):
    """A farm's choices, and a buyer's: each sees the fields of its own kinds
    (``preferences.optional_for``)."""

    farm_new_order = RadioField(
        _l("A new order for my farm"),
        choices=[SelectChoice("each", _l("An e-mail for each order")),
                 SelectChoice("digest", _l("One e-mail a day, listing the new orders")),
                 SelectChoice("off", _l("No e-mail (I look at my orders page)"))],
        default="each")
    digest_hour = SelectField(_l("Daily e-mail at"), coerce=int, default=7,
                              choices=[SelectChoice(hour, f"{hour:02d} h") for hour in range(24)])
    farm_slot_summary = BooleanField(
        _l("At each cut-off, what to bring, with the pick list (CSV)"), default=True)
    buyer_reminder = BooleanField(_l("The day before I collect, a reminder of my order"),
                                  default=True)
