"""A producer imports and exports its own catalogue as CSV (see csv_io and docs/csv.md)."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SubmitField
from wtforms.validators import ValidationError

from marketplace.accounts.decorators import producer_required
from marketplace.catalogue import csv_io
from marketplace.catalogue.reference import CATEGORIES
from marketplace.downloads import csv_download, page_csv_style
from marketplace.extensions import db
from marketplace.producers.views import current_farm
from marketplace.web.display import display_tz

bp = Blueprint("farm_csv", __name__, url_prefix="/farm/catalogue")

# A page listing thousands of errors helps nobody: the first ones are shown.
MAX_ERRORS_SHOWN = 300


MAX_MB = csv_io.MAX_CSV_BYTES // (1024 * 1024)


class CatalogueImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(message=_l("Choose the CSV file to import.")),
            FileAllowed(["csv"], _l("Send a .csv file (in your spreadsheet: Save as, CSV).")),
        ],
        description=_l(
            "A .csv file saved as CSV UTF-8, at most %(mb)d MB and %(rows)d rows.",
            mb=MAX_MB,
            rows=csv_io.MAX_ROWS,
        ),
    )
    submit = SubmitField(_l("Import the file"))

    def validate_file(self, field):
        stream = field.data.stream
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if size > csv_io.MAX_CSV_BYTES:
            raise ValidationError(
                _l("The file is too large (at most %(mb)d MB). Split it into several files.",
                   mb=MAX_MB)
            )


def _render(form, errors=(), status=200):
    errors = list(errors)
    return (
        render_template(
            "farm/import.html",
            form=form,
            import_errors=errors[:MAX_ERRORS_SHOWN],
            error_count=len(errors),
            hidden_errors=max(len(errors) - MAX_ERRORS_SHOWN, 0),
            category_codes=", ".join(slug for slug, _fr, _en in CATEGORIES),
            name_max=csv_io.NAME_MAX,
            label_max=csv_io.LABEL_MAX,
            description_max=csv_io.DESCRIPTION_MAX,
            max_rows=csv_io.MAX_ROWS,
            french_columns=csv_io.FRENCH_COLUMNS,
            allergen_names=", ".join(
                f"{fr} ({a.code})" for a, fr in csv_io.ALLERGEN_FRENCH.items()),
        ),
        status,
    )


@bp.route("/import", methods=["GET", "POST"])
@producer_required
def import_form():
    farm = current_farm()
    form = CatalogueImportForm()
    if form.validate_on_submit():
        try:
            summary = csv_io.import_catalogue(db.session, farm, form.file.data.stream)
        except csv_io.CsvImportError as exc:
            db.session.rollback()
            return _render(form, exc.errors, 400)
        flash(csv_io.summary_message(summary), "success")
        return redirect(url_for("farm.products"))
    return _render(form, status=400 if form.is_submitted() else 200)


@bp.route("/export.csv")
@producer_required
def export():
    farm = current_farm()
    today = datetime.now(ZoneInfo(display_tz())).date()
    return csv_download(csv_io.export_csv(db.session, farm, page_csv_style()),
                        csv_io.export_filename(farm, today))
