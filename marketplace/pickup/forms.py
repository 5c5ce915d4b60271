from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField, TimeField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    ValidationError,
)

from marketplace.web.display import weekday_names


class WallClockField(TimeField):
    """A local time typed as HH:MM, with our own message when it is not one."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_l("Please enter a time as HH:MM, for example 17:30.")) from exc


class WeekdayField(SelectField):
    """0 (Monday) to 6; something else is left to the AnyOf validator's message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None


class ScheduleForm(FlaskForm):
    weekday = WeekdayField(
        _l("Day of the week"), coerce=int, validate_choice=False,
        validators=[InputRequired(message=_l("Please choose a day.")),
                    AnyOf(range(7), message=_l("Please choose a day."))],
    )
    starts_at = WallClockField(
        _l("Opens at"), validators=[InputRequired(message=_l("Please enter an opening time."))])
    ends_at = WallClockField(
        _l("Closes at"), validators=[InputRequired(message=_l("Please enter a closing time."))])
    capacity = IntegerField(
        _l("Orders per slot"), default=20,
        validators=[InputRequired(message=_l("Please enter how many orders a slot takes.")),
                    NumberRange(min=1, max=500,
                                message=_l("Between %(min)d and %(max)d orders."))],
    )
    cutoff_hours = IntegerField(
        _l("Order cut-off (hours before opening)"), default=36,
        validators=[InputRequired(message=_l("Please enter the cut-off in hours.")),
                    NumberRange(min=0, max=240,
                                message=_l("Between %(min)d and %(max)d hours."))],
    )
    submit = SubmitField(_l("Add this opening"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weekday.choices = weekday_names()

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The closing time must be after the opening time."))


class CloseSlotForm(FlaskForm):
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Please give a reason (for example a holiday).")),
                    Length(max=500, message=_l("At most %(max)d characters."))],
    )
    # What becomes of the date's orders: "move:<slot id>" or "cancel" (choices depend
    # on the point's other dates: checked by the view).
    then = StringField(_l("Its orders"), validators=[Length(max=40)])
    submit = SubmitField(_l("Close this date"))
