"""Market days: a pickup point and the date of one of its open slots, chosen before
shopping ("my pickup point, this Thursday").

Plain functions with explicit arguments (session, now, time zone); they flush, never
commit. Each issues a fixed number of queries, whatever the number of points, slots
or farms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager, joinedload

from marketplace.geo.normalize import search_key
from marketplace.geo.services import distance_km
from marketplace.models import get_by_id
from marketplace.producers.models import Producer
from marketplace.producers.services import is_public

from .market_day_models import ChosenMarketDay
from .models import DeliveryRound, PickupPoint, PickupSchedule, PickupSlot, SlotStatus
from .rounds import local_weekday, point_within_radius, served

# Why a slot cannot be a market day (the views say it in words).
UNKNOWN = "unknown"  # no such slot, or its point is inactive
PRIVATE = "private"  # another restaurant's door
CLOSED = "closed"
CUT_OFF = "cut_off"
FULL = "full"

STATUS = {UNKNOWN: 404, PRIVATE: 403, CLOSED: 409, CUT_OFF: 409, FULL: 409}

POINTS_SHOWN = 8
OPENINGS_PER_POINT = 3
HORIZON = timedelta(days=42)  # how far ahead the chooser looks for openings
MAX_SLOTS_READ = 400


@dataclass(frozen=True)
class MarketDay:
    """The chosen slot, with its point loaded; ``day`` is its local date."""

    slot: PickupSlot
    day: date

    @property
    def point(self) -> PickupPoint:
        return self.slot.pickup_point

    @property
    def slot_id(self) -> int:
        return self.slot.id


@dataclass
class PointOpenings:
    point: PickupPoint
    distance_km: float | None
    slots: list[PickupSlot] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    code: str
    next_slot: PickupSlot | None = None

    @property
    def status(self) -> int:
        return STATUS[self.code]


def local_date(slot: PickupSlot, tz: str) -> date:
    return slot.starts_at.astimezone(ZoneInfo(tz)).date()


def _choosable(now: datetime):
    return (
        PickupPoint.is_active.is_(True),
        PickupSlot.status == SlotStatus.OPEN,
        PickupSlot.cutoff_at > now,
        PickupSlot.taken < PickupSlot.capacity,
    )


def next_openings(session: Session, *, user_id: int | None, now: datetime,
                  near: tuple[float, float] | None = None,
                  points: int = POINTS_SHOWN,
                  per_point: int = OPENINGS_PER_POINT,
                  tz: str = "Europe/Paris") -> list[PointOpenings]:
    """The points this user may collect at with their next open slots (open, before
    the cut-off, room left), nearest first when ``near`` (lat, lon) is known; the
    user's own door (a restaurant's) first of all, with only the dates some farm
    delivers it (nobody collects at a door: a date without a farm is empty). Three
    queries at most."""
    slots = session.scalars(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(*_choosable(now), PickupPoint.open_to(user_id),
               PickupSlot.starts_at < now + HORIZON)
        .options(contains_eager(PickupSlot.pickup_point))
        .order_by(PickupSlot.starts_at, PickupSlot.id)
        .limit(MAX_SLOTS_READ)
    ).all()
    doors = [slot for slot in slots if slot.pickup_point.is_door]
    if doors:
        unserved = set(doors) - set(served(session, doors, tz=tz))
        slots = [slot for slot in slots if slot not in unserved]
    found: dict[int, PointOpenings] = {}
    for slot in slots:
        entry = found.get(slot.pickup_point_id)
        if entry is None:
            point = slot.pickup_point
            km = distance_km(near, point) if near is not None else None
            entry = found[point.id] = PointOpenings(point, km)
        if len(entry.slots) < per_point:
            entry.slots.append(slot)
    ordered = sorted(found.values(), key=lambda e: (
        not e.point.is_door, e.distance_km if e.distance_km is not None else 0.0,
        search_key(e.point.name), e.point.id))  # names in dictionary order: É with E
    return ordered[:points]


def _next_choosable(session: Session, point_id: int, now: datetime, *,
                    skip: int) -> PickupSlot | None:
    """The point's soonest slot a buyer can choose now, other than ``skip``."""
    return session.scalar(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(PickupSlot.pickup_point_id == point_id, PickupSlot.id != skip,
               *_choosable(now))
        .order_by(PickupSlot.starts_at, PickupSlot.id).limit(1))


def refusal(session: Session, slot: PickupSlot | None, *, user_id: int | None,
            now: datetime, tz: str) -> Refusal | None:
    """Why this slot cannot be the user's market day now (with the point's next
    possible slot, when there is one), or None."""
    if slot is None or not slot.pickup_point.is_active:
        return Refusal(UNKNOWN)
    if not slot.pickup_point.is_open_to(user_id):
        return Refusal(PRIVATE)
    if slot.status != SlotStatus.OPEN:
        code = CLOSED
    elif slot.cutoff_at <= now:
        code = CUT_OFF
    elif slot.taken >= slot.capacity:
        code = FULL
    else:
        return None
    return Refusal(code, _next_choosable(session, slot.pickup_point_id, now, skip=slot.id))


def slot_with_point(session: Session, slot_id) -> PickupSlot | None:
    """The slot and its point in one query; None for an unknown or malformed id."""
    return get_by_id(session, PickupSlot, slot_id,
                     options=(joinedload(PickupSlot.pickup_point),))


