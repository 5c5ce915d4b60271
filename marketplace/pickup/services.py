"""Pickup schedules and dated slots: generation, listing, closing, taking a place.

Plain functions with explicit arguments, the session first (the caller passes its
own); they flush, never commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.models import get_by_id

from .models import PickupPoint, PickupSchedule, PickupSlot, SlotStatus

# Points and schedules -----------------------------------------------------------------

def points_managed_by(session: Session, user: User) -> list[PickupPoint]:
    """The points a host runs; every point for an admin."""
    stmt = select(PickupPoint).order_by(PickupPoint.name, PickupPoint.id)
    if user.role != Role.ADMIN:
        stmt = stmt.where(PickupPoint.host_id == user.id)
    return list(session.scalars(stmt))


def managed_point(session: Session, user: User, point_id: int | None) -> PickupPoint | None:
    """The point if `user` may manage it (its host, or an admin), else None."""
    point = get_by_id(session, PickupPoint, point_id)
    if point is None:
        return None
    # A host manages its points; a restaurant its own door (its delivery sheet).
    if user.role == Role.ADMIN or (
            user.role in (Role.HOST, Role.RESTAURANT) and point.host_id == user.id):
        return point
    return None


def schedules_of(session: Session, point: PickupPoint) -> list[PickupSchedule]:
    return list(session.scalars(
        select(PickupSchedule).where(PickupSchedule.pickup_point_id == point.id)
        .order_by(PickupSchedule.weekday, PickupSchedule.starts_at, PickupSchedule.id)
    ))


def add_schedule(session: Session, point: PickupPoint, *, weekday: int, starts_at: time,
                 ends_at: time, capacity: int, cutoff_hours: int) -> PickupSchedule:
    if not 0 <= weekday <= 6:
        raise ValueError("weekday must be 0-6")
    if ends_at <= starts_at:
        raise ValueError("the end must be after the start")
    if capacity <= 0 or cutoff_hours < 0:
        raise ValueError("capacity must be positive and cut-off not negative")
    schedule = PickupSchedule(pickup_point_id=point.id, weekday=weekday, starts_at=starts_at,
                              ends_at=ends_at, capacity=capacity, cutoff_hours=cutoff_hours)
    session.add(schedule)
    session.flush()
    return schedule


def remove_schedule(session: Session, point: PickupPoint, schedule_id: int | None) -> bool:
    """Delete a schedule of this point; its slots already generated stay (orders may use them)."""
    schedule = get_by_id(session, PickupSchedule, schedule_id)
    if schedule is None or schedule.pickup_point_id != point.id:
        return False
    session.execute(
        update(PickupSlot).where(PickupSlot.schedule_id == schedule.id).values(schedule_id=None)
    )
    session.delete(schedule)
    session.flush()
    return True


# Slots -------------------------------------------------------------------------------

def local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a local date."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def generate_slots(session, *, weeks: int, now: datetime, tz: str = "Europe/Paris") -> int:
    """Create the dated slots of every active schedule for the next `weeks` weeks.

    Times are local wall-clock times in `tz` (pass settings' BABEL_DEFAULT_TIMEZONE),
    stored in UTC, so a 17:00 slot stays at 17:00 local across a DST change.
    Idempotent: a slot already there (same point, same start) is not created again.
    Returns the number of slots created.
    """
    if weeks < 0:
        raise ValueError("weeks must not be negative")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    horizon = today + timedelta(days=7 * weeks)
    schedules = list(session.scalars(
        select(PickupSchedule).join(PickupSchedule.pickup_point)
        .where(PickupSchedule.active.is_(True), PickupPoint.is_active.is_(True))
        .order_by(PickupSchedule.id)
    ))
    if not schedules:
        return 0
    point_ids = {s.pickup_point_id for s in schedules}
    existing = {
        (point_id, starts.astimezone(UTC))
        for point_id, starts in session.execute(
            select(PickupSlot.pickup_point_id, PickupSlot.starts_at).where(
                PickupSlot.pickup_point_id.in_(point_ids),
                PickupSlot.starts_at >= now - timedelta(days=1),
            )
        )
    }
    created = 0
    for schedule in schedules:
        offset = (schedule.weekday - today.weekday()) % 7
        day = today + timedelta(days=offset)
        while day < horizon:
            starts = local_datetime(day, schedule.starts_at, zone)
            key = (schedule.pickup_point_id, starts)
            if starts > now and key not in existing:
                session.add(PickupSlot(
                    pickup_point_id=schedule.pickup_point_id,
                    schedule_id=schedule.id,
                    starts_at=starts,
                    ends_at=local_datetime(day, schedule.ends_at, zone),
                    cutoff_at=starts - timedelta(hours=schedule.cutoff_hours),
                    capacity=schedule.capacity,
                    taken=0,
                    status=SlotStatus.OPEN,
                    closed_reason="",
                ))
                existing.add(key)
                created += 1
            day += timedelta(days=7)
    session.flush()
    return created


def upcoming_slots(session: Session, point: PickupPoint, now: datetime,
                   limit: int = 100) -> list[PickupSlot]:
    """Every slot of the point that has not ended yet, open or closed, soonest first."""
    return list(session.scalars(
        select(PickupSlot)
        .where(PickupSlot.pickup_point_id == point.id, PickupSlot.ends_at > now)
        .order_by(PickupSlot.starts_at).limit(limit)
    ))


def open_slots(session: Session, point: PickupPoint, now: datetime) -> list[PickupSlot]:
    """Slots a buyer can still choose: open, before their cut-off, with room left."""
    return list(session.scalars(
        select(PickupSlot)
        .where(
            PickupSlot.pickup_point_id == point.id,
            PickupSlot.status == SlotStatus.OPEN,
            PickupSlot.cutoff_at > now,
            PickupSlot.taken < PickupSlot.capacity,
        )
        .order_by(PickupSlot.starts_at)
    ))


def slot_of_point(session: Session, point: PickupPoint, slot_id: int | None) -> PickupSlot | None:
    """The slot if it is one of the point's; None for any other id, out of range included."""
    slot = get_by_id(session, PickupSlot, slot_id)
    return slot if slot is not None and slot.pickup_point_id == point.id else None


class SlotClosedAlready(ValueError):
    """The date was closed before (another tab, a double submit): nothing is changed."""


def close_slot(session: Session, slot: PickupSlot, reason: str) -> PickupSlot:
    """Close one date (a holiday). Moving its orders comes with orders.

    One conditional UPDATE, so a date closed already (even by a request that ran after
    ``slot`` was read) keeps its first reason: SlotClosedAlready."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required")
    result = session.execute(
        update(PickupSlot)
        .where(PickupSlot.id == slot.id, PickupSlot.status == SlotStatus.OPEN)
        .values(status=SlotStatus.CLOSED, closed_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.refresh(slot)
    if result.rowcount != 1:
        raise SlotClosedAlready("this date is closed already")
    return slot


def take_place(session, slot_id: int, *, now: datetime) -> bool:
    """Take one place in a slot with a single conditional UPDATE; False when none is left,
    the slot is closed or its cut-off has passed. Never read-then-write."""
    table = PickupSlot.__table__
    result = session.execute(
        update(table)
        .where(
            table.c.id == slot_id,
            table.c.status == SlotStatus.OPEN,
            table.c.taken < table.c.capacity,
            table.c.cutoff_at > now,
        )
        .values(taken=table.c.taken + 1)
    )
    return result.rowcount == 1


def release_place(session, slot_id: int) -> bool:
    """Give one place back (an order cancelled or expired); False if none was taken."""
    table = PickupSlot.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == slot_id, table.c.taken > 0)
        .values(taken=table.c.taken - 1)
    )
    return result.rowcount == 1
