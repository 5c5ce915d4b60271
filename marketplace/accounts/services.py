"""Account rules: sign-up and e-mail confirmation, authentication, password reset,
the account page's changes, data export and deletion, approval. Services flush;
views commit. The e-mails are written by notifications, on accounts' signals."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.accounts import signals, tokens
from marketplace.accounts.models import ROLES_NEEDING_APPROVAL, Role, User
from marketplace.models import get_by_id

# A hash computed once, checked when the e-mail is unknown, so that a wrong
# e-mail and a wrong password take the same time and give the same message.
_DUMMY_HASH: dict[str, str] = {}


# Accounts with an e-mail under this reserved domain (RFC 2606) are made for someone
# who is not online (a relay's neighbour): they never sign in and never get mail.
NO_MAIL_DOMAIN = ".invalid"


def receives_mail(email: str) -> bool:
    """False for an address under the reserved ``.invalid`` domain."""
    return not normalise_email(email).endswith(NO_MAIL_DOMAIN)


class EmailTaken(ValueError):
    pass


class UsedLink(ValueError):
    """A link made here, still young, that no longer applies: used already (the
    password or the address it was bound to changed)."""


class WrongPassword(ValueError):
    pass


class DeletionRefused(ValueError):
    def __init__(self, reasons: list):
        super().__init__("refused")
        self.reasons = reasons


class ApprovalRefused(ValueError):
    def __init__(self, message):
        super().__init__("refused")
        self.message = message


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email),
                                             User.deleted_at.is_(None)))


def email_taken(session: Session, email: str) -> bool:
    return session.scalar(
        select(func.count()).select_from(User).where(User.email == normalise_email(email))
    ) > 0


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role,
    hash_method: str = "scrypt",
    locale: str | None = None,
    approved: bool = False,
    email_confirmed: bool = False,
    now: datetime,
) -> User:
    """``now``: when an account created approved is approved, or its address
    confirmed (``email_confirmed``: whoever creates it vouches for the address)."""
    email = normalise_email(email)
    if email_taken(session, email):
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=generate_password_hash(password, method=hash_method),
        display_name=display_name.strip(),
        role=role,
        locale=locale,
        email_confirmed_at=now if email_confirmed else None,
    )
    if approved or role not in ROLES_NEEDING_APPROVAL:
        user.approved_at = now if role in ROLES_NEEDING_APPROVAL else None
    session.add(user)
    session.flush()
    signals.account_created.send(user, session=session)
    return user


def authenticate(session: Session, email: str, password: str,
                 hash_method: str = "scrypt") -> User | None:
    user = find_user_by_email(session, email)
    if user is None:
        dummy = _DUMMY_HASH.setdefault(hash_method, generate_password_hash("x", method=hash_method))
        check_password_hash(dummy, password or "")
        return None
    if check_password_hash(user.password_hash, password or "") and receives_mail(user.email):
        return user
    return None


def end_sessions(user: User) -> None:
    """Ends every session the person has open, on every device: the session version in
    their cookies no longer matches (``user_for_session_id``). For signing out, a
    password change or reset, "sign out everywhere", an admin's "end sessions"."""
    user.session_version = (user.session_version or 1) + 1


def user_for_session_id(session: Session, session_id: str) -> User | None:
    """The account a session cookie's id ("<user id>:<session version>", User.get_id)
    names, or None when the session was ended since or the id is malformed."""
    user_id, _, version = (session_id or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = get_by_id(session, User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by kind then name: the admin's list."""
    return list(session.scalars(select(User).order_by(User.role, User.display_name, User.id)))


def pending_approvals(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(list(ROLES_NEEDING_APPROVAL)), User.approved_at.is_(None),
                   User.deleted_at.is_(None), User.refused_at.is_(None))
            .order_by(User.created_at, User.id)
        )
    )


def refused_accounts(session: Session) -> list[User]:
    """Accounts an admin refused and has not approved since, latest first."""
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(list(ROLES_NEEDING_APPROVAL)), User.approved_at.is_(None),
                   User.refused_at.is_not(None))
            .order_by(User.refused_at.desc(), User.id)
        )
    )


def approval_details(session: Session, users) -> dict:
    """user id -> what the domains above tell of the accounts waiting (a restaurant's
    business profile), for the approvals page: one query per domain."""
    return signals.merged_answers(signals.approval_details, list(users), session=session)


def approval_problem(session: Session, user: User, details: dict | None = None):
    """Why the account cannot be approved yet, or None (a restaurant without its
    business name and SIRET: wholesale answers). ``details``: ``approval_details`` of
    users including this one, if the caller has them."""
    return signals.first_answer(signals.approval_checked, user, session=session,
                                details=details)


