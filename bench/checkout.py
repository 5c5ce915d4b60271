"""Checkout benchmark: gunicorn workers, concurrent buyers placing orders, no overselling.

    .venv/bin/python bench/checkout.py                          # 2 workers, 32 clients, 60 s
    .venv/bin/python bench/checkout.py --seconds 10 --clients 8
    .venv/bin/python bench/checkout.py \\
        --database-url postgresql://circuit:circuit@127.0.0.1:5432/circuit_bench

A temporary folder holds a SQLite file database (create_all + reference data), or
--database-url names a PostgreSQL database that MUST BE EMPTY AND THROWAWAY: its
tables are created with create_all and left filled after the run (the script
refuses a database that already has tables; empty it with
`DROP SCHEMA public CASCADE; CREATE SCHEMA public;`). The data: --farms farms
near Vannes, 4 variants each, whose stock is limited for a few so that it runs
out during the run (a "scarce" variant of --scarce units that every client
tries to buy, then 100 to 1000 units, the rest plentiful); two pickup points
with --slots slots each, of 100,000 places, cut-off weeks away; one household
account per client (fast password hashes, so logins are not what is measured).

The app is served by gunicorn (--workers sync workers) on a free port of
127.0.0.1, configured through the environment as in production (DATABASE_URL,
SECRET_KEY, INSTANCE_PATH, PASSWORD_HASH_METHOD; MAIL_SERVER empty, so e-mails
stay in the outbox). --clients threads, each with its own cookies, sign in
through the login form, then for --seconds repeat: add 1 to 3 items to the cart
(POST /cart/add), GET /checkout, POST /checkout with a random slot. Only the
POST /checkout is timed. A 303 to the order is a placed order; a 409 a
refusal: the client removes the line the page marks (and no longer adds that
item), as a buyer would, and checks out the rest again, or empties the cart when
no line is marked. A 5xx or a lost connection is an error; any other status is
unexpected.

After gunicorn stops, the database is read directly: per variant, the units in
order lines of non-cancelled orders against the initial stock. oversold sums,
per variant, the larger of (sold - initial stock) and (- stock left), when
positive; stock left + sold must equal the initial stock, and the orders found
must be the orders placed. rps is placed orders per second of the run; p50/p99
(nearest rank) are of the placed checkouts' latency, queueing in gunicorn's
backlog included. Exit status 1 on any oversold unit, inconsistency, error or
unexpected status. Last line:

    checkout rps=<x> p50_ms=<y> p99_ms=<z> oversold=<n>
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, inspect, make_url, select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench._common import percentile, print_load  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import Role, User  # noqa: E402
from marketplace.catalogue.models import Category, Product, Variant  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.models import utcnow  # noqa: E402
from marketplace.orders.models import Order, OrderLine, OrderStatus, SubOrder  # noqa: E402
from marketplace.pickup.models import (  # noqa: E402
    DeliveryRound,
    PickupKind,
    PickupPoint,
    PickupSlot,
)
from marketplace.producers.models import Producer  # noqa: E402

PASSWORD = "bench-password"  # noqa: S105 - throwaway accounts in a throwaway database
HASH_METHOD = "pbkdf2:sha256:1000"  # fast on purpose: logins are not what is measured
TZ = "Europe/Paris"
VANNES = (47.6582, -2.7608)
POINTS = (("Halles de Vannes (bench)", PickupKind.SHOP, 47.6559, -2.7570),
          ("Café du Port (bench)", PickupKind.CAFE, 47.6510, -2.7580))
SLOT_CAPACITY = 100_000
PLENTIFUL = 1_000_000
LIMITED = (100, 250, 500, 1000)  # the next variants after the scarce one
VARIANTS_PER_FARM = 4
HTTP_TIMEOUT_S = 120

CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
# The cart line a refused checkout names (orders/checkout.html marks it).
REFUSED_LINE_RE = re.compile(r'list-group-item-warning[^"]*" data-variant="(\d+)"')
ERROR_RE = re.compile(r'checkout-error" role="alert">\s*([^<]*?)\s*<')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seeded:
    stocks: dict[int, int]  # variant id -> initial stock
    names: dict[int, str]
    scarce_id: int
    slot_ids: list[int]
    emails: list[str]


def seed(*, farms: int, clients: int, slots_per_point: int, scarce: int) -> Seeded:
    now = utcnow()
    session = db.session
    ensure_reference_data(session)
    category_id = session.scalar(select(Category.id).where(Category.slug == "vegetables"))
    password_hash = generate_password_hash(PASSWORD, method=HASH_METHOD)

    points = [PickupPoint(name=name, kind=kind, commune="Vannes", postcode="56000",
                          latitude=lat, longitude=lon) for name, kind, lat, lon in POINTS]
    session.add_all(points)
    stocks_wanted = [scarce, *LIMITED]
    variants: list[Variant] = []
    for n in range(farms):
        user = User(email=f"farm{n}@bench.example.org", password_hash=password_hash,
                    display_name=f"Farm {n}", role=Role.PRODUCER, approved_at=now)
        session.add(user)
        session.flush()
        # Within 10 km of Vannes, well inside the 30 km delivery radius.
        angle = 2 * math.pi * n / max(farms, 1)
        farm = Producer(user_id=user.id, name=f"Ferme du banc {n}", commune="Vannes",
                        latitude=VANNES[0] + 0.08 * math.sin(angle),
                        longitude=VANNES[1] + 0.11 * math.cos(angle),
                        delivery_radius_km=30)
        session.add(farm)
        session.flush()
        for product_no in range(VARIANTS_PER_FARM // 2):
            product = Product(producer_id=farm.id, category_id=category_id,
                              name=f"Légume {n}-{product_no}")
            session.add(product)
            session.flush()
            for position, label in enumerate(("500 g", "1 kg")):
                stock = stocks_wanted[len(variants)] if len(variants) < len(stocks_wanted) \
                    else PLENTIFUL
                variant = Variant(product_id=product.id, label=label,
                                  price_cents=250 * (position + 1), stock=stock,
                                  position=position)
                session.add(variant)
                variants.append(variant)
        session.add_all(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                      weekday=weekday)
                        for point in points for weekday in range(7))
    session.flush()

    zone = ZoneInfo(TZ)
    first_day = now.astimezone(zone).date() + timedelta(days=14)
    slots = []
    for point in points:
        for day_no in range(slots_per_point):
            starts = datetime.combine(first_day + timedelta(days=day_no), wall_time(17, 0),
                                      tzinfo=zone).astimezone(UTC)
            slots.append(PickupSlot(pickup_point_id=point.id, starts_at=starts,
                                    ends_at=starts + timedelta(hours=2),
                                    cutoff_at=starts - timedelta(days=1),
                                    capacity=SLOT_CAPACITY))
    session.add_all(slots)

    emails = [f"buyer{n}@bench.example.org" for n in range(clients)]
    session.add_all(User(email=email, password_hash=password_hash, display_name=f"Buyer {n}",
                         role=Role.HOUSEHOLD, email_confirmed_at=now)
                    for n, email in enumerate(emails))
    session.commit()
    return Seeded(
        stocks={v.id: v.stock for v in variants},
        names={v.id: f"{v.product.name} {v.label}" for v in variants},
        scarce_id=variants[0].id,
        slot_ids=[s.id for s in slots],
        emails=emails,
    )


# Clients ----------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer to look at, not to follow


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)  # placed checkouts
    refused_ms: list[float] = field(default_factory=list)
    placed: int = 0
    refused: int = 0
    errors: int = 0
    unexpected: int = 0
    cart_adds: int = 0
    reasons: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)  # "POST /checkout 500" -> count


class Buyer:
    """One browser: its own cookies, no proxy, redirects not followed."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(CookieJar()),
            _NoRedirect,
        )

    def fetch(self, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """(status, Location, body); OSError when the server cannot be reached."""
        data = urlencode(form).encode() if form is not None else None
        # S310: always http://127.0.0.1:<port>, built in main().
        request = urllib.request.Request(self.base_url + path, data=data)  # noqa: S310
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.status, response.headers.get("Location", ""), \
                    response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Location", ""), \
                    exc.read().decode(errors="replace")


def csrf_token(body: str) -> str:
    match = CSRF_RE.search(body)
    if not match:
        raise RuntimeError("no csrf_token in the page")
    return match.group(1)


def log_in(buyer: Buyer, email: str) -> str:
    status, _, body = buyer.fetch("/login")
    if status != 200:
        raise RuntimeError(f"GET /login answered {status}")
    status, location, _ = buyer.fetch("/login", {
        "csrf_token": csrf_token(body), "email": email, "password": PASSWORD})
    if status not in (302, 303) or "/login" in location:
        raise RuntimeError(f"POST /login for {email} answered {status} to {location!r}")
    return csrf_token(buyer.fetch("/checkout")[2])


def shop(buyer: Buyer, token: str, *, seeded: Seeded, deadline: float, rng: random.Random,
         tally: Tally, lock: threading.Lock) -> None:
    """Fill a cart, check out, until the deadline."""
    others = [v for v in seeded.stocks if v != seeded.scarce_id]
    known_out: set[int] = set()

    def note(path: str, status: int) -> None:
        with lock:
            if status >= 500 or status == 0:
                tally.errors += 1
            else:
                tally.unexpected += 1
            tally.problems[f"{path} {status or 'connection lost'}"] += 1

    while time.monotonic() < deadline:
        try:
            cart: dict[int, int] = {}
            if seeded.scarce_id not in known_out:
                cart[seeded.scarce_id] = 1  # every buyer wants some
            choices = [v for v in others if v not in known_out]
            for variant_id in rng.sample(choices, min(len(choices), rng.randint(1, 3))):
                if len(cart) < 3:
                    cart[variant_id] = rng.randint(1, 3)
            for variant_id, quantity in list(cart.items()):
                status, _, _ = buyer.fetch("/cart/add", {
                    "csrf_token": token, "variant_id": variant_id, "quantity": quantity})
                if status != 303:
                    note("POST /cart/add", status)
                    cart.pop(variant_id)
                with lock:
                    tally.cart_adds += 1
            status, _, body = buyer.fetch("/checkout")
            if status != 200:
                note("GET /checkout", status)
                continue
            token = csrf_token(body)
            while cart:
                form = {"csrf_token": token, "slot_id": rng.choice(seeded.slot_ids),
                        "payment_method": "at_pickup"}
                started = time.perf_counter()
                status, location, body = buyer.fetch("/checkout", form)
                elapsed_ms = (time.perf_counter() - started) * 1000
                if status == 303 and "/orders/" in location:
                    with lock:
                        tally.placed += 1
                        tally.latencies_ms.append(elapsed_ms)
                    break
                if status != 409:
                    note("POST /checkout", status)
                    cart_left = list(cart)  # empty it: start again from a fresh cart
                else:
                    reason = ERROR_RE.search(body)
                    with lock:
                        tally.refused += 1
                        tally.refused_ms.append(elapsed_ms)
                        tally.reasons[re.sub(r"\d+", "N", reason.group(1))
                                      if reason else "(no message)"] += 1
                    marked = REFUSED_LINE_RE.search(body)
                    if marked and int(marked.group(1)) in cart:
                        cart_left = [int(marked.group(1))]
                        known_out.update(cart_left)
                    else:
                        cart_left = list(cart)
                    token = csrf_token(body) if CSRF_RE.search(body) else token
                for variant_id in cart_left:
                    status, _, _ = buyer.fetch("/cart/remove", {
                        "csrf_token": token, "variant_id": variant_id})
                    if status != 303:
                        note("POST /cart/remove", status)
                    cart.pop(variant_id)
                if time.monotonic() >= deadline:
                    break
        except OSError:  # refused, reset, timed out: the server did not answer
            note("connection", 0)
            time.sleep(0.1)


# Server -----------------------------------------------------------------------------

def start_gunicorn(env: dict, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
         "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def wait_until_up(server: subprocess.Popen, base_url: str, log_path: Path) -> None:
    probe = Buyer(base_url)
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n"
                             + log_path.read_text(errors="replace")[-3000:])
        try:
            if probe.fetch("/login")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s:\n"
                     + log_path.read_text(errors="replace")[-3000:])


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()  # gunicorn: graceful shutdown on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# Checks -----------------------------------------------------------------------------

