"""marketplace.payments.gateway against localstripe (tests/stripe_server.py), and, for
what localstripe cannot play (Stripe Connect, a Stripe answering 5xx), against a local
HTTP stand-in that records the requests the stripe library sends (tests/stripe_stand_in.py)."""

from __future__ import annotations

import socket
import time

import pytest

from marketplace.payments import gateway
from tests.clock import now
from tests.mailbox import free_port
from tests.stripe_server import (
    CARD_3DS,
    CARD_3DS_DECLINED,
    CARD_DECLINED,
    CARD_OK,
    event_payload,
    sign_payload,
)
from tests.stripe_stand_in import StandIn


@pytest.fixture
def stand_in():
    server = StandIn()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def config(localstripe):
    return localstripe.settings()


def new_intent(config, key="order-1", amount=1234, **kwargs):
    return gateway.create_payment_intent(config, amount_cents=amount, currency="EUR",
                                         order_id=1, idempotency_key=key, **kwargs)


def paid_intent(config, localstripe, amount=1234):
    intent = new_intent(config, key=f"order-paid-{amount}", amount=amount)
    return gateway.confirm_payment_intent(config, intent.id, payment_method=localstripe.card(),
                                          idempotency_key=f"confirm-{intent.id}")


# Payment intents ----------------------------------------------------------------------------

def test_same_idempotency_key_gives_the_same_intent(config):
    first = new_intent(config, metadata={"buyer": 7}, description="Circuit Court order 1")
    again = new_intent(config, metadata={"buyer": 7}, description="Circuit Court order 1")
    assert again.id == first.id
    assert (first.amount, first.currency, first.status) == (1234, "eur", "requires_payment_method")
    assert first.metadata.to_dict() == {"order_id": "1", "buyer": "7"}
    assert first.client_secret.startswith(first.id + "_secret_")
    assert [intent.id for intent in gateway.list_payment_intents_since(config, 0)] == [first.id]


def test_same_key_other_amount_is_refused(config):
    new_intent(config)
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        new_intent(config, amount=999)
    assert not caught.value.unreachable
    assert caught.value.user_message == gateway.REFUSED


@pytest.mark.parametrize("payment_method", ["card", "pm_card_visa"])
def test_confirmed_with_a_card_the_intent_succeeds(config, localstripe, payment_method):
    intent = new_intent(config)
    pm = localstripe.card(CARD_OK) if payment_method == "card" else payment_method
    confirmed = gateway.confirm_payment_intent(config, intent.id, payment_method=pm,
                                               idempotency_key="confirm-1")
    assert confirmed.status == "succeeded"
    fetched = gateway.retrieve_payment_intent(config, intent.id)
    assert (fetched.status, fetched.amount, fetched.latest_charge.paid) == ("succeeded", 1234, True)


def test_declined_card(config, localstripe):
    intent = new_intent(config)
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        gateway.confirm_payment_intent(config, intent.id,
                                       payment_method=localstripe.card(CARD_DECLINED),
                                       idempotency_key="confirm-1")
    error = caught.value
    assert (error.unreachable, error.user_message, error.stripe_code, error.http_status) == (
        False, gateway.CARD_DECLINED, "card_declined", 402)
    fetched = gateway.retrieve_payment_intent(config, intent.id)
    assert fetched.status == "requires_payment_method"
    assert fetched.last_payment_error.code == "card_declined"


@pytest.mark.parametrize(("card", "answer", "status", "error_code"), [
    (CARD_3DS, True, "succeeded", None),
    (CARD_3DS, False, "requires_payment_method", "payment_intent_authentication_failure"),
])
def test_3d_secure_card_requires_action(config, localstripe, card, answer, status, error_code):
    intent = new_intent(config)
    confirmed = gateway.confirm_payment_intent(config, intent.id,
                                               payment_method=localstripe.card(card),
                                               idempotency_key="confirm-1")
    assert confirmed.status == "requires_action"
    assert confirmed.next_action.type == "use_stripe_sdk"
    # What localstripe's Stripe.js does when the buyer answers its 3-D Secure dialog.
    localstripe.authenticate(intent.id, intent.client_secret, success=answer)
    fetched = gateway.retrieve_payment_intent(config, intent.id)
    assert fetched.status == status
    assert (fetched.last_payment_error.code if fetched.last_payment_error else None) == error_code


