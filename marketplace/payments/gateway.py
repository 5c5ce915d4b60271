"""Stripe: the only module that talks to it.

Plain functions taking the app config (``current_app.config`` or any mapping with the
``STRIPE_*`` settings); nothing here reads the request. Calls go through a
``stripe.StripeClient`` built from those settings (one per distinct set, reused so
that it keeps its connections), never through the ``stripe`` module's globals: two
apps in one process (the tests, a command beside the server) cannot mix their keys
or API bases.

Nothing leaves the machine unless configured: with an empty ``STRIPE_SECRET_KEY``
every call raises ``PaymentGatewayError`` before any network use. ``STRIPE_API_BASE``
sends every Stripe host (API, files, Connect OAuth) to one address, e.g. localstripe.

Every Stripe failure becomes a ``PaymentGatewayError``: ``.unreachable`` says whether
trying again later may help (network error, timeout, 5xx, rate limit) or not (the card
was declined, the request was refused); ``.user_message`` is one of the codes below,
for the caller to turn into words. The Stripe exception stays as ``__cause__``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import stripe

# PaymentGatewayError.user_message values.
NOT_CONFIGURED = "not_configured"  # no STRIPE_SECRET_KEY (or Connect off): nothing was sent
UNREACHABLE = "unreachable"  # network, timeout, 5xx, rate limit: try again later
CARD_DECLINED = "card_declined"  # the bank said no (.stripe_code, .decline_code say why)
REFUSED = "refused"  # Stripe refused the request (bad parameters, key, state): a bug or set-up

_STRIPE_HOSTS = ("api", "files", "connect", "meter_events")


class PaymentGatewayError(Exception):
    """A Stripe call that did not give an answer to use."""

    def __init__(self, message: str, *, unreachable: bool, user_message: str,
                 stripe_code: str | None = None, decline_code: str | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.user_message = user_message
        self.stripe_code = stripe_code
        self.decline_code = decline_code
        self.http_status = http_status


class WebhookSignatureError(Exception):
    """A webhook whose signature, timestamp or body cannot be trusted: answer 400."""


def is_configured(config: Mapping) -> bool:
    return bool(config.get("STRIPE_SECRET_KEY"))


_clients: dict[tuple, stripe.StripeClient] = {}
_clients_lock = threading.Lock()


def client(config: Mapping) -> stripe.StripeClient:
    """The StripeClient for these settings (built once, then shared; thread-safe)."""
    if not is_configured(config):
        raise PaymentGatewayError(
            "Stripe is not configured: STRIPE_SECRET_KEY is empty, nothing was sent",
            unreachable=False, user_message=NOT_CONFIGURED)
    settings = (
        config["STRIPE_SECRET_KEY"],
        config.get("STRIPE_API_BASE") or "",
        config.get("STRIPE_TIMEOUT", 10),
        config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
    )
    with _clients_lock:
        found = _clients.get(settings)
        if found is None:
            secret_key, api_base, timeout, retries = settings
            found = stripe.StripeClient(
                secret_key,
                base_addresses={host: api_base.rstrip("/") for host in _STRIPE_HOSTS}
                if api_base else None,
                max_network_retries=retries,
                http_client=stripe.RequestsClient(timeout=timeout),
            )
            _clients[settings] = found
        return found


@contextmanager
def _stripe_call(action: str):
    """Turn the stripe library's exceptions into PaymentGatewayError."""
    try:
        yield
    except stripe.StripeError as exc:
        status = exc.http_status
        detail = exc.user_message or exc.__class__.__name__
        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
                status is not None and status >= 500) or (
                isinstance(exc, stripe.APIError) and status is None):
            raise PaymentGatewayError(
                f"{action}: Stripe unreachable ({detail})", unreachable=True,
                user_message=UNREACHABLE, http_status=status) from exc
        error = exc.error
        if isinstance(exc, stripe.CardError):
            raise PaymentGatewayError(
                f"{action}: card declined ({detail})", unreachable=False,
                user_message=CARD_DECLINED, stripe_code=exc.code,
                decline_code=getattr(error, "decline_code", None) if error else None,
                http_status=status) from exc
        raise PaymentGatewayError(
            f"{action}: refused by Stripe ({status}: {detail})", unreachable=False,
            user_message=REFUSED, stripe_code=exc.code, http_status=status) from exc


