"""Chosen market days: the pickup slot a signed-in buyer shops for.

Revision ID: 7d1a5e3c9b20
Revises: 7b1e4c2d9a60
Create Date: 2026-12-07 23:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d1a5e3c9b20'
down_revision = '7b1e4c2d9a60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('chosen_market_days',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pickup_slot_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pickup_slot_id'], ['pickup_slots.id'], name=op.f('fk_chosen_market_days_pickup_slot_id_pickup_slots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chosen_market_days_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_chosen_market_days'))
    )
    op.create_index(op.f('ix_chosen_market_days_pickup_slot_id'), 'chosen_market_days', ['pickup_slot_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_chosen_market_days_pickup_slot_id'), table_name='chosen_market_days')
    op.drop_table('chosen_market_days')
