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
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from marketplace.catalogue import food, pricing
from marketplace.catalogue.models import MAX_PRICE_CENTS, MAX_STOCK, VAT_RATES_BP, SaleMode
from marketplace.forms import EuroField, check_photo_size, photo_field
from marketplace.producers.forms import MultiCheckboxField

MONTH_NAMES = [
    _l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"),
    _l("July"), _l("August"), _l("September"), _l("October"), _l("November"), _l("December"),
]

ALLERGEN_CHOICES = [SelectChoice(a.value, a.label) for a in food.Allergen]
UNIT_CHOICES = [SelectChoice("", "—"),
                *(SelectChoice(u.value, u.label) for u in food.NetUnit)]

VAT_LABELS = {0: _l("0 % (exempt)"), 550: "5,5 %", 1000: "10 %", 2000: "20 %"}


def _at_most(length: int) -> list:
    return [Optional(), Length(max=length, message=_l("At most %(max)d characters."))]


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
        validators=_at_most(5000),
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
    # Food information (Regulation (EU) 1169/2011): chosen from the list, never typed.
    allergens = MultiCheckboxField(
        _l("Contains (regulated allergens)"),
        coerce=int,
        choices=ALLERGEN_CHOICES,
        description=_l("Tick every allergen among its ingredients, even a small amount."),
    )
    allergen_traces = MultiCheckboxField(
        _l("May contain traces of"),
        coerce=int,
        choices=ALLERGEN_CHOICES,
        description=_l("Allergens it may pick up where it is made (shared workshop, mill)."),
    )
    ingredients = TextAreaField(
        _l("Ingredients"),
        validators=_at_most(5000),
        description=_l("For a composed product, in decreasing order of weight."),
    )
    storage = StringField(
        _l("Storage conditions"),
        validators=_at_most(255),
        description=_l("e.g. Keep between 0 and 4 °C."),
    )
    origin = StringField(
        _l("Origin"),
        validators=_at_most(120),
        description=_l("Where it comes from, when the law asks it (meat, honey, fruit...)."),
    )
    prepacked = BooleanField(_l("Prepacked (sold in its closed packaging)"))
    photo = photo_field(_l("Add a photo"))
    submit = SubmitField(_l("Save the product"))

    def validate_photo(self, field):
        check_photo_size(field)

    def validate_allergen_traces(self, field):
        both = set(field.data or ()) & set(self.allergens.data or ())
        if both:
            raise ValidationError(_l(
                "An allergen it contains is not also a trace: untick %(names)s here.",
                names=", ".join(str(food.Allergen(a).label) for a in sorted(both))))

    def fill_food(self, product) -> None:
        """Tick the product's allergens (GET)."""
        self.allergens.data = [a.value for a in product.allergen_list]
        self.allergen_traces.data = [a.value for a in product.trace_list]


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
    net_quantity = StringField(
        _l("Net quantity"),
        # No Optional(): the check below runs empty too (a unit without a quantity).
        validators=[Length(max=20, message=_l("At most %(max)d characters."))],
        description=_l("e.g. 500 with g, 1,5 with kg: the price per kg or litre is computed."),
    )
    net_unit = SelectField(_l("Unit"), choices=UNIT_CHOICES, default="")
    is_active = BooleanField(_l("On sale"), default=True)
    submit = SubmitField(_l("Save the variant"))

    def validate_net_quantity(self, field):
        text = (field.data or "").strip()
        unit = self.net_unit.data or ""
        if not text and not unit:
            self.net = (None, None)
            return
        if not unit:
            raise ValidationError(_l("Choose the unit of the net quantity."))
        try:
            quantity = food.parse_net_quantity(text, food.NetUnit(unit))
        except ValueError as exc:
            raise ValidationError(_l(
                "Write the net quantity as a number such as 500 or 1,5.")) from exc
        self.net = (quantity, food.NetUnit(unit))

    def net_fields(self) -> dict:
        """net_quantity and net_unit for save_variant, after validate()."""
        quantity, unit = getattr(self, "net", (None, None))
        return {"net_quantity": quantity, "net_unit": unit}

    def fill_net(self, variant) -> None:
        self.net_quantity.data = food.format_net_number(variant.net_quantity, variant.net_unit)
        self.net_unit.data = variant.net_unit.value if variant.net_unit else ""


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
