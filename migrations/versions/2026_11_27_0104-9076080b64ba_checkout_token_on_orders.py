"""Checkout token on orders: the same checkout form sent twice places one order.

Revision ID: 9076080b64ba
Revises: 34af1c1e678c
Create Date: 2026-11-27 01:04:36.015082

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9076080b64ba'
down_revision = '34af1c1e678c'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTERs: no batch rebuild of the orders table on SQLite.
    op.add_column('orders', sa.Column('checkout_token', sa.String(length=64), nullable=True))
    op.create_index('ix_orders_checkout_token', 'orders', ['checkout_token'], unique=True)


def downgrade():
    op.drop_index('ix_orders_checkout_token', table_name='orders')
    op.execute('ALTER TABLE orders DROP COLUMN checkout_token')
