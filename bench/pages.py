"""Buyer pages under load, against a bare endpoint served the same way.

    .venv/bin/python bench/pages.py                        # the Vannes demo
    .venv/bin/python bench/pages.py --size 100000          # large synthetic territory
    .venv/bin/python bench/pages.py --seconds 3 --connections 32

A temporary SQLite database is filled with `flask seed-demo` (the demo, or with
--size N the large synthetic set of N products); a household account located in
Vannes is added for the signed-in runs. The app is served by gunicorn (--workers
sync workers, settings through the environment as in production) and, on another
port with the same gunicorn settings, a one-line Flask app answering "ok": the
yardstick. wrk (Debian's package; `make bench-pages` installs it when missing)
drives them in turn, bare then page, bare then page..., each run --seconds long
at --connections connections; each page's share is its requests per second over
those of the bare run just before it (the machine's load drifts). Anonymous and
signed in (the session cookie sent by wrk). The last line:

    pages catalogue_ratio=<r> worst_ratio=<r> catalogue_p99_ms=<t> at32=1

catalogue_ratio: the lowest share among the catalogue pages; worst_ratio: the
lowest of all; catalogue_p99_ms: the highest p99 of the catalogue pages; at32: 1
when the runs were at 32 connections.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench._common import print_load  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import Role, User  # noqa: E402
from marketplace.catalogue.models import Product  # noqa: E402
from marketplace.catalogue.reference import ensure_reference_data  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.models import utcnow  # noqa: E402
from marketplace.producers.models import Producer  # noqa: E402

VANNES = (47.6569, -2.7620)
EMAIL, PASSWORD = "bench.pages@example.org", secrets.token_urlsafe(12)
BARE_APP = 'from flask import Flask\napp = Flask(__name__)\n\n\n@app.get("/")\n' \
           'def bare():\n    return "ok"\n'


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(app, size: str) -> dict:
    ensure_reference_data(db.session)
    db.session.commit()
    args = ["seed-demo"]
    if size != "demo":
        products = int(size)
        args += ["--size", "large", "--products", str(products),
                 "--producers", str(max(10, products // 33))]
    result = app.test_cli_runner().invoke(args=args)
    if result.exit_code != 0:
        raise SystemExit(result.output)
    db.session.add(User(
        email=EMAIL, password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"),
        display_name="Bench", role=Role.HOUSEHOLD, approved_at=utcnow(),
        location_label="Vannes", latitude=VANNES[0], longitude=VANNES[1], search_radius_km=30,
    ))
    db.session.commit()
    product_id = db.session.scalar(select(Product.id).where(Product.is_active.is_(True))
                                   .order_by(Product.id))
    producer_id = db.session.scalar(select(Product.producer_id).where(Product.id == product_id))
    assert db.session.get(Producer, producer_id) is not None
    return {"product": product_id, "producer": producer_id}


def pages(ids: dict) -> list[tuple[str, str, bool]]:
    """(name, path, is a catalogue page)."""
    api = "/api/v1/producers?" + urlencode({"lat": VANNES[0], "lon": VANNES[1],
                                             "radius_km": 30})
    return [
        ("home", "/", False),
        ("catalogue", "/catalogue", True),
        ("catalogue search", "/catalogue?q=miel", True),
        ("catalogue category", "/catalogue?category=fruit", True),
        ("catalogue label", "/catalogue?label=AB", True),
        ("catalogue deep page", "/catalogue?page=40", True),
        ("product", f"/products/{ids['product']}", False),
        ("producer", f"/producers/{ids['producer']}", False),
        ("near me", "/near", False),
        ("API producers 30 km", api, False),
    ]


def start_gunicorn(app_spec: str, env: dict, port: int, workers: int, cwd: Path,
                   log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", app_spec],
        cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_until_up(server: subprocess.Popen, url: str, log: Path) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer:\n{log.read_text(errors='replace')[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def sign_in(base: str) -> str:
    """The session cookie of the bench household, signed in through the login form."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()  # noqa: S310 (127.0.0.1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urlencode({"csrf_token": token, "email": EMAIL, "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=data).read()  # noqa: S310 (127.0.0.1)
    cookies = {c.name: c.value for c in jar}
    if "session" not in cookies:
        raise SystemExit("signing in gave no session cookie")
    check = urllib.request.Request(  # noqa: S310 (127.0.0.1)
        f"{base}/near", headers={"Cookie": f"session={cookies['session']}"})
    with urllib.request.urlopen(check) as response:  # noqa: S310 (127.0.0.1)
        if "Bench" not in response.read().decode():
            raise SystemExit("the session cookie does not sign in")
    return cookies["session"]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, *, seconds: int, connections: int, cookie: str | None) -> Run:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: session={cookie}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Run(rps, p50, p99, errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="demo",
                        help="'demo' (the Vannes demo) or a number of products (large set)")
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.size != "demo" and not args.size.isdigit():
        parser.error("--size: 'demo' or a number of products")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench-pages does it)")
    print_load("other work is running, figures are lower")

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/bench.db",
                   SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=tmp, MAIL_SERVER="",
                   UPLOAD_FOLDER=f"{tmp}/uploads")
        os.environ.update({k: env[k] for k in (
            "DATABASE_URL", "SECRET_KEY", "INSTANCE_PATH", "MAIL_SERVER", "UPLOAD_FOLDER")})
        app = create_app()
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            ids = seed(app, args.size)
            print(f"seeded ({args.size}) in {time.perf_counter() - started:.1f} s")
            db.session.remove()
            db.engine.dispose()
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        port, bare_port = free_port(), free_port()
        base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}/"
        logs = Path(tmp, "gunicorn.log"), Path(tmp, "bare.log")
        server = start_gunicorn("wsgi:app", env, port, args.workers, ROOT, logs[0])
        yardstick = start_gunicorn("bare_app:app", env, bare_port, args.workers, Path(tmp),
                                   logs[1])
        rows = []
        try:
            wait_until_up(server, f"{base}/", logs[0])
            wait_until_up(yardstick, bare, logs[1])
            cookie = sign_in(base)
            for signed_in in (False, True):
                for name, path, is_catalogue in pages(ids):
                    if path == "/near" and not signed_in:
                        continue  # an anonymous visitor without a location is sent away
                    wrk(f"{base}{path}", seconds=1, connections=4,
                        cookie=cookie if signed_in else None)  # warm-up
                    yard = wrk(bare, seconds=args.seconds, connections=args.connections,
                               cookie=None)
                    page = wrk(f"{base}{path}", seconds=args.seconds,
                               connections=args.connections,
                               cookie=cookie if signed_in else None)
                    rows.append((name, "signed in" if signed_in else "anonymous", is_catalogue,
                                 yard, page))
        finally:
            stop(server)
            stop(yardstick)

    print(f"\n{args.connections} connections, {args.workers} gunicorn workers, "
          f"{args.seconds} s a run, size {args.size}")
    print("| page | who | req/s | p50 ms | p99 ms | bare req/s | share | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, who, _cat, yard, page in rows:
        print(f"| {name} | {who} | {page.rps:,.0f} | {page.p50_ms:.1f} | {page.p99_ms:.1f} | "
              f"{yard.rps:,.0f} | {page.rps / yard.rps:.3f} | {page.errors} |")
    shares = [page.rps / yard.rps for *_x, yard, page in rows]
    catalogue = [(page.rps / yard.rps, page.p99_ms) for _n, _w, cat, yard, page in rows if cat]
    if any(page.errors for *_x, page in rows):
        print("some runs had errors: see the table", file=sys.stderr)
    print(f"pages catalogue_ratio={min(s for s, _ in catalogue):.3f} "
          f"worst_ratio={min(shares):.3f} "
          f"catalogue_p99_ms={max(p for _, p in catalogue):.1f} "
          f"at32={int(args.connections == 32)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
