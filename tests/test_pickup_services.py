"""Pickup schedules, dated slots and delivery rounds: the service rules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import Role
from marketplace.extensions import db as _db
from marketplace.pickup import rounds, services
from marketplace.pickup.models import (
    DeliveryRound,
    PickupSchedule,
    PickupSlot,
    SlotStatus,
)
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import INSTANTS, PARIS, now
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
    assert created == 4
    slots = db.session.scalars(select(PickupSlot).order_by(PickupSlot.starts_at)).all()
    assert [(s.starts_at, s.ends_at) for s in slots] == [
        # Thursday 22 October: summer time, UTC+2
        (datetime(2026, 10, 22, 15, tzinfo=UTC), datetime(2026, 10, 22, 17, tzinfo=UTC)),
        # Sunday 25 October, the change day itself: winter time from 03:00, UTC+1
        (datetime(2026, 10, 25, 9, tzinfo=UTC), datetime(2026, 10, 25, 11, tzinfo=UTC)),
        # Thursday 29 October: winter time, UTC+1
        (datetime(2026, 10, 29, 16, tzinfo=UTC), datetime(2026, 10, 29, 18, tzinfo=UTC)),
        (datetime(2026, 11, 1, 9, tzinfo=UTC), datetime(2026, 11, 1, 11, tzinfo=UTC)),
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
# and Sunday 10:00-12:00 (no cut-off); one fewer where today's opening is already past.
GENERATED = {"new-years-eve": 3}  # Thursday 31 December, 23:30: that day's 17:00 is past


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
