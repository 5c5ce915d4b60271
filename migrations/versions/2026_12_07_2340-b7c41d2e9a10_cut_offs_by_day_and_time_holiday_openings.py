"""Cut-offs as a day before at a local time; public holidays a host opens all the same.

Revision ID: b7c41d2e9a10
Revises: 5c35e5d63d8a
Create Date: 2026-12-07 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c41d2e9a10'
down_revision = '5c35e5d63d8a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pickup_holiday_openings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_pickup_holiday_openings_pickup_point_id_pickup_points'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_holiday_openings')),
    sa.UniqueConstraint('pickup_point_id', 'day', name=op.f('uq_pickup_holiday_openings_pickup_point_id'))
    )
    with op.batch_alter_table('pickup_holiday_openings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pickup_holiday_openings_pickup_point_id'), ['pickup_point_id'], unique=False)

    with op.batch_alter_table('pickup_schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cutoff_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cutoff_time', sa.Time(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_pickup_schedules_cutoff_day'),
            '(cutoff_days IS NULL AND cutoff_time IS NULL) OR '
            '(cutoff_days >= 0 AND cutoff_days <= 14 AND cutoff_time IS NOT NULL)')


def downgrade():
    with op.batch_alter_table('pickup_schedules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_pickup_schedules_cutoff_day'), type_='check')
        batch_op.drop_column('cutoff_time')
        batch_op.drop_column('cutoff_days')

    with op.batch_alter_table('pickup_holiday_openings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pickup_holiday_openings_pickup_point_id'))

    op.drop_table('pickup_holiday_openings')
