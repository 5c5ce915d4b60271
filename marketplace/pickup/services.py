"""Pickup schedules and dated slots: generation, listing, closing, taking a place.

Plain functions with explicit arguments, the session first (the caller passes its
own); they flush, never commit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts.models import Role, User
from marketplace.geo.models import Place
from marketplace.geo.normalize import postcode, search_key
from marketplace.models import get_by_id

from .models import HolidayOpening, PickupPoint, PickupSchedule, PickupSlot, SlotStatus

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


@dataclass(frozen=True)
class CutoffRule:
    """When orders for an opening close: ``hours`` before it, or, with ``at`` set,
    ``days`` days before its date at the local wall-clock time ``at``."""

    hours: int = 36
    days: int | None = None
    at: time | None = None

    MAX_DAYS = 14

    def check(self, starts_at: time) -> None:
        if (self.days is None) != (self.at is None):
            raise ValueError("a cut-off by day needs both the day and the time")
        if self.at is None:
            if self.hours < 0:
                raise ValueError("the cut-off must not be negative")
        elif not 0 <= self.days <= self.MAX_DAYS:
            raise ValueError(f"the cut-off must be 0 to {self.MAX_DAYS} days before")
        elif self.days == 0 and self.at > starts_at:
            raise ValueError("a cut-off on the day itself must be before the opening")

    def cutoff_at(self, day: date, starts: datetime, zone: ZoneInfo) -> datetime:
        """The UTC cut-off of an opening on local date ``day`` starting at ``starts``.
        A day-and-time cut-off is a local wall-clock time, so it stays "the day before
        at 18:00" across a change of summer time; never after the opening."""
        if self.at is None:
            return starts - timedelta(hours=self.hours)
        return min(local_datetime(day - timedelta(days=self.days), self.at, zone), starts)


def cutoff_rule(schedule: PickupSchedule) -> CutoffRule:
    return CutoffRule(hours=schedule.cutoff_hours, days=schedule.cutoff_days,
                      at=schedule.cutoff_time)


def days_back_to(weekday: int, cutoff_weekday: int, at: time, starts_at: time) -> int:
    """How many days before an opening on ``weekday`` (starting at ``starts_at``) the
    last ``cutoff_weekday`` at ``at`` falls: "Tuesday at 18:00" for a Thursday is 2;
    "Thursday at 18:00" for a Thursday at 17:00 is the week before, 7."""
    days = (weekday - cutoff_weekday) % 7
    return 7 if days == 0 and at > starts_at else days


def add_schedule(session: Session, point: PickupPoint, *, weekday: int, starts_at: time,
                 ends_at: time, capacity: int, cutoff_hours: int = 36,
                 cutoff_days: int | None = None,
                 cutoff_time: time | None = None) -> PickupSchedule:
    if not 0 <= weekday <= 6:
        raise ValueError("weekday must be 0-6")
    if ends_at <= starts_at:
        raise ValueError("the end must be after the start")
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    CutoffRule(cutoff_hours, cutoff_days, cutoff_time).check(starts_at)
    schedule = PickupSchedule(pickup_point_id=point.id, weekday=weekday, starts_at=starts_at,
                              ends_at=ends_at, capacity=capacity, cutoff_hours=cutoff_hours,
                              cutoff_days=cutoff_days, cutoff_time=cutoff_time)
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


# Public holidays -----------------------------------------------------------------------
# Slots are not generated on French public holidays unless the host opens the day
# (HolidayOpening). Alsace and Moselle keep two more: Good Friday and 26 December.

# Département -> subdivision of the `holidays` package (Bas-Rhin and Haut-Rhin form
# the Collectivité européenne d'Alsace, "6AE").
LOCAL_HOLIDAY_SUBDIVISIONS = {"57": "57", "67": "6AE", "68": "6AE"}


class HolidayError(ValueError):
    """A holiday the host may not open or close; str() is for logs, views say why."""


class HolidayHeld(HolidayError):
    """An order holds a slot of that holiday: close the date with its orders instead."""


def point_department(session: Session, point: PickupPoint) -> str | None:
    """The point's département: from its postcode, else from its commune when the
    gazetteer knows a single département of that name; None when unknown."""
    code = postcode(point.postcode or "")
    if code:
        return code[:2]
    key = search_key(point.commune or "")
    if not key:
        return None
    found = set(session.scalars(
        select(Place.department_code).where(Place.search_key == key).distinct().limit(2)))
    return found.pop() if len(found) == 1 else None


