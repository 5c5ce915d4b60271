"""Throttling: sign-in per account and per address, sign-up, the JSON API and checkout
answer 429 with Retry-After past their limits; Redis shares the counts between app
servers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from marketplace import create_app
from marketplace.extensions import db as _db
from tests import factories

WRONG = "not the password"


@pytest.fixture
def limits(app):
    """The production limits of sign-in, sign-up, API and checkout, small for the test."""
    app.config.update(RATELIMIT_SIGN_IN="10 per minute", RATELIMIT_SIGN_UP="3 per hour",
                      RATELIMIT_API="5 per minute", RATELIMIT_CHECKOUT="2 per minute")
    return app.config


def sign_in(form_post, email, password=WRONG, address="127.0.0.1"):
    return form_post("/login", {"email": email, "password": password},
                     environ_base={"REMOTE_ADDR": address})


def test_the_eleventh_wrong_password_in_a_minute_is_refused(client, form_post, limits, clock):
    buyer = factories.user()
    for _ in range(10):
        response = sign_in(form_post, buyer.email)
        assert response.status_code == 400  # wrong password: the form again
    refused = sign_in(form_post, buyer.email)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 50 <= wait <= 61  # the minute's count starts again (rounded up to the second)
    page = refused.get_data(as_text=True)
    assert re.search("Trop de tentatives en peu de temps. Réessayez dans "
                     "(1[ \u00a0]minute|[1-9][0-9][ \u00a0]secondes)", page), page
    # Even the right password waits: the count is the account's, not the password's.
    assert sign_in(form_post, buyer.email, factories.PASSWORD).status_code == 429
    clock.move_to(clock.now() + timedelta(seconds=61))
    assert sign_in(form_post, buyer.email, factories.PASSWORD).status_code == 302


def test_the_account_is_counted_from_every_address(form_post, limits):
    buyer = factories.user()
    for n in range(10):
        assert sign_in(form_post, buyer.email.upper(), address=f"10.0.0.{n}").status_code == 400
    assert sign_in(form_post, f" {buyer.email} ", address="10.0.1.1").status_code == 429


def test_an_address_is_counted_over_every_account(form_post, limits, english):
    for n in range(10):
        assert sign_in(form_post, f"nobody{n}@example.org").status_code == 400
    refused = sign_in(form_post, "someone-else@example.org")
    assert refused.status_code == 429
    assert "Too many attempts in a short time" in refused.get_data(as_text=True)
    # Another address is not held back by this one.
    assert sign_in(form_post, "someone-else@example.org", address="10.9.9.9").status_code == 400


def test_sign_up_is_limited_per_address(form_post, limits):
    for n in range(3):
        response = form_post("/signup", {"display_name": "X", "email": f"new{n}@example.org",
                                         "password": "p", "confirm": "q", "role": "household"})
        assert response.status_code == 400
    refused = form_post("/signup", {"email": "new@example.org"})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


def test_the_api_answers_429_in_json(client, limits):
    url = "/api/v1/producers?lat=47.65&lon=-2.76&radius_km=10"
    for _ in range(5):
        assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429
    assert refused.is_json
    assert refused.get_json()["error"]
    assert 50 <= int(refused.headers["Retry-After"]) <= 61


def test_checkout_is_limited_per_buyer(client, login, form_post, limits):
    login(factories.user())
    for _ in range(2):
        # An empty cart: refused by checkout itself, but counted.
        assert form_post("/checkout", {}, page="/orders").status_code != 429
    assert form_post("/checkout", {}, page="/orders").status_code == 429


def test_limits_can_be_switched_off(app):
    app = create_app({**app.config, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_SIGN_IN": "1 per minute"})
    try:
        client = app.test_client()
        for _ in range(3):
            response = client.post("/login", data={"email": "a@example.org", "password": "x"})
            assert response.status_code == 400
    finally:
        with app.app_context():
            _db.engine.dispose()


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-memory"])
def test_two_app_servers_share_the_counts_through_redis(app, redis_url, shared):
    """Two app instances (as two gunicorn hosts): ten wrong passwords on one, the
    eleventh on the other is refused when both count in Redis; counted in each
    process's memory, the other server knows nothing of the first ten."""
    settings = {**app.config, "WTF_CSRF_ENABLED": False,
                "RATELIMIT_STORAGE_URI": redis_url if shared else "memory://",
                "RATELIMIT_SIGN_IN": "10 per minute"}
    first = create_app(settings)
    for _ in range(10):
        response = first.test_client().post(
            "/login", data={"email": "chef@example.org", "password": WRONG})
        assert response.status_code == 400
    # The second server starts its own connection to the storage (its own memory).
    second = create_app(settings)
    response = second.test_client().post(
        "/login", data={"email": "chef@example.org", "password": WRONG})
    assert response.status_code == (429 if shared else 400)
    for server in (first, second):
        with server.app_context():
            _db.engine.dispose()


def test_signing_in_hashes_once_whether_the_account_exists_or_not(form_post, monkeypatch,
                                                                  app):
    """The same work, so the same time, for an unknown e-mail as for a wrong password:
    one password hash of the site's method (the real function, counted)."""
    from marketplace.accounts import services

    checked = []
    real = services.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(services, "check_password_hash", counting)
    buyer = factories.user()
    method = app.config["PASSWORD_HASH_METHOD"]
    for email in (buyer.email, "nobody@example.org"):
        checked.clear()
        assert sign_in(form_post, email).status_code == 400
        assert checked == [method], email


def test_password_reset_requests_are_limited_per_e_mail_and_per_address(app, form_post, english):
    app.config.update(RATELIMIT_PASSWORD_RESET="3 per hour")
    for n in range(3):
        assert form_post("/forgot-password", {"email": "alice@example.org"},
                         environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code == 200
    refused = form_post("/forgot-password", {"email": " Alice@Example.org"},
                        environ_base={"REMOTE_ADDR": "10.0.9.9"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    for n in range(3):
        form_post("/forgot-password", {"email": f"someone{n}@example.org"},
                  environ_base={"REMOTE_ADDR": "10.0.5.5"})
    assert form_post("/forgot-password", {"email": "other@example.org"},
                     environ_base={"REMOTE_ADDR": "10.0.5.5"}).status_code == 429
