"""The person's data export (services.export_data) as files: JSON as it is, and a
CSV for a spreadsheet: the account and its place, then one row per order line."""

from __future__ import annotations

import json
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import to_user_timezone

from marketplace.downloads import CsvStyle, escape_cell


def as_json(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def _text(value) -> str:
    return "" if value is None else escape_cell(str(value))


def _moment(style: CsvStyle, iso: str | None) -> str:
    return style.datetime(to_user_timezone(datetime.fromisoformat(iso))) if iso else ""


def csv_rows(data: dict, style: CsvStyle) -> list[list[str]]:
    """Headers in the page's language (call in a request or force_locale)."""
    account, place = data["account"], data["location"]
    rows = [
        [_("Account"), ""],
        [_("E-mail"), _text(account["email"])],
        [_("Name"), _text(account["display_name"])],
        [_("Language"), _text(account["locale"])],
        [_("Created on"), _moment(style, account["created_at"])],
        [_("Place you search from"), _text(place["label"])],
        [_("Latitude"), "" if place["latitude"] is None else style.number(place["latitude"])],
        [_("Longitude"), "" if place["longitude"] is None
         else style.number(place["longitude"])],
        [],
        [_("Order"), _("Placed on"), _("Status"), _("Pickup point"), _("Producer"),
         _("Product"), _("Variant"), _("Quantity"), _("Unit price"), _("Line total")],
    ]
    for order in data.get("orders", []):
        for line in order["lines"]:
            rows.append([
                str(order["number"]), _moment(style, order["placed_at"]), order["status"],
                _text(order["pickup_point"]), _text(line["producer"]), _text(line["product"]),
                _text(line["variant"]), str(line["quantity"]),
                style.amount(line["unit_price_cents"]), style.amount(line["line_total_cents"]),
            ])
    return rows
