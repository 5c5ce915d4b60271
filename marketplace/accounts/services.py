"""Account rules: sign-up, authentication, approval. Services flush; views commit."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.accounts import signals
from marketplace.accounts.models import ROLES_NEEDING_APPROVAL, Role, User
from marketplace.extensions import db
from marketplace.models import utcnow

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


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def email_taken(email: str) -> bool:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.email == normalise_email(email))
    ) > 0


def create_user(
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role,
    hash_method: str = "scrypt",
    locale: str | None = None,
    approved: bool = False,
) -> User:
    email = normalise_email(email)
    if email_taken(email):
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=generate_password_hash(password, method=hash_method),
        display_name=display_name.strip(),
        role=role,
        locale=locale,
    )
    if approved or role not in ROLES_NEEDING_APPROVAL:
        user.approved_at = utcnow() if role in ROLES_NEEDING_APPROVAL else None
    db.session.add(user)
    db.session.flush()
    signals.account_created.send(user, session=db.session)
    return user


def authenticate(email: str, password: str, hash_method: str = "scrypt") -> User | None:
    user = find_user_by_email(email)
    if user is None:
        dummy = _DUMMY_HASH.setdefault(hash_method, generate_password_hash("x", method=hash_method))
        check_password_hash(dummy, password or "")
        return None
    if check_password_hash(user.password_hash, password or ""):
        return user
    return None


def pending_approvals() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_(list(ROLES_NEEDING_APPROVAL)), User.approved_at.is_(None))
            .order_by(User.created_at, User.id)
        )
    )


def approval_details(users) -> dict:
    """user id -> what the domains above tell of the accounts waiting (a restaurant's
    business profile), for the approvals page: one query per domain."""
    return signals.merged_answers(signals.approval_details, list(users), session=db.session)


def approval_problem(user: User, details: dict | None = None):
    """Why the account cannot be approved yet, or None (a restaurant without its
    business name and SIRET: wholesale answers). ``details``: ``approval_details`` of
    users including this one, if the caller has them."""
    return signals.first_answer(signals.approval_checked, user, session=db.session,
                                details=details)


def approve(user: User, by: User) -> None:
    """Raises ApprovalRefused when ``approval_problem`` says why not."""
    problem = approval_problem(user)
    if problem is not None:
        raise ApprovalRefused(problem)
    if user.approved_at is None:
        user.approved_at = utcnow()
        user.approved_by_id = by.id
    db.session.flush()
