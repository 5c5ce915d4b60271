"""Radius search: the result always equals a brute-force geodesic scan.

Points are placed right at the boundary (radius - 1 m and radius + 1 m, with geopy's
geodesic destination) on every side, where the haversine step cannot decide.
"""

from __future__ import annotations

import math
import random

import pytest
from geopy.distance import geodesic
from sqlalchemy import insert, text

from marketplace.accounts.models import Role, User
from marketplace.extensions import db as _db
from marketplace.geo import distance as services
from marketplace.geo import models as _geo_models  # noqa: F401  (tables for create_all)
from marketplace.geo.services import (
    bounding_box,
    candidate_query,
    distance_km,
    search_radius,
    within_radius_ids,
)
from marketplace.pickup.models import PickupKind, PickupPoint
from marketplace.producers.models import Producer
from marketplace.producers.services import producers_serving
from tests.clock import now

VANNES = (47.6569, -2.7620)
BOUNDARY_M = 0.001  # km


def destination(origin, bearing, km):
    point = geodesic(kilometers=km).destination(origin, bearing)
    return point.latitude, point.longitude


def insert_producers(db, points, *, radii=None, approved=None) -> list[int]:
    """Users and producers in two executemany INSERTs; returns producer ids in order."""
    at = now()
    conn = db.session.connection()
    base = len(db.session.execute(text("SELECT id FROM users")).all())
    users = [
        {"email": f"geo{base + i}@example.org", "password_hash": "x",
         "display_name": f"Geo {i}", "role": Role.PRODUCER,
         "approved_at": None if approved is not None and not approved[i] else at}
        for i in range(len(points))
    ]
    user_ids = conn.execute(
        insert(User.__table__).returning(User.__table__.c.id, sort_by_parameter_order=True),
        users,
    ).scalars().all()
    rows = [
        {"user_id": uid, "name": f"Ferme {uid}", "latitude": lat, "longitude": lon,
         "delivery_radius_km": radii[i] if radii else 30}
        for i, (uid, (lat, lon)) in enumerate(zip(user_ids, points, strict=True))
    ]
    ids = conn.execute(
        insert(Producer.__table__).returning(Producer.__table__.c.id,
                                             sort_by_parameter_order=True),
        rows,
    ).scalars().all()
    db.session.commit()
    return ids


def insert_pickup_points(db, points) -> list[int]:
    ids = db.session.connection().execute(
        insert(PickupPoint.__table__).returning(PickupPoint.__table__.c.id,
                                                sort_by_parameter_order=True),
        [{"name": f"Point {i}", "kind": PickupKind.CAFE, "latitude": lat, "longitude": lon}
         for i, (lat, lon) in enumerate(points)],
    ).scalars().all()
    db.session.commit()
    return ids


def brute_force(center, points_by_id, radius_km):
    """Every point with geopy's geodesic distance <= radius, nearest first."""
    hits = []
    for point_id, point in points_by_id.items():
        d = geodesic(center, point).km
        if d <= radius_km:
            hits.append((d, point_id))
    return sorted(hits)


def assert_same(hits, expected):
    assert [h.obj.id for h in hits] == [pid for _, pid in expected]
    for hit, (d, _) in zip(hits, expected, strict=True):
        assert hit.distance_km == pytest.approx(d, abs=1e-9)


RADII = (5, 30, 50)


