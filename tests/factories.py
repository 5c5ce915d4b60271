"""Test data factories: plain functions that build valid rows with sensible defaults;
orders, restaurants' doors and invoices go through the real services."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from marketplace.accounts.models import Role, User
from marketplace.catalogue.models import ALL_MONTHS, Category, Product, Variant
from marketplace.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentMethod
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.pickup.models import (
    DeliveryRound,
    PickupKind,
    PickupPoint,
    PickupSlot,
    SlotStatus,
)
from marketplace.pickup.rounds import local_weekday
from marketplace.producers.models import Label, Producer
from marketplace.wholesale import door
from marketplace.wholesale.invoice_models import Invoice, InvoiceKind
from marketplace.wholesale.models import RestaurantProfile
from tests.clock import PARIS_TZ, now

PASSWORD = "correct horse battery"
TZ = PARIS_TZ
VANNES = (47.6582, -2.7608)   # about 15 km from the default farm at Elven
RENNES = (48.1173, -1.6778)   # about 80 km away
_seq = itertools.count(1)
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def user(role: Role = Role.HOUSEHOLD, *, email: str | None = None, approved: bool = True,
         name: str | None = None, confirmed: bool = True, commit: bool = True) -> User:
    n = next(_seq)
    u = User(
        email=email or f"user{n}@example.org",
        password_hash=_HASH,
        display_name=name or f"User {n}",
        role=role,
        approved_at=now() if approved and role in (Role.PRODUCER, Role.RESTAURANT) else None,
        email_confirmed_at=now() if confirmed else None,
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


# Pickup points, slots and rounds -------------------------------------------------------------

def pickup_point(name: str = "Café de la gare", *, at: tuple[float, float] = VANNES,
                 host: User | None = None, kind: PickupKind = PickupKind.CAFE,
                 commit: bool = True, **kw) -> PickupPoint:
    point = PickupPoint(name=name, kind=kind, latitude=at[0], longitude=at[1],
                        host_id=host.id if host else None, **kw)
    db.session.add(point)
    db.session.flush()
    if commit:
        db.session.commit()
    return point


def slot(point: PickupPoint, *, starts_in: timedelta = timedelta(days=3),
         cutoff_in: timedelta = timedelta(days=1), capacity: int = 12, taken: int = 0,
         status: SlotStatus = SlotStatus.OPEN) -> PickupSlot:
    """A two-hour slot at the point, ``starts_in`` from now, cut off ``cutoff_in`` from now."""
    start = now()
    made = PickupSlot(pickup_point_id=point.id, starts_at=start + starts_in,
                      ends_at=start + starts_in + timedelta(hours=2),
                      cutoff_at=start + cutoff_in, capacity=capacity, taken=taken,
                      status=status, closed_reason="")
    db.session.add(made)
    db.session.commit()
    return made


def delivery_round(producer: Producer, slot: PickupSlot) -> DeliveryRound:
    """The producer delivers to the slot's point on the slot's weekday (in Paris)."""
    made = DeliveryRound(producer_id=producer.id, pickup_point_id=slot.pickup_point_id,
                         weekday=local_weekday(slot, TZ))
    db.session.add(made)
    db.session.commit()
    return made


def slots_of(point: PickupPoint) -> list[PickupSlot]:
    """The point's slots, earliest first."""
    return list(db.session.scalars(
        select(PickupSlot).where(PickupSlot.pickup_point_id == point.id)
        .order_by(PickupSlot.starts_at)))


# Orders -------------------------------------------------------------------------------------

def order(buyer: User, slot: PickupSlot, cart: dict, method: PaymentMethod = PaymentMethod.AT_PICKUP
          ) -> Order:
    """An order through checkout, now, for ``cart`` (variant id -> quantity); one
    sub-order per farm."""
    placed = orders.checkout(db.session, buyer=buyer, cart={str(k): v for k, v in cart.items()},
                             slot_id=slot.id, now=now(), tz=TZ, payment_method=method,
                                 config=current_app.config)
    db.session.commit()
    return placed


def restaurant_order(buyer: User, slot: PickupSlot, cart: dict,
                     method: PaymentMethod = PaymentMethod.INVOICE) -> Order:
    """A restaurant's order through checkout: on invoice unless ``method`` says otherwise."""
    return order(buyer, slot, cart, method)


