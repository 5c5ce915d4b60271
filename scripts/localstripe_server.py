"""The local fake Stripe of `make run` and the tests: localstripe (PyPI), a stateful fake
Stripe server with a Stripe.js stand-in, that needs no network and no account.

    python scripts/localstripe_server.py [--port 8420] [--webhook-url URL] [--instance DIR]

starts it in the background unless it already answers on 127.0.0.1:PORT (pid in
DIR/localstripe.pid, log in DIR/localstripe.log, data in DIR/localstripe.pickle),
registers the app's webhook (URL, default http://127.0.0.1:5000/stripe/webhook) with a
secret generated once into DIR/stripe_webhook_secret, then writes the settings the app
needs into DIR/stripe.env (KEY=value lines, which `make run` sources) and prints them.
Stop it with: kill $(cat instance/localstripe.pid)

    python scripts/localstripe_server.py --foreground --port N [--store PATH]

runs the server in this process until SIGINT/SIGTERM (the background start runs this;
so do the tests, with --store "" for data kept in memory only).

Compared with the plain `localstripe` command, the server this runs
- listens on 127.0.0.1 only (localstripe binds every interface);
- keeps its data in --store instead of the /tmp/localstripe.pickle every localstripe on
  the machine shares, so a test run and `make run` never see each other's payments;
- honours Idempotency-Key as Stripe does, which localstripe ignores: a POST repeated
  with the same key (and API key) gets the first answer again, marked
  `Idempotent-Replayed: true`, and the same key with other parameters a 400
  idempotency_error (the app relies on it: "one PaymentIntent per order");
- lists payment intents newest first, filtered by created[gt|gte|lt|lte], as Stripe does
  (the reconcile command asks for that; localstripe refuses the filter);
- accepts `description` on a payment intent;
- serves its Stripe.js stand-in inside a function, so that its `class Element` does not
  hide the DOM's Element from the page's other scripts (Bootstrap's bundle).
These reach into localstripe's internals, hence its exact version in setup.cfg.

Licence: localstripe is GPL-3.0-or-later and this script imports it, so this script
(a development and test tool, run as its own process) is GPL-3.0-or-later too. The
application never imports it: it talks to it over HTTP as it would to Stripe.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import pickle
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# localstripe accepts any sk_/pk_ key: these are names, not secrets.
SECRET_KEY = "sk_test_localstripe"  # noqa: S105
PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_NAME = "circuit-court"
STRIPE_JS_PATH = "/js.stripe.com/v3/"


# The server (--foreground) ------------------------------------------------------------------

def _keep_store_in(resources, path: Path | None) -> None:
    """localstripe pickles its whole store to /tmp/localstripe.pickle after each write;
    use PATH instead (written atomically), or nothing when PATH is None."""

    def dump_to_disk(store) -> None:
        if path is None:
            return
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as fh:
            pickle.dump(store, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    def try_load_from_disk(store) -> None:
        if path is None or not path.exists():
            return
        try:
            with open(path, "rb") as fh:
                saved = pickle.load(fh)  # noqa: S301 - our own file, as localstripe does
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            print(f"localstripe: {path} unreadable ({exc!r}); starting empty", flush=True)
            return
        dict.clear(store)
        dict.update(store, saved)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = try_load_from_disk


def _list_payment_intents_like_stripe(resources) -> None:
    """GET /v1/payment_intents newest first, with Stripe's `created` filter."""
    UserError, PaymentIntent = resources.UserError, resources.PaymentIntent
    comparisons = {
        "gt": lambda value, bound: value > bound,
        "gte": lambda value, bound: value >= bound,
        "lt": lambda value, bound: value < bound,
        "lte": lambda value, bound: value <= bound,
    }

    def _api_list_all(cls, url, limit=None, starting_after=None, created=None,
                      customer=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        if created is None:
            bounds = {}
        elif isinstance(created, dict) and created and set(created) <= set(comparisons):
            bounds = created
        elif isinstance(created, str):
            bounds = {"gte": created, "lte": created}
        else:
            raise UserError(400, "Bad request")
        try:
            bounds = {op: int(value) for op, value in bounds.items()}
        except (TypeError, ValueError):
            raise UserError(400, "Bad request") from None
        listing = resources.List(url, limit=limit, starting_after=starting_after)
        intents = [obj for key, obj in resources.store.items()
                   if key.startswith("payment_intent:")
                   and (customer is None or obj.customer == customer)
                   and all(comparisons[op](obj.created, bound) for op, bound in bounds.items())]
        # Newest first; among equal seconds, the later created first (store order).
        listing._list = sorted(reversed(intents), key=lambda obj: obj.created, reverse=True)
        return listing

    PaymentIntent._api_list_all = classmethod(_api_list_all)


def _payment_intent_description(resources) -> None:
    PaymentIntent = resources.PaymentIntent
    create = PaymentIntent.__init__

    def __init__(self, description=None, **data):
        if description is not None and not isinstance(description, str):
            raise resources.UserError(400, "Bad request")
        create(self, **data)
        self.description = description

    PaymentIntent.__init__ = __init__


def _payment_intent_retry_after_decline(resources) -> None:
    """At Stripe, an intent whose charge failed (requires_payment_method) takes a new
    payment method and is confirmed again; localstripe keeps the failed charge, so the
    intent stays requires_payment_method and refuses the new confirm. Giving it a new
    payment method starts a new attempt, as at Stripe."""
    PaymentIntent = resources.PaymentIntent
    update = PaymentIntent._update

    def _update(self, **data):
        new_method = data.get("payment_method")
        if new_method and self.status == "requires_payment_method" and \
                self.latest_charge is not None:
            self.latest_charge = None
            self._authentication_failed = False
        update(self, **data)

    PaymentIntent._update = _update


def _idempotency_middleware():
    """Stripe's idempotent requests: the answer to a POST is kept under (API key,
    Idempotency-Key) and given again for the same request; kept for the server's life
    (Stripe: 24 hours) and forgotten with the data (DELETE /_config/data). As at Stripe,
    only answers from requests that ran are kept: successes and card declines (402)."""
    from aiohttp import web

    saved: dict[tuple[str, str], tuple[bytes, int, bytes]] = {}
    running: dict[tuple[str, str], asyncio.Lock] = {}

    @web.middleware
    async def idempotency(request, handler):
        if request.method == "DELETE" and request.path == "/_config/data":
            saved.clear()
            return await handler(request)
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        slot = (request.headers.get("Authorization", ""), key)
        fingerprint = hashlib.sha256(
            request.path_qs.encode() + b"\n" + await request.read()).digest()
        # A second request with the key waits for the first, then gets its answer.
        async with running.setdefault(slot, asyncio.Lock()):
            if slot in saved:
                first, status, body = saved[slot]
                if first != fingerprint:
                    return web.json_response({"error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the "
                                   "same parameters they were first used with.",
                    }}, status=400)
                return web.Response(body=body, status=status, content_type="application/json",
                                    headers={"Idempotent-Replayed": "true"})
            response = await handler(request)
            if 200 <= response.status < 300 or response.status == 402:
                saved[slot] = (fingerprint, response.status, response.body)
            return response

    return idempotency


