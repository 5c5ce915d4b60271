"""The e-mails of an account's life: welcome (once its address is confirmed), and an
admin's approval or refusal of a producer or restaurant."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User

from .models import OutboxMessage
from .orders import language_of, public_url
from .services import queue

WELCOME_KEY = "welcome:"


def send_welcome(session: Session, user: User) -> OutboxMessage | None:
    """Welcome, once per account: where to start for its kind of account, and whether
    an admin still has to approve it. None when it was queued before."""
    start = "farms.dashboard" if user.role == Role.PRODUCER else "catalogue.index"
    with language_of(user):
        subject = _("Welcome to Circuit Court")
        body = render_template("mail/welcome.txt", user=user,
                               start_url=public_url(start),
                               waits=user.needs_approval and not user.is_approved)
    return queue(session, to=user.email, subject=subject, body=body,
                 key=f"{WELCOME_KEY}{user.id}")


def account_approved(session: Session, user: User) -> OutboxMessage | None:
    """An admin approved the farm or restaurant: it can sell, or buy wholesale."""
    start = "farms.dashboard" if user.role == Role.PRODUCER else "catalogue.index"
    with language_of(user):
        subject = _("Your account is approved")
        body = render_template("mail/account_approved.txt", user=user,
                               start_url=public_url(start))
    return queue(session, to=user.email, subject=subject, body=body,
                 key=f"account-approved:{user.id}")


def account_refused(session: Session, user: User, reason: str) -> OutboxMessage | None:
    """An admin refused the farm or restaurant, saying why: one e-mail per refusal."""
    when = user.refused_at.strftime("%Y%m%dT%H%M%S") if user.refused_at else ""
    with language_of(user):
        subject = _("Your account was not approved")
        body = render_template("mail/account_refused.txt", user=user, reason=reason)
    return queue(session, to=user.email, subject=subject, body=body,
                 key=f"account-refused:{user.id}:{when}")