@pytest.fixture
def territory(db):
    """3,000 random producers around Vannes, and 2 x 24 x 3 on the boundaries."""
    rng = random.Random(56)
    points = [(VANNES[0] + rng.uniform(-0.8, 0.8), VANNES[1] + rng.uniform(-1.2, 1.2))
              for _ in range(3000)]
    inside, outside = [], []
    for radius in RADII:
        for bearing in range(0, 360, 15):
            inside.append((radius, destination(VANNES, bearing + 0.5, radius - BOUNDARY_M)))
            outside.append((radius, destination(VANNES, bearing + 0.5, radius + BOUNDARY_M)))
    all_points = points + [p for _, p in inside] + [p for _, p in outside]
    ids = insert_producers(db, all_points)
    by_id = dict(zip(ids, all_points, strict=True))
    n = len(points)
    inside_ids = {r: {ids[n + i] for i, (rr, _) in enumerate(inside) if rr == r} for r in RADII}
    outside_ids = {r: {ids[n + len(inside) + i] for i, (rr, _) in enumerate(outside) if rr == r}
                   for r in RADII}
    return by_id, inside_ids, outside_ids


def test_boundary_points_on_both_sides(territory):
    by_id, inside_ids, outside_ids = territory
    for radius in RADII:
        for pid in inside_ids[radius]:
            assert radius - 0.0011 < geodesic(VANNES, by_id[pid]).km <= radius
        for pid in outside_ids[radius]:
            assert radius < geodesic(VANNES, by_id[pid]).km < radius + 0.0011
        found = within_radius_ids(Producer, *VANNES, radius, session=_db.session)
        assert inside_ids[radius] <= found, "a point 1 m inside the radius was missed"
        assert not outside_ids[radius] & found, "a point 1 m outside the radius was kept"
        hits = {h.obj.id for h in search_radius(Producer, *VANNES, radius, session=_db.session)}
        assert inside_ids[radius] <= hits
        assert not outside_ids[radius] & hits


def test_results_equal_brute_force_geodesic(territory):
    by_id, _, _ = territory
    rng = random.Random(29)
    centers = [VANNES] + [by_id[pid] for pid in rng.sample(sorted(by_id), 3)]
    for center in centers:
        widest = brute_force(center, by_id, max(RADII))
        for radius in (*RADII, 12.345):
            expected = [(d, pid) for d, pid in widest if d <= radius]
            found = within_radius_ids(Producer, *center, radius, session=_db.session)
            assert found == {pid for _, pid in expected}
            assert_same(search_radius(Producer, *center, radius, session=_db.session), expected)
            for limit in (1, 7, 50):
                assert_same(search_radius(Producer, *center, radius, limit=limit,
                                          session=_db.session),
                            expected[:limit])


def test_geodesic_runs_only_where_haversine_cannot_decide(territory, monkeypatch):
    calls = []
    real = services.geodesic_km

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(services, "geodesic_km", counting)
    found = within_radius_ids(Producer, *VANNES, 30, session=_db.session)
    assert len(found) > 300
    # Most of the 48 points 1 m either side of 30 km (the bounds settle a few), and
    # a few others near the circle: not the hundreds inside.
    assert 40 <= len(calls) < 48 + 0.05 * len(found)
    calls.clear()
    hits = search_radius(Producer, *VANNES, 30, limit=10, session=_db.session)
    assert len(hits) == 10
    assert len(calls) < 30  # the page and its ties, not every hit


def test_where_criteria_and_other_models(db):
    rng = random.Random(7)
    points = [(VANNES[0] + rng.uniform(-0.4, 0.4), VANNES[1] + rng.uniform(-0.6, 0.6))
              for _ in range(400)]
    approved = [rng.random() < 0.7 for _ in points]
    ids = insert_producers(db, points, approved=approved)
    approved_points = {pid: p for pid, p, ok in zip(ids, points, approved, strict=True) if ok}
    only_approved = [Producer.user.has(User.approved_at.is_not(None))]
    assert_same(search_radius(Producer, *VANNES, 20, where=only_approved, session=_db.session),
                brute_force(VANNES, approved_points, 20))
    pickup_ids = insert_pickup_points(db, points[:100])
    assert_same(search_radius(PickupPoint, *VANNES, 15, session=_db.session),
                brute_force(VANNES, dict(zip(pickup_ids, points[:100], strict=True)), 15))