def test_3d_secure_then_declined(config, localstripe):
    intent = new_intent(config)
    gateway.confirm_payment_intent(config, intent.id,
                                   payment_method=localstripe.card(CARD_3DS_DECLINED),
                                   idempotency_key="confirm-1")
    # localstripe answers the authentication itself with the decline.
    answer = localstripe.authenticate(intent.id, intent.client_secret)
    assert answer["error"]["code"] == "card_declined"
    assert gateway.retrieve_payment_intent(config, intent.id).status == "requires_payment_method"


def test_cancel_an_unpaid_intent(config):
    intent = new_intent(config)
    assert gateway.cancel_payment_intent(config, intent.id).status == "canceled"
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        gateway.cancel_payment_intent(config, intent.id)
    assert caught.value.user_message == gateway.REFUSED


def test_unknown_intent_is_refused(config):
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        gateway.retrieve_payment_intent(config, "pi_doesnotexist")
    assert (caught.value.unreachable, caught.value.http_status) == (False, 404)


def test_intents_since_newest_first_across_pages(config):
    intents = [new_intent(config, key=f"order-{n}") for n in range(5)]
    ids = [intent.id for intent in intents]
    listed = [intent.id for intent in gateway.list_payment_intents_since(config, 0, limit=2)]
    assert listed == ids[::-1]
    # After the newest: localstripe stamps them with its own (real) clock, not the tests'.
    newest = max(intent.created for intent in intents)
    assert list(gateway.list_payment_intents_since(config, newest + 1)) == []


# Refunds ------------------------------------------------------------------------------------

def test_partial_refund_once_per_key(config, localstripe):
    intent = paid_intent(config, localstripe)
    refund = gateway.create_refund(config, payment_intent_id=intent.id, amount_cents=234,
                                   idempotency_key="refund-1", metadata={"order_id": 1})
    again = gateway.create_refund(config, payment_intent_id=intent.id, amount_cents=234,
                                  idempotency_key="refund-1", metadata={"order_id": 1})
    assert again.id == refund.id
    fetched = gateway.retrieve_refund(config, refund.id)
    assert (fetched.amount, fetched.status, fetched.payment_intent) == (234, "succeeded", intent.id)
    assert fetched.metadata.to_dict() == {"order_id": "1"}
    charge = gateway.retrieve_payment_intent(config, intent.id).latest_charge
    assert (charge.amount_refunded, charge.refunded) == (234, False)


def test_refund_of_an_unpaid_intent_is_refused(config, localstripe):
    intent = new_intent(config)
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        gateway.create_refund(config, payment_intent_id=intent.id, amount_cents=100,
                              idempotency_key="refund-1")
    assert not caught.value.unreachable


# Webhooks -----------------------------------------------------------------------------------

def signed(config, payload: bytes, **kwargs) -> str:
    return sign_payload(payload, config["STRIPE_WEBHOOK_SECRET"], **kwargs)


def test_construct_event_accepts_a_signed_payload(config):
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent",
                                                         "status": "succeeded"})
    event = gateway.construct_event(config, payload, signed(config, payload))
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == "pi_1"


@pytest.mark.parametrize("case", ["tampered", "wrong secret", "too old", "no header",
                                  "garbled header", "not json", "not an event"])
