"""The catalogue's order (name, id) comes from an index for every filter: all active
products, one category's, one farm's. A page then reads a few dozen index entries
instead of sorting every matching product, whatever the catalogue's size.

The two (is_active, category_id) and (is_active, producer_id) indexes become the
first columns of the new ones, which serve the same lookups. Plain CREATE/DROP
INDEX: no table is rebuilt (the search triggers on products stay).

Revision ID: c4f1a7d2e8b3
Revises: 3e8f0c1d7a42
Create Date: 2026-12-08 01:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c4f1a7d2e8b3'
down_revision = '3e8f0c1d7a42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_products_active_name', 'products', ['is_active', 'name', 'id'])
    op.create_index('ix_products_active_category_name', 'products',
                    ['is_active', 'category_id', 'name', 'id'])
    op.create_index('ix_products_active_producer_name', 'products',
                    ['is_active', 'producer_id', 'name', 'id'])
    op.drop_index('ix_products_active_category', table_name='products')
    op.drop_index('ix_products_active_producer', table_name='products')


def downgrade():
    op.create_index('ix_products_active_producer', 'products', ['is_active', 'producer_id'])
    op.create_index('ix_products_active_category', 'products', ['is_active', 'category_id'])
    op.drop_index('ix_products_active_producer_name', table_name='products')
    op.drop_index('ix_products_active_category_name', table_name='products')
    op.drop_index('ix_products_active_name', table_name='products')
