from __future__ import annotations

import click
from flask import Flask, current_app

from marketplace.accounts import services
from marketplace.accounts.models import Role
from marketplace.extensions import db
from marketplace.models import utcnow
from marketplace.sqlite import write_intent


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--name", default="Admin")
    @click.password_option()
    def create_admin(email: str, name: str, password: str) -> None:
        """Create an administrator account."""
        with write_intent():
            try:
                services.create_user(
                    db.session,
                    email=email,
                    password=password,
                    display_name=name,
                    role=Role.ADMIN,
                    email_confirmed=True,
                    hash_method=current_app.config["PASSWORD_HASH_METHOD"],
                    now=utcnow(),
                )
            except services.EmailTaken as exc:
                raise click.ClickException(f"{email} already has an account") from exc
            db.session.commit()
        click.echo(f"Admin {email} created.")