def test_producers_serving_respects_each_producers_radius(db):
    point = VANNES
    cases = [  # (distance from the point in km, delivery radius in km, serves?)
        (10, 15, True), (20, 15, False), (25 - BOUNDARY_M, 25, True), (25 + BOUNDARY_M, 25, False),
        (49.9, 50, True), (90, 100, True), (101, 100, False), (0, 0, True), (0.5, 0, False),
    ]
    positions = [destination(point, 40 * i + 7, d) if d else point
                 for i, (d, _, _) in enumerate(cases)]
    ids = insert_producers(db, positions, radii=[r for _, r, _ in cases])
    hits = producers_serving(*point, session=_db.session)
    expected = [pid for pid, (_, _, serves) in zip(ids, cases, strict=True) if serves]
    assert sorted(h.obj.id for h in hits) == sorted(expected)
    assert [h.distance_km for h in hits] == sorted(h.distance_km for h in hits)
    assert hits[-1].obj.delivery_radius_km == 100
    brute = {pid for pid, p in zip(ids, positions, strict=True)
             if geodesic(point, p).km <= db.session.get(Producer, pid).delivery_radius_km}
    assert {h.obj.id for h in hits} == brute
    assert [h.obj.id for h in producers_serving(*point, limit=2, session=_db.session)] == \
        [h.obj.id for h in hits[:2]]


def test_producers_serving_with_no_producer(db):
    assert producers_serving(*VANNES, session=_db.session) == []


def test_antimeridian_and_poles_do_not_crash(db):
    points = [(0.0, 179.98), (0.0, -179.98), (0.0, 179.5), (89.95, 0.0), (89.95, 120.0),
              (89.95, -120.0), (-89.99, 45.0), (0.0, 0.0)]
    ids = insert_pickup_points(db, points)
    by_id = dict(zip(ids, points, strict=True))
    for center, radius in [((0.0, 179.99), 20), ((0.0, -180.0), 60), ((89.99, 10.0), 20),
                           ((90.0, 0.0), 10), ((-90.0, 0.0), 5), ((0.0, 0.0), 20_000)]:
        expected = brute_force(center, by_id, radius)
        assert_same(search_radius(PickupPoint, *center, radius, session=_db.session), expected)
        found = within_radius_ids(PickupPoint, *center, radius, session=_db.session)
        assert found == {pid for _, pid in expected}
    # Both sides of 180°.
    assert len(search_radius(PickupPoint, 0.0, 179.99, 20, session=_db.session)) == 2


def test_bounding_box_holds_the_geodesic_circle():
    rng = random.Random(3)
    for _ in range(200):
        lat, lon = rng.uniform(-88, 88), rng.uniform(-180, 180)
        radius = rng.choice([0.5, 5, 30, 100, 500])
        box = bounding_box(lat, lon, radius)
        for bearing in range(0, 360, 10):
            plat, plon = destination((lat, lon), bearing, radius)
            assert box.lat_min <= plat <= box.lat_max
            if box.all_longitudes:
                continue
            if box.crosses_antimeridian:
                assert plon >= box.lon_min or plon <= box.lon_max
            else:
                assert box.lon_min <= plon <= box.lon_max


def test_curvature_bounds_hold():
    rng = random.Random(4)
    for _ in range(500):
        lat, lon = rng.uniform(-89, 89), rng.uniform(-180, 180)
        radius = rng.choice([1, 30, 100, 1000])
        k_lo, k_hi = services._curvature_bounds(lat, radius)
        plat, plon = destination((lat, lon), rng.uniform(0, 360), rng.uniform(0, radius))
        g = geodesic((lat, lon), (plat, plon)).km
        phi1, phi2 = math.radians(lat), math.radians(plat)
        h = (math.sin((phi2 - phi1) / 2) ** 2
             + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(plon - lon) / 2) ** 2)
        angle = 2 * math.asin(math.sqrt(min(1.0, h)))
        assert k_lo * angle <= g * (1 + 1e-12)
        assert g <= k_hi * angle * (1 + 1e-12)
    # Tighter than the 0.5 % of a fixed mean-radius sphere: 0.3 % around France.
    k_lo, k_hi = services._curvature_bounds(47.0, 100)
    assert k_hi / k_lo < 1.0035


