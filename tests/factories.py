"""Test data factories: plain functions that build valid rows with sensible defaults."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from marketplace.accounts.models import Role, User
from marketplace.catalogue.models import ALL_MONTHS, Category, Product, Variant
from marketplace.extensions import db
from marketplace.producers.models import Label, Producer
from tests.clock import now

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def user(role: Role = Role.HOUSEHOLD, *, email: str | None = None, approved: bool = True,
         name: str | None = None, commit: bool = True) -> User:
    n = next(_seq)
    u = User(
        email=email or f"user{n}@example.org",
        password_hash=_HASH,
        display_name=name or f"User {n}",
        role=role,
        approved_at=now() if approved and role in (Role.PRODUCER, Role.RESTAURANT) else None,
    )
    db.session.add(u)
    db.session.flush()
    if commit:
        db.session.commit()
    return u


def producer(*, name: str | None = None, approved: bool = True, labels: tuple[str, ...] = (),
             commune: str = "Elven", lat: float = 47.7325, lon: float = -2.5894,
             commit: bool = True) -> Producer:
    u = user(Role.PRODUCER, approved=approved, commit=False)
    p = Producer(user_id=u.id, name=name or f"Ferme {u.id}", commune=commune,
                 latitude=lat, longitude=lon)
    if labels:
        p.labels = list(db.session.scalars(select(Label).where(Label.code.in_(labels))))
    db.session.add(p)
    db.session.flush()
    if commit:
        db.session.commit()
    return p


def category(slug: str = "vegetables") -> Category:
    return db.session.scalar(select(Category).where(Category.slug == slug))


def product(owner: Producer | None = None, *, name: str | None = None,
            category_slug: str = "vegetables", season_months: int = ALL_MONTHS,
            variants: tuple[tuple[str, int, int], ...] = (("1 kg", 350, 10),),
            is_active: bool = True, commit: bool = True) -> Product:
    owner = owner or producer(commit=False)
    p = Product(
        producer_id=owner.id,
        category_id=category(category_slug).id,
        name=name or f"Produit {next(_seq)}",
        season_months=season_months,
        is_active=is_active,
    )
    db.session.add(p)
    db.session.flush()
    for position, (label, price, stock) in enumerate(variants):
        db.session.add(Variant(product_id=p.id, label=label, price_cents=price, stock=stock,
                               position=position))
    db.session.flush()
    if commit:
        db.session.commit()
    return p
