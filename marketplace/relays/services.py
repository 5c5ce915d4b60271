"""Relay rules: who is relay of a point, neighbours without e-mail, and what a relay
may see and do for them. Services flush; views commit. Nothing here reads the
request: the caller passes the relay, the clock and the settings."""

from __future__ import annotations

import secrets
from datetime import date, datetime

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import generate_password_hash

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Role, User
from marketplace.models import get_by_id
from marketplace.orders.models import Order
from marketplace.pickup.models import PickupPoint, PickupSlot, SlotStatus
from marketplace.pickup.rounds import served
from marketplace.relays.models import Neighbour, RelayAssignment

# The region a phone number typed without +33 is read in.
DEFAULT_PHONE_REGION = "FR"
NEIGHBOUR_ROLE = Role.HOUSEHOLD
SLOTS_SHOWN = 30


class RelayError(ValueError):
    """A request a relay desk refuses, with the message to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


# Who is relay -----------------------------------------------------------------------------

def _active_assignment(user_id: int):
    return (RelayAssignment.user_id == user_id) & RelayAssignment.until.is_(None)


def relay_points(session: Session, user: User) -> list[PickupPoint]:
    """The points ``user`` is relay of: those it hosts and those it is named relay of,
    by name; for an admin, every point (to name relays, and to see what relays did)."""
    stmt = select(PickupPoint).order_by(PickupPoint.name, PickupPoint.id)
    if not user.is_admin:
        named = select(RelayAssignment.pickup_point_id).where(_active_assignment(user.id))
        stmt = stmt.where(or_(PickupPoint.host_id == user.id, PickupPoint.id.in_(named)))
    return list(session.scalars(stmt))


def is_relay(session: Session, user: User, point: PickupPoint) -> bool:
    if point.host_id is not None and point.host_id == user.id:
        return True
    return session.scalar(select(RelayAssignment.id).where(
        _active_assignment(user.id), RelayAssignment.pickup_point_id == point.id).limit(1)
    ) is not None


def point_of_relay(session: Session, user: User, point_id) -> PickupPoint | None:
    """The point named by ``point_id`` if ``user`` is relay there, else None."""
    point = get_by_id(session, PickupPoint, point_id)
    if point is None or not is_relay(session, user, point):
        return None
    return point


def may_name_relays(user: User, point: PickupPoint) -> bool:
    """An admin, or the point's host, names and ends its volunteer relays."""
    return user.is_admin or (point.host_id is not None and point.host_id == user.id)


def assignments(session: Session, point: PickupPoint) -> list[RelayAssignment]:
    """The point's volunteer relays now, first named first."""
    return list(session.scalars(
        select(RelayAssignment).where(RelayAssignment.pickup_point_id == point.id,
                                      RelayAssignment.until.is_(None))
        .options(joinedload(RelayAssignment.user))
        .order_by(RelayAssignment.since, RelayAssignment.id)))


def name_relay(session: Session, point: PickupPoint, email: str, *, by: User,
               now: datetime) -> RelayAssignment:
    """Name the account with that e-mail relay of ``point``; RelayError when there is
    no such account (or it is a neighbour's), or it is relay there already."""
    user = accounts.find_user_by_email(session, email)
    if user is None or not accounts.receives_mail(user.email):
        raise RelayError(_l("No account has this e-mail address: the volunteer signs "
                            "up first."))
    if is_relay(session, user, point):
        raise RelayError(_l("%(name)s is relay of this point already.",
                            name=user.display_name))
    made = RelayAssignment(pickup_point_id=point.id, user_id=user.id, named_by_id=by.id,
                           since=now)
    try:
        with session.begin_nested():
            session.add(made)
    except IntegrityError:  # named at the same moment by someone else
        raise RelayError(_l("%(name)s is relay of this point already.",
                            name=user.display_name)) from None
    return made


def end_relay(session: Session, point: PickupPoint, assignment_id, *,
              now: datetime) -> RelayAssignment | None:
    """End a volunteer's assignment to ``point``; None when it names none there."""
    assignment = get_by_id(session, RelayAssignment, assignment_id)
    if assignment is None or assignment.pickup_point_id != point.id or not assignment.active:
        return None
    assignment.until = now
    session.flush()
    return assignment


# Neighbours -------------------------------------------------------------------------------

