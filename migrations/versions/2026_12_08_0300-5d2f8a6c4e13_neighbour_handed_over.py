"""A neighbour's account handed over to the person: when (relay_neighbours.handed_over_at).

Revision ID: 5d2f8a6c4e13
Revises: c3d5e7f9a1b2
Create Date: 2026-12-08 03:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2f8a6c4e13'
down_revision = 'c3d5e7f9a1b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('relay_neighbours', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_over_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('relay_neighbours', schema=None) as batch_op:
        batch_op.drop_column('handed_over_at')
