"""The host's distribution sheet and the farm's packing list, as CSV, say who placed
an order for its buyer (a relay), and leave the column empty when the buyer did."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from tests import factories
from tests.test_relays import _order_for, logout


@pytest.fixture
def market(hosted_market, english):
    return hosted_market


def _rows(response) -> list[dict]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_the_csv_sheets_say_who_placed_an_order_for_whom(client, db, login, form_post, market):
    _neighbour, url, form = _order_for(client, db, login, form_post, market)
    assert client.post(url, data=form).status_code == 303
    factories.order(market["buyers"][0], market["slot"], {market["carrots"].id: 1})
    slot = market["slot"]
    sheet = _rows(client.get(f"/pickup/slots/{slot.id}/sheet.csv"))
    by_buyer = {row["buyer"]: row["placed by"] for row in sheet}
    assert by_buyer == {"Odette Le Goff": "Hôte", "Zoé": ""}
    logout(client)
    login(db.session.scalar(select(User).where(User.id == market["farm"].user_id)))
    packing = _rows(client.get(f"/farm/orders/slots/{slot.id}/packing-list.csv"))
    placed = {(row["buyer"], row["placed by"]) for row in packing}
    assert placed == {("Odette Le Goff", "Hôte"), ("Zoé", "")}