def parse_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> tuple[str, str]:
    """(E.164, national display) of a typed phone number: "06 12 34 56 78" gives
    ("+33612345678", "06 12 34 56 78"). RelayError when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise RelayError(_l("This is not a valid phone number: type it as on a phone, "
                            "such as 06 12 34 56 78 or +32 470 12 34 56."))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return e164, national


def placeholder_email() -> str:
    """An address that names the account and never receives mail (RFC 2606)."""
    return f"neighbour-{secrets.token_hex(12)}@relays{accounts.NO_MAIL_DOMAIN}"


def register_neighbour(session: Session, point: PickupPoint, *, relay: User, name: str,
                       phone: str = "", postal_address: str = "", purpose: str,
                       today: date, hash_method: str) -> Neighbour:
    """A neighbour of ``point`` without e-mail, registered by ``relay`` with their
    consent for ``purpose`` given ``today``: an account that cannot sign in (a random
    password nobody knows, a ``.invalid`` e-mail the login refuses). RelayError for a
    phone number that is not one."""
    e164 = display = None
    if phone.strip():
        e164, display = parse_phone(phone.strip())
    user = User(email=placeholder_email(), display_name=name.strip(), role=NEIGHBOUR_ROLE,
                password_hash=generate_password_hash(secrets.token_urlsafe(32),
                                                     method=hash_method))
    session.add(user)
    session.flush()
    neighbour = Neighbour(user_id=user.id, pickup_point_id=point.id, phone_e164=e164,
                          phone_display=display, postal_address=postal_address.strip(),
                          consent_on=today, consent_by_id=relay.id,
                          consent_purpose=purpose.strip())
    session.add(neighbour)
    session.flush()
    return neighbour


def hand_over(session: Session, neighbour: Neighbour, email: str, *,
              now: datetime) -> User:
    """Give the neighbour's account their own e-mail address, keeping its orders: the
    placeholder goes, ``handed_over_at`` is set. The caller e-mails them the link to
    choose a password (which also confirms the address). RelayError when handed over
    already, or the address is one that receives nothing or has an account."""
    if neighbour.handed_over_at is not None:
        raise RelayError(_l("This account was handed over already."))
    email = accounts.normalise_email(email)
    if not accounts.receives_mail(email):
        raise RelayError(_l("This address receives no e-mail: enter the neighbour's own."))
    if accounts.email_taken(session, email):
        raise RelayError(_l("An account has this e-mail address already: the neighbour "
                            "signs in with it, or gives another address."))
    user = neighbour.user
    user.email = email
    user.email_confirmed_at = None
    neighbour.handed_over_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same address given at the same moment elsewhere
        raise RelayError(_l("An account has this e-mail address already: the neighbour "
                            "signs in with it, or gives another address.")) from None
    return user


def neighbours_of(session: Session, point: PickupPoint) -> list[Neighbour]:
    """The point's neighbours whose account was not deleted, by name."""
    return list(session.scalars(
        select(Neighbour).join(Neighbour.user).where(Neighbour.pickup_point_id == point.id,
                                                     User.deleted_at.is_(None))
        .options(joinedload(Neighbour.user)).order_by(User.display_name, Neighbour.id)))


def neighbour_of_relay(session: Session, relay: User, point: PickupPoint,
                       neighbour_id) -> Neighbour | None:
    """The neighbour named by id if they belong to ``point`` (where the caller checked
    ``relay`` is relay), else None."""
    neighbour = get_by_id(session, Neighbour, neighbour_id)
    if neighbour is None or neighbour.pickup_point_id != point.id:
        return None
    return neighbour


def orders_of_neighbour(session: Session, neighbour: Neighbour) -> list[Order]:
    """The neighbour's orders, latest first."""
    return list(session.scalars(
        select(Order).where(Order.buyer_id == neighbour.user_id)
        .options(joinedload(Order.pickup_slot).joinedload(PickupSlot.pickup_point),
                 joinedload(Order.placed_by))
        .order_by(Order.created_at.desc(), Order.id.desc())))


def order_of_neighbour(session: Session, neighbour: Neighbour, order_id) -> Order | None:
    order = get_by_id(session, Order, order_id)
    if order is None or order.buyer_id != neighbour.user_id:
        return None
    return order


def open_slots(session: Session, point: PickupPoint, now: datetime, *,
               tz: str) -> list[PickupSlot]:
    """The point's market days a relay may order for now: open, before the cut-off,
    room left, and some farm delivers."""
    return served(session, session.scalars(
        select(PickupSlot).where(PickupSlot.pickup_point_id == point.id,
                                 PickupSlot.status == SlotStatus.OPEN,
                                 PickupSlot.cutoff_at > now,
                                 PickupSlot.taken < PickupSlot.capacity)
        .order_by(PickupSlot.starts_at, PickupSlot.id).limit(SLOTS_SHOWN)), tz=tz)
