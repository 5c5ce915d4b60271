"""Sessions that end: a per-user session version, part of the id Flask-Login keeps in
the session cookie. Signing out, a password change or an admin ending a person's
sessions raises it, and every cookie carrying an earlier version is refused.

Existing accounts start at 1; their cookies from before this revision carry no version
and are refused once: people sign in again.

Revision ID: 3c5e8a1d7f42
Revises: 7b1e4c2a9f30
Create Date: 2026-12-08 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c5e8a1d7f42'
down_revision = '7b1e4c2a9f30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False,
                                      server_default='1'))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
