"""reference data: shared categories and labels

Revision ID: a1c0de000001
Revises: 3395a384e886
Create Date: 2026-11-26 17:05:00

A frozen copy of marketplace/catalogue/reference.py at the time of writing.
"""
import sqlalchemy as sa
from alembic import op

revision = "a1c0de000001"
down_revision = "3395a384e886"
branch_labels = None
depends_on = None

CATEGORIES = [
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
    ("AB", "Agriculture biologique", "Organic farming (AB)"),
    ("NP", "Nature & Progrès", "Nature & Progrès"),
    ("HVE", "Haute valeur environnementale", "High environmental value"),
    ("LR", "Label Rouge", "Label Rouge"),
    ("AOP", "Appellation d'origine protégée", "Protected designation of origin"),
    ("BBC", "Bienvenue à la ferme", "Welcome to the farm"),
]


def upgrade():
    categories = sa.table(
        "categories",
        sa.column("slug", sa.String),
        sa.column("name_fr", sa.String),
        sa.column("name_en", sa.String),
        sa.column("position", sa.Integer),
    )
    labels = sa.table(
        "labels",
        sa.column("code", sa.String),
        sa.column("name_fr", sa.String),
        sa.column("name_en", sa.String),
    )
    op.bulk_insert(
        categories,
        [
            {"slug": s, "name_fr": fr, "name_en": en, "position": i}
            for i, (s, fr, en) in enumerate(CATEGORIES)
        ],
    )
    op.bulk_insert(labels, [{"code": c, "name_fr": fr, "name_en": en} for c, fr, en in LABELS])


def downgrade():
    op.execute(
        sa.text("DELETE FROM categories WHERE slug IN :slugs").bindparams(
            sa.bindparam("slugs", [s for s, _, _ in CATEGORIES], expanding=True)
        )
    )
    op.execute(
        sa.text("DELETE FROM labels WHERE code IN :codes").bindparams(
            sa.bindparam("codes", [c for c, _, _ in LABELS], expanding=True)
        )
    )
