"""The e-mail a volunteer gets when named relay of a point (where its desk is), and the
one a neighbour gets when their account is handed over to them (the link to choose a
password). Needs
a Flask app context (templates, translations, PUBLIC_URL), not a request."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.notifications.models import OutboxMessage
from marketplace.notifications.orders import language_of, public_url
from marketplace.notifications.services import queue
from marketplace.relays.models import Neighbour, RelayAssignment


def relay_named(session: Session, assignment: RelayAssignment) -> OutboxMessage | None:
    """Queue, in the caller's transaction, the e-mail telling the volunteer of
    ``assignment`` it is relay of the point, with the link to its desk there."""
    user, point = assignment.user, assignment.pickup_point
    with language_of(user):
        subject = _("You are relay of %(point)s", point=point.name)
        body = render_template(
            "mail/relay_named.txt", user=user, point=point,
            named_by=assignment.named_by,
            desk_url=public_url("relays.point", point_id=point.id))
    return queue(session, to=user.email, subject=subject, body=body,
                 key=f"relay-named:{assignment.id}")


def handed_over(session: Session, neighbour: Neighbour, *, by, token: str,
                max_age: int) -> OutboxMessage | None:
    """Queue the e-mail telling a neighbour their account is theirs now, with the
    password reset link (``token``, accounts') that sets their password and confirms
    the address. Sent before the address is confirmed: it is how it gets confirmed."""
    user, point = neighbour.user, neighbour.pickup_point
    with language_of(user):  # the site's language: a neighbour chose none yet
        subject = _("Your Circuit Court account: choose your password")
        body = render_template(
            "mail/relay_handed_over.txt", user=user, point=point, by=by,
            url=public_url("accounts.reset_password", token=token),
            login_url=public_url("accounts.login"), hours=max(1, max_age // 3600))
    return queue(session, to=user.email, subject=subject, body=body,
                 before_confirmation=True)