def _metadata(metadata: Mapping | None, **extra) -> dict[str, str]:
    # Stripe keeps metadata values as strings; say so here rather than find out there.
    return {str(key): str(value) for key, value in {**extra, **(metadata or {})}.items()}


# Payment intents ----------------------------------------------------------------------------

def create_payment_intent(config: Mapping, *, amount_cents: int, currency: str,
                          idempotency_key: str, order_id: int | None = None,
                          metadata: Mapping | None = None, description: str = "",
                          transfer_group: str | None = None):
    """A card PaymentIntent for ``amount_cents``. Asked again with the same key (within
    Stripe's 24 hours) it answers with the same intent; the same key with other
    parameters is refused (REFUSED). ``order_id`` (an order's payment; none for an
    invoice's) goes into the metadata; ``transfer_group`` ties the payment to the
    farms' Connect transfers (real Stripe only: localstripe refuses it)."""
    extra = {"order_id": order_id} if order_id is not None else {}
    params: dict = {
        "amount": amount_cents,
        "currency": currency.lower(),
        "payment_method_types": ["card"],
        "metadata": _metadata(metadata, **extra),
    }
    if description:
        params["description"] = description
    if transfer_group:
        params["transfer_group"] = transfer_group
    with _stripe_call("create payment intent"):
        return client(config).v1.payment_intents.create(
            params, {"idempotency_key": idempotency_key})


def retrieve_payment_intent(config: Mapping, intent_id: str):
    with _stripe_call(f"retrieve payment intent {intent_id}"):
        return client(config).v1.payment_intents.retrieve(intent_id)


def confirm_payment_intent(config: Mapping, intent_id: str, *, payment_method: str,
                           idempotency_key: str):
    """Attach ``payment_method`` (a pm_... id, or with localstripe's Stripe.js the
    card_... id of a token) and confirm, server side. Returns the intent: ``succeeded``,
    ``requires_action`` (3-D Secure: the page then calls ``stripe.confirmCardPayment(
    client_secret)``) or ``processing``; a decline raises CARD_DECLINED.

    Two calls (update, then confirm) because localstripe answers 500 to a payment
    method given to confirm itself; Stripe accepts both forms."""
    with _stripe_call(f"confirm payment intent {intent_id}"):
        stripe_client = client(config)
        stripe_client.v1.payment_intents.update(
            intent_id, {"payment_method": payment_method},
            {"idempotency_key": f"{idempotency_key}-payment-method"})
        return stripe_client.v1.payment_intents.confirm(
            intent_id, None, {"idempotency_key": idempotency_key})


def update_payment_intent_amount(config: Mapping, intent_id: str, amount_cents: int):
    """Change what a not yet paid intent will charge (an invoice credited meanwhile).
    Setting the same amount twice is harmless, so no idempotency key is needed;
    refused (REFUSED) once the intent succeeded, is processing or was canceled."""
    with _stripe_call(f"update payment intent {intent_id}"):
        return client(config).v1.payment_intents.update(intent_id, {"amount": amount_cents})


def cancel_payment_intent(config: Mapping, intent_id: str):
    """Cancel an intent not yet paid; refused (REFUSED) once it succeeded or was canceled."""
    with _stripe_call(f"cancel payment intent {intent_id}"):
        return client(config).v1.payment_intents.cancel(intent_id)


def list_payment_intents_since(config: Mapping, created_gte: int,
                               limit: int = 100) -> Iterator:
    """Every intent created at or after ``created_gte`` (Unix time), newest first,
    fetched ``limit`` at a time as the iteration goes on. A generator: errors (not
    configured included) are raised while iterating."""
    stripe_client = client(config)
    with _stripe_call("list payment intents"):
        pages = iter(stripe_client.v1.payment_intents.list(
            {"created": {"gte": created_gte}, "limit": limit}).auto_paging_iter())
    while True:
        with _stripe_call("list payment intents"):
            intent = next(pages, None)
        if intent is None:
            return
        yield intent


