"""E-mail attachments in the outbox (invoices as PDF, pick lists as CSV).

Revision ID: c3d5e7f9a1b2
Revises: 7b1e4c2a9f30
Create Date: 2026-12-08 02:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d5e7f9a1b2'
down_revision = '7b1e4c2a9f30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_outbox_attachments_message_id_outbox_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_attachments')),
    sa.UniqueConstraint('message_id', 'position', name=op.f('uq_outbox_attachments_message_id'))
    )
    op.create_index(op.f('ix_outbox_attachments_message_id'), 'outbox_attachments', ['message_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_outbox_attachments_message_id'), table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