def _stripe_js_in_its_own_scope():
    """localstripe's Stripe.js stand-in declares `class Element` (and other names) at the
    top of a plain script: they become globals, and `Element` hides the DOM's, so that
    Bootstrap's bundle, loaded on the same page, fails (`Element.prototype.matches` is
    not a function). Served inside a function, its names stay its own; it still sets
    window.Stripe, the one name a page needs (as the real Stripe.js does)."""
    from aiohttp import web

    @web.middleware
    async def own_scope(request, handler):
        response = await handler(request)
        if request.method != "GET" or request.path != STRIPE_JS_PATH or response.status != 200:
            return response
        return web.Response(
            text=f"(function () {{\n{response.text}\nwindow.Stripe = Stripe;\n}})();\n",
            content_type="application/javascript")

    return own_scope


def serve(port: int, store: Path | None) -> None:
    from aiohttp import web
    from localstripe import resources, server

    _keep_store_in(resources, store)
    _list_payment_intents_like_stripe(resources)
    _payment_intent_description(resources)
    _payment_intent_retry_after_decline(resources)
    server.app.middlewares.insert(0, _idempotency_middleware())
    server.app.middlewares.insert(0, _stripe_js_in_its_own_scope())
    resources.store.try_load_from_disk()

    access_log = logging.getLogger("aiohttp.access")
    access_log.setLevel(logging.INFO)
    access_log.addHandler(logging.StreamHandler(sys.stdout))
    web.run_app(server.app, host=HOST, port=port, access_log=access_log, shutdown_timeout=2,
                print=lambda text: print(text, flush=True))


