"""Market day e-mails: buyers' subscriptions per pickup point; extra headers on the
outbox (List-Unsubscribe).

Revision ID: 7b1e4c2d9a60
Revises: b7c41d2e9a10
Create Date: 2026-12-07 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7b1e4c2d9a60'
down_revision = 'b7c41d2e9a10'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ALTER: no batch rebuild of the outbox on SQLite.
    op.add_column('outbox_messages', sa.Column('headers', sa.Text(), server_default='{}',
                                               nullable=False))
    op.create_table('market_day_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('opening', sa.Boolean(), nullable=False),
    sa.Column('cutoff', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('opening OR cutoff', name=op.f('ck_market_day_subscriptions_some_kind')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_market_day_subscriptions_pickup_point_id_pickup_points'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_market_day_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_day_subscriptions')),
    sa.UniqueConstraint('user_id', 'pickup_point_id', name=op.f('uq_market_day_subscriptions_user_id'))
    )
    op.create_index(op.f('ix_market_day_subscriptions_pickup_point_id'), 'market_day_subscriptions', ['pickup_point_id'], unique=False)
    op.create_index(op.f('ix_market_day_subscriptions_user_id'), 'market_day_subscriptions', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_market_day_subscriptions_user_id'), table_name='market_day_subscriptions')
    op.drop_index(op.f('ix_market_day_subscriptions_pickup_point_id'), table_name='market_day_subscriptions')
    op.drop_table('market_day_subscriptions')
    op.execute('ALTER TABLE outbox_messages DROP COLUMN headers')
