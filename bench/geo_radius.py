"""Radius search benchmark: 100,000 producers over mainland France, 1,000 searches.

    .venv/bin/python bench/geo_radius.py
    .venv/bin/python bench/geo_radius.py --producers 20000 --queries 200 --naive-queries 3

A temporary SQLite database is made (create_all + reference data) and filled with
the large synthetic set of `flask seed-demo` (producers and their users only, no
products). Queries are random points of mainland France (the same outline the
synthetic farms use) with a radius of --radius km.

What is timed, per query, in a fresh transaction (begun just before, as a request
has it open by the time its view searches):
- search_radius(Producer, lat, lon, radius, limit=--limit): the nearest --limit
  producers, exact, with their geodesic distances and full objects: the page a
  view shows. Its p50/p99 are the figures of the last line.
- within_radius_ids(...): the exact set only (what the catalogue filter needs).
- search_radius(..., limit=None) on --full-queries queries: every hit with its
  geodesic distance (geodesic costs about 0.1 ms a hit here, so this grows with
  the number of hits).

Naive baseline: a loop computing geopy's geodesic(a, b).km from the query point to
every producer (all 100,000 rows already in memory), on the first --naive-queries
queries only, since each takes seconds; its mean time per query is extrapolated and
divided by the mean time of the paged search_radius. For each of those queries the
results are compared with the naive ones: the set of within_radius_ids, the set of
the unpaged search_radius, and the paged page (same ids, same order, same
distances). Last line:

    geo p50_ms=<x> p99_ms=<y> speedup_vs_naive=<z> identical=<true|false>
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geopy.distance import geodesic  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench._common import percentile, print_load  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.demo import france  # noqa: E402
from marketplace.demo import seed as seeding  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.geo import models as _geo_models  # noqa: E402, F401
from marketplace.geo.services import (  # noqa: E402
    candidate_query,
    search_radius,
    within_radius_ids,
)
from marketplace.producers.models import Producer  # noqa: E402


def mainland_points(rng: random.Random, n: int) -> list[tuple[float, float]]:
    points = []
    while len(points) < n:
        lat = rng.uniform(france.LAT_MIN, france.LAT_MAX)
        lon = rng.uniform(france.LON_MIN, france.LON_MAX)
        if france.in_mainland(lat, lon):
            points.append((lat, lon))
    return points


CPU_TIMES: list[float] = []


def timed(fn, *args, **kwargs):
    """Wall time of one call, in a fresh transaction already begun (a request has
    its transaction open by the time a view searches: loading the user, say)."""
    db.session.connection()
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - started
    CPU_TIMES.append(time.process_time() - cpu)
    db.session.close()
    return elapsed, result


def naive(points_rows, lat: float, lon: float, radius_km: float) -> list[tuple[float, int]]:
    """What one writes without an index: geodesic to every producer."""
    hits = []
    for producer_id, plat, plon in points_rows:
        d = geodesic((lat, lon), (plat, plon)).km
        if d <= radius_km:
            hits.append((d, producer_id))
    hits.sort()
    return hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--radius", type=float, default=30.0, help="km")
    parser.add_argument("--limit", type=int, default=20, help="page size of the timed search")
    parser.add_argument("--full-queries", type=int, default=100,
                        help="queries timed without a limit")
    parser.add_argument("--naive-queries", type=int, default=10,
                        help="queries timed with the naive loop (seconds each)")
    parser.add_argument("--seed", type=int, default=56)
    args = parser.parse_args()
    print_load()

    with tempfile.TemporaryDirectory(prefix="bench-geo-") as tmp:
        app = create_app({
            "INSTANCE_PATH": tmp,
            "SECRET_KEY": "bench-not-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
            "UPLOAD_FOLDER": f"{tmp}/uploads",
        })
        with app.app_context():
            db.create_all()
            ensure_reference_data(db.session)
            db.session.commit()
            started = time.perf_counter()
            seeding.seed_large(db.session, hash_method="pbkdf2:sha256:1000",
                               producers=args.producers, products=0, seed=args.seed)
            db.session.commit()
            db.session.execute(text("ANALYZE producers"))
            db.session.commit()
            print(f"seeded {args.producers} producers in {time.perf_counter() - started:.1f} s")
            # Start the measurements as a server would find the database: the bulk
            # load checkpointed out of the WAL, fresh connections, the seeding's
            # garbage collected.
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.remove()
            db.engine.dispose()
            gc.collect()

            rng = random.Random(args.seed)
            points = mainland_points(rng, args.queries)
            plan = db.session.execute(text("EXPLAIN QUERY PLAN " + str(
                candidate_query(Producer, *points[0], args.radius).compile(
                    compile_kwargs={"literal_binds": True})
            ))).all()
            print("candidate query plan:", "; ".join(row[-1] for row in plan))
            db.session.close()

            for lat, lon in points[:20]:  # warm-up: caches, statement compilation
                timed(search_radius, Producer, lat, lon, args.radius, limit=args.limit,
                      session=db.session)
                timed(within_radius_ids, Producer, lat, lon, args.radius, session=db.session)

            paged, paged_results = [], []
            CPU_TIMES.clear()
            for lat, lon in points:
                elapsed, hits = timed(search_radius, Producer, lat, lon, args.radius,
                                      limit=args.limit, session=db.session)
                paged.append(elapsed)
                paged_results.append([(h.distance_km, h.obj.id) for h in hits])
            paged_cpu = list(CPU_TIMES)
            ids_only, sets = [], []
            for lat, lon in points:
                elapsed, ids = timed(within_radius_ids, Producer, lat, lon, args.radius,
                                     session=db.session)
                ids_only.append(elapsed)
                sets.append(ids)
            full = []
            for lat, lon in points[:args.full_queries]:
                elapsed, _ = timed(search_radius, Producer, lat, lon, args.radius,
                                   session=db.session)
                full.append(elapsed)
            hits_per_query = statistics.mean(len(s) for s in sets)

            def ms(samples: list[float], pct: float) -> float:
                return percentile(samples, pct) * 1000

            print(f"{args.queries} queries, radius {args.radius:g} km, "
                  f"{hits_per_query:.0f} producers within reach on average")
            print(f"search_radius(limit={args.limit}): p50 {ms(paged, 50):.2f} ms, "
                  f"p99 {ms(paged, 99):.2f} ms, mean {statistics.mean(paged) * 1000:.2f} ms; "
                  f"CPU time p50 {ms(paged_cpu, 50):.2f} ms")
            print(f"within_radius_ids: p50 {ms(ids_only, 50):.2f} ms, "
                  f"p99 {ms(ids_only, 99):.2f} ms")
            if full:
                print(f"search_radius(limit=None), {len(full)} queries: "
                      f"p50 {ms(full, 50):.2f} ms, p99 {ms(full, 99):.2f} ms "
                      "(a geodesic per hit)")

            rows = db.session.execute(
                select(Producer.id, Producer.latitude, Producer.longitude)
            ).all()
            db.session.close()
            naive_times, identical = [], True
            for i, (lat, lon) in enumerate(points[:args.naive_queries]):
                started = time.perf_counter()
                expected = naive(rows, lat, lon, args.radius)
                naive_times.append(time.perf_counter() - started)
                expected_ids = {pid for _, pid in expected}
                _, everything = timed(search_radius, Producer, lat, lon, args.radius,
                                      session=db.session)
                page_ok = (
                    [pid for _, pid in paged_results[i]]
                    == [pid for _, pid in expected[:args.limit]]
                    and all(abs(a - b) < 1e-9 for (a, _), (b, _)
                            in zip(paged_results[i], expected[:args.limit], strict=True))
                )
                same = (sets[i] == expected_ids
                        and {h.obj.id for h in everything} == expected_ids and page_ok)
                identical = identical and same
                print(f"  naive query {i + 1}: {naive_times[-1]:.1f} s, "
                      f"{len(expected)} within reach, identical={str(same).lower()}")
            naive_mean = statistics.mean(naive_times) if naive_times else float("nan")
            speedup = naive_mean / statistics.mean(paged)
            print(f"naive loop: {naive_mean:.2f} s per query (mean of {len(naive_times)} "
                  f"queries, extrapolated to all); speedup = naive mean / "
                  f"search_radius(limit={args.limit}) mean")
            db.session.remove()
            db.engine.dispose()

    print(f"geo p50_ms={ms(paged, 50):.2f} p99_ms={ms(paged, 99):.2f} "
          f"speedup_vs_naive={speedup:.0f} identical={str(identical).lower()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
