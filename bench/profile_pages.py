"""Where a page's time goes: cProfile over the test client on the demo territory.

    .venv/bin/python bench/profile_pages.py                     # /catalogue, 200 requests
    .venv/bin/python bench/profile_pages.py --url '/catalogue?q=miel' --market-day

A temporary SQLite database is filled with `flask seed-demo` (the Vannes demo);
--market-day chooses the first open market day in the client's session first (the
catalogue then shows what can be collected there). The top entries by cumulative
and by own time are printed; the last line:

    profile url=<url> per_request_ms=<t>
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marketplace import create_app  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.models import utcnow  # noqa: E402
from marketplace.pickup import market_days  # noqa: E402


def first_open_market_day() -> int:
    openings = market_days.next_openings(db.session, user_id=None, now=utcnow())
    return openings[0].slots[0].id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="/catalogue")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--market-day", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", help="also write the raw profile here (pstats format)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-pages-") as tmp:
        app = create_app({
            "INSTANCE_PATH": tmp, "SECRET_KEY": "profile-not-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/profile.db",
            "UPLOAD_FOLDER": f"{tmp}/uploads",
        })
        with app.app_context():
            db.create_all()
            ensure_reference_data(db.session)
            db.session.commit()
            result = app.test_cli_runner().invoke(args=["seed-demo"])
            if result.exit_code != 0:
                raise SystemExit(result.output)
            slot_id = first_open_market_day() if args.market_day else None
            db.session.remove()
        client = app.test_client()
        if slot_id is not None:
            with client.session_transaction() as session:
                session["market_day"] = slot_id
        for _ in range(5):  # warm-up: templates, statement caches
            assert client.get(args.url).status_code == 200
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.repeat):
            client.get(args.url)
        profiler.disable()
        per_request = (time.perf_counter() - started) * 1000 / args.repeat
        if args.dump:
            profiler.dump_stats(args.dump)
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    print(f"profile url={args.url} per_request_ms={per_request:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