def approve(session: Session, user: User, by: User, *, now: datetime) -> None:
    """Raises ApprovalRefused when ``approval_problem`` says why not."""
    problem = approval_problem(session, user)
    if problem is not None:
        raise ApprovalRefused(problem)
    if user.approved_at is None:
        user.approved_at = now
        user.approved_by_id = by.id
        user.refused_at = user.refused_by_id = user.refusal_reason = None
        session.flush()
        signals.account_approved.send(user, session=session)
    session.flush()


# Sign-up and e-mail confirmation ---------------------------------------------------------

def sign_up(session: Session, config: Mapping, *, email: str, password: str,
            display_name: str, role: Role, locale: str | None = None,
            now: datetime) -> User | None:
    """A new account, its address to confirm (the link is e-mailed). When the address
    has an account already, nothing is created and its owner is told by e-mail
    (with a link to reset the password); None is returned, and the view answers
    the same either way so that sign-up never tells who has an account."""
    existing = find_user_by_email(session, email)
    if existing is not None:
        # Hashed all the same, so that the answer takes as long either way.
        generate_password_hash(password, method=config["PASSWORD_HASH_METHOD"])
        signals.signup_attempted.send(existing, session=session,
                                      token=password_reset_token(config, existing),
                                      max_age=tokens.max_age(config, tokens.RESET))
        return None
    user = create_user(session, email=email, password=password, display_name=display_name,
                       role=role, hash_method=config["PASSWORD_HASH_METHOD"], locale=locale,
                       now=now)
    send_confirmation(session, config, user)
    return user


def send_confirmation(session: Session, config: Mapping, user: User) -> bool:
    """E-mail the link that confirms the account's address; False if it is confirmed."""
    if user.email_confirmed_at is not None or user.deleted_at is not None:
        return False
    signals.email_confirmation_requested.send(
        user, session=session, token=tokens.make(config, tokens.CONFIRM, user.id, user.email),
        max_age=tokens.max_age(config, tokens.CONFIRM))
    return True


def confirm_email(session: Session, config: Mapping, token: str, *, now: datetime) -> User:
    """Confirm the address a confirmation link names. Opening it again once confirmed
    changes nothing. ExpiredLink, BadLink, or UsedLink when the account's address is
    no longer the one the link was sent to."""
    user_id, email = tokens.read(config, tokens.CONFIRM, token, 2)
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None or user.email != email:
        raise UsedLink(tokens.CONFIRM)
    if user.email_confirmed_at is None:
        _confirmed(session, user, now)
    return user


def _confirmed(session: Session, user: User, now: datetime) -> None:
    user.email_confirmed_at = now
    session.flush()
    signals.email_confirmed.send(user, session=session, now=now)


# Password reset ------------------------------------------------------------------------------

def password_reset_token(config: Mapping, user: User) -> str:
    return tokens.make(config, tokens.RESET, user.id, tokens.fingerprint(user.password_hash))


def request_password_reset(session: Session, config: Mapping, email: str) -> None:
    """E-mail a reset link to the account of ``email``, if there is one; the caller
    answers the same whether or not there is."""
    user = find_user_by_email(session, email)
    if user is not None:
        signals.password_reset_requested.send(user, session=session,
                                              token=password_reset_token(config, user),
                                              max_age=tokens.max_age(config, tokens.RESET))


def user_of_reset_token(session: Session, config: Mapping, token: str) -> User:
    """The account a reset link resets. ExpiredLink, BadLink, or UsedLink once the
    password changed (the link was used, or a newer one was)."""
    user_id, print_ = tokens.read(config, tokens.RESET, token, 2)
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None \
            or tokens.fingerprint(user.password_hash) != print_:
        raise UsedLink(tokens.RESET)
    return user


def reset_password(session: Session, config: Mapping, token: str, new_password: str, *,
                   now: datetime) -> User:
    """Set the password a reset link allows (the link then dies). The e-mail came to
    the address: it counts as confirmed."""
    user = user_of_reset_token(session, config, token)
    set_password(user, new_password, config["PASSWORD_HASH_METHOD"])
    if user.email_confirmed_at is None:
        _confirmed(session, user, now)
    session.flush()
    return user


def set_password(user: User, password: str, hash_method: str) -> None:
    """A new password ends every session opened with the old one."""
    user.password_hash = generate_password_hash(password, method=hash_method)
    end_sessions(user)


# The account page ----------------------------------------------------------------------------

def update_profile(session: Session, user: User, *, display_name: str,
                   locale: str | None) -> None:
    user.display_name = display_name.strip()
    user.locale = locale or None
    session.flush()


def check_password(user: User, password: str) -> None:
    """WrongPassword unless ``password`` is the account's."""
    if not check_password_hash(user.password_hash, password or ""):
        raise WrongPassword()


def change_password(session: Session, user: User, *, current: str, new: str,
                    hash_method: str) -> None:
    check_password(user, current)
    set_password(user, new, hash_method)
    session.flush()


