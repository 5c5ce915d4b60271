"""`flask catalogue import|export`: a producer's catalogue as CSV from the command line."""

from __future__ import annotations

import click
from flask import Flask
from flask_babel import force_locale

from marketplace.accounts.models import Role
from marketplace.accounts.services import find_user_by_email
from marketplace.catalogue import csv_io
from marketplace.downloads import csv_style
from marketplace.extensions import db
from marketplace.producers.services import farm_of
from marketplace.sqlite import write_intent


def _farm(email: str):
    user = find_user_by_email(db.session, email)
    if user is None or user.role != Role.PRODUCER:
        raise click.ClickException(f"No producer account has the e-mail {email}.")
    farm = farm_of(db.session, user)
    if farm is None:
        raise click.ClickException(
            f"{email} has no farm yet: sign in once as this producer to create it."
        )
    return farm


def register(app: Flask) -> None:
    @app.cli.group("catalogue")
    def catalogue() -> None:
        """Import or export a producer's catalogue as CSV (one row per variant)."""

    @catalogue.command("import")
    @click.option("--producer-email", required=True, help="E-mail of the producer's account.")
    @click.argument("csv_file", metavar="FILE.csv", type=click.File("rb"))
    def import_command(producer_email: str, csv_file) -> None:
        """Check every row of FILE.csv, then create or update the producer's products.

        Nothing is imported when any row is wrong; products absent from the file are
        kept as they are.
        """
        # The command speaks English; the locale selector needs a request otherwise.
        with force_locale("en"), write_intent():
            farm = _farm(producer_email)
            try:
                parsed = csv_io.parse_csv(csv_file)
                with click.progressbar(parsed.rows, label="Checking rows") as rows:
                    plan = csv_io.check_rows(db.session, farm, parsed, rows)
            except csv_io.CsvImportError as exc:
                db.session.rollback()
                for error in exc.errors:
                    where = f"line {error.line}" if error.line else "file"
                    click.echo(f"{where}: {error.message}", err=True)
                raise click.ClickException(
                    f"Nothing was imported: {len(exc.errors)} problem(s) in {csv_file.name}."
                ) from exc
            with click.progressbar(plan.products, label="Writing products") as products:
                summary = csv_io.apply_plan(db.session, farm, plan, products)
            db.session.commit()
            click.echo(csv_io.summary_message(summary))
            click.echo("Products absent from the file were left as they are.")

    @catalogue.command("export")
    @click.option("--producer-email", required=True, help="E-mail of the producer's account.")
    @click.option(
        "-o", "--output", type=click.Path(dir_okay=False, writable=True),
        help="File to write (UTF-8 with BOM); standard output if omitted.",
    )
    @click.option(
        "--language", type=click.Choice(["en", "fr"]), default="en", show_default=True,
        help="en: comma-separated, decimal point, English column names and codes; "
             "fr: semicolons, decimal comma, French names, as French spreadsheets read.",
    )
    def export_command(producer_email: str, output: str | None, language: str) -> None:
        """Write the producer's catalogue as CSV, in the format `catalogue import` reads."""
        farm = _farm(producer_email)
        style = csv_style(language)
        rows = csv_io.export_rows(db.session, farm, style)
        data = style.encode(rows)
        if output is None or output == "-":
            click.echo(data, nl=False)  # bytes go to the binary stdout as they are
            return
        with open(output, "wb") as fh:
            fh.write(data)
        click.echo(f"Wrote {len(rows) - 1} row(s) of {farm.name} to {output}.", err=True)