def test_construct_event_refuses(config, case):
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    header = signed(config, payload)
    if case == "tampered":
        payload = payload.replace(b"pi_1", b"pi_2")
    elif case == "wrong secret":
        header = sign_payload(payload, "whsec_someone_else")
    elif case == "too old":
        header = signed(config, payload, timestamp=int(now().timestamp()) - 301)
    elif case == "no header":
        header = ""
    elif case == "garbled header":
        header = "t=soon,v1=abc"
    elif case == "not json":
        payload = b"{not json"
        header = signed(config, payload)
    elif case == "not an event":
        payload = b"[1, 2]"
        header = signed(config, payload)
    with pytest.raises(gateway.WebhookSignatureError):
        gateway.construct_event(config, payload, header)


def test_construct_event_needs_the_webhook_secret(config):
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    with pytest.raises(gateway.WebhookSignatureError, match="STRIPE_WEBHOOK_SECRET"):
        gateway.construct_event({**config, "STRIPE_WEBHOOK_SECRET": ""}, payload,
                                sign_payload(payload, ""))


def test_construct_event_without_secret_key(config):
    """Verifying a webhook needs the webhook secret only, and no network."""
    payload = event_payload("payment_intent.payment_failed", {"id": "pi_1"})
    event = gateway.construct_event({**config, "STRIPE_SECRET_KEY": ""}, payload,
                                    signed(config, payload))
    assert event.id.startswith("evt_")


def test_localstripe_webhook_verifies(config, localstripe, stand_in):
    """localstripe's own webhook (sent to the stand-in, which records it) passes
    construct_event with the registered secret. It comes a second after the payment;
    events of earlier tests may come too, hence the wait for this intent's."""
    localstripe.register_webhook(stand_in.url + "/stripe/webhook",
                                 events=["payment_intent.succeeded"])
    try:
        intent = paid_intent(config, localstripe)
        request = stand_in.wait_for(intent.id.encode())
    finally:
        localstripe.unregister_webhook()
    assert request["path"] == "/stripe/webhook"
    event = gateway.construct_event(config, request["raw"], request["headers"]["Stripe-Signature"])
    assert event.type == "payment_intent.succeeded"
    assert (event.data.object.id, event.data.object.status) == (intent.id, "succeeded")


# Failures and set-up ------------------------------------------------------------------------

def test_not_configured_sends_nothing(stand_in):
    config = {"STRIPE_SECRET_KEY": "", "STRIPE_API_BASE": stand_in.url}
    assert not gateway.is_configured(config)
    calls = [
        lambda: new_intent(config),
        lambda: gateway.retrieve_payment_intent(config, "pi_1"),
        lambda: gateway.cancel_payment_intent(config, "pi_1"),
        lambda: gateway.create_refund(config, payment_intent_id="pi_1", amount_cents=1,
                                      idempotency_key="r"),
        lambda: gateway.retrieve_refund(config, "re_1"),
        lambda: list(gateway.list_payment_intents_since(config, 0)),
    ]
    for call in calls:
        with pytest.raises(gateway.PaymentGatewayError, match="STRIPE_SECRET_KEY") as caught:
            call()
        assert (caught.value.unreachable, caught.value.user_message) == (
            False, gateway.NOT_CONFIGURED)
    assert stand_in.requests == []


def test_closed_port_is_unreachable(config):
    config = {**config, "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}", "STRIPE_TIMEOUT": 2}
    started = time.monotonic()
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        new_intent(config)
    assert (caught.value.unreachable, caught.value.user_message) == (True, gateway.UNREACHABLE)
    assert time.monotonic() - started < 2


def test_silent_server_times_out_as_unreachable(config):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = {**config, "STRIPE_API_BASE": f"http://127.0.0.1:{silent.getsockname()[1]}",
                  "STRIPE_TIMEOUT": 1}
        with pytest.raises(gateway.PaymentGatewayError) as caught:
            gateway.retrieve_payment_intent(config, "pi_1")
    assert caught.value.unreachable


