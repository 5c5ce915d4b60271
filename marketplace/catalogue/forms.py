from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.catalogue.models import MAX_PRICE_CENTS, MAX_STOCK, VAT_RATES_BP
from marketplace.forms import EuroField, check_photo_size, photo_field
from marketplace.producers.forms import MultiCheckboxField

MONTH_NAMES = [
    _l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"),
    _l("July"), _l("August"), _l("September"), _l("October"), _l("November"), _l("December"),
]

VAT_LABELS = {0: _l("0 % (exempt)"), 550: "5,5 %", 1000: "10 %", 2000: "20 %"}


class ProductForm(FlaskForm):
    name = StringField(
        _l("Product name"),
        validators=[
            DataRequired(message=_l("Please name the product.")),
            Length(max=120, message=_l("At most %(max)d characters.")),
        ],
    )
    category_id = SelectField(
        _l("Category"),
        coerce=int,
        validators=[InputRequired(message=_l("Please choose a category."))],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=5000, message=_l("At most %(max)d characters."))],
    )
    vat_rate_bp = SelectField(
        _l("VAT rate"),
        coerce=int,
        choices=[SelectChoice(bp, VAT_LABELS[bp]) for bp in VAT_RATES_BP],
        default=550,
    )
    months = MultiCheckboxField(
        _l("Months in season"),
        coerce=int,
        choices=[SelectChoice(m, name) for m, name in zip(range(1, 13), MONTH_NAMES, strict=True)],
        default=list(range(1, 13)),
        validators=[DataRequired(message=_l("Tick at least one month."))],
    )
    is_active = BooleanField(_l("On sale"), default=True)
    photo = photo_field(_l("Add a photo"))
    submit = SubmitField(_l("Save the product"))

    def validate_photo(self, field):
        check_photo_size(field)


class VariantForm(FlaskForm):
    label = StringField(
        _l("Variant"),
        validators=[
            DataRequired(message=_l("Say how it is sold, e.g. 1 kg or a dozen.")),
            Length(max=60, message=_l("At most %(max)d characters.")),
        ],
        description=_l("How it is sold: 500 g bag, 1 kg, 5 kg crate, piece, bunch, dozen..."),
    )
    price = EuroField(
        _l("Price (€, VAT included)"),
        validators=[DataRequired(message=_l("Please enter a price."))],
        max_cents=MAX_PRICE_CENTS,
    )
    stock = IntegerField(
        _l("Stock"),
        default=0,
        validators=[
            InputRequired(message=_l("Please enter the quantity you have, 0 if none.")),
            NumberRange(
                min=0, max=MAX_STOCK, message=_l("Between %(min)s and %(max)s units.")
            ),
        ],
        description=_l("Units of this variant you can sell."),
    )
    is_active = BooleanField(_l("On sale"), default=True)
    submit = SubmitField(_l("Save the variant"))


class DeleteForm(FlaskForm):
    submit = SubmitField(_l("Delete"))
