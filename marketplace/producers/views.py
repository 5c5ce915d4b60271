"""What the views of producers and of the domains above share: the signed-in
producer's farm."""

from __future__ import annotations

from flask_login import current_user

from marketplace.extensions import db
from marketplace.producers import services
from marketplace.producers.models import Producer


def current_farm() -> Producer:
    """The signed-in producer's farm; created (and committed) for an old account
    that lacks one."""
    farm = services.farm_of(db.session, current_user)
    if farm is None:
        farm = services.create_farm_for(db.session, current_user)
        db.session.commit()
    return farm