def request_email_change(session: Session, config: Mapping, user: User, *, new_email: str,
                         password: str) -> None:
    """E-mail a link to ``new_email`` that moves the account there once opened.
    WrongPassword first; an address that has an account already gets nothing (the
    caller answers the same: no one learns from here who has an account)."""
    check_password(user, password)
    new_email = normalise_email(new_email)
    if new_email == user.email or email_taken(session, new_email):
        return
    signals.email_change_requested.send(
        user, session=session, new_email=new_email,
        token=tokens.make(config, tokens.CHANGE, user.id, user.email, new_email),
        max_age=tokens.max_age(config, tokens.CHANGE))


def apply_email_change(session: Session, config: Mapping, token: str, *,
                       now: datetime) -> User:
    """Move the account to the new address a change link names, confirmed (it came
    there); the old address is told. ExpiredLink, BadLink; UsedLink when the account
    is no longer at the old address (done already) or the new one was taken since."""
    user_id, old_email, new_email = tokens.read(config, tokens.CHANGE, token, 3)
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None or user.email != old_email \
            or email_taken(session, new_email):
        raise UsedLink(tokens.CHANGE)
    user.email = new_email
    user.email_confirmed_at = now
    session.flush()
    signals.email_changed.send(user, session=session, old_email=old_email)
    return user


# Export and deletion -------------------------------------------------------------------------

def export_data(session: Session, user: User) -> dict:
    """What the site keeps about the person, ready for JSON: the account, the place
    they search from, and what the domains above add (their orders with lines)."""
    data = {
        "account": {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "role": str(user.role),
            "locale": user.locale,
            "created_at": user.created_at.isoformat() if user.created_at else None,
            "email_confirmed_at": user.email_confirmed_at.isoformat()
            if user.email_confirmed_at else None,
            "approved_at": user.approved_at.isoformat() if user.approved_at else None,
        },
        "location": {
            "label": user.location_label,
            "latitude": user.latitude,
            "longitude": user.longitude,
            "search_radius_km": user.search_radius_km,
        },
    }
    data.update(signals.merged_answers(signals.data_exported, user, session=session))
    return data


DELETED_NAME = "Compte supprimé"
# RFC 2606: .invalid never resolves, so nothing is ever sent to a deleted account.
DELETED_DOMAIN = "deleted.invalid"
# Not a werkzeug hash: check_password_hash answers False to every password.
UNUSABLE_PASSWORD_HASH = "!deleted"  # noqa: S105 - no secret: nothing matches it


def deletion_problems(session: Session, user: User, *, now: datetime) -> list:
    """Why the account cannot be deleted now (lazy strings), empty when it can."""
    problems = []
    if user.role == Role.ADMIN:
        problems.append(_l("An administrator account is not deleted from here: "
                           "another administrator removes its rights first."))
    return problems + signals.all_answers(signals.deletion_checked, user, session=session,
                                          now=now)


def delete_account(session: Session, user: User, *, password: str, now: datetime) -> None:
    """Delete the account at its owner's request: WrongPassword, or DeletionRefused
    with the reasons. What the law requires is kept (orders, invoices: ten years,
    Code de commerce L123-22) on the same row, anonymised: the name becomes "Compte
    supprimé", the e-mail a unique address that receives nothing, the password one
    nothing matches, and the place searched from goes. The domains above remove
    what they keep of the person that no law requires (account_deleting)."""
    check_password(user, password)
    problems = deletion_problems(session, user, now=now)
    if problems:
        raise DeletionRefused(problems)
    signals.account_deleting.send(user, session=session, now=now)
    user.display_name = DELETED_NAME
    user.email = f"deleted-{user.id}-{secrets.token_hex(6)}@{DELETED_DOMAIN}"
    user.password_hash = UNUSABLE_PASSWORD_HASH
    end_sessions(user)
    user.email_confirmed_at = None
    user.locale = None
    user.location_label = None
    user.latitude = user.longitude = None
    user.search_radius_km = None
    # A farm's public page and listings show approved farms only.
    user.approved_at = None
    user.deleted_at = now
    session.flush()


REFUSAL_REASON_MAX = 1000


def refuse(session: Session, user: User, by: User, *, reason: str, now: datetime) -> None:
    """An admin refuses an account waiting for approval, saying why (the person is
    told). ValueError for an empty or too long reason, or an account already approved."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REFUSAL_REASON_MAX:
        raise ValueError("a refusal needs a reason of at most 1000 characters")
    if user.approved_at is not None or not user.needs_approval:
        raise ValueError("only an account waiting for approval can be refused")
    user.refused_at = now
    user.refused_by_id = by.id
    user.refusal_reason = reason
    session.flush()
    signals.account_refused.send(user, session=session, reason=reason)
