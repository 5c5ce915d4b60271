"""Pickup schedules, dated slots and delivery rounds: the service rules."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import Role
from marketplace.extensions import db as _db
from marketplace.geo.models import Department, Place
from marketplace.pickup import rounds, services
from marketplace.pickup.models import (
    DeliveryRound,
    PickupSchedule,
    PickupSlot,
    SlotStatus,
)
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import INSTANTS, PARIS, now, paris
from tests.factories import RENNES, TZ


def make_schedule(point, weekday=3, start=time(17), end=time(19), capacity=12, cutoff=36):
    return services.add_schedule(_db.session, point, weekday=weekday, starts_at=start,
                                 ends_at=end, capacity=capacity, cutoff_hours=cutoff)


# Generation ----------------------------------------------------------------------------

def test_generation_across_the_october_dst_change(db):
    point = factories.pickup_point()
    make_schedule(point, weekday=3)                                   # Thursday 17:00-19:00
    make_schedule(point, weekday=6, start=time(10), end=time(12), cutoff=0)  # Sunday
    now = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)                    # Monday
    created = services.generate_slots(db.session, weeks=2, now=now, tz=TZ)
    db.session.commit()
    assert created == 3   # Sunday 1 November is All Saints' Day, a public holiday
    slots = db.session.scalars(select(PickupSlot).order_by(PickupSlot.starts_at)).all()
    assert [(s.starts_at, s.ends_at) for s in slots] == [
        # Thursday 22 October: summer time, UTC+2
        (datetime(2026, 10, 22, 15, tzinfo=UTC), datetime(2026, 10, 22, 17, tzinfo=UTC)),
        # Sunday 25 October, the change day itself: winter time from 03:00, UTC+1
        (datetime(2026, 10, 25, 9, tzinfo=UTC), datetime(2026, 10, 25, 11, tzinfo=UTC)),
        # Thursday 29 October: winter time, UTC+1
        (datetime(2026, 10, 29, 16, tzinfo=UTC), datetime(2026, 10, 29, 18, tzinfo=UTC)),
    ]
    first = slots[0]
    # 36 hours before Thursday 17:00 local is Wednesday 03:00 UTC
    assert first.cutoff_at == datetime(2026, 10, 21, 3, tzinfo=UTC)
    assert slots[1].cutoff_at == slots[1].starts_at
    assert all(s.capacity == 12 and s.taken == 0 and s.status == SlotStatus.OPEN for s in slots)


def test_generation_is_idempotent_and_extends(db):
    point = factories.pickup_point()
    make_schedule(point)
    now = datetime(2026, 10, 19, 8, tzinfo=UTC)
    assert services.generate_slots(db.session, weeks=4, now=now, tz=TZ) == 4
    db.session.commit()
    assert services.generate_slots(db.session, weeks=4, now=now, tz=TZ) == 0
    assert services.generate_slots(db.session, weeks=4, now=now + timedelta(hours=2), tz=TZ) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count(PickupSlot.id))) == 4
    assert services.generate_slots(db.session, weeks=5, now=now, tz=TZ) == 1


def test_generation_skips_inactive_schedules_points_and_past_starts(db):
    point = factories.pickup_point()
    make_schedule(point, weekday=0).active = False
    closed = factories.pickup_point("Fermé", is_active=False)
    make_schedule(closed)
    make_schedule(point, weekday=3)
    # Thursday 18:00 local: this week's slot has already started.
    now = datetime(2026, 10, 22, 16, tzinfo=UTC)
    assert services.generate_slots(db.session, weeks=1, now=now, tz=TZ) == 0
    assert services.generate_slots(db.session, weeks=2, now=now, tz=TZ) == 1


# Slots generated for two weeks of local dates: Thursday 17:00-19:00 (cut-off 36 h before)
# and Sunday 10:00-12:00 (no cut-off); one fewer where today's opening is already past
# or a public holiday falls on one of them.
GENERATED = {"new-years-eve": 3,  # Thursday 31 December, 23:30: that day's 17:00 is past
             "autumn-0230-summer-time": 3,   # Sunday 1 November: All Saints' Day
             "autumn-0230-winter-time": 3}


@pytest.mark.parametrize(("clock", "expected"), [
    pytest.param(p.values[0], GENERATED.get(p.id, 4), id=p.id) for p in INSTANTS
], indirect=["clock"])
def test_generation_at_any_instant_keeps_local_wall_clock_times(db, clock, expected):
    point = factories.pickup_point()
    make_schedule(point, weekday=3)                                   # Thursday 17:00-19:00
    make_schedule(point, weekday=6, start=time(10), end=time(12), cutoff=0)  # Sunday
    assert services.generate_slots(db.session, weeks=2, now=now(), tz=TZ) == expected
    db.session.commit()
    slots = db.session.scalars(select(PickupSlot).order_by(PickupSlot.starts_at)).all()
    today = clock.start.astimezone(PARIS).date()
    for slot in slots:
        starts, ends = slot.starts_at.astimezone(PARIS), slot.ends_at.astimezone(PARIS)
        assert (starts.weekday(), starts.time(), ends.time()) in {
            (3, time(17), time(19)), (6, time(10), time(12))}, starts
        assert today <= starts.date() < today + timedelta(days=14)
        assert slot.starts_at > clock.start
        hours = 36 if starts.weekday() == 3 else 0
        assert slot.cutoff_at == slot.starts_at - timedelta(hours=hours)
    # Run again a minute later: nothing more (past midnight, the next day's date would come).
    clock.move_to(clock.start + timedelta(minutes=1))
    assert services.generate_slots(db.session, weeks=2, now=now(), tz=TZ) == 0


def test_check_constraints(db):
    point = factories.pickup_point()
    slot = factories.slot(point, capacity=2)
    slot.taken = 3
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(PickupSchedule(pickup_point_id=point.id, weekday=7, starts_at=time(9),
                                  ends_at=time(10), capacity=1, cutoff_hours=0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# Open slots, closing, taking places -----------------------------------------------------

def test_open_slots_and_close(db):
    point = factories.pickup_point()
    good = factories.slot(point)
    factories.slot(point, starts_in=timedelta(days=4), capacity=1, taken=1)      # full
    factories.slot(point, starts_in=timedelta(days=1), cutoff_in=-timedelta(hours=1))  # cut off
    closed = factories.slot(point, starts_in=timedelta(days=5))
    services.close_slot(db.session, closed, "Jour férié")
    db.session.commit()
    assert closed.status == SlotStatus.CLOSED
    assert closed.closed_reason == "Jour férié"
    assert services.open_slots(db.session, point, now()) == [good]
    with pytest.raises(ValueError, match="reason"):
        services.close_slot(db.session, good, "  ")


def test_take_and_release_place(db):
    point = factories.pickup_point()
    slot = factories.slot(point, capacity=2)
    assert services.take_place(db.session, slot.id, now=now())
    assert services.take_place(db.session, slot.id, now=now())
    assert not services.take_place(db.session, slot.id, now=now())
    db.session.commit()
    db.session.refresh(slot)
    assert slot.taken == 2
    assert services.release_place(db.session, slot.id)
    assert services.release_place(db.session, slot.id)
    assert not services.release_place(db.session, slot.id)
    db.session.commit()
    db.session.refresh(slot)
    assert slot.taken == 0


def test_closed_and_cut_off_slots_refuse_a_place(db):
    point = factories.pickup_point()
    closed = factories.slot(point)
    services.close_slot(db.session, closed, "Vacances")
    late = factories.slot(point, starts_in=timedelta(hours=10), cutoff_in=-timedelta(minutes=1))
    db.session.commit()
    assert not services.take_place(db.session, closed.id, now=now())
    assert not services.take_place(db.session, late.id, now=now())
    # An explicit "now" before the cut-off is honoured.
    assert services.take_place(db.session, late.id, now=late.cutoff_at - timedelta(seconds=1))
    assert not services.take_place(db.session, 999_999, now=now())


def test_take_place_under_contention(app, db):
    point = factories.pickup_point()
    slot = factories.slot(point, capacity=12)
    slot_id = slot.id
    db.session.commit()
    threads_count = 30
    barrier = threading.Barrier(threads_count)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def buyer():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                try:
                    with write_intent():
                        ok = services.take_place(db.session, slot_id, now=now())
                        db.session.commit()
                finally:
                    db.session.remove()
                with lock:
                    results.append(ok)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=buyer) for _ in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == threads_count
    assert results.count(True) == 12
    db.session.expire_all()
    assert db.session.get(PickupSlot, slot_id).taken == 12


# Delivery rounds ------------------------------------------------------------------------

def test_set_rounds_replaces_and_refuses_far_points(db):
    farm = factories.producer()
    near = factories.pickup_point("Vannes")
    far = factories.pickup_point("Rennes", at=RENNES)
    rounds.set_rounds(db.session, farm, [(near.id, 3), (near.id, 5)])
    db.session.commit()
    assert {(r.pickup_point_id, r.weekday) for r in rounds.rounds_of(db.session, farm)} == {
        (near.id, 3), (near.id, 5)}
    with pytest.raises(rounds.RoundError, match="outside your delivery radius"):
        rounds.set_rounds(db.session, farm, [(near.id, 1), (far.id, 3)])
    db.session.rollback()
    with pytest.raises(rounds.RoundError):
        rounds.set_rounds(db.session, farm, [(near.id, 7)])
    db.session.rollback()
    assert len(rounds.rounds_of(db.session, farm)) == 2
    rounds.set_rounds(db.session, farm, [(near.id, 1)])
    db.session.commit()
    assert [(r.pickup_point_id, r.weekday)
            for r in rounds.rounds_of(db.session, farm)] == [(near.id, 1)]
    rounds.set_rounds(db.session, farm, [])
    db.session.commit()
    assert db.session.scalar(select(func.count(DeliveryRound.id))) == 0


def test_nearby_points_sorted_and_within_radius(db):
    farm = factories.producer()
    factories.pickup_point("Vannes")
    factories.pickup_point("Theix", at=(47.6295, -2.6538))
    factories.pickup_point("Rennes", at=RENNES)
    factories.pickup_point("Fermé", at=(47.73, -2.58), is_active=False)
    nearby = rounds.nearby_points(db.session, farm)
    assert [n.point.name for n in nearby] == ["Theix", "Vannes"]
    assert nearby[0].distance_km < nearby[1].distance_km < farm.delivery_radius_km


@pytest.mark.parametrize(
    ("has_round", "round_day", "radius", "expected"),
    [
        (True, 3, 30, True),     # round that weekday, within radius
        (True, 4, 30, False),    # round on another weekday
        (False, 3, 30, False),   # no round at all
        (True, 3, 5, False),     # round, but the point is now beyond the radius
    ],
)
def test_can_serve_truth_table(db, has_round, round_day, radius, expected):
    farm = factories.producer()
    point = factories.pickup_point("Vannes")
    other = factories.pickup_point("Theix", at=(47.6295, -2.6538))
    rounds.set_rounds(db.session, farm, [(other.id, 3)])
    if has_round:
        db.session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                     weekday=round_day))
    farm.delivery_radius_km = radius
    # Thursday 22 October 2026, 23:30 in Paris (21:30 UTC).
    thursday = datetime(2026, 10, 22, 21, 30, tzinfo=UTC)
    slot = PickupSlot(pickup_point_id=point.id, starts_at=thursday,
                      ends_at=thursday + timedelta(hours=1), cutoff_at=thursday, capacity=5)
    db.session.add(slot)
    db.session.commit()
    assert rounds.can_serve(db.session, farm, slot, tz=TZ) is expected


def test_can_serve_uses_the_local_weekday(db):
    farm = factories.producer()
    point = factories.pickup_point("Vannes")
    rounds.set_rounds(db.session, farm, [(point.id, 4)])   # Friday
    # Friday 23 October 00:30 in Paris is Thursday 22:30 UTC.
    starts = datetime(2026, 10, 22, 22, 30, tzinfo=UTC)
    slot = PickupSlot(pickup_point_id=point.id, starts_at=starts,
                      ends_at=starts + timedelta(hours=1), cutoff_at=starts, capacity=5)
    db.session.add(slot)
    db.session.commit()
    assert rounds.can_serve(db.session, farm, slot, tz=TZ)
    assert not rounds.can_serve(db.session, farm, slot, tz="UTC")


def test_host_scope(db):
    host = factories.user(Role.HOST)
    other = factories.user(Role.HOST)
    admin = factories.user(Role.ADMIN)
    mine = factories.pickup_point("Mine", host=host)
    theirs = factories.pickup_point("Theirs", host=other)
    assert services.points_managed_by(db.session, host) == [mine]
    assert services.managed_point(db.session, host, theirs.id) is None
    assert services.managed_point(db.session, admin, theirs.id) == theirs
    assert len(services.points_managed_by(db.session, admin)) == 2


def test_closing_a_closed_date_changes_nothing(db):
    point = factories.pickup_point()
    slot = factories.slot(point)
    services.close_slot(db.session, slot, "Jour férié")
    db.session.commit()
    with pytest.raises(services.SlotClosedAlready):
        services.close_slot(db.session, slot, "Travaux")
    db.session.rollback()
    assert db.session.get(PickupSlot, slot.id).closed_reason == "Jour férié"


def test_closing_a_date_closed_meanwhile_changes_nothing(db):
    """Closed by another request after this one read the slot: one conditional UPDATE,
    never read-then-write, so the first reason stays."""
    point = factories.pickup_point()
    slot = factories.slot(point)
    assert slot.status == SlotStatus.OPEN  # loaded: this session still sees it open
    table = PickupSlot.__table__
    db.session.execute(table.update().where(table.c.id == slot.id)
                       .values(status=SlotStatus.CLOSED, closed_reason="Jour férié"))
    with pytest.raises(services.SlotClosedAlready):
        services.close_slot(db.session, slot, "Travaux")
    db.session.commit()
    db.session.expire_all()
    slot = db.session.get(PickupSlot, slot.id)
    assert (slot.status, slot.closed_reason) == (SlotStatus.CLOSED, "Jour férié")


# Public holidays -------------------------------------------------------------------------

def local_days(point):
    return [s.starts_at.astimezone(PARIS).date() for s in factories.slots_of(point)]


@pytest.mark.parametrize("clock", [
    pytest.param(paris(2026, 11, 17, 10), id="mid-november"),
    pytest.param(paris(2026, 12, 7, 21, 5), id="monday-evening"),
    pytest.param(paris(2026, 12, 24, 23, 59), id="christmas-eve"),
], indirect=True)
def test_generation_skips_christmas_and_new_years_day(db, clock):
    point = factories.pickup_point(postcode="56000", commune="Vannes")
    make_schedule(point, weekday=4)                       # Fridays: 25 December, 1 January
    services.generate_slots(db.session, weeks=8, now=now(), tz=TZ)
    db.session.commit()
    days = local_days(point)
    assert date(2026, 12, 25) not in days
    assert date(2027, 1, 1) not in days
    assert date(2027, 1, 8) in days
    today = clock.start.astimezone(PARIS).date()
    assert days == [
        day for day in (today + timedelta(days=n) for n in range(56))
        if day.weekday() == 4 and paris(day.year, day.month, day.day, 17) > clock.start
        and day not in (date(2026, 12, 25), date(2027, 1, 1))]


@pytest.mark.parametrize("clock", [
    pytest.param(paris(2026, 11, 17, 10), id="mid-november"),
    pytest.param(paris(2026, 12, 25, 9), id="christmas-morning"),
], indirect=True)
def test_a_holiday_the_host_opens_is_generated(db, clock):
    point = factories.pickup_point(postcode="56000")
    make_schedule(point, weekday=4)
    assert services.open_holiday(db.session, point, date(2026, 12, 25), now=now(), tz=TZ)
    assert not services.open_holiday(db.session, point, date(2026, 12, 25), now=now(), tz=TZ)
    services.generate_slots(db.session, weeks=8, now=now(), tz=TZ)
    db.session.commit()
    days = local_days(point)
    assert date(2026, 12, 25) in days          # 17:00 is still to come on Christmas morning
    assert date(2027, 1, 1) not in days        # not opened


def test_only_a_coming_public_holiday_can_be_opened(db):
    point = factories.pickup_point(postcode="56000")
    with pytest.raises(services.HolidayError):
        services.open_holiday(db.session, point, date(2026, 12, 24), now=now(), tz=TZ)
    with pytest.raises(services.HolidayError):            # past
        services.open_holiday(db.session, point, date(2026, 11, 11), now=now(), tz=TZ)
    with pytest.raises(services.HolidayError):            # Alsace-Moselle only
        services.open_holiday(db.session, point, date(2026, 12, 26), now=now(), tz=TZ)


def moselle_commune():
    """A gazetteer with Metz in it: a point with a commune and no postcode."""
    db = _db
    db.session.add(Department(code="57", name="Moselle", search_key="moselle"))
    db.session.add(Place(id=570001, name="Metz", search_key="metz", department_code="57",
                         latitude=49.12, longitude=6.18))
    db.session.commit()


@pytest.mark.parametrize("clock", [
    pytest.param(paris(2026, 12, 1, 8), id="december"),
    pytest.param(paris(2026, 12, 19, 20), id="saturday-before-christmas"),
    pytest.param(paris(2027, 3, 10, 12), id="march"),
], indirect=True)
def test_alsace_and_moselle_skip_good_friday_and_26_december_brittany_does_not(db, clock):
    moselle_commune()
    points = {
        "strasbourg": factories.pickup_point("Strasbourg", postcode="67000"),
        "colmar": factories.pickup_point("Colmar", postcode="68000"),
        "metz": factories.pickup_point("Metz", commune="Metz"),
        "vannes": factories.pickup_point("Vannes", postcode="56000", commune="Vannes"),
    }
    for point in points.values():
        make_schedule(point, weekday=4)    # Fridays: Good Friday 26 March 2027
        make_schedule(point, weekday=5)    # Saturdays: 26 December 2026
    services.generate_slots(db.session, weeks=4, now=now(), tz=TZ)
    db.session.commit()
    today = clock.start.astimezone(PARIS).date()
    horizon = today + timedelta(weeks=4)
    extra = [d for d in (date(2026, 12, 26), date(2027, 3, 26)) if today < d < horizon]
    assert extra  # each instant has one of them ahead
    for name, point in points.items():
        days = local_days(point)
        for day in extra:
            assert (day in days) is (name == "vannes"), (name, day)
        assert date(2026, 12, 25) not in days


def test_department_of_a_point(db):
    moselle_commune()
    assert services.point_department(
        db.session, factories.pickup_point(postcode="57 000")) == "57"
    assert services.point_department(
        db.session, factories.pickup_point(commune="metz")) == "57"
    assert services.point_department(
        db.session, factories.pickup_point(commune="Nulle-Part")) is None
    assert services.holiday_subdivision(
        db.session, factories.pickup_point(postcode="68100")) == "6AE"
    assert services.holiday_subdivision(
        db.session, factories.pickup_point(postcode="29200")) is None


def test_closing_an_opened_holiday_again(db):
    point = factories.pickup_point(postcode="56000")
    make_schedule(point, weekday=4)
    christmas = date(2026, 12, 25)
    services.open_holiday(db.session, point, christmas, now=now(), tz=TZ)
    services.generate_slots(db.session, weeks=8, now=now(), tz=TZ)
    db.session.commit()
    assert christmas in local_days(point)
    assert services.close_holiday(db.session, point, christmas, now=now(), tz=TZ) == 1
    db.session.commit()
    assert christmas not in local_days(point)
    with pytest.raises(services.HolidayError):           # not open any more
        services.close_holiday(db.session, point, christmas, now=now(), tz=TZ)
    db.session.rollback()
    # Opened again, and an order holds its date: it stays open.
    services.open_holiday(db.session, point, christmas, now=now(), tz=TZ)
    services.generate_slots(db.session, weeks=8, now=now(), tz=TZ)
    db.session.commit()
    slot = next(s for s in factories.slots_of(point)
                if s.starts_at.astimezone(PARIS).date() == christmas)
    assert services.take_place(db.session, slot.id, now=now())
    db.session.commit()
    with pytest.raises(services.HolidayHeld):
        services.close_holiday(db.session, point, christmas, now=now(), tz=TZ)
    db.session.rollback()
    assert christmas in local_days(point)
    assert [h.opened for h in services.coming_holidays(
        db.session, point, now=now(), tz=TZ) if h.day == christmas] == [True]


def test_slots_made_on_a_holiday_before_stay(db):
    point = factories.pickup_point(postcode="56000")
    schedule = make_schedule(point, weekday=4)
    starts = paris(2026, 12, 25, 17)
    db.session.add(PickupSlot(pickup_point_id=point.id, schedule_id=schedule.id,
                              starts_at=starts, ends_at=starts + timedelta(hours=2),
                              cutoff_at=starts - timedelta(hours=36), capacity=5))
    db.session.commit()
    services.generate_slots(db.session, weeks=8, now=now(), tz=TZ)
    db.session.commit()
    assert local_days(point).count(date(2026, 12, 25)) == 1
    christmas = next(h for h in services.coming_holidays(db.session, point, now=now(), tz=TZ)
                     if h.day == date(2026, 12, 25))
    assert (christmas.opened, christmas.slots, christmas.name) == (False, 1, "Noël")


# Cut-offs by day and time ---------------------------------------------------------------

@pytest.mark.parametrize("clock", [
    pytest.param(paris(2027, 3, 20, 12), id="week-before-spring-forward"),
    pytest.param(paris(2027, 3, 28, 1, 30), id="before-spring-forward"),
], indirect=True)
def test_day_and_time_cut_off_across_the_spring_change(db, clock):
    point = factories.pickup_point(postcode="56000")
    # Sunday 10:00, orders until the day before at 18:00.
    services.add_schedule(db.session, point, weekday=6, starts_at=time(10), ends_at=time(12),
                          capacity=5, cutoff_days=1, cutoff_time=time(18))
    # Tuesday 09:00, orders until Saturday 18:00 (three days before).
    services.add_schedule(
        db.session, point, weekday=1, starts_at=time(9), ends_at=time(11), capacity=5,
        cutoff_days=services.days_back_to(1, 5, time(18), time(9)), cutoff_time=time(18))
    services.generate_slots(db.session, weeks=2, now=now(), tz=TZ)
    db.session.commit()
    cutoffs = {s.starts_at.astimezone(PARIS).date(): s.cutoff_at
               for s in factories.slots_of(point)}
    # Saturday 27 March 18:00 is winter time (UTC+1); the openings are in summer time.
    assert cutoffs[date(2027, 3, 28)] == datetime(2027, 3, 27, 17, tzinfo=UTC)
    assert cutoffs[date(2027, 3, 30)] == datetime(2027, 3, 27, 17, tzinfo=UTC)
    for day, cutoff in cutoffs.items():
        local = cutoff.astimezone(PARIS)
        assert (local.time(), local.weekday()) == (time(18), 5), day


def test_day_and_time_cut_off_across_the_autumn_change(db):
    point = factories.pickup_point(postcode="56000")
    services.add_schedule(db.session, point, weekday=6, starts_at=time(10), ends_at=time(12),
                          capacity=5, cutoff_days=1, cutoff_time=time(18))
    services.generate_slots(db.session, weeks=1, now=paris(2026, 10, 20), tz=TZ)
    db.session.commit()
    (slot,) = factories.slots_of(point)
    assert slot.starts_at == datetime(2026, 10, 25, 9, tzinfo=UTC)      # winter time
    assert slot.cutoff_at == datetime(2026, 10, 24, 16, tzinfo=UTC)     # summer time


@pytest.mark.parametrize(("weekday", "cutoff_weekday", "at", "starts", "days"), [
    (3, 1, time(18), time(17), 2),     # Thursday opening, Tuesday 18:00
    (3, 2, time(18), time(17), 1),     # the day before
    (3, 3, time(12), time(17), 0),     # the same day, before the opening
    (3, 3, time(18), time(17), 7),     # after the opening: the week before
    (0, 6, time(20), time(9), 1),      # Monday opening, Sunday evening
    (0, 5, time(18), time(9), 2),
])
def test_days_back_to_a_weekday(weekday, cutoff_weekday, at, starts, days):
    assert services.days_back_to(weekday, cutoff_weekday, at, starts) == days


@pytest.mark.parametrize(("rule", "message"), [
    (services.CutoffRule(hours=-1), "negative"),
    (services.CutoffRule(days=1), "both"),
    (services.CutoffRule(days=None, at=time(18)), "both"),
    (services.CutoffRule(days=15, at=time(18)), "0 to 14 days"),
    (services.CutoffRule(days=-1, at=time(18)), "0 to 14 days"),
    (services.CutoffRule(days=0, at=time(17, 1)), "before the opening"),
])
def test_impossible_cut_offs_are_refused(db, rule, message):
    point = factories.pickup_point()
    with pytest.raises(ValueError, match=message):
        services.add_schedule(db.session, point, weekday=3, starts_at=time(17),
                              ends_at=time(19), capacity=5, cutoff_hours=rule.hours,
                              cutoff_days=rule.days, cutoff_time=rule.at)


def test_preview_of_the_next_two_openings(db):
    point = factories.pickup_point(postcode="56000")
    # Seen on Monday 21 December: Friday 25 December is skipped, so is 1 January.
    openings = services.next_openings(
        db.session, point, weekday=4, starts_at=time(17), ends_at=time(19),
        rule=services.CutoffRule(days=1, at=time(18)), now=paris(2026, 12, 21, 9), tz=TZ)
    assert [(o.starts_at, o.cutoff_at) for o in openings] == [
        (paris(2027, 1, 8, 17), paris(2027, 1, 7, 18)),
        (paris(2027, 1, 15, 17), paris(2027, 1, 14, 18)),
    ]
    assert db.session.scalar(select(func.count(PickupSlot.id))) == 0
