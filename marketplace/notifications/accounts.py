"""The e-mails of an account's life, each in the reader's language: the account's own
e-mails (accounts/signals.py: the link that confirms an address, the password reset
link, the notice to an address someone tried to sign up with, the link that confirms
a new address and the notice to the old one; the links carry the token accounts
signed), welcome once the address is confirmed, and an admin's approval or refusal
of a producer or restaurant.

Also what notifications keeps of a person, for the export and the deletion of an
account: the market day e-mails asked for.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from marketplace.accounts import signals
from marketplace.accounts.models import Role, User

from .models import MarketDaySubscription, OutboxMessage
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


def _hours(seconds: int) -> int:
    return max(1, seconds // 3600)


def _send(session: Session, user: User, *, subject, template: str, to: str | None = None,
          before_confirmation: bool = True, **context) -> None:
    with language_of(user):
        body = render_template(template, user=user, **context)
        queue(session, to=to or user.email, subject=str(subject()), body=body,
              before_confirmation=before_confirmation)


def _confirmation(user: User, *, session: Session, token: str, max_age: int,
                  **_kw) -> None:
    _send(session, user, subject=lambda: _("Confirm your e-mail address"),
          template="mail/email_confirmation.txt",
          url=public_url("accounts.confirm_email", token=token),
          hours=_hours(max_age))


def _reset(user: User, *, session: Session, token: str, max_age: int, **_kw) -> None:
    _send(session, user, subject=lambda: _("Choose a new password"),
          template="mail/password_reset.txt",
          url=public_url("accounts.reset_password", token=token),
          hours=_hours(max_age))


def _signup_attempted(user: User, *, session: Session, token: str, max_age: int,
                      **_kw) -> None:
    _send(session, user, subject=lambda: _("Someone tried to sign up with your address"),
          template="mail/signup_attempted.txt",
          url=public_url("accounts.reset_password", token=token),
          login_url=public_url("accounts.login"),
          hours=_hours(max_age))


def _change_requested(user: User, *, session: Session, token: str, max_age: int,
                      new_email: str, **_kw) -> None:
    _send(session, user, subject=lambda: _("Confirm your new e-mail address"),
          template="mail/email_change.txt", to=new_email, new_email=new_email,
          url=public_url("accounts.change_email", token=token),
          hours=_hours(max_age))


def _changed(user: User, *, session: Session, old_email: str, **_kw) -> None:
    # The old address was the account's, confirmed or not: it must hear of the move.
    _send(session, user, subject=lambda: _("Your e-mail address was changed"),
          template="mail/email_changed.txt", to=old_email, old_email=old_email,
          reset_url=public_url("accounts.forgot_password"))


def _exported(user: User, *, session: Session, **_kw) -> dict:
    subscriptions = session.scalars(
        select(MarketDaySubscription).where(MarketDaySubscription.user_id == user.id)
        .options(joinedload(MarketDaySubscription.pickup_point))
        .order_by(MarketDaySubscription.id)).all()
    return {"market_day_emails": [
        {"pickup_point": s.pickup_point.name, "opening": s.opening, "cutoff": s.cutoff,
         "since": s.created_at.isoformat()} for s in subscriptions]}


def _deleting(user: User, *, session: Session, **_kw) -> None:
    session.execute(delete(MarketDaySubscription)
                    .where(MarketDaySubscription.user_id == user.id))


def connect_receivers() -> None:
    signals.email_confirmation_requested.connect(_confirmation, weak=False)
    signals.password_reset_requested.connect(_reset, weak=False)
    signals.signup_attempted.connect(_signup_attempted, weak=False)
    signals.email_change_requested.connect(_change_requested, weak=False)
    signals.email_changed.connect(_changed, weak=False)
    signals.data_exported.connect(_exported, weak=False)
    signals.account_deleting.connect(_deleting, weak=False)
    signals.email_confirmed.connect(_welcome, weak=False)


def _welcome(user: User, *, session: Session, **_kw) -> None:
    send_welcome(session, user)
