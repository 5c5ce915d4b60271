"""The e-mail a volunteer gets when named relay of a point: where its desk is. Needs
a Flask app context (templates, translations, PUBLIC_URL), not a request."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.notifications.models import OutboxMessage
from marketplace.notifications.orders import public_url
from marketplace.notifications.services import queue
from marketplace.relays.models import RelayAssignment


def relay_named(session: Session, assignment: RelayAssignment) -> OutboxMessage | None:
    """Queue, in the caller's transaction, the e-mail telling the volunteer of
    ``assignment`` it is relay of the point, with the link to its desk there."""
    user, point = assignment.user, assignment.pickup_point
    config = current_app.config
    locale = user.locale if user.locale in config["LANGUAGES"] else None
    with force_locale(locale or config["BABEL_DEFAULT_LOCALE"]):
        subject = _("You are relay of %(point)s", point=point.name)
        body = render_template(
            "mail/relay_named.txt", user=user, point=point,
            named_by=assignment.named_by,
            desk_url=public_url("relays.point", point_id=point.id))
    return queue(session, to=user.email, subject=subject, body=body,
                 key=f"relay-named:{assignment.id}")
