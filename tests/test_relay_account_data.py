"""A neighbour's details kept by relays are part of their account's data export once
the account is theirs, and deleting the account clears the phone and address; a
relay whose account goes is relay nowhere any more."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from marketplace.relays import services
from marketplace.relays.models import Neighbour, RelayAssignment
from tests import factories
from tests.clock import now

DELETE = {"delete-password": factories.PASSWORD, "delete-understood": "y"}


@pytest.fixture
def handed_over(db, hosted_market, english):
    """Odette, registered by the host with a phone and an address, her account
    handed over to her (her password set, her address confirmed)."""
    point, host = hosted_market["point"], hosted_market["host"]
    neighbour = services.register_neighbour(
        db.session, point, relay=host, name="Odette Le Goff", phone="06 12 34 56 78",
        postal_address="3 rue des Lilas, Elven", purpose="Orders by phone",
        today=now().date(), hash_method="pbkdf2:sha256:1000")
    user = services.hand_over(db.session, neighbour, "odette@example.org", now=now())
    user.password_hash = factories._HASH
    user.email_confirmed_at = now()
    db.session.commit()
    return neighbour


def test_the_export_of_a_handed_over_neighbour_holds_what_relays_keep(client, login,
                                                                      handed_over):
    login(handed_over.user)
    data = json.loads(client.get("/account/export.json").get_data(as_text=True))
    kept = data["relay_neighbour"]
    assert kept["phone"] == "+33612345678"
    assert kept["postal_address"] == "3 rue des Lilas, Elven"
    assert kept["pickup_point"] == handed_over.pickup_point.name
    assert kept["consent_purpose"] == "Orders by phone"
    assert kept["consent_recorded_by"] == "Hôte"
    assert kept["handed_over_at"] is not None


def test_someone_who_is_no_neighbour_exports_no_relay_section(client, login, db):
    login(factories.user(name="Zoé"))
    data = json.loads(client.get("/account/export.json").get_data(as_text=True))
    assert "relay_neighbour" not in data


def test_deleting_a_neighbour_s_account_clears_phone_and_address(client, db, login, form_post,
                                                                 handed_over, hosted_market):
    login(handed_over.user)
    response = form_post("/account/delete", DELETE, page="/account")
    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.scalars(select(Neighbour)).one()
    assert (row.phone_e164, row.phone_display, row.postal_address) == (None, None, "")
    assert row.user.deleted_at is not None
    # Their relay no longer lists them.
    login(hosted_market["host"])
    page = client.get(f"/relay/points/{hosted_market['point'].id}").get_data(as_text=True)
    assert "Odette" not in page


def test_a_relay_whose_account_is_deleted_is_relay_nowhere(client, db, login, form_post,
                                                           hosted_market):
    volunteer = factories.user(name="Bénévole")
    services.name_relay(db.session, hosted_market["point"], volunteer.email,
                        by=hosted_market["host"], now=now())
    db.session.commit()
    login(volunteer)
    assert form_post("/account/delete", DELETE, page="/account").status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(RelayAssignment)).one().until is not None
