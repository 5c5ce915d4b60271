"""`flask seed-demo`: fill an empty database with demo data (see docs/demo.md)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, text

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.sqlite import write_intent

from . import seed as seeding
from .territory import PASSWORDS

LARGE_PRODUCERS = 3000
LARGE_PRODUCTS = 100_000
ANALYZED_TABLES = ("users", "producers", "producer_labels", "products", "variants")


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and exit 0) when the database already has users.")
@click.option("--size", type=click.Choice(["demo", "large"]), default="demo", show_default=True,
              help="demo: 30 farms around Vannes; large: a synthetic set over France.")
@click.option("--producers", type=click.IntRange(min=1), default=None,
              help=f"Large size: number of producers [default: {LARGE_PRODUCERS}].")
@click.option("--products", type=click.IntRange(min=0), default=None,
              help=f"Large size: number of products [default: {LARGE_PRODUCTS}].")
@click.option("--seed", "random_seed", type=int, default=seeding.DEFAULT_SEED,
              show_default=True, help="Seed of the random generator (same seed, same data).")
@with_appcontext
def seed_demo_command(if_empty: bool, size: str, producers: int | None, products: int | None,
                      random_seed: int) -> None:
    """Fill an empty database with demo farms, products and accounts."""
    if size == "demo" and (producers is not None or products is not None):
        raise click.UsageError("--producers and --products go with --size large.")
    hash_method = current_app.config["PASSWORD_HASH_METHOD"]
    with write_intent():
        try:
            existing = db.session.scalar(select(func.count()).select_from(User))
            if existing:
                db.session.rollback()
                if if_empty:
                    click.echo(f"The database already has {existing} user(s): "
                               "no demo data added.")
                    return
                raise click.ClickException(
                    f"The database already has {existing} user(s). seed-demo only fills an "
                    "empty database: use a new one, or pass --if-empty to skip quietly."
                )
            if size == "demo":
                result = seeding.seed_demo(
                    db.session, hash_method=hash_method, seed=random_seed,
                    tz=current_app.config["BABEL_DEFAULT_TIMEZONE"],
                    upload_folder=current_app.config["UPLOAD_FOLDER"],
                    thumb_size=current_app.config["THUMBNAIL_SIZE"],
                )
            else:
                producers = LARGE_PRODUCERS if producers is None else producers
                products = LARGE_PRODUCTS if products is None else products
                with click.progressbar(length=producers + products,
                                       label="Seeding producers and products") as bar:
                    result = seeding.seed_large(
                        db.session, hash_method=hash_method, producers=producers,
                        products=products, seed=random_seed, progress=bar.update,
                    )
            db.session.commit()
            # Fresh planner statistics: without them SQLite sorts the whole products
            # table for the catalogue's first page instead of walking ix_products_name.
            for table in ANALYZED_TABLES:
                db.session.execute(text(f"ANALYZE {table}"))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise

    pending = ""
    if result.pending_producers:
        pending = f" ({result.pending_producers} waiting for approval)"
    click.echo(
        f"Seeded {result.producers} producers{pending}, {result.products} products, "
        f"{result.variants} variants and {result.users} users in {result.seconds:.1f} s."
    )
    _print_logins(result)


def _print_logins(result: seeding.SeedResult) -> None:
    rows = [(login.email, login.role.value, login.password, login.note)
            for login in result.logins]
    if result.producer_emails:
        first, last = result.producer_emails
        note = f"{result.producers} farms: {first.split('@')[0]} to {last.split('@')[0]}"
        rows.append((first, "producer", PASSWORDS[Role.PRODUCER], note))
    headers = ("email", "role", "password", "")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(3)]
    click.echo("\nDemo logins (demonstration passwords: never use them in production):")
    for email, role, password, note in [headers, *rows]:
        line = f"  {email:<{widths[0]}}  {role:<{widths[1]}}  {password:<{widths[2]}}  {note}"
        click.echo(line.rstrip())
