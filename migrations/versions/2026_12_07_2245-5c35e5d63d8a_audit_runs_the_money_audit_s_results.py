"""Audit runs: the results of the money audit, the nightly one once per local day.

Revision ID: 5c35e5d63d8a
Revises: d6f01fd130ef
Create Date: 2026-12-07 22:45:16.425368

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c35e5d63d8a'
down_revision = 'd6f01fd130ef'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('nightly_date', sa.Date(), nullable=True),
    sa.Column('discrepancies', sa.Integer(), nullable=False),
    sa.Column('stripe_checked', sa.Boolean(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.CheckConstraint('discrepancies >= 0', name=op.f('ck_audit_runs_discrepancies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_runs')),
    sa.UniqueConstraint('nightly_date', name=op.f('uq_audit_runs_nightly_date'))
    )
    op.create_index(op.f('ix_audit_runs_ran_at'), 'audit_runs', ['ran_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_audit_runs_ran_at'), table_name='audit_runs')
    op.drop_table('audit_runs')
