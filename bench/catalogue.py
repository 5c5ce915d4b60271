"""Catalogue benchmark: seed the large synthetic set, then time GET /catalogue.

    .venv/bin/python bench/catalogue.py                      # 3000 producers, 100,000 products
    .venv/bin/python bench/catalogue.py --producers 300 --products 10000 --repeat 10

A temporary SQLite database is made (create_all + reference data) and filled with
`flask seed-demo --size large`; the Flask test client then requests each case
--repeat times after one warm-up request. Per case it prints wall-clock p50/p99
(nearest rank) and the process's CPU time p50 (SQLite runs in-process, so CPU time
is the steadier figure on a busy machine); the last line sums up, with
p50_ms/p99_ms over all cases' requests together:

    catalogue seed_s=<x> p50_ms=<y> p99_ms=<z> search_p50_ms=<w>
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import percentile, print_load  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.extensions import db  # noqa: E402

CASES = (
    ("first page", "/catalogue"),
    ("category", "/catalogue?category=fruit"),
    ("label", "/catalogue?label=AB"),
    ("search", "/catalogue?q=pomme"),
    ("page 200", "/catalogue?page=200"),  # capped: the last page reachable (42)
)
SLOW_MS = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=3000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per case")
    parser.add_argument("--seed", type=int, default=56)
    args = parser.parse_args()
    print_load()

    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
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
            result = app.test_cli_runner().invoke(args=[
                "seed-demo", "--size", "large", "--producers", str(args.producers),
                "--products", str(args.products), "--seed", str(args.seed),
            ])
            seed_s = time.perf_counter() - started
            if result.exit_code != 0:
                print(result.output, file=sys.stderr)
                raise SystemExit(f"seed-demo failed with exit code {result.exit_code}")
            db.session.remove()
            db.engine.dispose()
        size_mb = Path(tmp, "bench.db").stat().st_size / 1e6
        print(f"seeded {args.producers} producers, {args.products} products "
              f"in {seed_s:.1f} s (database {size_mb:.0f} MB)")

        # Requests run outside the seeding app context, each with its own session.
        client = app.test_client()
        timings: dict[str, list[float]] = {}
        for name, url in CASES:
            response = client.get(url)  # warm-up: templates, statement caches
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            samples, cpu = [], []
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get(url)
                samples.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                assert response.status_code == 200
            timings[name] = samples
            p50 = statistics.median(samples)
            slow = f"  SLOW (p50 > {SLOW_MS} ms)" if p50 > SLOW_MS else ""
            print(f"{name:<11} {url:<28} p50={p50:7.1f} ms  "
                  f"p99={percentile(samples, 99):7.1f} ms  "
                  f"cpu p50={statistics.median(cpu):6.1f} ms{slow}")

    everything = [t for samples in timings.values() for t in samples]
    print(f"catalogue seed_s={seed_s:.1f} p50_ms={statistics.median(everything):.1f} "
          f"p99_ms={percentile(everything, 99):.1f} "
          f"search_p50_ms={statistics.median(timings['search']):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