def holiday_subdivision(session: Session, point: PickupPoint) -> str | None:
    return LOCAL_HOLIDAY_SUBDIVISIONS.get(point_department(session, point) or "")


def _holiday_language(language: str) -> str:
    return "en_US" if language.startswith("en") else "fr"


@functools.lru_cache(maxsize=64)
def _holidays_of_year(subdivision: str | None, year: int, language: str) -> dict[date, str]:
    return dict(holidays.France(subdiv=subdivision, years=year, language=language))


def public_holidays(subdivision: str | None, first: date, last: date,
                    language: str = "fr") -> dict[date, str]:
    """French public holidays from ``first`` to ``last`` included, named in
    ``language`` ("fr" or "en"); those of Alsace-Moselle too for its subdivision."""
    found: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        for day, name in _holidays_of_year(subdivision, year,
                                           _holiday_language(language)).items():
            if first <= day <= last:
                found[day] = name
    return found


def opened_holidays(session: Session, point_ids: Iterable[int],
                    first: date) -> set[tuple[int, date]]:
    """(point id, day) of the holidays from ``first`` on that hosts opened."""
    return {(point_id, day) for point_id, day in session.execute(
        select(HolidayOpening.pickup_point_id, HolidayOpening.day).where(
            HolidayOpening.pickup_point_id.in_(list(point_ids)), HolidayOpening.day >= first)
    )}


@dataclass(frozen=True)
class ComingHoliday:
    """A public holiday on a day the point opens every week."""

    day: date
    name: str
    opened: bool       # the host opens it: its slots are generated
    slots: int         # slots of the point already on that day (generated before)
    taken: int         # places taken on them