def market_day_of(session: Session, slot_id, *, user_id: int | None, now: datetime,
                  tz: str) -> MarketDay | None:
    """The market day of this slot if it can still be one for this user, else None."""
    slot = slot_with_point(session, slot_id)
    if slot is None or refusal(session, slot, user_id=user_id, now=now, tz=tz) is not None:
        return None
    return MarketDay(slot, local_date(slot, tz))


def account_choice(session: Session, user_id: int) -> int | None:
    """The slot id kept on the account, if any."""
    return session.scalar(
        select(ChosenMarketDay.pickup_slot_id).where(ChosenMarketDay.user_id == user_id))


def keep_on_account(session: Session, user_id: int, slot_id: int) -> None:
    choice = session.get(ChosenMarketDay, user_id)
    if choice is None:
        session.add(ChosenMarketDay(user_id=user_id, pickup_slot_id=slot_id))
    else:
        choice.pickup_slot_id = slot_id
    session.flush()


# Which farms are there that day ------------------------------------------------------

def serving_producer_ids(session: Session, slot: PickupSlot, *, tz: str) -> frozenset[int]:
    """Public farms that deliver the slot's point on its weekday, the point within
    their delivery radius (one query)."""
    farms = session.scalars(
        select(Producer).join(DeliveryRound, DeliveryRound.producer_id == Producer.id)
        .where(DeliveryRound.pickup_point_id == slot.pickup_point_id,
               DeliveryRound.weekday == local_weekday(slot, tz), is_public())
    ).all()
    return frozenset(farm.id for farm in farms if point_within_radius(farm, slot.pickup_point))


def next_dates(session: Session, market_day: MarketDay, producers: Iterable[Producer], *,
               now: datetime, tz: str) -> dict[int, date]:
    """For farms not at the market day: producer id -> the next date they are at the
    same point (an open slot on a weekday of their rounds there). Two queries."""
    by_id = {p.id: p for p in producers if point_within_radius(p, market_day.point)}
    if not by_id:
        return {}
    weekdays: dict[int, set[int]] = {}
    for producer_id, weekday in session.execute(
            select(DeliveryRound.producer_id, DeliveryRound.weekday).where(
                DeliveryRound.pickup_point_id == market_day.point.id,
                DeliveryRound.producer_id.in_(sorted(by_id)))):
        weekdays.setdefault(producer_id, set()).add(weekday)
    if not weekdays:
        return {}
    slots = session.scalars(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(PickupSlot.pickup_point_id == market_day.point.id, *_choosable(now),
               PickupSlot.starts_at < now + HORIZON)
        .order_by(PickupSlot.starts_at, PickupSlot.id).limit(MAX_SLOTS_READ)
    ).all()
    found: dict[int, date] = {}
    for slot in slots:
        if slot.id == market_day.slot_id:
            continue
        weekday = local_weekday(slot, tz)
        for producer_id, days in weekdays.items():
            if producer_id not in found and weekday in days:
                found[producer_id] = local_date(slot, tz)
    return found


# A point's public page ----------------------------------------------------------------

OPENINGS_ON_PAGE = 6


@dataclass
class PointPage:
    """What a buyer reads about a pickup point before choosing it: its weekly openings,
    its next market days still open for orders, and the farms that come there (with the
    weekdays they come)."""

    point: PickupPoint
    schedules: list = field(default_factory=list)
    openings: list[PickupSlot] = field(default_factory=list)
    farms: list[tuple[Producer, list[int]]] = field(default_factory=list)


def point_page(session: Session, point_id, *, user_id: int | None, now: datetime,
               tz: str = "Europe/Paris") -> PointPage | None:
    """The public page of an active point this user may collect at; None for an
    unknown, inactive point or another restaurant's door (the views answer 404 to all
    three alike). Four queries whatever the number of slots or farms."""
    point = get_by_id(session, PickupPoint, point_id)
    if point is None or not point.is_active or not point.is_open_to(user_id):
        return None
    page = PointPage(point)
    page.schedules = list(session.scalars(
        select(PickupSchedule).where(PickupSchedule.pickup_point_id == point.id,
                                     PickupSchedule.active.is_(True))
        .order_by(PickupSchedule.weekday, PickupSchedule.starts_at, PickupSchedule.id)))
    page.openings = list(session.scalars(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(PickupSlot.pickup_point_id == point.id, *_choosable(now),
               PickupSlot.starts_at < now + HORIZON)
        .options(contains_eager(PickupSlot.pickup_point))
        .order_by(PickupSlot.starts_at, PickupSlot.id)
        .limit(MAX_SLOTS_READ if point.is_door else OPENINGS_ON_PAGE)))
    weekdays: dict[int, set[int]] = {}
    farms: dict[int, Producer] = {}
    for farm, weekday in session.execute(
            select(Producer, DeliveryRound.weekday)
            .join(DeliveryRound, DeliveryRound.producer_id == Producer.id)
            .where(DeliveryRound.pickup_point_id == point.id, is_public())):
        if point_within_radius(farm, point):
            farms[farm.id] = farm
            weekdays.setdefault(farm.id, set()).add(weekday)
    page.farms = sorted(((farms[i], sorted(days)) for i, days in weekdays.items()),
                        key=lambda entry: (search_key(entry[0].name), entry[0].id))
    if point.is_door:  # as the chooser: a door's date no farm delivers offers nothing
        days = set().union(*weekdays.values())
        page.openings = [slot for slot in page.openings
                         if local_weekday(slot, tz) in days][:OPENINGS_ON_PAGE]
    return page
