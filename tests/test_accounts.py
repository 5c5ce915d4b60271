import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Role, User
from tests import factories
from tests.clock import now
from tests.pages import link_in


def signup_data(**overrides):
    data = {
        "display_name": "Camille Le Goff",
        "email": "camille@example.org",
        "password": "des-carottes-bio",
        "confirm": "des-carottes-bio",
        "role": "household",
    }
    data.update(overrides)
    return data


def test_household_signs_up_confirms_its_address_and_signs_in(client, db, form_post,
                                                               login, mailbox, english):
    response = form_post("/signup", signup_data())
    assert response.status_code == 303
    assert response.headers["Location"] == "/signup/check-your-inbox"
    page = client.get("/signup/check-your-inbox").get_data(as_text=True)
    assert "camille@example.org" in page
    user = db.session.scalar(select(User).where(User.email == "camille@example.org"))
    assert user.role == Role.HOUSEHOLD
    assert user.is_approved
    assert user.email_confirmed_at is None
    assert user.password_hash != "des-carottes-bio"
    assert user.password_hash.startswith("pbkdf2:")
    # Not signed in: the answer is the same for an address that has an account.
    assert "Camille Le Goff" not in client.get("/catalogue").get_data(as_text=True)

    [mail] = mailbox.wait_for(1)
    assert mail["To"] == "camille@example.org"
    confirmed = client.get(link_in(mail, "/confirm/"))
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is not None
    login(user, "des-carottes-bio")
    page = client.get("/catalogue").get_data(as_text=True)
    assert "Camille Le Goff" in page
    assert "email-unconfirmed" not in page


def test_producer_signup_waits_for_approval_and_gets_a_farm(client, db, form_post, login):
    response = form_post("/signup", signup_data(role="producer", email="Farm@Example.org "))
    assert response.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "farm@example.org"))
    assert user.role == Role.PRODUCER
    assert not user.is_approved
    response = login(user, "des-carottes-bio")
    page = client.get("/farm").get_data(as_text=True)
    assert "approval" in page or "approbation" in page


def restaurant_details(db, user, **overrides):
    from marketplace.wholesale.models import RestaurantProfile

    values = {"business_name": "SARL Le Bistrot du Port", "siret": "73282932000074",
              "vat_number": "FR44732829320", "address": "3 quai des Indes",
              "postcode": "56000", "commune": "Vannes"}
    values.update(overrides)
    db.session.add(RestaurantProfile(user_id=user.id, **values))
    db.session.commit()


def test_admin_approves_waiting_accounts(client, db, form_post, login):
    waiting = factories.user(Role.RESTAURANT, approved=False, name="Le Bistrot du Port")
    restaurant_details(db, waiting)
    admin = factories.user(Role.ADMIN)
    login(admin)
    page = client.get("/admin/approvals").get_data(as_text=True)
    assert "Le Bistrot du Port" in page
    response = form_post(f"/admin/approvals/{waiting.id}", {}, page="/admin/approvals")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, waiting.id).is_approved
    remaining = client.get("/admin/approvals").get_data(as_text=True)
    assert f"/admin/approvals/{waiting.id}" not in remaining


@pytest.mark.parametrize("role", [Role.HOUSEHOLD, Role.PRODUCER, Role.HOST, Role.RESTAURANT])
def test_only_admins_reach_approvals(client, login, role):
    login(factories.user(role))
    assert client.get("/admin/approvals").status_code == 403


def test_approve_without_csrf_is_refused(client, db, login):
    waiting = factories.user(Role.PRODUCER, approved=False)
    login(factories.user(Role.ADMIN))
    response = client.post(f"/admin/approvals/{waiting.id}")
    assert response.status_code == 400
    db.session.expire_all()
    assert not db.session.get(User, waiting.id).is_approved


def test_signup_cannot_choose_admin(client, db, form_post):
    response = form_post("/signup", signup_data(role="admin"))
    assert response.status_code == 400
    assert db.session.scalar(select(User).where(User.email == "camille@example.org")) is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid e-mail"),
        ({"email": ""}, "email", "enter your e-mail"),
        ({"display_name": ""}, "display_name", "enter your name"),
        ({"display_name": "x" * 121}, "display_name", "At most 120"),
        ({"password": "short", "confirm": "short"}, "password", "Between 8 and 200"),
        ({"confirm": "something-else"}, "confirm", "passwords differ"),
    ],
)
def test_signup_bad_input_is_explained_next_to_the_field(
    app, client, db, form_post, overrides, field, message
):
    with client.session_transaction() as session:
        session["lang"] = "en"
    data = signup_data(**overrides)
    response = form_post("/signup", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    assert f'aria-describedby="{field}-error"' in html or f'{field}-error"' in html
    # What was typed is kept (except passwords).
    if overrides.get("display_name", "Camille Le Goff"):
        assert data["display_name"][:50] in html
    assert db.session.scalar(select(User)) is None


def test_signup_with_a_taken_address_answers_the_same_and_tells_its_owner(
        client, db, form_post, mailbox, english):
    owner = factories.user(email="camille@example.org", name="Camille d'avant")
    owner.locale = "en"  # the e-mails are in the reader's language
    db.session.commit()
    taken = form_post("/signup", signup_data(email="CAMILLE@example.org",
                                             display_name="Someone Else"))
    fresh = form_post("/signup", signup_data(email="new@example.org"))
    assert taken.status_code == fresh.status_code == 303
    assert taken.headers["Location"] == fresh.headers["Location"]
    # Nothing was created or changed for the taken address.
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.email == "camille@example.org")) == 1
    db.session.refresh(owner)
    assert owner.display_name == "Camille d'avant"
    mails = mailbox.wait_for(2)
    [to_owner] = [m for m in mails if m["To"] == "camille@example.org"]
    assert "tried to create" in to_owner.get_content()
    assert "/reset-password/" in to_owner.get_content()
    [to_new] = [m for m in mails if m["To"] == "new@example.org"]
    assert "/confirm/" in to_new.get_content()


