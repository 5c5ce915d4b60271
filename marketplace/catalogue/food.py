"""Food information (Regulation (EU) 1169/2011 "INCO"; Directive 98/6/EC): the 14
regulated allergens, net quantities and the price per kilogram or litre.

Allergens are stored as bit masks (bit ``Allergen.value`` set = present), one for
what a product contains and one for what it may contain as traces; the months of
a season are stored the same way. docs/food-information.md says why.

A variant's net quantity is an integer in the unit's base (grams for g and kg,
millilitres for ml and l, pieces for piece): 1,5 kg is 1500 with the unit kg, the
unit saying only how the quantity reads. The price per kilogram or litre is
computed from the price and the net quantity, never typed.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from flask_babel import format_currency, format_decimal
from flask_babel import lazy_gettext as _l


class Allergen(enum.IntEnum):
    """The 14 allergens of Annex II, in its order; the value is the bit number (never
    renumber: stored masks depend on it)."""

    GLUTEN = 0
    CRUSTACEANS = 1
    EGGS = 2
    FISH = 3
    PEANUTS = 4
    SOY = 5
    MILK = 6
    NUTS = 7
    CELERY = 8
    MUSTARD = 9
    SESAME = 10
    SULPHITES = 11
    LUPIN = 12
    MOLLUSCS = 13

    @property
    def code(self) -> str:
        """The code used in URLs (?free_from=milk) and English CSV files."""
        return self.name.lower()

    @property
    def label(self):
        return ALLERGEN_LABELS[self]


ALLERGEN_LABELS = {
    Allergen.GLUTEN: _l("gluten"),
    Allergen.CRUSTACEANS: _l("crustaceans"),
    Allergen.EGGS: _l("eggs"),
    Allergen.FISH: _l("fish"),
    Allergen.PEANUTS: _l("peanuts"),
    Allergen.SOY: _l("soy"),
    Allergen.MILK: _l("milk"),
    Allergen.NUTS: _l("nuts"),
    Allergen.CELERY: _l("celery"),
    Allergen.MUSTARD: _l("mustard"),
    Allergen.SESAME: _l("sesame seeds"),
    Allergen.SULPHITES: _l("sulphur dioxide and sulphites"),
    Allergen.LUPIN: _l("lupin"),
    Allergen.MOLLUSCS: _l("molluscs"),
}
# The French names, for French CSV files whatever the page's language.
ALLERGEN_FRENCH = {
    Allergen.GLUTEN: "gluten",
    Allergen.CRUSTACEANS: "crustacés",
    Allergen.EGGS: "œufs",
    Allergen.FISH: "poissons",
    Allergen.PEANUTS: "arachides",
    Allergen.SOY: "soja",
    Allergen.MILK: "lait",
    Allergen.NUTS: "fruits à coque",
    Allergen.CELERY: "céleri",
    Allergen.MUSTARD: "moutarde",
    Allergen.SESAME: "graines de sésame",
    Allergen.SULPHITES: "anhydride sulfureux et sulfites",
    Allergen.LUPIN: "lupin",
    Allergen.MOLLUSCS: "mollusques",
}
ALL_ALLERGENS = (1 << len(Allergen)) - 1
ALLERGEN_SEPARATOR = "|"


def _fold(text: str) -> str:
    text = " ".join(text.split()).casefold().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Every name an allergen may be written as in a file: its code (the English word),
# its French name, and a few words people use (singulars, "sulfites", "sesame").
_ALLERGEN_WORDS: dict[str, Allergen] = {
    _fold(word): a for a in Allergen for word in (a.code, ALLERGEN_FRENCH[a])
}
_ALLERGEN_WORDS.update({_fold(w): a for w, a in (
    ("sesame seeds", Allergen.SESAME), ("sésame", Allergen.SESAME), ("oeuf", Allergen.EGGS),
    ("poisson", Allergen.FISH), ("arachide", Allergen.PEANUTS), ("crustace", Allergen.CRUSTACEANS),
    ("mollusque", Allergen.MOLLUSCS), ("soya", Allergen.SOY), ("fruit a coque", Allergen.NUTS),
    ("egg", Allergen.EGGS), ("peanut", Allergen.PEANUTS), ("nut", Allergen.NUTS),
    ("mollusc", Allergen.MOLLUSCS), ("crustacean", Allergen.CRUSTACEANS),
    ("sulphur dioxide and sulphites", Allergen.SULPHITES), ("sulfites", Allergen.SULPHITES),
)})


def allergens_mask(allergens: Iterable[Allergen | int]) -> int:
    mask = 0
    for allergen in allergens:
        mask |= 1 << Allergen(int(allergen)).value
    return mask


def mask_allergens(mask: int | None) -> list[Allergen]:
    if not mask:
        return []
    return [a for a in Allergen if mask & (1 << a.value)]


def allergen_by_code(code: str) -> Allergen | None:
    return next((a for a in Allergen if a.code == code), None)


def parse_allergens(text: str) -> int:
    """"lait|gluten" (codes, English or French names, any case or accents; '|', ';'
    or ',' between them; empty: none) -> mask. ValueError(word) names the first
    word that is not an allergen."""
    mask = 0
    for word in text.replace(";", ALLERGEN_SEPARATOR).replace(",", ALLERGEN_SEPARATOR).split(
            ALLERGEN_SEPARATOR):
        if not word.strip():
            continue
        allergen = _ALLERGEN_WORDS.get(_fold(word))
        if allergen is None:
            raise ValueError(word.strip())
        mask |= 1 << allergen.value
    return mask


def format_allergens(mask: int | None, *, french: bool) -> str:
    return ALLERGEN_SEPARATOR.join(
        ALLERGEN_FRENCH[a] if french else a.code for a in mask_allergens(mask))


# Net quantity and the price per kilogram or litre -----------------------------------

class NetUnit(enum.StrEnum):
    G = "g"
    KG = "kg"
    ML = "ml"
    L = "l"
    PIECE = "piece"

    @property
    def base(self) -> int:
        """How many base units (g, ml, piece) one of this unit holds."""
        return 1000 if self in (NetUnit.KG, NetUnit.L) else 1

    @property
    def label(self):
        return UNIT_LABELS[self]


UNIT_LABELS = {
    NetUnit.G: "g", NetUnit.KG: "kg", NetUnit.ML: "ml", NetUnit.L: "l",
    NetUnit.PIECE: _l("piece(s)"),
}
MAX_NET_QUANTITY = 10_000_000  # 10 t or 10 000 l in base units: beyond any variant


def reference_price(price_cents: int, net_quantity: int | None,
                    unit: NetUnit | str | None) -> tuple[int, str] | None:
    """(cents, "kg" | "l" | "piece") the price per kilogram, litre or, for several
    pieces, per piece, rounded half up; None when there is nothing to compute (no
    net quantity, or a single piece whose price is already the price per piece)."""
    if not net_quantity or unit is None or net_quantity <= 0:
        return None
    unit = NetUnit(unit)
    if unit is NetUnit.PIECE:
        if net_quantity == 1:
            return None
        per, base = "piece", 1
    else:
        per, base = ("kg", 1000) if unit in (NetUnit.G, NetUnit.KG) else ("l", 1000)
    numerator = price_cents * base
    return (2 * numerator + net_quantity) // (2 * net_quantity), per


PER_LABELS = {"kg": "kg", "l": "l", "piece": _l("piece")}


def format_reference_price(price_cents: int, net_quantity: int | None,
                           unit: NetUnit | str | None, currency: str = "EUR") -> str:
    """"12,40 €/kg" (in French), "" when there is none."""
    computed = reference_price(price_cents, net_quantity, unit)
    if computed is None:
        return ""
    cents, per = computed
    return f"{format_currency(cents / 100, currency)}/{PER_LABELS[per]}"


def parse_net_quantity(text: str, unit: NetUnit) -> int:
    """"1,5" in kg -> 1500 (base units); ValueError unless a positive number that is a
    whole number of grams, millilitres or pieces, at most MAX_NET_QUANTITY."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")
    if not re.fullmatch(r"\d{1,8}(\.\d{1,3})?", cleaned):
        raise ValueError(text)
    quantity = Decimal(cleaned) * unit.base
    if quantity != quantity.to_integral_value() or not 0 < quantity <= MAX_NET_QUANTITY:
        raise ValueError(text)
    return int(quantity)


def format_net_number(net_quantity: int | None, unit: NetUnit | str | None) -> str:
    """1500, kg -> "1,5" (the number a farmer types back); "" when none."""
    if not net_quantity or unit is None:
        return ""
    return format_decimal(Decimal(net_quantity) / NetUnit(unit).base, format="#,##0.###")


def format_net_quantity(net_quantity: int | None, unit: NetUnit | str | None) -> str:
    """1500, kg -> "1,5 kg"; 6, piece -> "6 pièce(s)"."""
    if not net_quantity or unit is None:
        return ""
    return f"{format_net_number(net_quantity, unit)}\u00a0{UNIT_LABELS[NetUnit(unit)]}"
