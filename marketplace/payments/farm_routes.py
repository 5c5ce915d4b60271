"""The farm's account: its sales, the platform's commission, refunds and what it is
owed, per month, on the web and as a CSV statement."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from marketplace.accounts.decorators import producer_required
from marketplace.downloads import csv_download, page_csv_style
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.producers.views import current_farm
from marketplace.web.display import display_tz

from . import services
from .models import LedgerKind

bp = Blueprint("farm_ledger", __name__, url_prefix="/farm/ledger")

MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


class BadMonth(Exception):
    pass


def _month() -> tuple[int, int]:
    """The month asked for (?month=2026-11), else this month; BadMonth otherwise."""
    raw = request.args.get("month", "").strip()
    if not raw:
        today = utcnow().astimezone(ZoneInfo(display_tz()))
        return today.year, today.month
    match = MONTH.fullmatch(raw)
    if match is None:
        raise BadMonth(raw)
    return int(match.group(1)), int(match.group(2))


@bp.errorhandler(BadMonth)
def bad_month(error):
    return render_template("errors/error.html", code=400, message=_(
        "Give the month as YYYY-MM, for example 2026-11.")), 400


def _statement(farm, year: int, month: int):
    start, end = services.month_bounds(year, month, display_tz())
    totals = services.ledger_totals(db.session, farm.id, start, end)
    entries = services.ledger_entries(db.session, farm.id, start, end)
    return totals, entries


@bp.get("")
@producer_required
def index():
    farm = current_farm()
    year, month = _month()
    totals, entries = _statement(farm, year, month)
    previous = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
    following = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    return render_template(
        "farm/ledger.html", farm=farm, totals=totals, entries=entries, kinds=LedgerKind,
        balance=sum(totals.values()), month=date(year, month, 1),
        payable_now=services.payable_now_cents(db.session, farm.id),
        month_param=f"{year}-{month:02d}", previous=previous, following=following,
    )


@bp.get("/statement.csv")
@producer_required
def statement_csv():
    farm = current_farm()
    year, month = _month()
    totals, entries = _statement(farm, year, month)
    style = page_csv_style()
    rows = [[_("date"), _("order"), _("kind"), _("amount (EUR)"), _("commission rate (%)")]]
    tz = ZoneInfo(display_tz())
    for entry in entries:
        rows.append([style.datetime(entry.created_at.astimezone(tz)),
                     str(entry.order_id), entry.kind.label,
                     style.amount(entry.amount_cents),
                     style.number(entry.commission_bp / 100) if entry.commission_bp else ""])
    rows.append([])
    for kind in LedgerKind:
        rows.append(["", "", kind.label, style.amount(totals.get(kind, 0)), ""])
    rows.append(["", "", _("owed to the farm"), style.amount(sum(totals.values())), ""])
    return csv_download(style.encode(rows),
                        f"statement-{year}-{month:02d}-farm{farm.id}.csv")
