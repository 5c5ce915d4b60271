"""E-mail attachments in the outbox (invoices as PDF, pick lists as CSV); an
admin's refusal of an account, with its reason; notices a person switched off, and a
farm's daily digest of new orders.

Revision ID: c3d5e7f9a1b2
Revises: 3c5e7a9b1d24
Create Date: 2026-12-08 02:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d5e7f9a1b2'
down_revision = '3c5e7a9b1d24'
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
    op.create_table('notice_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('digest_hour', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('digest_hour IS NULL OR (digest_hour >= 0 AND digest_hour <= 23)', name=op.f('ck_notice_preferences_digest_hour')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notice_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_preferences')),
    sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_notice_preferences_user_id'))
    )
    op.create_index(op.f('ix_notice_preferences_user_id'), 'notice_preferences', ['user_id'], unique=False)
    op.create_table('notice_digest_items',
    sa.Column('sub_order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('digest_key', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['sub_order_id'], ['sub_orders.id'], name=op.f('fk_notice_digest_items_sub_order_id_sub_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notice_digest_items_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sub_order_id', name=op.f('pk_notice_digest_items'))
    )
    op.create_index(op.f('ix_notice_digest_items_user_id'), 'notice_digest_items', ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('refused_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refusal_reason', sa.String(length=1000), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_refused_by_id'), ['refused_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_refused_by_id_users'), 'users', ['refused_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_refused_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_refused_by_id'))
        batch_op.drop_column('refusal_reason')
        batch_op.drop_column('refused_by_id')
        batch_op.drop_column('refused_at')
    op.drop_index(op.f('ix_notice_digest_items_user_id'), table_name='notice_digest_items')
    op.drop_table('notice_digest_items')
    op.drop_index(op.f('ix_notice_preferences_user_id'), table_name='notice_preferences')
    op.drop_table('notice_preferences')
    op.drop_index(op.f('ix_outbox_attachments_message_id'), table_name='outbox_attachments')
    op.drop_table('outbox_attachments')
