from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
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
from marketplace.forms import EuroField, check_photo_size, photo_field
from marketplace.models import MoneyError, parse_euros
from marketplace.producers.services import RADIUS_ZERO

MAX_RADIUS_KM = 300


class CoordinateField(DecimalField):
    """Decimal degrees; accepts the French decimal comma ("47,6582")."""

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [valuelist[0].strip().replace(",", ".")]
        super().process_formdata(valuelist)


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class MinimumAmountField(EuroField):
    """An amount in euros where 0 means "none": EuroField's own refusal speaks of a
    price above zero, wrong for a minimum that may be 0."""

    def pre_validate(self, form):
        if isinstance(self.data, str) and self.data.strip():
            try:
                negative = parse_euros(self.data) < 0
            except MoneyError:
                negative = False  # EuroField says how to write an amount
            if negative:
                raise ValidationError(_l("Enter an amount of 0 or more (0: no minimum)."))
        super().pre_validate(form)


def _length(max_len):
    return Length(max=max_len, message=_l("At most %(max)d characters."))


class FarmProfileForm(FlaskForm):
    name = StringField(
        _l("Farm name"),
        validators=[DataRequired(message=_l("Please enter the farm's name.")), _length(120)],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), _length(5000)],
        description=_l("What you grow or raise, and how. Buyers read this first."),
    )
    commune = StringField(_l("Commune"), validators=[Optional(), _length(120)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), _length(10)])
    address = StringField(_l("Address"), validators=[Optional(), _length(255)])
    # Sent by the button of a homonym (or suggestion) the farmer picks.
    place_id = IntegerField(validators=[Optional()])
    latitude = CoordinateField(
        _l("Latitude"),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=-90, max=90, message=_l("Between -90 and 90.")),
        ],
        description=_l("In decimal degrees, e.g. 47,6582. Empty: the centre of the commune."),
    )
    longitude = CoordinateField(
        _l("Longitude"),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=-180, max=180, message=_l("Between -180 and 180.")),
        ],
        description=_l("In decimal degrees, e.g. -2,7608."),
    )
    delivery_radius_km = IntegerField(
        _l("Delivery radius (km)"),
        default=30,
        validators=[InputRequired(message=_l("Please enter a distance in km."))],
    )
    wholesale_minimum_cents = MinimumAmountField(
        _l("Minimum wholesale order (€)"),
        validators=[Optional()],
        min_cents=0,
        max_cents=10_000_000,
        description=_l("The least a restaurant's order from your farm may come to. "
                       "Empty or 0: no minimum."),
    )
    standing_orders_first = BooleanField(
        _l("Serve restaurants' standing orders first"),
        description=_l("Their weekly orders take your stock first: one-off orders for a "
                       "date open only once those are placed, a few days before it."),
    )
    # Printed on the farm's invoices to restaurants (French legal mentions); optional
    # for a farm that sells to households only.
    siret = StringField(_l("SIRET"), validators=[Optional(), _length(30)],
                        description=_l("14 digits, e.g. 732 829 320 00074."))
    vat_number = StringField(_l("VAT number"), validators=[Optional(), _length(30)],
                             description=_l("FR, two key digits and the 9 digits of the SIREN."))
    labels = MultiCheckboxField(_l("Labels"), coerce=int, validate_choice=True)
    photo = photo_field(_l("Farm photo"))
    submit = SubmitField(_l("Save"))

    def validate_photo(self, field):
        check_photo_size(field)

    def validate_delivery_radius_km(self, field):
        if field.data is None:  # not a number: the field says so already
            return
        if field.data == 0:
            raise ValidationError(RADIUS_ZERO)
        if not 1 <= field.data <= MAX_RADIUS_KM:
            raise ValidationError(_l("Between %(min)s and %(max)s km.", min=1,
                                     max=MAX_RADIUS_KM))

    def validate_siret(self, field):
        if field.data and field.data.strip() and not business_ids.valid_siret(field.data):
            raise ValidationError(_l("This is not a valid SIRET number: check the 14 digits."))

    def validate_vat_number(self, field):
        if not (field.data and field.data.strip()):
            return
        vat = business_ids.normalize_digits(field.data)
        if not business_ids.valid_vat_number(vat):
            raise ValidationError(_l(
                "This is not a valid French VAT number: FR, two key digits, then the SIREN."
            ))
        siret = business_ids.normalize_digits(self.siret.data)
        if len(siret) == 14 and vat[4:] != siret[:9]:
            raise ValidationError(_l("The VAT number must end with the SIREN of your SIRET."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        # Optional() stops a field's own chain when it is empty, so the pair is checked here.
        if ok and (self.longitude.data is None) != (self.latitude.data is None):
            empty = self.longitude if self.longitude.data is None else self.latitude
            empty.errors = [*empty.errors, _l("Give both latitude and longitude, or neither.")]
            return False
        return ok
