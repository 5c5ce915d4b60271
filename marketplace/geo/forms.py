from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import Length, NumberRange, Optional

from marketplace.geo.location import DEFAULT_RADIUS_KM, MAX_RADIUS_KM, MIN_RADIUS_KM

RADIUS_CHOICES = (5, 10, 20, 30, 50, 75, 100)


class LocationForm(FlaskForm):
    place = StringField(
        _l("Commune or postcode"),
        validators=[Optional(), Length(max=100, message=_l("At most %(max)d characters."))],
        description=_l("For example: Vannes, Saint-Avé, 56000, Saint-Lô (50)."),
    )
    radius_km = SelectField(
        _l("How far will you go?"),
        coerce=int,
        choices=[SelectChoice(km, f"{km} km") for km in RADIUS_CHOICES],
        default=DEFAULT_RADIUS_KM,
        validators=[NumberRange(min=MIN_RADIUS_KM, max=MAX_RADIUS_KM)],
    )
    # Filled by the "Use my position" button (JavaScript), or by a homonym's button.
    latitude = HiddenField()
    longitude = HiddenField()
    place_id = IntegerField(validators=[Optional()])
    next = HiddenField()
    submit = SubmitField(_l("Search around here"))