def card_order(market: dict, buyer_index: int = 0, cart: dict | None = None) -> Order:
    """An order to pay by card, pending payment, in the ``hosted_market`` fixture."""
    m = market
    return order(m["buyers"][buyer_index], m["slot"],
                 cart or {m["carrots"].id: 2, m["eggs"].id: 1}, PaymentMethod.CARD)


def paid_intent(app, localstripe, order: Order) -> dict:
    """Pay the order's intent at Stripe without telling the site (a lost webhook)."""
    config = app.config
    with app.test_request_context():
        payment = payments.start_card_payment(app.extensions["sqlalchemy"].session, order,
                                              config)
    app.extensions["sqlalchemy"].session.commit()
    intent = gateway.confirm_payment_intent(config, payment.intent_id,
                                            payment_method=localstripe.card(),  # CARD_OK
                                            idempotency_key=f"test-{order.id}")
    assert intent["status"] == "succeeded"
    return intent


def confirmed_card_order(app, localstripe, market: dict, buyer_index: int = 0,
                         cart: dict | None = None) -> Order:
    """A card order paid at Stripe and confirmed from the intent."""
    placed = card_order(market, buyer_index, cart=cart)
    intent = paid_intent(app, localstripe, placed)
    with app.test_request_context():
        assert payments.apply_intent(db.session, intent, app.config, now=now()) == "confirmed"
        db.session.commit()
    return placed


# Restaurants and invoices -------------------------------------------------------------------

def restaurant_profile(user: User, *, name: str = "Le Bistrot", terms: int | None = 30,
                       at: tuple[float, float] | None = None, delivery_hours: str = "",
                       commit: bool = True) -> RestaurantProfile:
    """The business behind a restaurant account; ``terms``: days to pay an invoice."""
    profile = RestaurantProfile(
        user_id=user.id, business_name=name, siret="73282932000074",
        vat_number="FR44732829320", address="3 rue du Port", postcode="56000",
        commune="Vannes", latitude=at[0] if at else None, longitude=at[1] if at else None,
        delivery_hours=delivery_hours, payment_terms_days=terms)
    db.session.add(profile)
    if commit:
        db.session.commit()
    return profile


def restaurant(*, terms: int | None = 30, name: str = "Le Bistrot", approved: bool = True,
               at: tuple[float, float] | None = None, delivery_hours: str = "") -> User:
    """A restaurant account with its profile (by default: 30 days' terms, no location)."""
    user_ = user(Role.RESTAURANT, approved=approved)
    restaurant_profile(user_, name=name, terms=terms, at=at, delivery_hours=delivery_hours)
    return user_


def door_restaurant(*, name: str = "Le Bistrot", approved: bool = True, located: bool = True,
                    terms: int | None = None) -> User:
    """A restaurant at Vannes that receives deliveries and, by default, pays when ordering."""
    return restaurant(name=name, approved=approved, terms=terms,
                      at=VANNES if located else None, delivery_hours="Tue-Sat 8:00-11:00")


def restaurant_door(user: User, weekdays: tuple[int, ...] = (1, 3)) -> PickupPoint:
    """The restaurant's door, opened 08:00-11:00 on ``weekdays`` with a 24-hour cut-off."""
    point = door.save_door(
        db.session, user, db.session.scalar(
            select(RestaurantProfile).where(RestaurantProfile.user_id == user.id)),
        weekdays=set(weekdays), starts_at=datetime(2026, 1, 1, 8).time(),
        ends_at=datetime(2026, 1, 1, 11).time(), cutoff_hours=24, now=now(), tz=TZ)
    db.session.commit()
    return point


def invoices_of(order: Order) -> list[Invoice]:
    """The order's invoices (not credit notes), one per farm, by farm."""
    return list(db.session.scalars(
        select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == InvoiceKind.INVOICE)
        .order_by(Invoice.producer_id)))


def invoice(buyer: User, slot: PickupSlot, cart: dict) -> Invoice:
    """The first farm's invoice of a restaurant's order placed on invoice."""
    return invoices_of(restaurant_order(buyer, slot, cart))[0]
