"""Accounts confirm their e-mail address (users.email_confirmed_at), and an account
deleted by its owner is kept anonymised (users.deleted_at).

A new account confirms its address by a link before its first order and before any
e-mail but the account's own is sent there. Accounts that exist already (the demo's
included) were made before this rule: they count as confirmed from now.
Downgrade: the columns go.

Revision ID: 3e8f0c1d7a42
Revises: c4f0d1a7e5b2
Create Date: 2026-12-08 01:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e8f0c1d7a42'
down_revision = 'c4f0d1a7e5b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE users SET email_confirmed_at = created_at"))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('email_confirmed_at')
