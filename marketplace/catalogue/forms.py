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

from marketplace.catalogue import pricing
from marketplace.catalogue.models import MAX_PRICE_CENTS, MAX_STOCK, VAT_RATES_BP, SaleMode
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


MAX_CASE_SIZE = 999  # a cart line holds at most 999 units


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
            for n in range(1, pricing.MAX_TIERS + 1)
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