def test_server_error_is_unreachable(config, stand_in):
    """A Stripe answering 500 is played by the recording stand-in (localstripe cannot)."""
    stand_in.status = 500
    stand_in.body = {"error": {"type": "api_error", "message": "Something went wrong"}}
    with pytest.raises(gateway.PaymentGatewayError) as caught:
        gateway.retrieve_payment_intent({**config, "STRIPE_API_BASE": stand_in.url}, "pi_1")
    assert (caught.value.unreachable, caught.value.http_status) == (True, 500)
    assert len(stand_in.requests) == 1  # STRIPE_MAX_NETWORK_RETRIES is 0 here


def test_retries_reuse_the_idempotency_key(config, stand_in):
    """Retried after a 500 (stand-in), the creation is sent again with the same key."""
    stand_in.status = 500
    stand_in.body = {"error": {"type": "api_error", "message": "Something went wrong"}}
    with pytest.raises(gateway.PaymentGatewayError):
        new_intent({**config, "STRIPE_API_BASE": stand_in.url, "STRIPE_MAX_NETWORK_RETRIES": 1})
    keys = [request["headers"]["Idempotency-Key"] for request in stand_in.requests]
    assert keys == ["order-1", "order-1"]


def test_each_config_has_its_own_client(config, stand_in):
    other = {**config, "STRIPE_API_BASE": stand_in.url, "STRIPE_SECRET_KEY": "sk_test_other"}
    stand_in.body = {"id": "pi_standin", "object": "payment_intent", "status": "succeeded"}
    assert gateway.retrieve_payment_intent(other, "pi_standin").status == "succeeded"
    assert new_intent(config).id.startswith("pi_")  # still localstripe, with its key
    [request] = stand_in.requests
    assert request["headers"]["Authorization"] == "Bearer sk_test_other"
    assert gateway.client(config) is gateway.client(dict(config))


def test_default_api_base_is_stripe():
    stripe_client = gateway.client({"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_API_BASE": ""})
    assert stripe_client._requestor._options.base_addresses["api"] == "https://api.stripe.com"


# Stripe Connect -----------------------------------------------------------------------------

def transfer(config, **kwargs):
    return gateway.create_transfer(
        config, amount_cents=1890, currency="EUR", destination_account="acct_farm42",
        transfer_group="order-7", idempotency_key="transfer-7-42",
        metadata={"order_id": 7, "producer_id": 42}, **kwargs)


def test_connect_transfer_request(config, stand_in):
    """localstripe has no Stripe Connect: the transfer goes to a local HTTP stand-in that
    records the request the stripe library sends and answers a minimal transfer."""
    stand_in.body = lambda fields: {
        "id": "tr_standin_1", "object": "transfer", "amount": int(fields["amount"]),
        "currency": fields["currency"], "destination": fields["destination"],
        "transfer_group": fields["transfer_group"], "metadata": {}}
    config = {**config, "STRIPE_API_BASE": stand_in.url, "STRIPE_CONNECT_ENABLED": True}
    result = transfer(config, source_transaction="ch_123")
    assert (result.id, result.amount, result.destination) == ("tr_standin_1", 1890, "acct_farm42")
    [request] = stand_in.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/transfers")
    assert request["fields"] == {
        "amount": "1890", "currency": "eur", "destination": "acct_farm42",
        "transfer_group": "order-7", "source_transaction": "ch_123",
        "metadata[order_id]": "7", "metadata[producer_id]": "42"}
    assert request["headers"]["Idempotency-Key"] == "transfer-7-42"
    assert request["headers"]["Authorization"] == f"Bearer {config['STRIPE_SECRET_KEY']}"


def test_connect_off_sends_no_transfer(config, stand_in):
    """With Connect off (the default), nothing reaches the recording stand-in."""
    with pytest.raises(gateway.PaymentGatewayError, match="STRIPE_CONNECT_ENABLED") as caught:
        transfer({**config, "STRIPE_API_BASE": stand_in.url})
    assert caught.value.user_message == gateway.NOT_CONFIGURED
    assert stand_in.requests == []
