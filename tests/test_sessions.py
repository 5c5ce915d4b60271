"""Sessions that end: a session cookie seen before sign-out, a password change or an
admin's "end sessions" is refused when replayed; signing in starts a new session."""

from flask import session
from flask_login import current_user, login_user

from marketplace.accounts import services
from marketplace.accounts.models import Role, User
from tests import factories
from tests.conftest import csrf_token


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def signed_in_as(client, user) -> bool:
    """Whether the client's session opens a page only this person sees."""
    response = client.get("/orders")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return user.display_name in response.get_data(as_text=True)


def test_a_cookie_replayed_after_sign_out_is_refused(client, login, form_post):
    buyer = login(factories.user(name="Zoé Le Goff"))
    seen = session_cookie(client)
    assert signed_in_as(client, buyer)

    response = form_post("/logout", {}, page="/orders")
    assert response.status_code == 302
    assert not signed_in_as(client, buyer)

    client.set_cookie("session", seen)  # someone kept a copy of the cookie
    assert not signed_in_as(client, buyer)


def test_ending_sessions_refuses_every_earlier_cookie(client, db, login):
    buyer = login(factories.user(name="Zoé Le Goff"))
    laptop = session_cookie(client)

    # The password changed (or was reset): the service those flows call.
    services.end_sessions(db.session.get(User, buyer.id))
    db.session.commit()

    client.set_cookie("session", laptop)
    assert not signed_in_as(client, buyer)
    # Signing in again with the password opens a new session, which holds.
    login(buyer)
    assert signed_in_as(client, buyer)


def test_a_tampered_or_old_style_session_id_is_anonymous(app, db):
    user = factories.user()
    stale = f"{user.id}:{user.session_version + 1}"
    for raw in (str(user.id), f"{user.id}:", f"{user.id}:x", stale, f"{10**30}:1", ":", ""):
        assert services.user_for_session_id(db.session, raw) is None, raw
    assert services.user_for_session_id(db.session, user.get_id()) == user


def test_signing_in_gives_a_new_csrf_token_and_keeps_the_visitors_choices(client, login):
    buyer = factories.user()
    before = csrf_token(client, "/login")
    with client.session_transaction() as session:
        session["lang"] = "en"
        token_before = session["csrf_token"]
    login(buyer)
    after = csrf_token(client, "/orders")
    assert after != before
    with client.session_transaction() as session:
        assert session["csrf_token"] != token_before
        assert session["lang"] == "en"  # what the visitor chose stays


def test_an_admin_ends_a_persons_sessions(client, db, login, form_post):
    buyer = factories.user(name="Zoé Le Goff")
    buyer_client = client.application.test_client()
    buyer_client.post("/login", data={"email": buyer.email, "password": factories.PASSWORD,
                                      "csrf_token": csrf_token(buyer_client, "/login")})
    assert signed_in_as(buyer_client, buyer)

    login(factories.user(Role.ADMIN))
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Zoé Le Goff" in page
    response = form_post(f"/admin/users/{buyer.id}/end-sessions", {}, page="/admin/users")
    assert response.status_code == 302
    assert not signed_in_as(buyer_client, buyer)
    assert client.get("/admin/users").status_code == 200  # the admin's own session holds


def test_only_an_admin_ends_sessions(client, login, form_post):
    other = factories.user()
    login(factories.user())
    assert client.get("/admin/users").status_code == 403
    response = form_post(f"/admin/users/{other.id}/end-sessions", {}, page="/orders")
    assert response.status_code == 403


def test_the_session_keeps_the_user_and_session_version(app):
    user = factories.user()
    with app.test_request_context():
        login_user(user)
        assert session["_user_id"] == f"{user.id}:1"
        assert current_user.id == user.id


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, db, login,
                                                                      form_post):
    buyer = login(factories.user(name="Zoé Le Goff"))
    other_browser = session_cookie(client)  # the same session, as seen from a phone
    response = form_post("/account/password", {"password-current": factories.PASSWORD,
                                                "password-password": "nouveau secret",
                                                "password-confirm": "nouveau secret"},
                         page="/account")
    assert response.status_code == 303
    assert signed_in_as(client, buyer)  # this browser goes on
    phone = app.test_client()
    phone.set_cookie("session", other_browser)
    assert not signed_in_as(phone, buyer)


def test_a_reset_password_ends_every_session(app, client, db, login):
    buyer = login(factories.user(name="Zoé Le Goff"))
    kept = session_cookie(client)
    services.set_password(db.session.get(User, buyer.id), "nouveau secret", "pbkdf2:sha256:1")
    db.session.commit()
    client.set_cookie("session", kept)
    assert not signed_in_as(client, buyer)


def test_sign_out_everywhere_from_the_account_page(app, client, db, login, form_post):
    buyer = login(factories.user(name="Zoé Le Goff"))
    phone = app.test_client()
    phone.set_cookie("session", session_cookie(client))
    assert signed_in_as(phone, buyer)
    response = form_post("/account/sessions/end", {}, page="/account")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")
    assert not signed_in_as(client, buyer)
    assert not signed_in_as(phone, buyer)
    assert client.post("/account/sessions/end").status_code in (302, 400)  # signed out


def test_deleting_an_account_ends_its_sessions(app, client, db, login, form_post):
    buyer = login(factories.user(name="Zoé Le Goff"))
    phone = app.test_client()
    phone.set_cookie("session", session_cookie(client))
    response = form_post("/account/delete", {"delete-password": factories.PASSWORD,
                                              "delete-understood": "y"}, page="/account")
    assert response.status_code == 303
    assert db.session.get(User, buyer.id).session_version > 1
    assert phone.get("/orders").status_code == 302