def test_geodesic_is_geopys():
    rng = random.Random(5)
    for _ in range(200):
        a = (rng.uniform(-90, 90), rng.uniform(-180, 180))
        b = (rng.uniform(-90, 90), rng.uniform(-180, 180))
        assert services.geodesic_km(*a, *b) == geodesic(a, b).km
        assert distance_km(a, b) == geodesic(a, b).km


def test_distance_km_accepts_objects(db):
    (pid,) = insert_producers(db, [VANNES])
    producer = db.session.get(Producer, pid)
    assert distance_km(producer, (47.0, -2.0)) == geodesic(VANNES, (47.0, -2.0)).km


def test_bounding_box_query_uses_the_index(db):
    stmt = candidate_query(Producer, *VANNES, 30)
    dialect = db.session.get_bind().dialect
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        plan = " ".join(str(row[-1]) for row in rows)
        assert "COVERING INDEX ix_producers_lat_lon" in plan, plan
    else:
        # The table is nearly empty here, so tell the planner to avoid a sequential scan
        # and check that the index can serve the box.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {sql}")))
        assert "ix_producers_lat_lon" in plan, plan
    db.session.rollback()


@pytest.mark.parametrize(("args", "message"), [
    ((91, 0, 10), "latitude must be between -90 and 90"),
    ((-90.5, 0, 10), "latitude"),
    ((0, 180.5, 10), "longitude must be between -180 and 180"),
    ((0, -181, 10), "longitude"),
    ((0, 0, 0), "radius_km must be greater than 0"),
    ((0, 0, -5), "radius_km"),
    ((float("nan"), 0, 10), "latitude must be a finite number"),
    ((0, float("inf"), 10), "longitude"),
    ((0, 0, float("inf")), "radius_km"),
    (("north", 0, 10), "latitude must be a number"),
    ((None, 0, 10), "latitude"),
    ((True, 0, 10), "latitude"),
    ((0, 0, "far"), "radius_km"),
])
def test_bad_inputs_raise_value_error(db, args, message):
    with pytest.raises(ValueError, match=message):
        search_radius(Producer, *args, session=_db.session)
    with pytest.raises(ValueError, match=message):
        within_radius_ids(Producer, *args, session=_db.session)


def test_bad_inputs_elsewhere(db):
    with pytest.raises(ValueError, match="latitude"):
        producers_serving(100, 0, session=_db.session)
    with pytest.raises(ValueError, match="limit"):
        search_radius(Producer, 0, 0, 10, limit=-1, session=_db.session)
    with pytest.raises(ValueError, match="limit"):
        producers_serving(0, 0, limit="10", session=_db.session)
    with pytest.raises(ValueError, match="latitude"):
        distance_km((95, 0), (0, 0))
    with pytest.raises(ValueError, match="pair"):
        distance_km("Vannes", (0, 0))
    with pytest.raises(ValueError, match="radius_km"):
        bounding_box(0, 0, 0)
    assert search_radius(Producer, 0, 0, 10, limit=0, session=_db.session) == []


@pytest.mark.parametrize("radius", [0.5, 12.0, 30.0, 150.0])
def test_within_km_equals_geodesic_at_the_boundary(radius):
    """within_km decides as geodesic does, a metre either side of the radius too."""
    rng = random.Random(radius)
    for _ in range(200):
        bearing = rng.uniform(0, 360)
        km = rng.choice([radius - BOUNDARY_M, radius + BOUNDARY_M, rng.uniform(0, 2 * radius)])
        point = destination(VANNES, bearing, km)
        assert services.within_km(VANNES, point, radius) is (
            geodesic(VANNES, point).km <= radius)
