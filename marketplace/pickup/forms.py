from __future__ import annotations

from datetime import time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TimeField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    StopValidation,
    ValidationError,
)

from marketplace.web.display import weekday_names

from .services import CutoffRule, days_back_to


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


class ForCutoff:
    """Run ``validators`` only when the cut-off is given the way ``modes`` say; a field
    of another way is ignored, whatever it holds."""

    def __init__(self, modes: tuple[str, ...], *validators):
        self.modes = modes
        self.validators = validators

    def __call__(self, form, field):
        if form.cutoff_mode.data not in self.modes:
            field.errors[:] = []
            raise StopValidation()
        for validator in self.validators:
            validator(form, field)


CUTOFF_MODES = (
    SelectChoice("days", _l("A number of days before, at a time (e.g. the day before at 18:00)")),
    SelectChoice("weekday", _l("A day of the week, at a time (e.g. Tuesday at 18:00)")),
    SelectChoice("hours", _l("A number of hours before the opening")),
)


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
    # Without a choice (an older form), the cut-off is a number of hours as it was.
    cutoff_mode = RadioField(_l("Orders close"), choices=CUTOFF_MODES, default="hours",
                             validators=[AnyOf([m.value for m in CUTOFF_MODES],
                                               message=_l("Please choose how orders close."))])
    cutoff_days = IntegerField(
        _l("Days before"), default=1,
        validators=[ForCutoff(("days",),
                              InputRequired(message=_l("Please enter a number of days.")),
                              NumberRange(min=0, max=14, message=_l(
                                  "Between %(min)d days (the same day) and %(max)d days.")))],
    )
    cutoff_weekday = WeekdayField(
        _l("Day"), coerce=int, validate_choice=False, default=1,
        validators=[ForCutoff(("weekday",),
                              InputRequired(message=_l("Please choose a day.")),
                              AnyOf(range(7), message=_l("Please choose a day.")))],
    )
    cutoff_time = WallClockField(
        _l("At"), default=time(18),
        validators=[ForCutoff(("days", "weekday"),
                              InputRequired(message=_l("Please enter the time orders close.")))],
    )
    cutoff_hours = IntegerField(
        _l("Order cut-off (hours before opening)"), default=36,
        validators=[ForCutoff(("hours",),
                              InputRequired(message=_l("Please enter the cut-off in hours.")),
                              NumberRange(min=0, max=240,
                                          message=_l("Between %(min)d and %(max)d hours.")))],
    )
    submit = SubmitField(_l("Add this opening"))
    # Shows the cut-offs of the next two dates and saves nothing.
    preview = SubmitField(_l("See the effect"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weekday.choices = weekday_names()
        self.cutoff_weekday.choices = weekday_names()

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The closing time must be after the opening time."))

    def validate_cutoff_time(self, field):
        if (self.cutoff_mode.data == "days" and self.cutoff_days.data == 0
                and self.starts_at.data and field.data and field.data > self.starts_at.data):
            raise ValidationError(_l(
                "On the day itself, orders must close by the opening time."))

    def cutoff(self) -> CutoffRule:
        """The cut-off typed (validated form)."""
        mode = self.cutoff_mode.data
        if mode == "hours":
            return CutoffRule(hours=self.cutoff_hours.data)
        if mode == "weekday":
            days = days_back_to(self.weekday.data, self.cutoff_weekday.data,
                                self.cutoff_time.data, self.starts_at.data)
        else:
            days = self.cutoff_days.data
        return CutoffRule(hours=0, days=days, at=self.cutoff_time.data)


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
