"""Approved farms have a location: a producer account approved while its farm has no
coordinates goes back to waiting for approval.

An approved farm is public, and a public farm must appear in the radius searches,
which need its latitude and longitude (producers.services.update_profile and the
approval check keep it so from now on). Such farms keep all their data; the admin
approves them again once the farmer has placed the farm on its profile (the farm's
dashboard says so). The demo data always places its farms: nothing changes there.
Downgrade: nothing to undo (which accounts were approved is not kept).

Revision ID: 7b1e4c2a9f30
Revises: 7d1a5e3c9b20
Create Date: 2026-12-07 23:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7b1e4c2a9f30'
down_revision = '7d1a5e3c9b20'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text(
        "UPDATE users SET approved_at = NULL, approved_by_id = NULL"
        " WHERE role = 'producer' AND approved_at IS NOT NULL AND id IN ("
        "  SELECT user_id FROM producers WHERE latitude IS NULL OR longitude IS NULL)"
    ))


def downgrade():
    pass
