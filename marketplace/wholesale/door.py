"""Delivery to a restaurant's door.

A restaurant's door is a pickup point of its own kind: ``kind = restaurant`` and
``private_buyer_id`` = the restaurant's account, so that only that restaurant may
order for it (other buyers, the map, the API and the "near me" page never see it;
checkout treats another restaurant's door slot as unknown). Everything else is the
ordinary machinery: the restaurant's delivery days and hours are weekly schedules,
dated slots are generated from them with a cut-off, and a farm opts in by ticking
the door's days on its delivery rounds, which only lists points within its delivery
radius. So a farm delivers to the door on the days it chose, within its radius,
and the cart says plainly which farms do not.

Choices: the restaurant is the point's host, so it sees the delivery sheet of its
door and checks off what it received (the "collected" state). A door does not take
payment at pickup (the restaurant would be recording its own payment): it pays by
card or, with payment terms, on invoice. A delivery window takes at most
``DOOR_CAPACITY`` orders.
"""

from __future__ import annotations

from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.orders.models import Order
from marketplace.pickup import services as pickup
from marketplace.pickup.models import PickupKind, PickupPoint, PickupSchedule, PickupSlot

from .models import RestaurantProfile

DOOR_CAPACITY = 10
SLOT_WEEKS = 4


class DoorError(ValueError):
    """The door cannot be opened: ``message`` says why (lazy string)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def door_of(session: Session, user: User) -> PickupPoint | None:
    return session.scalar(
        select(PickupPoint).where(PickupPoint.private_buyer_id == user.id).limit(1))


def door_schedules(session: Session, point: PickupPoint | None) -> list[PickupSchedule]:
    if point is None:
        return []
    return list(session.scalars(
        select(PickupSchedule).where(PickupSchedule.pickup_point_id == point.id,
                                     PickupSchedule.active.is_(True))
        .order_by(PickupSchedule.weekday, PickupSchedule.starts_at)))


def _drop_empty_future_slots(session: Session, point: PickupPoint, now: datetime) -> None:
    """Slots of the door nobody ordered for yet go; those with orders (even cancelled
    ones, which keep pointing at their slot) stay."""

    session.execute(delete(PickupSlot).where(
        PickupSlot.pickup_point_id == point.id, PickupSlot.starts_at > now,
        PickupSlot.taken == 0,
        ~exists().where(Order.pickup_slot_id == PickupSlot.id)))


def _copy_address(point: PickupPoint, profile: RestaurantProfile) -> None:
    point.name = profile.business_name
    point.address = profile.address
    point.postcode = profile.postcode
    point.commune = profile.commune
    point.latitude = profile.latitude
    point.longitude = profile.longitude
    point.description = profile.delivery_hours


def follow_profile(session: Session, user: User, profile: RestaurantProfile) -> None:
    """The restaurant changed its profile: its door moves with it (a farm's round there
    then counts only while the new address is within its radius: checked at checkout)."""
    point = door_of(session, user)
    if point is not None and profile.latitude is not None and profile.longitude is not None:
        _copy_address(point, profile)
        session.flush()


def save_door(session: Session, user: User, profile: RestaurantProfile | None, *,
              weekdays: set[int], starts_at: time, ends_at: time, cutoff_hours: int,
              now: datetime, tz: str) -> PickupPoint:
    """Open (or change) the restaurant's door: its address from the profile, one
    schedule per delivery day, slots generated for the next weeks. Raises DoorError."""

    if profile is None or profile.latitude is None or profile.longitude is None:
        raise DoorError(_l("Fill in your restaurant profile first, with an address we can "
                           "place on the map: farms need it to know whether you are within "
                           "their delivery radius."))
    if not weekdays or not all(0 <= day <= 6 for day in weekdays):
        raise DoorError(_l("Tick at least one delivery day."))
    if ends_at <= starts_at:
        raise DoorError(_l("The end of the delivery window must be after its start."))
    point = door_of(session, user)
    if point is None:
        point = PickupPoint(private_buyer_id=user.id, host_id=user.id,
                            kind=PickupKind.RESTAURANT)
        session.add(point)
    _copy_address(point, profile)
    point.accepts_pay_at_pickup = False
    point.is_active = True
    session.flush()
    old = door_schedules(session, point)
    unchanged = {(s.weekday, s.starts_at, s.ends_at, s.cutoff_hours) for s in old} == {
        (day, starts_at, ends_at, cutoff_hours) for day in weekdays}
    if not unchanged:
        for schedule in old:
            pickup.remove_schedule(session, point, schedule.id)
        _drop_empty_future_slots(session, point, now)
        for day in sorted(weekdays):
            pickup.add_schedule(session, point, weekday=day, starts_at=starts_at,
                                ends_at=ends_at, capacity=DOOR_CAPACITY,
                                cutoff_hours=cutoff_hours)
    pickup.generate_slots(session, weeks=SLOT_WEEKS, now=now, tz=tz, point_ids=[point.id])
    return point


def close_door(session: Session, user: User, *, now: datetime) -> bool:
    """Stop deliveries to the door: no new dates; dates already ordered for stay."""
    point = door_of(session, user)
    if point is None or not point.is_active:
        return False
    point.is_active = False
    _drop_empty_future_slots(session, point, now)
    session.flush()
    return True


def upcoming_deliveries(session: Session, point: PickupPoint | None, now: datetime,
                        limit: int = 12) -> list[PickupSlot]:
    if point is None:
        return []
    return pickup.upcoming_slots(session, point, now, limit=limit)
