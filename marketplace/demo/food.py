"""Food information for the demo catalogue: believable allergens, ingredients, storage
and origin per product template, and net quantities read from the variants' labels.

The labels are read here, when the demo is seeded, never at runtime: a farm types
its net quantity (or imports it), and the price per kilogram or litre follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from marketplace.catalogue.food import Allergen, NetUnit, allergens_mask

from .products import Template

A = Allergen


@dataclass(frozen=True)
class FoodInfo:
    allergens: tuple[Allergen, ...] = ()
    traces: tuple[Allergen, ...] = ()
    ingredients: str = ""


# What a product contains, by name (products not listed: by their category below).
BY_NAME: dict[str, FoodInfo] = {
    "Céleri-rave": FoodInfo((A.CELERY,)),
    "Noix": FoodInfo((A.NUTS,)),
    "Châtaignes": FoodInfo(()),
    "Soupe de légumes": FoodInfo((A.MILK, A.CELERY), (),
                                 "Légumes du jardin 85 % (poireaux, carottes, pommes de terre, "
                                 "céleri), eau, crème (lait) 5 %, sel."),
    "Coulis de tomates": FoodInfo((), (), "Tomates 98 %, sel, basilic."),
    "Ratatouille": FoodInfo((), (), "Tomates, courgettes, aubergines, poivrons, oignons, "
                                    "huile de colza, ail, thym, sel."),
    "Pickles de légumes": FoodInfo((A.MUSTARD, A.SULPHITES), (),
                                   "Légumes 60 %, vinaigre de cidre (sulfites), eau, sucre, "
                                   "graines de moutarde, sel."),
    "Sel aux herbes": FoodInfo((A.CELERY,), (), "Sel de Guérande, thym, romarin, céleri, "
                                                "sarriette."),
    "Tisane « Douce nuit »": FoodInfo((), (), "Mélisse 40 %, camomille 30 %, tilleul 30 %."),
    "Cidre brut fermier": FoodInfo((A.SULPHITES,), (), "Jus de pommes à cidre fermenté."),
    "Cidre doux fermier": FoodInfo((A.SULPHITES,), (), "Jus de pommes à cidre fermenté."),
    "Poiré": FoodInfo((A.SULPHITES,), (), "Jus de poires fermenté."),
    "Pommeau de Bretagne": FoodInfo((A.SULPHITES,), (), "Moût de pommes, eau-de-vie de cidre."),
    "Lambig": FoodInfo(()),
    "Vinaigre de cidre": FoodInfo((A.SULPHITES,), (), "Cidre acétifié."),
    "Hydromel": FoodInfo((A.SULPHITES,), (), "Eau, miel, levures."),
    "Jus de pomme": FoodInfo(()),
    "Jus de pomme pétillant": FoodInfo(()),
    "Compote de pommes": FoodInfo((), (), "Pommes 100 %."),
    "Confiture de fraises": FoodInfo((), (), "Fraises 60 %, sucre de canne, jus de citron."),
    "Caramel au beurre salé": FoodInfo((A.MILK,), (), "Sucre, crème (lait), beurre demi-sel "
                                                      "(lait), fleur de sel."),
    "Riz au lait": FoodInfo((A.MILK,), (), "Lait entier 85 %, riz, sucre, vanille."),
    "Yaourts aux fruits": FoodInfo((A.MILK,), (), "Lait entier, préparation de fruits 12 % "
                                                  "(fruits, sucre), ferments lactiques."),
    "Fromage frais ail et fines herbes": FoodInfo((A.MILK,), (), "Fromage frais (lait), ail, "
                                                                 "ciboulette, persil, sel."),
    "Tomme aux algues": FoodInfo((A.MILK,), (A.MOLLUSCS,), "Lait cru, algues (laitue de mer), "
                                                           "sel, présure, ferments."),
    "Viande de chevreau": FoodInfo(()),
    "Steaks hachés": FoodInfo(()),
    "Saucisses": FoodInfo((), (A.MUSTARD,), "Viande de porc, sel, poivre, boyau naturel."),
    "Chipolatas": FoodInfo((), (A.MUSTARD,), "Viande de porc, sel, épices, boyau naturel."),
    "Merguez d'agneau": FoodInfo((A.MUSTARD,), (), "Viande d'agneau, harissa, moutarde, sel, "
                                                   "épices, boyau naturel."),
    "Pâté de campagne": FoodInfo((A.EGGS, A.MILK), (), "Viande et foie de porc, œufs, lait, "
                                                       "oignons, sel, poivre."),
    "Boudin noir": FoodInfo((A.MILK,), (), "Sang de porc, gras de porc, oignons, crème (lait), "
                                           "sel, épices."),
    "Rillettes de porc": FoodInfo((), (), "Viande de porc, graisse de porc, sel, poivre."),
    "Rillettes de poulet": FoodInfo((), (), "Viande de poulet, graisse de porc, sel, poivre."),
    "Yaourts au lait de brebis": FoodInfo((A.MILK,)),
    "Yaourts au lait de chèvre": FoodInfo((A.MILK,)),
    "Lait de chèvre": FoodInfo((A.MILK,)),
    "Kouign-amann": FoodInfo((A.GLUTEN, A.MILK), (A.EGGS,),
                             "Farine de blé, beurre demi-sel (lait) 30 %, sucre, levain, sel."),
    "Far breton aux pruneaux": FoodInfo((A.GLUTEN, A.MILK, A.EGGS), (),
                                        "Lait entier, œufs, pruneaux 20 %, farine de blé, sucre, "
                                        "beurre (lait)."),
    "Gâteau breton": FoodInfo((A.GLUTEN, A.MILK, A.EGGS), (A.NUTS,),
                              "Farine de blé, beurre demi-sel (lait) 30 %, sucre, jaunes d'œufs."),
    "Brioche au beurre": FoodInfo((A.GLUTEN, A.MILK, A.EGGS), (),
                                  "Farine de blé, œufs, beurre (lait) 20 %, sucre, levure, sel."),
    "Crêpes de froment": FoodInfo((A.GLUTEN, A.MILK, A.EGGS), (),
                                  "Lait entier, farine de blé, œufs, sucre, beurre (lait)."),
    "Galettes de blé noir": FoodInfo((), (A.GLUTEN,), "Farine de sarrasin, eau, sel."),
    "Sablés bretons": FoodInfo((A.GLUTEN, A.MILK, A.EGGS), (),
                               "Farine de blé, beurre demi-sel (lait) 35 %, sucre, œufs."),
    "Pain d'épices au miel": FoodInfo((A.GLUTEN,), (A.NUTS, A.MILK),
                                      "Farine de seigle, miel 40 %, épices, bicarbonate."),
    "Pain aux graines": FoodInfo((A.GLUTEN, A.SESAME), (),
                                 "Farine de blé, eau, graines (tournesol, lin, sésame) 12 %, "
                                 "levain, sel."),
    "Pain au sarrasin": FoodInfo((A.GLUTEN,), (), "Farine de blé, farine de sarrasin 25 %, eau, "
                                                  "levain, sel."),
    "Farine de sarrasin": FoodInfo((), (A.GLUTEN,)),
    "Sarrasin décortiqué": FoodInfo((), (A.GLUTEN,)),
    "Lentilles vertes": FoodInfo((), (A.GLUTEN,)),
    "Huile de colza": FoodInfo(()),
    "Pâtes fermières": FoodInfo((A.GLUTEN,), (A.EGGS,), "Semoule de blé dur, eau."),
    "Flocons d'avoine": FoodInfo((A.GLUTEN,)),
    "Limonade artisanale": FoodInfo((), (), "Eau gazéifiée, sucre de canne, jus de citron 4 %."),
    "Bière ambrée au blé noir": FoodInfo((A.GLUTEN,), (), "Eau, malt d'orge, sarrasin, "
                                                          "houblon, levure."),
    "Salicorne au vinaigre": FoodInfo((A.SULPHITES,), (), "Salicorne, vinaigre de cidre "
                                                          "(sulfites), eau, sel."),
}
# The rest, by category or pool word.
BY_CATEGORY: dict[str, FoodInfo] = {
    "dairy": FoodInfo((A.MILK,)),
    "cheese": FoodInfo((A.MILK,)),
    "eggs": FoodInfo((A.EGGS,)),
    "fish": FoodInfo((A.MOLLUSCS,)),
}
BREAD_CONTAINS = FoodInfo((A.GLUTEN,), (A.SESAME,))
BEER = FoodInfo((A.GLUTEN,), (), "Eau, malt d'orge, houblon, levure.")

STORAGE = {
    "dairy": "À conserver entre 0 et 4 °C.",
    "cheese": "À conserver au frais, entre 4 et 8 °C.",
    "meat": "À conserver entre 0 et 4 °C.",
    "poultry": "À conserver entre 0 et 4 °C.",
    "fish": "À conserver entre 5 et 15 °C, à l'abri du soleil.",
    "eggs": "À conserver à température stable, au frais après l'achat.",
    "bread": "À l'abri de l'humidité.",
    "honey": "À température ambiante, à l'abri de la lumière.",
    "grocery": "Au sec, à l'abri de la lumière. Au frais après ouverture.",
    "drinks": "Au frais, à l'abri de la lumière.",
}
ORIGIN = {
    "meat": "Né, élevé et abattu en France (Bretagne).",
    "poultry": "Élevé et abattu en France (Bretagne).",
    "fish": "Élevé en Bretagne (France).",
    "honey": "Récolté en France (Bretagne).",
    "fruit": "France (Bretagne).",
    "vegetables": "France (Bretagne).",
}
PREPACKED_WORDS = ("pot", "bocal", "bouteille", "sachet", "pack", "bag-in-box", "boîte",
                   "caisse", "lot de 4 ×", "lot de 2 ×", "tranches", "colis")


@cache
def product_fields(template: Template) -> dict:
    """The Product columns of the food information for a template."""
    info = BY_NAME.get(template.name)
    if info is None:
        if template.category == "bread":
            info = BREAD_CONTAINS
        elif template.category == "drinks" and template.name.startswith("Bière"):
            info = BEER
        else:
            info = BY_CATEGORY.get(template.category, FoodInfo())
    first_label = template.variants[0][0].casefold()
    return {
        "allergens": allergens_mask(info.allergens),
        "allergen_traces": allergens_mask(info.traces),
        "ingredients": info.ingredients,
        "storage": STORAGE.get(template.category, ""),
        "origin": ORIGIN.get(template.category, ""),
        "prepacked": first_label.startswith(PREPACKED_WORDS),
    }


_NUMBER = r"(\d+(?:[.,]\d+)?)"
_AMOUNT = re.compile(_NUMBER + r"\s*(kg|g|cl|ml|l)\b", re.IGNORECASE)
_TIMES = re.compile(r"(\d+)\s*×\s*" + _NUMBER + r"\s*(kg|g|cl|ml|l)\b", re.IGNORECASE)
# "Boîte de 6", "Plateau de 30", "6 pièces", "la botte (3 pièces)".
_PIECES = re.compile(r"(?:\bde |^)(\d+)\b(?!\s*(?:kg|g|cl|ml|l|×)\b)|\((\d+) pièces\)")
_UNITS = {"kg": (NetUnit.KG, 1000), "g": (NetUnit.G, 1), "cl": (NetUnit.ML, 10),
          "ml": (NetUnit.ML, 1), "l": (NetUnit.L, 1000)}


def _amount(number: str, unit: str, times: int = 1) -> tuple[int, NetUnit]:
    net_unit, factor = _UNITS[unit.lower()]
    quantity = round(float(number.replace(",", ".")) * factor * times)
    if quantity >= 1000 and quantity % 10 == 0:  # "Lot de 4 × 250 g" reads 1 kg
        net_unit = {NetUnit.G: NetUnit.KG, NetUnit.ML: NetUnit.L}.get(net_unit, net_unit)
    return quantity, net_unit


def net_quantity(label: str) -> tuple[int | None, NetUnit | None]:
    """A demo label's net quantity: "Pot 500 g" -> (500, g), "Caisse 6 × 75 cl" ->
    (4500, ml), "la douzaine" -> (12, piece); (None, None) when it has none, or only
    an approximate weight ("la pièce (≈ 1,8 kg)": sold by the piece, weighed later)."""
    if "≈" in label:
        return None, None
    if match := _TIMES.search(label):
        return _amount(match.group(2), match.group(3), int(match.group(1)))
    if match := _AMOUNT.search(label):
        return _amount(match.group(1), match.group(2))
    lowered = label.casefold()
    if "douzaine" in lowered:
        count = re.match(r".*?(\d+) douzaines", lowered)
        return (int(count.group(1)) * 12 if count else 12), NetUnit.PIECE
    if match := _PIECES.search(lowered):
        count = next(int(g) for g in match.groups() if g)
        return count, NetUnit.PIECE
    if lowered == "la pièce":
        return 1, NetUnit.PIECE
    return None, None