def coming_holidays(session: Session, point: PickupPoint, *, now: datetime, tz: str,
                    language: str = "fr", weeks: int = 52) -> list[ComingHoliday]:
    """The public holidays of the next ``weeks`` weeks that fall on a weekday of one of
    the point's active openings, soonest first."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    weekdays = {s.weekday for s in schedules_of(session, point) if s.active}
    if not weekdays:
        return []
    days = {day: name for day, name in public_holidays(
        holiday_subdivision(session, point), today, today + timedelta(days=7 * weeks),
        language).items() if day.weekday() in weekdays}
    if not days:
        return []
    opened = {day for _point, day in opened_holidays(session, [point.id], today)}
    on_day: dict[date, list[PickupSlot]] = {}
    for slot in session.scalars(select(PickupSlot).where(
            PickupSlot.pickup_point_id == point.id,
            PickupSlot.starts_at >= local_datetime(min(days), time(0), zone),
            PickupSlot.starts_at < local_datetime(max(days) + timedelta(days=1), time(0), zone))):
        on_day.setdefault(slot.starts_at.astimezone(zone).date(), []).append(slot)
    return [ComingHoliday(day=day, name=name, opened=day in opened,
                          slots=len(on_day.get(day, [])),
                          taken=sum(s.taken for s in on_day.get(day, [])))
            for day, name in sorted(days.items())]


def _holiday_of_point(session: Session, point: PickupPoint, day: date, *, now: datetime,
                      tz: str) -> None:
    today = now.astimezone(ZoneInfo(tz)).date()
    if day < today:
        raise HolidayError("this day is past")
    if day not in public_holidays(holiday_subdivision(session, point), day, day):
        raise HolidayError("this day is not a public holiday here")


def open_holiday(session: Session, point: PickupPoint, day: date, *, now: datetime,
                 tz: str) -> bool:
    """The host opens the point on a public holiday; False if it was open already."""
    _holiday_of_point(session, point, day, now=now, tz=tz)
    if (point.id, day) in opened_holidays(session, [point.id], day):
        return False
    session.add(HolidayOpening(pickup_point_id=point.id, day=day))
    session.flush()
    return True


def close_holiday(session: Session, point: PickupPoint, day: date, *, now: datetime,
                  tz: str) -> int:
    """The host closes again a holiday it had opened; its slots that no order holds are
    removed (closed, if an old cancelled order still names them). HolidayHeld when an
    order holds one: that date is closed with its orders, from the list of dates.
    Returns how many slots went."""
    _holiday_of_point(session, point, day, now=now, tz=tz)
    zone = ZoneInfo(tz)
    removed = session.execute(delete(HolidayOpening).where(
        HolidayOpening.pickup_point_id == point.id, HolidayOpening.day == day))
    if removed.rowcount != 1:
        raise HolidayError("this holiday is not open")
    slot_ids = list(session.scalars(select(PickupSlot.id).where(
        PickupSlot.pickup_point_id == point.id,
        PickupSlot.starts_at >= local_datetime(day, time(0), zone),
        PickupSlot.starts_at < local_datetime(day + timedelta(days=1), time(0), zone))))
    name = public_holidays(holiday_subdivision(session, point), day, day)[day]
    for slot_id in slot_ids:
        try:
            with session.begin_nested():
                gone = session.execute(
                    delete(PickupSlot).where(PickupSlot.id == slot_id, PickupSlot.taken == 0)
                    .execution_options(synchronize_session=False)).rowcount
        except IntegrityError:  # an order cancelled earlier still names it
            gone = session.execute(
                update(PickupSlot).where(PickupSlot.id == slot_id, PickupSlot.taken == 0)
                .values(status=SlotStatus.CLOSED, closed_reason=name)
                .execution_options(synchronize_session=False)).rowcount
        if gone != 1:
            raise HolidayHeld("an order holds a slot of this holiday")
    session.expire_all()
    return len(slot_ids)


# Slots -------------------------------------------------------------------------------

def local_datetime(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a local date."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _holidays_skipped(session: Session, points: Iterable[PickupPoint], first: date,
                      last: date) -> dict[int, set[date]]:
    """Point id -> the public holidays from ``first`` to ``last`` its host did not open."""
    points = list(points)
    opened = opened_holidays(session, [p.id for p in points], first)
    return {
        point.id: {day for day in public_holidays(holiday_subdivision(session, point),
                                                  first, last)
                   if (point.id, day) not in opened}
        for point in points
    }


def generate_slots(session, *, weeks: int, now: datetime, tz: str = "Europe/Paris",
                   point_ids: Iterable[int] | None = None) -> int:
    """Create the dated slots of every active schedule for the next `weeks` weeks
    (of the points ``point_ids`` only, if given).

    Times are local wall-clock times in `tz` (pass settings' BABEL_DEFAULT_TIMEZONE),
    stored in UTC, so a 17:00 slot stays at 17:00 local across a DST change.
    Public holidays are skipped unless the host opened the day; slots generated on
    one before stay (orders may hold them).
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
    stmt = (select(PickupSchedule).join(PickupSchedule.pickup_point)
            .where(PickupSchedule.active.is_(True), PickupPoint.is_active.is_(True))
            .order_by(PickupSchedule.id))
    if point_ids is not None:
        stmt = stmt.where(PickupSchedule.pickup_point_id.in_(list(point_ids)))
    schedules = list(session.scalars(stmt))
    if not schedules:
        return 0
    point_ids = {s.pickup_point_id for s in schedules}
    skipped = _holidays_skipped(session, {s.pickup_point for s in schedules}, today, horizon)
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
            if (starts > now and key not in existing
                    and day not in skipped[schedule.pickup_point_id]):
                session.add(PickupSlot(
                    pickup_point_id=schedule.pickup_point_id,
                    schedule_id=schedule.id,
                    starts_at=starts,
                    ends_at=local_datetime(day, schedule.ends_at, zone),
                    cutoff_at=cutoff_rule(schedule).cutoff_at(day, starts, zone),
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


@dataclass(frozen=True)
class Opening:
    """A dated opening a schedule would give: when it starts and when orders close."""

    starts_at: datetime
    ends_at: datetime
    cutoff_at: datetime


def next_openings(session: Session, point: PickupPoint, *, weekday: int, starts_at: time,
                  ends_at: time, rule: CutoffRule, now: datetime, tz: str,
                  count: int = 2) -> list[Opening]:
    """The next ``count`` dates an opening on ``weekday`` would give at this point,
    holidays skipped as generation skips them: what a cut-off setting means in
    practice, shown to the host before saving it."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first = today + timedelta(days=(weekday - today.weekday()) % 7)
    last = first + timedelta(days=7 * 8)
    skipped = _holidays_skipped(session, [point], first, last)[point.id]
    found: list[Opening] = []
    day = first
    while len(found) < count and day <= last:
        starts = local_datetime(day, starts_at, zone)
        if starts > now and day not in skipped:
            found.append(Opening(starts, local_datetime(day, ends_at, zone),
                                 rule.cutoff_at(day, starts, zone)))
        day += timedelta(days=7)
    return found


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
