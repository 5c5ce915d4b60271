"""Pytest plugin: the fake Stripe of `make run` (localstripe, through
scripts/localstripe_server.py --foreground: idempotency keys honoured, data in memory
only) on a free local port for the whole session.

    def test_x(localstripe):                 # its data emptied first
        config = localstripe.settings()      # STRIPE_* settings pointing at it
        pm = localstripe.card(CARD_3DS)      # a PaymentMethod from a test card number
        ...
        localstripe.authenticate(intent.id, intent.client_secret)  # the 3-D Secure "OK"

Webhooks: localstripe posts payment_intent.succeeded / .payment_failed to the URLs
registered with it, a second after the change (so an earlier test's events may still
arrive: match them by id). The Flask test client is no server, so it
cannot receive them: tests of the webhook view post payloads they sign themselves
(`event_payload`, `sign_payload`). A test with a live server registers its URL with
`localstripe.register_webhook(url)` and removes it with `unregister_webhook()`.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.clock import now
from tests.mailbox import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "localstripe_server.py"

# Card numbers localstripe knows (its resources.py), as on Stripe's test page.
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # accepted, then declined when charged (card_declined)
CARD_3DS = "4000002500003155"  # asks for 3-D Secure, then pays
CARD_3DS_DECLINED = "4000008260003178"  # asks for 3-D Secure, then is declined


def _load_launcher():
    spec = importlib.util.spec_from_file_location("localstripe_server", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launcher = _load_launcher()


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value for PAYLOAD, as Stripe (and localstripe) sign."""
    timestamp = int(now().timestamp()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), b"%d." % timestamp + payload, hashlib.sha256)
    return f"t={timestamp},v1={signature.hexdigest()}"


def event_payload(event_type: str, data_object: dict, *, event_id: str | None = None,
                  created: int | None = None) -> bytes:
    """The body of a Stripe webhook carrying DATA_OBJECT (e.g. an intent as a dict)."""
    return json.dumps({
        "id": event_id or f"evt_test_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(now().timestamp()) if created is None else created,
        "livemode": False,
        "api_version": "2017-08-15",  # what localstripe's events say
        "data": {"object": data_object},
    }).encode()


class LocalStripe:
    """A running localstripe: where it is, its keys, and what tests do to it."""

    def __init__(self, base_url: str, webhook_secret: str) -> None:
        self.base_url = base_url
        self.secret_key = launcher.SECRET_KEY
        self.publishable_key = launcher.PUBLISHABLE_KEY
        self.webhook_secret = webhook_secret
        self.js_url = f"{base_url}/js.stripe.com/v3/"

    def settings(self, **overrides) -> dict:
        """The STRIPE_* settings of an app that uses this server."""
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_JS_URL": self.js_url,
            "STRIPE_TIMEOUT": 5,
            "STRIPE_MAX_NETWORK_RETRIES": 0,
            "STRIPE_WEBHOOK_TOLERANCE": 300,
            "STRIPE_CONNECT_ENABLED": False,
            **overrides,
        }

    def _post(self, path: str, fields: dict, *, auth: bool = True,
              error_ok: bool = False) -> dict:
        """The JSON answer; an error answer too (its {"error": ...}) when ERROR_OK."""
        # S310 (here and below): base_url is always http://127.0.0.1:<port>.
        request = urllib.request.Request(  # noqa: S310
            self.base_url + path, data=urllib.parse.urlencode(fields).encode(), method="POST")
        if auth:
            request.add_header("Authorization", f"Bearer {self.secret_key}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            with exc:  # holds the connection until closed
                body = exc.read()
            if not error_ok:
                raise RuntimeError(f"localstripe {path}: HTTP {exc.code}: {body!r}") from None
            return json.loads(body or b"{}")

    def reset(self) -> None:
        """Forget every object (and saved idempotent answer); webhooks stay registered."""
        request = urllib.request.Request(self.base_url + "/_config/data",  # noqa: S310
                                         method="DELETE")
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310

    def register_webhook(self, url: str, name: str = "tests",
                         events: list[str] | None = None) -> None:
        """Send events (all, or those named) to URL, signed with self.webhook_secret."""
        launcher.register_webhook(self.base_url, url, self.webhook_secret, name, events)

    def unregister_webhook(self, name: str = "tests") -> None:
        # localstripe cannot delete a webhook: keep it with an event filter nothing matches.
        launcher.register_webhook(self.base_url, "http://127.0.0.1:9/", self.webhook_secret,
                                  name, ["none"])

    def card(self, number: str = CARD_OK) -> str:
        """The id of a new card PaymentMethod (what Stripe.js makes from a typed card)."""
        return self._post("/v1/payment_methods", {
            "type": "card", "card[number]": number, "card[exp_month]": "12",
            "card[exp_year]": "2034", "card[cvc]": "123",
        })["id"]

    def authenticate(self, intent_id: str, client_secret: str, *, success: bool = True) -> dict:
        """The buyer's answer to localstripe's 3-D Secure dialog, as its Stripe.js sends it
        (publishable key, client secret): the intent pays, or goes back to
        requires_payment_method. Returns the intent, or {"error": ...} (a decline after
        authentication), as stripe.confirmCardPayment() does."""
        return self._post(
            f"/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}",
            {"key": self.publishable_key, "client_secret": client_secret}, auth=False,
            error_ok=True)


@pytest.fixture(scope="session")
def stripe_server(tmp_path_factory):
    """localstripe for the session (stopped at the end)."""
    port = free_port()
    base_url = f"http://{launcher.HOST}:{port}"
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--foreground", "--port", str(port), "--store", ""],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not launcher.wait_until_answers(base_url, 30, process):
            pytest.fail(f"localstripe did not start:\n{log_path.read_text(errors='replace')}")
        yield LocalStripe(base_url, "whsec_tests_" + secrets.token_hex(16))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def localstripe(stripe_server) -> LocalStripe:
    """The session's localstripe, emptied before the test."""
    stripe_server.reset()
    return stripe_server
