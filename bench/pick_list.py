"""Pick-list benchmark: one farm's pick list for a slot holding 5,000 order lines.

    .venv/bin/python bench/pick_list.py                  # 5,000 lines, 50 timed runs
    .venv/bin/python bench/pick_list.py --lines 20000 --repeat 20
    .venv/bin/python bench/pick_list.py --database-url postgresql://u:p@127.0.0.1/empty_db

A temporary SQLite database (or the EMPTY PostgreSQL database given: its tables are
created and dropped) gets one pickup slot, the farm's 40 variants and other farms'
lines in the same slot, and orders of 1 to 4 lines each until the farm has --lines
lines there. The pick list (reports.pick_lists.pick_list) is then built --repeat
times after a warm-up; every run is checked to issue exactly ONE SQL query and to
add up to the lines inserted. Last line:

    pick_list lines=<n> queries=<q> p50_ms=<x> p99_ms=<y>
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert  # noqa: E402

from bench._common import percentile, print_load  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import Role, User  # noqa: E402
from marketplace.catalogue.models import Category, Product, Variant  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.orders.models import Order, OrderLine, OrderStatus, SubOrder  # noqa: E402
from marketplace.pickup.models import PickupKind, PickupPoint, PickupSlot  # noqa: E402
from marketplace.producers.models import Producer  # noqa: E402
from marketplace.reports import pick_lists  # noqa: E402

# Bench accounts never sign in: a hash no password matches.
UNUSABLE_HASH = "!"


def seed(lines_wanted: int, rng: random.Random) -> tuple[int, int, int]:
    """Returns (farm id, slot id, units ordered from the farm)."""
    now = datetime.now(UTC)
    session = db.session
    category = session.scalars(db.select(Category)).first()
    users = [User(email=f"farm{n}@bench.test", password_hash=UNUSABLE_HASH,
                  display_name=f"Farm {n}", role=Role.PRODUCER, approved_at=now)
             for n in range(3)]
    session.add_all(users)
    session.flush()
    farms = [Producer(user_id=u.id, name=u.display_name, latitude=47.7, longitude=-2.6)
             for u in users]
    session.add_all(farms)
    point = PickupPoint(name="Bench point", kind=PickupKind.SHOP, latitude=47.65,
                        longitude=-2.76)
    session.add(point)
    session.flush()
    slot = PickupSlot(pickup_point_id=point.id, starts_at=now + timedelta(days=2),
                      ends_at=now + timedelta(days=2, hours=2), cutoff_at=now + timedelta(days=1),
                      capacity=1_000_000, taken=0)
    session.add(slot)
    variants: dict[int, list[Variant]] = {}
    for farm in farms:
        for n in range(40):
            product = Product(producer_id=farm.id, category_id=category.id,
                              name=f"Produit {n:02d}")
            session.add(product)
            session.flush()
            variant = Variant(product_id=product.id, label="1 kg", price_cents=300 + n,
                              stock=1_000_000)
            session.add(variant)
            variants.setdefault(farm.id, []).append(variant)
    buyers = [User(email=f"buyer{n}@bench.test", password_hash=UNUSABLE_HASH,
                   display_name=f"Buyer {n}", role=Role.HOUSEHOLD, email_confirmed_at=now)
              for n in range(200)]
    session.add_all(buyers)
    session.flush()

    farm = farms[0]
    made = units = 0
    order_rows, sub_rows, line_rows = [], [], []
    order_id = sub_id = line_id = 0
    while made < lines_wanted:
        order_id += 1
        order_rows.append({"id": order_id, "buyer_id": rng.choice(buyers).id,
                           "pickup_slot_id": slot.id, "status": OrderStatus.CONFIRMED,
                           "total_cents": 0, "vat_cents": 0, "currency": "EUR",
                           "created_at": now, "updated_at": now})
        for other in farms:
            if other is not farm and rng.random() < 0.5:
                continue
            sub_id += 1
            sub_rows.append({"id": sub_id, "order_id": order_id, "producer_id": other.id,
                             "status": OrderStatus.CONFIRMED, "subtotal_cents": 0,
                             "vat_cents": 0, "food_km": 10.0})
            count = rng.randint(1, 4)
            if other is farm:
                count = min(count, lines_wanted - made)
                made += count
            for variant in rng.sample(variants[other.id], k=count):
                line_id += 1
                quantity = rng.randint(1, 5)
                if other is farm:
                    units += quantity
                line_rows.append({
                    "id": line_id, "sub_order_id": sub_id, "variant_id": variant.id,
                    "product_name": f"Produit {variants[other.id].index(variant):02d}",
                    "variant_label": "1 kg", "unit_price_cents": variant.price_cents,
                    "quantity": quantity, "vat_rate_bp": 550, "vat_cents": 0,
                    "line_total_cents": variant.price_cents * quantity, "distance_km": 10.0,
                    "quantity_short": 0,
                })
    session.execute(insert(Order.__table__), order_rows)
    session.execute(insert(SubOrder.__table__), sub_rows)
    session.execute(insert(OrderLine.__table__), line_rows)
    session.commit()
    print(f"seeded {len(order_rows)} orders, {len(sub_rows)} sub-orders, {len(line_rows)} "
          f"lines ({made} of them the farm's)")
    return farm.id, slot.id, units


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000, help="the farm's lines in the slot")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", default="", help="an EMPTY throwaway database")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    print_load()

    with tempfile.TemporaryDirectory(prefix="bench-pick-list-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp,
                          "SECRET_KEY": "bench", "MAIL_SERVER": ""})
        with app.app_context():
            db.create_all()
            try:
                ensure_reference_data(db.session)
                db.session.commit()
                farm_id, slot_id, units = seed(args.lines, random.Random(args.seed))
                statements: list[str] = []
                event.listen(db.engine, "before_cursor_execute",
                             lambda *a, **k: statements.append(a[2]))
                pick_lists.pick_list(db.session, farm_id, slot_id)  # warm-up
                db.session.rollback()
                samples, queries = [], set()
                for _ in range(args.repeat):
                    statements.clear()
                    started = time.perf_counter()
                    pick = pick_lists.pick_list(db.session, farm_id, slot_id)
                    samples.append((time.perf_counter() - started) * 1000)
                    queries.add(sum(1 for s in statements if s.lstrip().upper().startswith(
                        "SELECT")))
                    db.session.rollback()
                total = sum(line.quantity for line in pick)
                if total != units:
                    print(f"WRONG: the pick list adds up to {total} units, {units} ordered")
                    return 1
                print(f"{len(pick)} variants to pick, {total} units; "
                      f"p50 {statistics.median(samples):.2f} ms, "
                      f"p99 {percentile(samples, 99):.2f} ms over {args.repeat} runs")
            finally:
                db.session.remove()
                db.drop_all()
                db.engine.dispose()
    print(f"pick_list lines={args.lines} queries={max(queries)} "
          f"p50_ms={statistics.median(samples):.2f} p99_ms={percentile(samples, 99):.2f}")
    return 0 if queries == {1} else 1


if __name__ == "__main__":
    sys.exit(main())
