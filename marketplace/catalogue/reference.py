"""Reference data every installation needs: shared categories and labels.

The first migration inserts the same rows (a frozen copy, as data migrations
should not import application code); tests and `flask seed-demo` call
ensure_reference_data() so a database made by create_all() has them too.
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalogue.models import Category
from marketplace.catalogue.versions import ensure_row
from marketplace.producers.models import Label

CATEGORIES = [
    # slug, French, English
    ("vegetables", "Légumes", "Vegetables"),
    ("fruit", "Fruits", "Fruit"),
    ("dairy", "Produits laitiers", "Dairy"),
    ("cheese", "Fromages", "Cheese"),
    ("meat", "Viandes", "Meat"),
    ("poultry", "Volailles", "Poultry"),
    ("fish", "Poissons et coquillages", "Fish and shellfish"),
    ("eggs", "Œufs", "Eggs"),
    ("bread", "Pains et viennoiseries", "Bread and pastries"),
    ("honey", "Miel et confitures", "Honey and jams"),
    ("drinks", "Cidres, jus et boissons", "Cider, juice and drinks"),
    ("grocery", "Épicerie", "Pantry"),
]

LABELS = [
    # code, French, English
    ("AB", "Agriculture biologique", "Organic farming (AB)"),
    ("NP", "Nature & Progrès", "Nature & Progrès"),
    ("HVE", "Haute valeur environnementale", "High environmental value"),
    ("LR", "Label Rouge", "Label Rouge"),
    ("AOP", "Appellation d'origine protégée", "Protected designation of origin"),
    ("BBC", "Bienvenue à la ferme", "Welcome to the farm"),
]


def ensure_reference_data(session) -> None:
    have = set(session.scalars(select(Category.slug)))
    for position, (slug, fr, en) in enumerate(CATEGORIES):
        if slug not in have:
            session.add(Category(slug=slug, name_fr=fr, name_en=en, position=position))
    have = set(session.scalars(select(Label.code)))
    for code, fr, en in LABELS:
        if code not in have:
            session.add(Label(code=code, name_fr=fr, name_en=en))
    session.flush()
    # The catalogue's version row (catalogue/versions.py), made by its migration.
    ensure_row(session)