# Refunds ------------------------------------------------------------------------------------

def create_refund(config: Mapping, *, payment_intent_id: str, amount_cents: int,
                  idempotency_key: str, metadata: Mapping | None = None):
    """Refund ``amount_cents`` of a paid intent (once per key, like every creation here)."""
    with _stripe_call(f"refund payment intent {payment_intent_id}"):
        return client(config).v1.refunds.create(
            {"payment_intent": payment_intent_id, "amount": amount_cents,
             "metadata": _metadata(metadata)},
            {"idempotency_key": idempotency_key})


def retrieve_refund(config: Mapping, refund_id: str):
    with _stripe_call(f"retrieve refund {refund_id}"):
        return client(config).v1.refunds.retrieve(refund_id)


def list_refunds(config: Mapping, payment_intent_id: str) -> list:
    """Every refund Stripe holds for a PaymentIntent (the audit compares them with ours)."""
    with _stripe_call(f"list refunds of {payment_intent_id}"):
        return list(client(config).v1.refunds.list(
            {"payment_intent": payment_intent_id, "limit": 100}).auto_paging_iter())


# Stripe Connect -----------------------------------------------------------------------------

def create_transfer(config: Mapping, *, amount_cents: int, currency: str,
                    destination_account: str, transfer_group: str, idempotency_key: str,
                    metadata: Mapping | None = None, source_transaction: str | None = None):
    """Pay a farm's connected account (acct_...) from the platform's balance.
    ``source_transaction`` (a ch_... id) lets Stripe take the funds from that charge
    before they are available. Refused, with nothing sent, unless
    STRIPE_CONNECT_ENABLED is on; localstripe has no Connect."""
    if not config.get("STRIPE_CONNECT_ENABLED"):
        raise PaymentGatewayError(
            "Stripe Connect is off (STRIPE_CONNECT_ENABLED): no transfer was sent",
            unreachable=False, user_message=NOT_CONFIGURED)
    params: dict = {
        "amount": amount_cents,
        "currency": currency.lower(),
        "destination": destination_account,
        "transfer_group": transfer_group,
        "metadata": _metadata(metadata),
    }
    if source_transaction:
        params["source_transaction"] = source_transaction
    with _stripe_call(f"transfer to {destination_account}"):
        return client(config).v1.transfers.create(params, {"idempotency_key": idempotency_key})


# Webhooks -----------------------------------------------------------------------------------

def construct_event(config: Mapping, payload: bytes, sig_header: str):
    """The stripe.Event a webhook carries, once its ``Stripe-Signature`` matches
    STRIPE_WEBHOOK_SECRET and its timestamp is within STRIPE_WEBHOOK_TOLERANCE seconds
    (0: any age). Raises WebhookSignatureError otherwise, or when the body is not a
    JSON event. No network use; works without STRIPE_SECRET_KEY."""
    secret = config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise WebhookSignatureError("STRIPE_WEBHOOK_SECRET is empty: no webhook can be verified")
    tolerance = config.get("STRIPE_WEBHOOK_TOLERANCE", 300)
    try:
        stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise WebhookSignatureError("webhook body is not UTF-8") from exc
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise WebhookSignatureError(f"webhook body is not JSON: {exc}") from exc
    if not (isinstance(data, dict) and data.get("object") == "event"
            and isinstance(data.get("id"), str) and isinstance(data.get("type"), str)
            and isinstance(data.get("data"), dict)):
        raise WebhookSignatureError("webhook body is not a Stripe event")
    if is_configured(config):
        return client(config).construct_event(payload, sig_header, secret, tolerance)
    return stripe.Webhook.construct_event(payload, sig_header, secret, tolerance)
