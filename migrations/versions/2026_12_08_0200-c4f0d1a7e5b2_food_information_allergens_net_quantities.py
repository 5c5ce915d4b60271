"""Food information: allergens, ingredients, storage, origin and prepacked per
product; net quantity and unit per variant; the same copied onto order lines.

Allergens are two bit masks of the 14 regulated allergens (marketplace/catalogue/
food.py, docs/food-information.md); existing products start with none declared.
Variants and order lines start without a net quantity (no price per kg shown).

Revision ID: c4f0d1a7e5b2
Revises: 3c5e8a1d7f42
Create Date: 2026-12-08 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f0d1a7e5b2'
down_revision = '3c5e8a1d7f42'
branch_labels = None
depends_on = None

ALL_ALLERGENS = (1 << 14) - 1
MAX_NET_QUANTITY = 10_000_000


def _net_unit():
    return sa.Enum('g', 'kg', 'ml', 'l', 'piece', name='netunit', native_enum=False, length=5)


def upgrade():
    # Plain ADD COLUMN with column CHECKs, no batch rebuild: an earlier revision's
    # downgrade drops a column of variants with ALTER TABLE ... DROP COLUMN, which
    # SQLite refuses once a rebuild has turned column CHECKs into table ones.
    def check(table, name, sqltext):
        return sa.CheckConstraint(sqltext, name=op.f(f'ck_{table}_{name}'))

    op.add_column('products', sa.Column(
        'allergens', sa.Integer(),
        check('products', 'allergens', f'allergens >= 0 AND allergens <= {ALL_ALLERGENS}'),
        server_default='0', nullable=False))
    op.add_column('products', sa.Column(
        'allergen_traces', sa.Integer(),
        check('products', 'allergen_traces',
              f'allergen_traces >= 0 AND allergen_traces <= {ALL_ALLERGENS}'),
        server_default='0', nullable=False))
    op.add_column('products', sa.Column('ingredients', sa.Text(), server_default='',
                                        nullable=False))
    op.add_column('products', sa.Column('storage', sa.String(length=255), server_default='',
                                        nullable=False))
    op.add_column('products', sa.Column('origin', sa.String(length=120), server_default='',
                                        nullable=False))
    op.add_column('products', sa.Column('prepacked', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))
    op.add_column('variants', sa.Column('net_unit', _net_unit(), nullable=True))
    op.add_column('variants', sa.Column(
        'net_quantity', sa.Integer(),
        check('variants', 'net_quantity',
              f'net_quantity > 0 AND net_quantity <= {MAX_NET_QUANTITY}'),
        nullable=True))
    op.add_column('order_lines', sa.Column('net_quantity', sa.Integer(), nullable=True))
    op.add_column('order_lines', sa.Column('net_unit', _net_unit(), nullable=True))
    op.add_column('order_lines', sa.Column('allergens', sa.Integer(), nullable=True))
    op.add_column('order_lines', sa.Column('allergen_traces', sa.Integer(), nullable=True))


def downgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL), for the same reason.
    for table, column in (
        ('order_lines', 'allergen_traces'), ('order_lines', 'allergens'),
        ('order_lines', 'net_unit'), ('order_lines', 'net_quantity'),
        ('variants', 'net_quantity'), ('variants', 'net_unit'),
        ('products', 'prepacked'), ('products', 'origin'), ('products', 'storage'),
        ('products', 'ingredients'), ('products', 'allergen_traces'), ('products', 'allergens'),
    ):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
