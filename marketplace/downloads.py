"""CSV files a person downloads (catalogue export, pick and packing lists, statements,
order templates): written for the reader's spreadsheet, sent never cached (they hold
a farm's own figures).

A French spreadsheet reads ";" between cells, a decimal comma and dd/mm/yyyy dates;
an English one "," and a decimal point. Both get UTF-8 with a BOM (so Excel shows
accents right) and CRLF lines. ``csv_style(locale)`` picks the style; the language
of the page (the account's) decides.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import send_file
from flask_babel import get_locale

from marketplace.models import cents_to_decimal_str

BOM = "\ufeff"
# A spreadsheet runs a cell starting with one of these as a formula. escape_cell puts
# an apostrophe in front (the usual escape, shown as is by spreadsheets); the imports
# take it off again (unescape_cell), so an exported file imports unchanged.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unescape_cell(text: str) -> str:
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@'":
        return text[1:]
    return text


def escape_cell(text: str) -> str:
    """A text a person typed, safe to open in a spreadsheet."""
    if text.startswith(FORMULA_START) or (text[:1] == "'" and unescape_cell(text) != text):
        return "'" + text
    return text


@dataclass(frozen=True)
class CsvStyle:
    locale: str  # "fr" or "en": also the language of the headers and codes
    delimiter: str
    decimal_sign: str
    date_format: str  # strftime

    def amount(self, cents: int) -> str:
        """1320 -> "13,20" (French) or "13.20": no currency sign, no grouping, so the
        spreadsheet reads a number."""
        return cents_to_decimal_str(cents).replace(".", self.decimal_sign)

    def number(self, value: Decimal | float | int) -> str:
        """5.5 -> "5,5" or "5.5"; 20.0 -> "20"."""
        return f"{value:g}".replace(".", self.decimal_sign)

    def date(self, day: date) -> str:
        return day.strftime(self.date_format)

    def datetime(self, moment: datetime) -> str:
        """A moment already in the display time zone, to the minute."""
        return moment.strftime(f"{self.date_format} %H:%M")

    def encode(self, rows: Iterable[list[str]]) -> bytes:
        out = io.StringIO(newline="")
        csv.writer(out, delimiter=self.delimiter).writerows(rows)
        return (BOM + out.getvalue()).encode("utf-8")


FRENCH = CsvStyle("fr", ";", ",", "%d/%m/%Y")
ENGLISH = CsvStyle("en", ",", ".", "%Y-%m-%d")


def csv_style(locale) -> CsvStyle:
    """The style for a language ("fr", "fr_FR", a babel Locale; anything else: English)."""
    return FRENCH if str(locale or "").lower().startswith("fr") else ENGLISH


def csv_download(data: bytes, filename: str):
    response = send_file(io.BytesIO(data), mimetype="text/csv", as_attachment=True,
                         download_name=filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def page_csv_style() -> CsvStyle:
    """The style for the page's language, which is the signed-in account's."""
    return csv_style(get_locale())
