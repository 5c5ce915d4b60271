from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    SelectChoice,
    SelectField,
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

from marketplace.catalogue.models import MAX_PRICE_CENTS, SaleMode
from marketplace.forms import EuroField
from marketplace.pickup.forms import WallClockField
from marketplace.producers.forms import MultiCheckboxField
from marketplace.web.display import weekday_names
from marketplace.wholesale import services
from marketplace.wholesale.models import (
    LEGAL_MAX_PAYMENT_TERMS_DAYS,
    PERISHABLE_MAX_PAYMENT_TERMS_DAYS,
)

MAX_CASE_SIZE = 999  # a cart line holds at most 999 units


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
        if not services.valid_siret(field.data):
            raise ValidationError(_l("This is not a valid SIRET number: check the 14 digits."))

    def validate_vat_number(self, field):
        vat = services.normalize_digits(field.data)
        if not services.valid_vat_number(vat):
            raise ValidationError(_l(
                "This is not a valid French VAT number: FR, two key digits, then the SIREN."
            ))
        siret = services.normalize_digits(self.siret.data)
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


SALE_MODE_LABELS = {
    SaleMode.RETAIL: _l("Retail only (households)"),
    SaleMode.WHOLESALE: _l("Wholesale only (restaurants)"),
    SaleMode.BOTH: _l("Retail and wholesale"),
}


def _tier_quantity():
    return IntegerField(
        _l("From (units)"),
        validators=[Optional(), NumberRange(min=1, max=MAX_CASE_SIZE,
                                            message=_l("Between %(min)s and %(max)s units."))],
    )


def _tier_price():
    return EuroField(_l("Unit price (€)"), validators=[Optional()], max_cents=MAX_PRICE_CENTS)


class WholesaleVariantForm(FlaskForm):
    """A variant's wholesale settings: who buys it, its case, up to 3 price tiers.
    The variant's retail price applies below the first tier."""

    sale_mode = SelectField(
        _l("Sold to"),
        choices=[SelectChoice(m.value, label) for m, label in SALE_MODE_LABELS.items()],
        default=SaleMode.RETAIL.value,
    )
    case_size = IntegerField(
        _l("Case size (units)"),
        default=1,
        validators=[
            InputRequired(message=_l("Enter how many units a case holds, 1 if sold by the unit.")),
            NumberRange(min=1, max=MAX_CASE_SIZE, message=_l("Between %(min)s and %(max)s units.")),
        ],
        description=_l("Restaurants order whole cases: 6 means 6, 12, 18..."),
    )
    tier1_quantity = _tier_quantity()
    tier1_price = _tier_price()
    tier2_quantity = _tier_quantity()
    tier2_price = _tier_price()
    tier3_quantity = _tier_quantity()
    tier3_price = _tier_price()
    submit = SubmitField(_l("Save the wholesale settings"))

    def tier_pairs(self):
        return [
            (getattr(self, f"tier{n}_quantity"), getattr(self, f"tier{n}_price"))
            for n in range(1, services.MAX_TIERS + 1)
        ]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        seen = set()
        for quantity, price in self.tier_pairs():
            if quantity.errors or price.errors:
                continue
            has_q = quantity.data is not None
            has_p = bool((price.data or "").strip()) if isinstance(price.data, str) \
                else price.data is not None
            if has_q != has_p:
                empty = price if has_q else quantity
                empty.errors = [*empty.errors, _l("Give both the quantity and its price.")]
                ok = False
            elif has_q and quantity.data in seen:
                quantity.errors = [*quantity.errors, _l("Two tiers start at the same quantity.")]
                ok = False
            elif has_q:
                seen.add(quantity.data)
        return ok

    def tiers(self) -> list[tuple[int, int]]:
        """(min_quantity, unit_price_cents) of the filled tiers, after validate()."""
        return [(q.data, p.cents) for q, p in self.tier_pairs() if q.data is not None]

    def fill(self, variant, tiers) -> None:
        """Show a variant's current settings (GET)."""
        self.sale_mode.data = variant.sale_mode.value
        self.case_size.data = variant.case_size
        for (quantity, price), tier in zip(self.tier_pairs(), tiers, strict=False):
            quantity.data = tier.min_quantity
            price.data = tier.unit_price_cents


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
