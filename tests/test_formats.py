"""What people read in their language: amounts through Babel, statuses and kinds by
their translated labels, and CSV files in the format of a French or an English
spreadsheet (the language of the account decides)."""

from __future__ import annotations

import csv
import io

import pytest
from flask import current_app, render_template_string
from flask_babel import force_locale

from marketplace.accounts.models import Role
from marketplace.models import LabelledEnum, labels
from marketplace.orders import fulfilment
from marketplace.orders.models import CounterPayment, OrderStatus
from marketplace.payments.models import LedgerKind, PaymentStatus, RefundStatus
from marketplace.pickup.models import SlotStatus
from marketplace.wholesale.models import RunStatus
from tests import factories, pages
from tests.clock import PARIS, now

BOM = b"\xef\xbb\xbf"


def speak(client, lang: str) -> None:
    with client.session_transaction() as session:
        session["lang"] = lang


def read_csv(response, delimiter: str) -> list[list[str]]:
    assert response.status_code == 200
    assert response.data.startswith(BOM)
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline=""),
                           delimiter=delimiter))


def plain(text: str) -> str:
    """Babel's no-break spaces as ordinary ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


# Labels --------------------------------------------------------------------------------------

def test_every_status_and_kind_has_a_french_label(app):
    enums = {cls for cls in LabelledEnum.__subclasses__()
             if cls.__module__.startswith("marketplace.")}
    assert {OrderStatus, CounterPayment, PaymentStatus, RefundStatus, LedgerKind, SlotStatus,
            RunStatus} <= enums
    with app.test_request_context():
        for enum_cls in enums:
            for member in enum_cls:
                with force_locale("en"):
                    english = member.label
                with force_locale("fr"):
                    french = member.label
                assert english, (enum_cls, member)
                assert french != member.value, (enum_cls, member)
                assert french != english, (enum_cls, member)


def test_an_enum_must_name_every_value():
    with pytest.raises(TypeError, match="ready"):
        @labels(pending="Pending")
        class Half(LabelledEnum):
            PENDING = "pending"
            READY = "ready"


# Amounts ------------------------------------------------------------------------------------

def test_amounts_are_written_in_the_readers_language(app):
    with app.test_request_context():
        with force_locale("fr"):
            assert plain(render_template_string("{{ 1320|money }}")) == "13,20 €"
        with force_locale("en"):
            assert render_template_string("{{ 1320|money }}") == "€13.20"


def test_a_price_in_a_form_is_shown_with_the_readers_decimal_sign(client, db, login):
    farm = factories.producer()
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 1320, 5),))
    login(farm.user)
    url = f"/farm/products/{carrots.id}"
    speak(client, "fr")
    assert 'value="13,20"' in client.get(url).get_data(as_text=True)
    speak(client, "en")
    assert 'value="13.20"' in client.get(url).get_data(as_text=True)


def test_the_admin_payments_page_names_states_in_french(app, client, db, login, localstripe,
                                                        hosted_market):
    m = hosted_market
    order = factories.confirmed_card_order(app, localstripe, m,
                                           cart={m["carrots"].id: 2, m["leeks"].id: 1})
    login(factories.user(Role.ADMIN))
    speak(client, "fr")
    page = plain(client.get("/admin/payments").get_data(as_text=True))
    row = page[page.index(f'data-order="{order.id}"'):]
    assert "Réussi" in row
    assert "succeeded" not in row.lower()
    assert "9,80 €" in row
    speak(client, "en")
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "Succeeded" in page
    assert "€9.80" in page


# CSV files ---------------------------------------------------------------------------------

@pytest.fixture
def farm_with_orders(app, db, hosted_market):
    m = hosted_market
    factories.order(m["buyers"][0], m["slot"], {m["carrots"].id: 2, m["eggs"].id: 1})
    collected = factories.order(m["buyers"][1], m["slot"], {m["leeks"].id: 3})
    with app.test_request_context():
        fulfilment.mark_collected(db.session, collected, now=now(), paid_with="cash",
                                  config=current_app.config)
        db.session.commit()
    return m


@pytest.mark.parametrize(("lang", "delimiter", "header", "carrots", "leeks"), [
    ("fr", ";", ["produit", "variante", "quantité", "manquant", "à cueillir", "acheteurs"],
     ["7,00", "Confirmée"], ["8,40", "Retirée"]),
    ("en", ",", ["product", "variant", "quantity", "missing", "to pick", "buyers"],
     ["7.00", "Confirmed"], ["8.40", "Collected"]),
])
def test_pick_and_packing_lists(client, login, farm_with_orders, lang, delimiter, header,
                                carrots, leeks):
    m = farm_with_orders
    login(m["farm"].user)
    speak(client, lang)
    base = f"/farm/orders/slots/{m['slot'].id}"
    rows = read_csv(client.get(f"{base}/pick-list.csv"), delimiter)
    assert rows[0] == header
    assert ["Carottes", "1 kg", "2", "0", "2", "1"] in rows
    rows = read_csv(client.get(f"{base}/packing-list.csv"), delimiter)
    assert len(rows[0]) == 11  # then the allergens and traces of each line, who placed it
    assert next(row for row in rows if row[2] == "Carottes")[6:8] == carrots
    assert next(row for row in rows if row[2] == "'=Poireaux")[6:8] == leeks


def test_the_statement_in_french_and_in_english(client, login, farm_with_orders):
    m = farm_with_orders
    login(m["farm"].user)
    local = now().astimezone(PARIS)
    url = f"/farm/ledger/statement.csv?month={local:%Y-%m}"
    speak(client, "fr")
    rows = read_csv(client.get(url), ";")
    assert rows[0] == ["date", "commande", "type", "montant (EUR)", "taux de commission (%)"]
    sale = next(row for row in rows if row[2] == "Ventes")
    assert sale[0] == local.strftime("%d/%m/%Y %H:%M")
    assert sale[3] == "8,40"
    assert ["", "", "Déjà encaissé au retrait", "-8,40", ""] in rows
    assert rows[-1][2:4] == ["dû à la ferme", "-0,84"]  # the commission on a sale at pickup
    speak(client, "en")
    rows = read_csv(client.get(url), ",")
    assert rows[0][:3] == ["date", "order", "kind"]
    sale = next(row for row in rows if row[2] == "Sales")
    assert sale[0] == local.strftime("%Y-%m-%d %H:%M")
    assert rows[-1][2:4] == ["owed to the farm", "-0.84"]


def test_pages_show_labels_not_codes(client, login, farm_with_orders):
    m = farm_with_orders
    login(m["farm"].user)
    speak(client, "fr")
    ledger = client.get("/farm/ledger").get_data(as_text=True)
    assert "Déjà encaissé au retrait" in ledger
    pages.sign_out(client)
    login(m["host"])
    speak(client, "fr")
    sheet = client.get(f"/pickup/slots/{m['slot'].id}/sheet").get_data(as_text=True)
    assert "Payée au comptoir (Espèces)" in sheet
    pages.sign_out(client)
    login(m["buyers"][1])
    speak(client, "fr")
    assert "Retirée" in client.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize(("lang", "delimiter", "to_collect", "collected"), [
    ("fr", ";", ["Confirmée", "Au retrait", "", "12,97", "12,97"],
     ["Retirée", "Au retrait", "Espèces", "8,40", "0,00"]),
    ("en", ",", ["Confirmed", "At pickup", "", "12.97", "12.97"],
     ["Collected", "At pickup", "Cash", "8.40", "0.00"]),
])
def test_the_hosts_distribution_sheet_as_csv(client, login, farm_with_orders, lang,
                                             delimiter, to_collect, collected):
    m = farm_with_orders
    url = f"/pickup/slots/{m['slot'].id}/sheet.csv"
    login(m["farm"].user)
    assert client.get(url).status_code == 403  # a farm is not the host
    pages.sign_out(client)
    login(m["host"])
    speak(client, lang)
    assert url in client.get(f"/pickup/slots/{m['slot'].id}/sheet").get_data(as_text=True)
    rows = read_csv(client.get(url), delimiter)
    assert len(rows[0]) == 10  # then the allergens delivered, who placed the order
    by_buyer = {row[1]: row for row in rows[1:]}
    assert by_buyer["Zoé"][2] == "Ferme A, Ferme B"
    assert by_buyer["Zoé"][3:8] == to_collect
    assert by_buyer["Ali"][3:8] == collected