# Starting it for `make run` -----------------------------------------------------------------

def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def _answers(base_url: str) -> bool:
    """Whether localstripe itself answers there (its Stripe.js stand-in names it)."""
    try:
        # S310: base_url is always http://127.0.0.1:<port>, built here.
        with urllib.request.urlopen(f"{base_url}{STRIPE_JS_PATH}", timeout=2) as response:  # noqa: S310
            return response.status == 200 and b"localstripe" in response.read()
    except (urllib.error.URLError, OSError):
        return False


def wait_until_answers(base_url: str, timeout: float, process=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(base_url):
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def register_webhook(base_url: str, url: str, secret: str, name: str = WEBHOOK_NAME,
                     events: list[str] | None = None) -> None:
    """Have localstripe send its events to URL, signed with SECRET (kept in its memory
    only: registered again at each start)."""
    fields = [("url", url), ("secret", secret)]
    fields += [("events[]", event) for event in events or ()]
    # S310: base_url is always http://127.0.0.1:<port>.
    request = urllib.request.Request(  # noqa: S310
        f"{base_url}/_config/webhooks/{urllib.parse.quote(name)}",
        data=urllib.parse.urlencode(fields).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"localstripe refused the webhook: HTTP {response.status}")


def _webhook_secret(instance: Path) -> str:
    """whsec_... generated once into instance/stripe_webhook_secret (mode 600)."""
    path = instance / "stripe_webhook_secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write("whsec_" + secrets.token_hex(24) + "\n")
    return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(partial, path)


def start(port: int, webhook_url: str, instance: Path) -> int:
    instance.mkdir(parents=True, exist_ok=True)
    base_url = f"http://{HOST}:{port}"
    if _listening(port):
        if not _answers(base_url):
            print(f"Something that is not localstripe listens on {HOST}:{port}; "
                  "free the port or pick another: make run STRIPE_LOCAL_PORT=...",
                  file=sys.stderr)
            return 1
        print(f"localstripe already answers on {base_url}.")
    else:
        log_path = instance / "localstripe.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - this script, by its own path
                [sys.executable, str(Path(__file__).resolve()), "--foreground",
                 "--port", str(port), "--store", str(instance / "localstripe.pickle")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `make run`, like the SMTP sink
            )
        (instance / "localstripe.pid").write_text(f"{process.pid}\n")
        if not wait_until_answers(base_url, 20, process):
            print(f"localstripe did not start; the end of {log_path}:", file=sys.stderr)
            print("\n".join(log_path.read_text(errors="replace").splitlines()[-20:]),
                  file=sys.stderr)
            return 1
        print(f"localstripe on {base_url} (pid {process.pid}): log in {log_path}, "
              f"stop it with: kill $(cat {instance / 'localstripe.pid'})")
    webhook_secret = _webhook_secret(instance)
    register_webhook(base_url, webhook_url, webhook_secret)
    settings = {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": base_url,
        "STRIPE_JS_URL": f"{base_url}{STRIPE_JS_PATH}",
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
    }
    lines = "".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items())
    _write_private(instance / "stripe.env", lines)
    print(f"Webhook: {webhook_url}. Settings for the app (in {instance / 'stripe.env'}):")
    print(lines, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:5000/stripe/webhook")
    parser.add_argument("--instance", type=Path, default=ROOT / "instance")
    parser.add_argument("--foreground", action="store_true",
                        help="run the server in this process")
    parser.add_argument("--store", default=None,
                        help='with --foreground: the data file ("" = memory only; '
                             "default: INSTANCE/localstripe.pickle)")
    args = parser.parse_args(argv)
    if args.foreground:
        store = args.instance / "localstripe.pickle" if args.store is None else args.store
        serve(args.port, Path(store) if store else None)
        return 0
    return start(args.port, args.webhook_url, args.instance.resolve())


if __name__ == "__main__":
    sys.exit(main())
