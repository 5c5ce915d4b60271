from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class NameRelayForm(FlaskForm):
    email = EmailField(
        _l("The volunteer's e-mail"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter the volunteer's e-mail address.")),
                    Length(max=254, message=_l("At most %(max)d characters."))])


class NeighbourForm(FlaskForm):
    display_name = StringField(
        _l("Name"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter the neighbour's name.")),
                    Length(max=120, message=_l("At most %(max)d characters."))])
    phone = StringField(_l("Phone (if they have one)"), filters=[_strip],
                        validators=[Length(max=40, message=_l("At most %(max)d characters."))])
    postal_address = TextAreaField(
        _l("Postal address (if they wish)"), filters=[_strip],
        validators=[Length(max=500, message=_l("At most %(max)d characters."))])
    purpose = TextAreaField(
        _l("What they agree to"), filters=[_strip],
        default=_l("That the relays of this point order for them and keep their name, "
                   "phone number and address for it."),
        validators=[DataRequired(message=_l("Say what the neighbour agrees to.")),
                    Length(max=500, message=_l("At most %(max)d characters."))])
    consent = BooleanField(
        _l("The neighbour agrees, today"),
        validators=[DataRequired(message=_l("Register a neighbour only with their consent."))])


class HandOverForm(FlaskForm):
    email = EmailField(
        _l("The neighbour's own e-mail address"), filters=[_strip],
        validators=[DataRequired(message=_l("Enter the neighbour's e-mail address.")),
                    Length(max=254, message=_l("At most %(max)d characters.")),
                    Email(message=_l("This is not a valid e-mail address."),
                          check_deliverability=False)])