def audit(seeded: Seeded) -> tuple[dict[int, int], dict[int, int], int, int]:
    """(units sold per variant, stock left per variant, orders, places taken)."""
    sold = dict(db.session.execute(
        select(OrderLine.variant_id, func.sum(OrderLine.quantity))
        .join(OrderLine.sub_order).join(SubOrder.order)
        .where(Order.status != OrderStatus.CANCELLED)
        .group_by(OrderLine.variant_id)
    ).all())
    left = dict(db.session.execute(
        select(Variant.id, Variant.stock).where(Variant.id.in_(list(seeded.stocks)))
    ).all())
    orders = db.session.scalar(
        select(func.count(Order.id)).where(Order.status != OrderStatus.CANCELLED))
    taken = db.session.scalar(select(func.coalesce(func.sum(PickupSlot.taken), 0)))
    return ({v: int(sold.get(v) or 0) for v in seeded.stocks}, left, orders, int(taken))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent buyers")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--farms", type=int, default=5)
    parser.add_argument("--slots", type=int, default=4, help="slots per pickup point")
    parser.add_argument("--scarce", type=int, default=200,
                        help="stock of the variant every client tries to buy")
    parser.add_argument("--database-url", default="",
                        help="an EMPTY, throwaway PostgreSQL database (default: SQLite file)")
    parser.add_argument("--seed", type=int, default=56)
    args = parser.parse_args()
    if args.farms < 2 or args.clients < 1 or args.workers < 1 or args.slots < 1:
        parser.error("at least 2 farms, 1 client, 1 worker and 1 slot")
    print_load("other work is running, figures are lower")

    with tempfile.TemporaryDirectory(prefix="bench-checkout-") as tmp:
        # The same settings for this process and gunicorn's workers, through the
        # environment as in production.
        env = dict(os.environ,
                   DATABASE_URL=args.database_url or f"sqlite:///{tmp}/bench.db",
                   SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=tmp,
                   PASSWORD_HASH_METHOD=HASH_METHOD,
                   # E-mails stay in the outbox: never mail a relay set in the shell.
                   MAIL_SERVER="",
                   # A load test from one address: throttling would measure itself.
                   RATELIMIT_ENABLED="0")
        os.environ.update({k: env[k] for k in (
            "DATABASE_URL", "SECRET_KEY", "INSTANCE_PATH", "PASSWORD_HASH_METHOD",
            "MAIL_SERVER", "RATELIMIT_ENABLED")})
        app = create_app()
        with app.app_context():
            if inspect(db.engine).get_table_names():
                shown = make_url(args.database_url).render_as_string(hide_password=True)
                raise SystemExit(f"{shown} already has tables: give an empty, throwaway "
                                 "database (DROP SCHEMA public CASCADE; CREATE SCHEMA public;)")
            db.create_all()
            seeded = seed(farms=args.farms, clients=args.clients, slots_per_point=args.slots,
                          scarce=args.scarce)
            db.session.remove()
            db.engine.dispose()
        kind = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{kind}: {args.farms} farms, {len(seeded.stocks)} variants (scarce: "
              f"{args.scarce} units, then {', '.join(map(str, LIMITED))}, others "
              f"{PLENTIFUL:,}), {len(seeded.slot_ids)} slots of {SLOT_CAPACITY:,} places, "
              f"{args.clients} buyers")

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(tmp, "gunicorn.log")
        server = start_gunicorn(env, port, args.workers, log_path)
        tally, lock = Tally(), threading.Lock()
        try:
            wait_until_up(server, base_url, log_path)
            buyers = [Buyer(base_url) for _ in seeded.emails]
            tokens = [log_in(b, e) for b, e in zip(buyers, seeded.emails, strict=True)]
            print(f"gunicorn: {args.workers} workers on {base_url}; "
                  f"{args.clients} buyers signed in; running {args.seconds:g} s")
            started, cpu_started = time.monotonic(), time.process_time()
            deadline = started + args.seconds
            threads = [
                threading.Thread(target=shop, args=(buyer, token), kwargs={
                    "seeded": seeded, "deadline": deadline,
                    "rng": random.Random(args.seed * 1000 + n), "tally": tally, "lock": lock})
                for n, (buyer, token) in enumerate(zip(buyers, tokens, strict=True))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            client_cpu = (time.process_time() - cpu_started) / elapsed
        finally:
            stop(server)

        with app.app_context():
            sold, left, orders, taken = audit(seeded)
            db.session.remove()
            db.engine.dispose()
        server_log = log_path.read_text(errors="replace")

    load_end = os.getloadavg()[0]
    print(f"\n{'variant':<20} {'initial':>9} {'sold':>6} {'left':>9}")
    oversold, inconsistent = 0, []
    for variant_id, initial in seeded.stocks.items():
        over = max(0, sold[variant_id] - initial, -left[variant_id])
        oversold += over
        if left[variant_id] + sold[variant_id] != initial:
            inconsistent.append(variant_id)
        if initial < PLENTIFUL or over:
            flag = "  OVERSOLD" if over else ("  sold out" if left[variant_id] == 0 else "")
            print(f"{seeded.names[variant_id]:<20} {initial:>9,} {sold[variant_id]:>6} "
                  f"{left[variant_id]:>9,}{flag}")
    plentiful = [v for v, s in seeded.stocks.items() if s >= PLENTIFUL]
    print(f"{len(plentiful)} plentiful variants: {sum(sold[v] for v in plentiful)} units sold")
    for variant_id in inconsistent:
        print(f"INCONSISTENT {seeded.names[variant_id]}: left {left[variant_id]} + sold "
              f"{sold[variant_id]} != initial {seeded.stocks[variant_id]}")
    if orders != tally.placed or taken != orders:
        inconsistent.append(0)
        print(f"INCONSISTENT orders: {tally.placed} placed (303), {orders} in the database, "
              f"{taken} slot places taken")

    attempts = tally.placed + tally.refused
    print(f"\nplaced      {tally.placed:>7}  ({tally.placed / elapsed:.1f}/s over {elapsed:.1f} s)")
    print(f"refused 409 {tally.refused:>7}  (p50 {percentile(tally.refused_ms, 50):.1f} ms)")
    for reason, count in tally.reasons.most_common(5):
        print(f"    {count:>6} × {reason}")
    print(f"errors      {tally.errors:>7}  (5xx or connection lost)")
    print(f"unexpected  {tally.unexpected:>7}  (other statuses)")
    for problem, count in tally.problems.most_common():
        print(f"    {count:>6} × {problem}")
    print(f"checkout attempts {attempts / elapsed:.1f}/s, "
          f"cart adds {tally.cart_adds / elapsed:.1f}/s")
    print(f"placed latency p50 {percentile(tally.latencies_ms, 50):.1f} ms, "
          f"p90 {percentile(tally.latencies_ms, 90):.1f} ms, "
          f"p99 {percentile(tally.latencies_ms, 99):.1f} ms, "
          f"max {max(tally.latencies_ms, default=math.nan):.1f} ms")
    print(f"load average {load_end:.1f} at the end; the clients used "
          f"{client_cpu:.0%} of a CPU")
    if tally.errors and "Traceback" in server_log:
        print("\ngunicorn's log, last lines:\n" + server_log[-3000:])

    print(f"checkout rps={tally.placed / elapsed:.1f} "
          f"p50_ms={percentile(tally.latencies_ms, 50):.1f} "
          f"p99_ms={percentile(tally.latencies_ms, 99):.1f} oversold={oversold}")
    failed = (oversold or inconsistent or tally.errors or tally.unexpected
              or not tally.placed)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
