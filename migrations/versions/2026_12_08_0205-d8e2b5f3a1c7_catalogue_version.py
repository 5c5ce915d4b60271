"""The catalogue's version: one row whose number every committed change to what the
public pages show raises (marketplace/catalogue/versions.py); cached parts of those
pages are keyed by it.

Revision ID: d8e2b5f3a1c7
Revises: c4f1a7d2e8b3
Create Date: 2026-12-08 02:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8e2b5f3a1c7'
down_revision = 'c4f1a7d2e8b3'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'catalogue_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_versions')),
    )
    op.bulk_insert(table, [{'id': 1, 'version': 0}])


def downgrade():
    op.drop_table('catalogue_versions')
