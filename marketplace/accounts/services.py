"""Account rules: sign-up, authentication, approval. Services flush; views commit."""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

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
    if role == Role.PRODUCER:
        from marketplace.producers.services import create_farm_for

        create_farm_for(user)
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


def restaurant_profiles_of(users) -> dict:
    """user id -> RestaurantProfile of the restaurants among ``users``: one query."""
    from marketplace.wholesale.models import RestaurantProfile

    ids = [user.id for user in users if user.role == Role.RESTAURANT]
    if not ids:
        return {}
    return {profile.user_id: profile for profile in db.session.scalars(
        select(RestaurantProfile).where(RestaurantProfile.user_id.in_(ids)))}


def approval_problem(user: User, profiles: dict | None = None):
    """Why the account cannot be approved yet, or None. A restaurant is approved as a
    business (wholesale prices, invoices carrying its identity): it needs its business
    name and SIRET first. ``profiles``: ``restaurant_profiles_of`` users including this
    one, read here if not given."""
    from flask_babel import lazy_gettext as _

    if user.role != Role.RESTAURANT:
        return None
    if profiles is None:
        profiles = restaurant_profiles_of([user])
    profile = profiles.get(user.id)
    if profile is None or not (profile.business_name or "").strip() \
            or not (profile.siret or "").strip():
        return _("%(name)s has not given its business name and SIRET yet "
                 "(its business details page): it cannot be approved before.",
                 name=user.display_name)
    return None


def approve(user: User, by: User) -> None:
    """Raises ApprovalRefused when ``approval_problem`` says why not."""
    problem = approval_problem(user)
    if problem is not None:
        raise ApprovalRefused(problem)
    if user.approved_at is None:
        user.approved_at = utcnow()
        user.approved_by_id = by.id
    db.session.flush()