def test_wrong_password_and_unknown_email_get_the_same_message(client, form_post):
    user = factories.user(email="known@example.org")
    with client.session_transaction() as session:
        session["lang"] = "en"
    wrong_password = form_post("/login", {"email": user.email, "password": "nope-nope"})
    unknown = form_post("/login", {"email": "nobody@example.org", "password": "nope-nope"})
    assert wrong_password.status_code == unknown.status_code == 400
    for response in (wrong_password, unknown):
        assert "Wrong e-mail or password." in response.get_data(as_text=True)
    # The e-mail typed is kept in the form.
    assert 'value="known@example.org"' in wrong_password.get_data(as_text=True)


def test_login_and_logout(client, login, form_post):
    user = factories.user()
    login(user)
    assert user.display_name in client.get("/").get_data(as_text=True)
    response = form_post("/logout", {}, page="/")
    assert response.status_code == 302
    assert user.display_name not in client.get("/").get_data(as_text=True)


def test_login_refuses_foreign_next_url(client, form_post):
    user = factories.user()
    response = form_post("/login?next=https://evil.example/", {"email": user.email,
                         "password": factories.PASSWORD}, page="/login")
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_login_without_csrf_is_refused(client):
    user = factories.user()
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 400


def test_approvals_show_a_restaurants_business_details(client, db, login, english):
    waiting = factories.user(Role.RESTAURANT, approved=False, name="Le Bistrot")
    restaurant_details(db, waiting)
    bare = factories.user(Role.RESTAURANT, approved=False, name="Chez Personne")
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/approvals").get_data(as_text=True)
    for shown in ("SARL Le Bistrot du Port", "73282932000074", "FR44732829320",
                  "3 quai des Indes, 56000 Vannes"):
        assert shown in page
    # One without its business details says so and offers no approval.
    assert "No business details yet." in page
    assert f"/admin/approvals/{waiting.id}" in page
    assert f"/admin/approvals/{bare.id}" not in page


def test_approvals_page_issues_a_fixed_number_of_queries(client, db, login, count_queries):
    restaurant_details(db, factories.user(Role.RESTAURANT, approved=False))
    factories.producer(approved=False)
    login(factories.user(Role.ADMIN))

    def queries():
        with count_queries() as statements:
            assert client.get("/admin/approvals").status_code == 200
        return len(statements)

    few = queries()
    for n in range(4):
        restaurant_details(db, factories.user(Role.RESTAURANT, approved=False),
                           business_name=f"Maison {n}")
        factories.user(Role.RESTAURANT, approved=False)  # no details yet
        factories.producer(approved=False)
    assert client.get("/admin/approvals").get_data(as_text=True).count("Maison ") == 4
    assert queries() == few


@pytest.mark.parametrize("details", [None, {"business_name": ""}, {"siret": ""},
                                     {"business_name": "  "}])
def test_a_restaurant_without_business_name_or_siret_is_not_approved(
        client, db, form_post, login, english, details):
    waiting = factories.user(Role.RESTAURANT, approved=False, name="Chez Personne")
    if details is not None:
        restaurant_details(db, waiting, **details)
    login(factories.user(Role.ADMIN))
    response = form_post(f"/admin/approvals/{waiting.id}", {}, page="/admin/approvals")
    assert response.status_code == 400
    assert "Chez Personne has not given its business name and SIRET yet" in \
        response.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(User, waiting.id).is_approved


def test_approve_service_refuses_a_restaurant_without_details(app, db):
    from marketplace.accounts import services

    waiting = factories.user(Role.RESTAURANT, approved=False)
    admin = factories.user(Role.ADMIN)
    with app.test_request_context(), pytest.raises(services.ApprovalRefused):
        services.approve(db.session, waiting, by=admin, now=now())
    db.session.rollback()
    producer = factories.producer(approved=False).user
    # A farm needs no restaurant details (its location: see test_farm.py).
    services.approve(db.session, producer, by=admin, now=now())
    db.session.commit()
    assert db.session.get(User, producer.id).is_approved


def test_approvals_label_business_details_with_french_typography(client, db, login):
    waiting = factories.user(Role.RESTAURANT, approved=False, name="Le Bistrot")
    restaurant_details(db, waiting)
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/approvals").get_data(as_text=True)  # French, the default
    assert "Raison sociale\u00a0:</dt>" in page
    assert "SIRET\u00a0:</dt>" in page
    assert "Raison sociale:" not in page


def test_approvals_show_a_waiting_farms_name_and_place(client, db, login, english):
    farm = factories.producer(name="Ferme de Kerbellec", approved=False, commune="Elven")
    farm.siret = "73282932000074"
    db.session.commit()
    login(factories.user(Role.ADMIN))
    page = client.get("/admin/approvals").get_data(as_text=True)
    row = page.split(f'data-user="{farm.user_id}"')[1].split("</tr>")[0]
    assert "Ferme de Kerbellec" in row
    assert "Elven" in row
    assert "73282932000074" in row
