"""Notices beyond the buyer's order e-mails: attachments in the outbox (kept for the
retries), a farm told of each new order, a restaurant's invoices as PDF, welcome."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.notifications import accounts as account_mails
from marketplace.notifications import services
from marketplace.notifications.models import OutboxAttachment
from marketplace.orders import services as order_services
from marketplace.orders.models import Order, OrderStatus
from marketplace.sqlite import write_intent
from tests import factories
from tests.clock import PARIS, now
from tests.mailbox import free_port
from tests.test_notifications import TZ, make_slot, outbox
from tests.test_notifications import market as market  # noqa: F401 - the fixture

CSV = "\ufeffproduit;quantité\r\nCarottes;3\r\n".encode()


def attachments_of(mail) -> list[tuple[str, str, bytes]]:
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in mail.iter_attachments()]


def test_attachments_are_written_with_the_message_and_survive_a_retry(app, db, mailbox):
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # the mail server is down at first
    message = services.queue(
        db.session, to="ferme@example.org", subject="Liste de préparation",
        body="Ci-joint la liste.\n", key="test:attached",
        attachments=[services.Attachment("liste.csv", "text/csv", CSV),
                     services.Attachment("facture.pdf", "application/pdf", b"%PDF-1.4 x")])
    db.session.commit()
    [row] = outbox(db)
    assert (row.sent_at, row.attempts) == (None, 1)
    stored = db.session.scalars(select(OutboxAttachment).where(
        OutboxAttachment.message_id == message.id).order_by(OutboxAttachment.position)).all()
    assert [(a.filename, a.content) for a in stored] == [("liste.csv", CSV),
                                                         ("facture.pdf", b"%PDF-1.4 x")]
    assert len(mailbox) == 0

    app.config["MAIL_PORT"] = port
    assert services.deliver_pending(db.engine, app.config) == (1, 0)
    [mail] = mailbox.wait_for(1)
    assert mail.get_body(("plain",)).get_content() == "Ci-joint la liste.\n"
    assert attachments_of(mail) == [("liste.csv", "text/csv", CSV),
                                    ("facture.pdf", "application/pdf", b"%PDF-1.4 x")]


def test_a_message_without_attachments_stays_a_plain_text_e_mail(db, mailbox):
    services.queue(db.session, to="a@example.org", subject="S", body="B\n")
    db.session.commit()
    [mail] = mailbox.wait_for(1)
    assert mail.get_content_type() == "text/plain"


def confirm_order(db, market, slot, buyer=None) -> Order:
    with write_intent():
        order = order_services.checkout(
            db.session, buyer=buyer or market["buyer"], slot_id=slot.id, now=now(), tz=TZ,
            cart={str(market["carrots"].id): 3, str(market["apples"].id): 1},
            config=current_app.config)
        if order.status == OrderStatus.PENDING_PAYMENT:
            order_services.confirm(db.session, order, now=now(), config=current_app.config)
        db.session.commit()
    return order


def test_each_farm_receives_its_part_of_a_new_order_in_its_language(app, db, mailbox, market):
    farm = market["carrots"].product.producer
    other = market["apples"].product.producer
    other.user.locale = "en"
    db.session.commit()
    slot = make_slot(db, market["point"], timedelta(days=3))
    order = confirm_order(db, market, slot)

    mailbox.wait_for(3)
    [to_farm] = mailbox.to(farm.user.email)
    assert to_farm["Subject"] == f"Nouvelle commande {order.id} de Claire Le Goff"
    body = to_farm.get_content()
    assert "3 × Carottes (1 kg)\u00a0: 10,50\u00a0€" in body
    assert "Pommes" not in body
    assert "Café de la gare" in body
    assert f"/farm/orders/slots/{slot.id}" in body
    [to_other] = mailbox.to(other.user.email)
    assert to_other["Subject"] == f"New order {order.id} from Claire Le Goff"
    assert "1 × Pommes (2 kg): €6.00" in to_other.get_content()
    assert "Carottes" not in to_other.get_content()

    # Confirmed again (a webhook told twice): no second e-mail.
    with write_intent():
        from marketplace.notifications import farms
        assert farms.new_orders(db.session, db.session.get(Order, order.id), now=now()) == []


def test_welcome_mail_in_the_readers_language(app, db, mailbox):
    farmer = factories.user(Role.PRODUCER, name="Yann Le Bihan")
    buyer = factories.user(name="Anne Martin")
    buyer.locale = "en"
    with write_intent():
        assert account_mails.send_welcome(db.session, farmer) is not None
        assert account_mails.send_welcome(db.session, buyer) is not None
        assert account_mails.send_welcome(db.session, buyer) is None  # once per account
        db.session.commit()
    mailbox.wait_for(2)
    [fr] = mailbox.to(farmer.email)
    assert fr["Subject"] == "Bienvenue sur Circuit Court"
    assert "Bonjour Yann Le Bihan," in fr.get_content()
    assert "/farm" in fr.get_content()
    [en] = mailbox.to(buyer.email)
    assert en["Subject"] == "Welcome to Circuit Court"
    assert "Hello Anne Martin," in en.get_content()


# A restaurant's invoices and credit notes, as PDF ------------------------------------------

def pdf_attachment(mail) -> tuple[str, bytes]:
    [(name, content_type, content)] = attachments_of(mail)
    assert content_type == "application/pdf"
    assert content.startswith(b"%PDF")
    return name, content


def test_a_restaurant_receives_each_invoice_as_a_pdf(db, mailbox, invoice_market):
    m = invoice_market
    m["bistrot"].locale = "en"
    db.session.commit()
    order = factories.restaurant_order(m["bistrot"], m["slot"],
                                       {m["carrots"].id: 3, m["eggs"].id: 1})
    a, b = factories.invoices_of(order)
    mailbox.wait_for(4)  # the order e-mail, an invoice per farm (and the farms' e-mails)
    documents = sorted((mail for mail in mailbox.to(m["bistrot"].email)
                        if mail["Subject"].startswith("Invoice")),
                       key=lambda mail: mail["Subject"])
    assert [mail["Subject"] for mail in documents] == [
        f"Invoice {a.display_number} from Ferme A", f"Invoice {b.display_number} from Ferme B"]
    name, content = pdf_attachment(documents[0])
    assert name == f"{a.display_number}_Ferme_A.pdf"
    body = documents[0].get_body(("plain",)).get_content()
    assert f"/restaurant/invoices/{a.id}" in body
    assert "Ferme A issued invoice F-000001" in body


def test_a_farms_credit_note_e_mail_carries_its_pdf(client, db, mailbox, invoice_market,
                                                     login, form_post):
    m = invoice_market
    order = factories.restaurant_order(m["bistrot"], m["slot"], {m["carrots"].id: 2})
    (inv,) = factories.invoices_of(order)
    mailbox.wait_for(3)
    mailbox.clear()
    login(m["farm_a"].user)
    url = f"/farm/invoices/{inv.id}"
    response = form_post(f"{url}/credit-note", {f"qty-{inv.lines[0].id}": "1", "reason": "Gel"},
                         page=url)
    assert response.status_code == 303
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == m["bistrot"].email
    assert mail["Subject"] == f"Commande {order.id}\u00a0: avoir A-000002"
    name, _content = pdf_attachment(mail)
    assert name.startswith("A-000002")
    assert "Gel" in mail.get_body(("plain",)).get_content()


# Approval and refusal --------------------------------------------------------------------

def test_an_approved_farm_is_told_in_its_language(client, db, mailbox, form_post, login):
    waiting = factories.producer(approved=False, name="Ferme de Kerguen")
    login(factories.user(Role.ADMIN))
    response = form_post(f"/admin/approvals/{waiting.user.id}", {}, page="/admin/approvals")
    assert response.status_code == 302
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == waiting.user.email
    assert mail["Subject"] == "Votre compte est validé"
    assert "elle peut maintenant vendre" in mail.get_content()
    assert "/farm" in mail.get_content()


def test_an_admin_refuses_a_restaurant_with_a_reason_it_receives(client, db, mailbox,
                                                                 form_post, login):

    waiting = factories.user(Role.RESTAURANT, approved=False, name="Le Bistrot du Port")
    waiting.locale = "en"
    db.session.commit()
    login(factories.user(Role.ADMIN))
    # No reason: refused with a message, nothing sent.
    response = form_post(f"/admin/refusals/{waiting.id}", {"reason": "  "},
                         page="/admin/approvals")
    assert response.status_code == 400
    assert "Dites pourquoi" in response.get_data(as_text=True)
    assert len(mailbox) == 0
    response = form_post(f"/admin/refusals/{waiting.id}",
                         {"reason": "Le SIRET ne correspond à aucun restaurant."},
                         page="/admin/approvals")
    assert response.status_code == 303
    [mail] = mailbox.wait_for(1)
    assert mail["To"] == waiting.email
    assert mail["Subject"] == "Your account was not approved"
    assert "Le SIRET ne correspond à aucun restaurant." in mail.get_content()
    db.session.expire_all()
    refused = db.session.get(User, waiting.id)
    assert refused.refused_at is not None
    assert not refused.is_approved
    page = client.get("/admin/approvals").get_data(as_text=True)
    assert "Comptes refusés" in page
    assert "Le SIRET ne correspond à aucun restaurant." in page
    assert f"/admin/refusals/{waiting.id}" not in page  # no longer waiting
    # A second refusal of a refused account is refused: it is not waiting.
    response = form_post(f"/admin/refusals/{waiting.id}", {"reason": "Encore"},
                         page="/admin/approvals")
    assert response.status_code == 404
    assert len(mailbox) == 1


# The summary of a slot at its cut-off -------------------------------------------------------

def test_each_farm_gets_one_summary_at_the_cut_off_with_its_pick_list(app, db, mailbox,
                                                                     market, clock):
    from marketplace.downloads import FRENCH
    from marketplace.jobs import run_once
    from marketplace.reports import pick_lists

    farm = market["carrots"].product.producer
    slot = make_slot(db, market["point"], timedelta(days=2))
    slot.cutoff_at = now() + timedelta(hours=5)
    db.session.commit()
    confirm_order(db, market, slot)
    confirm_order(db, market, slot, buyer=factories.user(name="Paul"))
    mailbox.wait_for(6)
    mailbox.clear()
    with app.test_request_context():
        assert run_once(generate_slots=False)["slot_summaries"] == 0  # before the cut-off

        clock.move_to(slot.cutoff_at + timedelta(minutes=1))
        assert run_once(generate_slots=False)["slot_summaries"] == 2  # one per farm
        assert run_once(generate_slots=False)["slot_summaries"] == 0  # once
    mailbox.wait_for(2)
    [mail] = mailbox.to(farm.user.email)
    assert mail["Subject"].startswith("Commandes closes pour ")
    body = mail.get_body(("plain",)).get_content()
    assert "6 × Carottes (1 kg)" in body
    assert "Pommes" not in body
    [(name, content_type, content)] = attachments_of(mail)
    assert (name, content_type) == (f"pick-list-{slot.starts_at.astimezone(PARIS):%Y-%m-%d}"
                                    f"-slot{slot.id}.csv", "text/csv")
    lines = pick_lists.pick_list(db.session, farm.id, slot.id)
    with app.test_request_context():
        from flask_babel import force_locale
        with force_locale("fr"):
            assert content == pick_lists.pick_list_csv(lines, FRENCH)
    rows = content.decode("utf-8-sig").splitlines()
    assert rows[1] == "Carottes;1 kg;6;0;6;2"


# Choices ----------------------------------------------------------------------------------

def test_the_notices_page_lists_what_is_required_and_saves_a_farms_choices(
        client, db, form_post, login, market):
    from marketplace.notifications import preferences

    farm = market["carrots"].product.producer
    login(farm.user)
    page = client.get("/account/notices").get_data(as_text=True)
    assert "Toujours envoyés (obligatoires)" in page
    assert "Factures et avoirs" not in page  # a restaurant's
    assert "Une nouvelle commande pour ma ferme" in page
    response = form_post("/account/notices",
                         {"farm_new_order": "digest", "digest_hour": "99"},
                         page="/account/notices")
    assert response.status_code == 400  # no such hour; nothing saved
    assert preferences.digest_hour(db.session, farm.user_id) is None
    response = form_post("/account/notices", {"farm_new_order": "digest", "digest_hour": "18"},
                         page="/account/notices")
    assert response.status_code == 303
    assert preferences.digest_hour(db.session, farm.user_id) == 18
    assert not preferences.wants(db.session, farm.user_id, preferences.FARM_SLOT_SUMMARY)


def test_a_household_switches_its_reminder_off_and_gets_none(client, db, form_post, login,
                                                             market):
    from marketplace.notifications import orders as order_mails
    from marketplace.notifications import preferences

    buyer = market["buyer"]
    login(buyer)
    page = client.get("/account/notices").get_data(as_text=True)
    assert "Mes commandes" in page  # required, listed
    assert "Une nouvelle commande pour ma ferme" not in page  # a farm's
    assert 'name="buyer_reminder"' in page
    response = form_post("/account/notices", {}, page="/account/notices")  # box unticked
    assert response.status_code == 303
    assert not preferences.wants(db.session, buyer.id, preferences.BUYER_REMINDER)
    assert preferences.wants(db.session, buyer.id, preferences.FARM_NEW_ORDER)  # not its own

    slot = make_slot(db, market["point"], timedelta(hours=20))
    confirm_order(db, market, slot)
    assert order_mails.send_reminders(db.session, now()) == 0
    response = form_post("/account/notices", {"buyer_reminder": "y"}, page="/account/notices")
    assert response.status_code == 303
    assert order_mails.send_reminders(db.session, now()) == 1


def test_a_farm_that_switched_new_orders_off_gets_none(app, db, mailbox, market):
    from marketplace.notifications import preferences

    farm = market["carrots"].product.producer
    preferences.choose(db.session, farm.user, preferences.FARM_NEW_ORDER, enabled=False,
                       now=now())
    db.session.commit()
    slot = make_slot(db, market["point"], timedelta(days=3))
    confirm_order(db, market, slot)
    mailbox.wait_for(2)  # the buyer's and the other farm's
    assert mailbox.to(farm.user.email) == []


def test_a_digest_farm_gets_one_e_mail_a_day_at_its_hour_and_none_per_order(
        app, db, mailbox, market, clock):
    from marketplace.jobs import run_once
    from marketplace.notifications import preferences
    from tests.clock import paris

    clock.move_to(paris(2026, 11, 17, 8, 0))
    farm = market["carrots"].product.producer
    preferences.choose(db.session, farm.user, preferences.FARM_NEW_ORDER, enabled=True,
                       digest_hour=18, now=now())
    preferences.choose(db.session, farm.user, preferences.FARM_SLOT_SUMMARY, enabled=False,
                       now=now())
    db.session.commit()
    slot = make_slot(db, market["point"], timedelta(days=3))
    first = confirm_order(db, market, slot)
    second = confirm_order(db, market, slot, buyer=factories.user(name="Paul Morvan"))
    mailbox.wait_for(4)
    assert mailbox.to(farm.user.email) == []  # none per order
    with app.test_request_context():
        assert run_once(generate_slots=False)["digests"] == 0  # 08:00: before its hour
        clock.move_to(paris(2026, 11, 17, 18, 1))
        assert run_once(generate_slots=False)["digests"] == 1
        assert run_once(generate_slots=False)["digests"] == 0  # once a day
    mailbox.wait_for(5)
    [digest] = mailbox.to(farm.user.email)
    assert digest["Subject"] == "2 nouvelles commandes pour Ferme des Landes"
    body = digest.get_content()
    assert f"Commande {first.id} de Claire Le Goff" in body
    assert f"Commande {second.id} de Paul Morvan" in body
    assert "Pommes" not in body
    # The next day: a new order only, then nothing more.
    clock.move_to(paris(2026, 11, 18, 9, 0))
    third = confirm_order(db, market, make_slot(db, market["point"], timedelta(days=3)))
    with app.test_request_context():
        clock.move_to(paris(2026, 11, 18, 18, 5))
        assert run_once(generate_slots=False)["digests"] == 1
        clock.move_to(paris(2026, 11, 19, 18, 5))
        assert run_once(generate_slots=False)["digests"] == 0  # nothing new
    later = [mail for mail in mailbox.to(farm.user.email) if mail is not digest]
    assert len(later) == 1
    assert f"Commande {third.id}" in later[0].get_content()
    assert f"Commande {first.id} " not in later[0].get_content()
