from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from marketplace.accounts import business_ids
from marketplace.pickup.forms import WallClockField
from marketplace.producers.forms import MultiCheckboxField
from marketplace.web.display import weekday_names
from marketplace.wholesale.models import (
    LEGAL_MAX_PAYMENT_TERMS_DAYS,
    PERISHABLE_MAX_PAYMENT_TERMS_DAYS,
)


def _length(max_len):
    return Length(max=max_len, message=_l("At most %(max)d characters."))


class RestaurantProfileForm(FlaskForm):
    business_name = StringField(
        _l("Business name"),
        validators=[DataRequired(message=_l("Please enter the business name.")), _length(120)],
    )
    siret = StringField(
        _l("SIRET"),
        validators=[DataRequired(message=_l("Please enter the SIRET number.")), _length(30)],
        description=_l("14 digits, e.g. 732 829 320 00074."),
    )
    vat_number = StringField(
        _l("VAT number"),
        validators=[DataRequired(message=_l("Please enter the VAT number.")), _length(30)],
        description=_l("FR, two key digits and the 9 digits of the SIREN."),
    )
    address = StringField(
        _l("Delivery address"),
        validators=[DataRequired(message=_l("Please enter the delivery address.")),
                    _length(255)],
    )
    postcode = StringField(
        _l("Postcode"),
        validators=[DataRequired(message=_l("Please enter the postcode.")), _length(10)],
    )
    commune = StringField(
        _l("Commune"),
        validators=[DataRequired(message=_l("Please enter the commune.")), _length(120)],
    )
    delivery_hours = StringField(
        _l("Opening hours for deliveries"),
        validators=[Optional(), _length(255)],
        description=_l("When you receive deliveries, e.g. Tue-Sat 8:00-11:00."),
    )
    submit = SubmitField(_l("Save"))

    def validate_siret(self, field):
        if not business_ids.valid_siret(field.data):
            raise ValidationError(_l("This is not a valid SIRET number: check the 14 digits."))

    def validate_vat_number(self, field):
        vat = business_ids.normalize_digits(field.data)
        if not business_ids.valid_vat_number(vat):
            raise ValidationError(_l(
                "This is not a valid French VAT number: FR, two key digits, then the SIREN."
            ))
        siret = business_ids.normalize_digits(self.siret.data)
        if len(siret) == 14 and vat[4:] != siret[:9]:
            raise ValidationError(_l("The VAT number must end with the SIREN of your SIRET."))


class PaymentTermsForm(FlaskForm):
    """Days an admin gives a restaurant to pay its invoices; empty withdraws them."""

    days = IntegerField(
        _l("Payment terms (days)"),
        validators=[Optional(), NumberRange(min=1, max=LEGAL_MAX_PAYMENT_TERMS_DAYS)],
        description=_l(
            "At most %(max)d days after the invoice date (Code de commerce, L441-10); for "
            "perishable food (vegetables, fruit, meat, dairy...), at most %(perishable)d "
            "days (L441-11).",
            max=LEGAL_MAX_PAYMENT_TERMS_DAYS, perishable=PERISHABLE_MAX_PAYMENT_TERMS_DAYS),
    )
    submit = SubmitField(_l("Save"))


class DoorForm(FlaskForm):
    """The days and hours a restaurant receives deliveries at its door."""

    weekdays = MultiCheckboxField(_l("Delivery days"), coerce=int, validate_choice=False)
    starts_at = WallClockField(
        _l("From"), validators=[InputRequired(message=_l("Please enter a time."))])
    ends_at = WallClockField(
        _l("Until"), validators=[InputRequired(message=_l("Please enter a time."))])
    cutoff_hours = IntegerField(
        _l("Order cut-off (hours before the delivery)"), default=24,
        validators=[InputRequired(message=_l("Please enter the cut-off in hours.")),
                    NumberRange(min=12, max=168, message=_l("Between %(min)d and %(max)d hours."))],
    )
    submit = SubmitField(_l("Receive deliveries on these days"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weekdays.choices = weekday_names()

    def validate_weekdays(self, field):
        if not field.data:
            raise ValidationError(_l("Tick at least one delivery day."))
        if any(day not in range(7) for day in field.data):
            raise ValidationError(_l("Tick days from the list."))

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The end of the delivery window must be after its start."))
