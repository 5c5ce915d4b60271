"""Relays: volunteers named relay of a pickup point, neighbours without e-mail they
order for (phone, address, consent), and who placed an order for its buyer.

Revision ID: 3c5e7a9b1d24
Revises: d8e2b5f3a1c7
Create Date: 2026-12-08 02:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c5e7a9b1d24'
down_revision = 'd8e2b5f3a1c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('relay_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('named_by_id', sa.Integer(), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['named_by_id'], ['users.id'], name=op.f('fk_relay_assignments_named_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_relay_assignments_pickup_point_id_pickup_points'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_relay_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relay_assignments'))
    )
    op.create_index(op.f('ix_relay_assignments_named_by_id'), 'relay_assignments', ['named_by_id'], unique=False)
    op.create_index(op.f('ix_relay_assignments_pickup_point_id'), 'relay_assignments', ['pickup_point_id'], unique=False)
    op.create_index(op.f('ix_relay_assignments_user_id'), 'relay_assignments', ['user_id'], unique=False)
    # One active assignment per point and person (a partial index: both databases).
    op.create_index('ix_relay_assignments_active', 'relay_assignments', ['pickup_point_id', 'user_id'], unique=True, sqlite_where=sa.text('until IS NULL'), postgresql_where=sa.text('until IS NULL'))
    op.create_table('relay_neighbours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('phone_e164', sa.String(length=20), nullable=True),
    sa.Column('phone_display', sa.String(length=32), nullable=True),
    sa.Column('postal_address', sa.Text(), nullable=False),
    sa.Column('consent_on', sa.Date(), nullable=False),
    sa.Column('consent_by_id', sa.Integer(), nullable=True),
    sa.Column('consent_purpose', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consent_by_id'], ['users.id'], name=op.f('fk_relay_neighbours_consent_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_relay_neighbours_pickup_point_id_pickup_points'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_relay_neighbours_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relay_neighbours')),
    sa.UniqueConstraint('user_id', name=op.f('uq_relay_neighbours_user_id'))
    )
    op.create_index(op.f('ix_relay_neighbours_consent_by_id'), 'relay_neighbours', ['consent_by_id'], unique=False)
    op.create_index(op.f('ix_relay_neighbours_pickup_point_id'), 'relay_neighbours', ['pickup_point_id'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placed_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_placed_by_id'), ['placed_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_placed_by_id_users'), 'users', ['placed_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_placed_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_placed_by_id'))
        batch_op.drop_column('placed_by_id')
    op.drop_index(op.f('ix_relay_neighbours_pickup_point_id'), table_name='relay_neighbours')
    op.drop_index(op.f('ix_relay_neighbours_consent_by_id'), table_name='relay_neighbours')
    op.drop_table('relay_neighbours')
    op.drop_index('ix_relay_assignments_active', table_name='relay_assignments')
    op.drop_index(op.f('ix_relay_assignments_user_id'), table_name='relay_assignments')
    op.drop_index(op.f('ix_relay_assignments_pickup_point_id'), table_name='relay_assignments')
    op.drop_index(op.f('ix_relay_assignments_named_by_id'), table_name='relay_assignments')
    op.drop_table('relay_assignments')
