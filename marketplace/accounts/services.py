"""Account rules: sign-up, authentication, approval. Services flush; views commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.accounts import signals
from marketplace.accounts.models import ROLES_NEEDING_APPROVAL, Role, User

# A hash computed once, checked when the e-mail is unknown, so that a wrong
# e-mail and a wrong password take the same time and give the same message.
_DUMMY_HASH: dict[str, str] = {}


class EmailTaken(ValueError):
    pass


class ApprovalRefused(ValueError):
    def __init__(self, message):
        super().__init__("refused")
        self.message = message


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


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
    now: datetime,
) -> User:
    """``now``: when an account created approved is approved."""
    email = normalise_email(email)
    if email_taken(session, email):
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=generate_password_hash(password, method=hash_method),
        display_name=display_name.strip(),
        role=role,
        locale=locale,
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
    if check_password_hash(user.password_hash, password or ""):
        return user
    return None


def pending_approvals(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role.in_(list(ROLES_NEEDING_APPROVAL)), User.approved_at.is_(None),
                   User.refused_at.is_(None))
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
