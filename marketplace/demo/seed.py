"""Writing the demo data: SQLAlchemy Core bulk inserts on the session's connection.

Both sizes go through the same few executemany INSERTs (users, producers, labels,
products, variants), RETURNING the new ids in parameter order so that children
can point at their parents on SQLite and PostgreSQL alike. Nothing here commits:
the command does, once, at the end.
"""

from __future__ import annotations

import enum
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time
from time import perf_counter

from flask import current_app
from sqlalchemy import insert, select, text
from werkzeug.security import generate_password_hash

from marketplace.accounts.business_ids import (
    LA_POSTE_SIREN,
    valid_siren,
    valid_siret,
    vat_number_for,
)
from marketplace.accounts.models import ROLES_NEEDING_APPROVAL, Role, User
from marketplace.catalogue.models import Category, Product, Variant, months_to_mask
from marketplace.catalogue.reference import ensure_reference_data
from marketplace.media import save_photo
from marketplace.models import CURRENCY, utcnow
from marketplace.orders.models import PaymentMethod
from marketplace.orders.services import CheckoutError, checkout
from marketplace.pickup.models import (
    DeliveryRound,
    PickupKind,
    PickupPoint,
    PickupSchedule,
    PickupSlot,
    SlotStatus,
)
from marketplace.pickup.rounds import can_serve
from marketplace.pickup.services import generate_slots
from marketplace.producers.models import Label, Producer, producer_labels
from marketplace.wholesale import door
from marketplace.wholesale.models import RestaurantProfile

from . import food, france
from .photos import paint_farm
from .products import FARM_KINDS, POOLS, QUALIFIERS, Template
from .territory import (
    COMMUNES,
    DEMO_DOMAIN,
    FARMS,
    PASSWORDS,
    PENDING_FARM,
    PERSONAS,
    VANNES,
    Farm,
)

DEFAULT_SEED = 56  # Morbihan's département number
LARGE_DOMAIN = f"large.{DEMO_DOMAIN}"
BATCH_SIZE = 5000
JITTER_KM = 0.4  # farms sit within this distance of their commune's centre

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Login:
    email: str
    role: Role
    password: str
    note: str = ""


@dataclass
class SeedResult:
    producers: int = 0
    products: int = 0
    variants: int = 0
    users: int = 0
    pending_producers: int = 0
    seconds: float = 0.0
    logins: list[Login] = field(default_factory=list)
    # Large set: the producer accounts, summarised instead of listed.
    producer_emails: tuple[str, str] | None = None


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def password_hashes(method: str) -> dict[Role, str]:
    """One hash per distinct demo password (scrypt is slow: never hash per user)."""
    by_password: dict[str, str] = {}
    for password in PASSWORDS.values():
        by_password.setdefault(password, generate_password_hash(password, method=method))
    return {role: by_password[password] for role, password in PASSWORDS.items()}


class _Writer:
    """Bulk INSERTs on the session's connection, with shared timestamps.

    SQLite (and any other database): Core executemany, RETURNING the new ids in
    parameter order. PostgreSQL with psycopg: ids reserved from the table's
    sequence, then COPY FROM STDIN, several times faster than multi-row INSERTs.
    """

    def __init__(self, session):
        self.conn = session.connection()
        self.now = utcnow()
        dialect = self.conn.dialect
        self.use_copy = dialect.name == "postgresql" and dialect.driver == "psycopg"

    def _stamp(self, rows: Sequence[dict]) -> None:
        for row in rows:
            row["created_at"] = self.now
            row["updated_at"] = self.now

    def insert_ids(self, table, rows: Sequence[dict], stamp: bool = True) -> list[int]:
        if not rows:
            return []
        if stamp:
            self._stamp(rows)
        if self.use_copy:
            ids = list(self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                     "FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)},
            ).scalars())
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
            self._copy(table, rows)
            return ids
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(self.conn.execute(stmt, list(rows)).scalars())

    def insert(self, table, rows: Sequence[dict], stamp: bool = True) -> None:
        if not rows:
            return
        if stamp:
            self._stamp(rows)
        if self.use_copy:
            self._copy(table, rows)
        else:
            self.conn.execute(insert(table), list(rows))

    def _copy(self, table, rows: Sequence[dict]) -> None:
        from psycopg import sql  # PostgreSQL only: psycopg is an optional extra

        columns = list(rows[0])
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        cursor = self.conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                # Enums go in as their values (psycopg would write the member's name).
                copy.write_row([v.value if isinstance(v, enum.Enum) else v
                                for v in (row[c] for c in columns)])


def _user_row(email: str, name: str, role: Role, pw_hash: str, *, approved: bool,
              approved_by_id: int | None, now, locale: str | None = None) -> dict:
    needs = role in ROLES_NEEDING_APPROVAL
    return {
        "email": email,
        "password_hash": pw_hash,
        "display_name": name,
        "role": role,
        "approved_at": now if needs and approved else None,
        "approved_by_id": approved_by_id if needs and approved else None,
        "locale": locale,
        # The demo's addresses are not real: its accounts are confirmed from the start.
        "email_confirmed_at": now,
    }


def _insert_personas(w: _Writer, hashes: dict[Role, str]) -> tuple[int, list[Login], int]:
    """The admin first (it approves the others), then the other non-producer accounts."""
    admin, *others = PERSONAS
    assert admin.role == Role.ADMIN
    (admin_id,) = w.insert_ids(User.__table__, [
        _user_row(f"{admin.email}@{DEMO_DOMAIN}", admin.name, admin.role, hashes[admin.role],
                  approved=True, approved_by_id=None, now=w.now, locale=admin.locale)
    ])
    w.insert_ids(User.__table__, [
        _user_row(f"{p.email}@{DEMO_DOMAIN}", p.name, p.role, hashes[p.role],
                  approved=p.approved, approved_by_id=admin_id, now=w.now, locale=p.locale)
        for p in others
    ])
    logins = [Login(f"{p.email}@{DEMO_DOMAIN}", p.role, PASSWORDS[p.role],
                    _note(p.name, p.note, p.approved)) for p in PERSONAS]
    return admin_id, logins, len(PERSONAS)


def _note(name: str, extra: str, approved: bool) -> str:
    parts = [name] + ([extra] if extra else []) + ([] if approved else ["waiting for approval"])
    return ", ".join(parts)


def _reference_ids(session) -> tuple[dict[str, int], dict[str, int]]:
    ensure_reference_data(session)
    categories = dict(session.execute(select(Category.slug, Category.id)).all())
    labels = dict(session.execute(select(Label.code, Label.id)).all())
    return categories, labels


def _price(cents: int, factor: float) -> int:
    return max(10, int(round(cents * factor / 10.0)) * 10)


def _stocks(rng: random.Random, prices: Sequence[int]) -> list[int]:
    """About one product in ten sold out; otherwise stocks that suit the prices."""
    if rng.random() < 0.07:
        return [0] * len(prices)
    stocks = []
    for price in prices:
        top = 60 if price < 1500 else 20 if price < 5000 else 6
        stocks.append(0 if rng.random() < 0.04 else rng.randint(1 if top < 10 else 3, top))
    return stocks


class _Catalogue:
    """Turns templates into product and variant rows, and writes them in batches."""

    def __init__(self, w: _Writer, rng: random.Random, categories: dict[str, int],
                 progress: Progress | None = None, batch_size: int = BATCH_SIZE):
        self.w = w
        self.rng = rng
        self.categories = categories
        self.progress = progress
        self.batch_size = batch_size
        self.pending: list[tuple[dict, list[dict]]] = []
        self.products = 0
        self.variants = 0
        self._masks: dict[tuple[int, ...], int] = {}

    def add(self, producer_id: int, template: Template, price_factor: float,
            name: str | None = None) -> None:
        season = self._masks.get(template.season)
        if season is None:
            season = self._masks[template.season] = months_to_mask(template.season)
        product = {
            "producer_id": producer_id,
            "category_id": self.categories[template.category],
            "name": name or template.name,
            "description": template.description,
            "vat_rate_bp": template.vat_bp,
            "season_months": season,
            "is_active": True,
            **food.product_fields(template),
        }
        prices = [_price(cents, price_factor) for _, cents in template.variants]
        variants = [
            {"label": label, "price_cents": price, "currency": CURRENCY, "stock": stock,
             "is_active": True, "position": position,
             **dict(zip(("net_quantity", "net_unit"), food.net_quantity(label), strict=True))}
            for position, ((label, _), price, stock) in enumerate(
                zip(template.variants, prices, _stocks(self.rng, prices), strict=True))
        ]
        self.pending.append((product, variants))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        ids = self.w.insert_ids(Product.__table__, [p for p, _ in self.pending])
        rows = []
        for product_id, (_, variants) in zip(ids, self.pending, strict=True):
            for v in variants:
                v["product_id"] = product_id
                rows.append(v)
        self.w.insert(Variant.__table__, rows)
        if self.progress:
            self.progress(len(self.pending))
        self.products += len(self.pending)
        self.variants += len(rows)
        self.pending = []


def _pick(rng: random.Random, pool: list[Template], how_many) -> list[Template]:
    """A subset of a pool in the pool's own order (so a farm's list reads naturally)."""
    if how_many is None:
        return list(pool)
    if isinstance(how_many, tuple):
        how_many = rng.randint(*how_many)
    chosen = set(rng.sample(range(len(pool)), min(how_many, len(pool))))
    return [t for i, t in enumerate(pool) if i in chosen]


def _jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    distance = km * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(angle) / 111.2
    dlon = distance * math.sin(angle) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def _radius_reaching_vannes(rng: random.Random, lat: float, lon: float) -> int:
    """15-50 km, and far enough for the farm to deliver in Vannes."""
    reach = distance_km((lat, lon), VANNES) + rng.randint(4, 15)
    return int(min(50, max(15, 5 * math.ceil(reach / 5))))


# Business identifiers ------------------------------------------------------------------

# First 8 digits of SIRENs no demo farm gets: the demo restaurants' (_demo_restaurants)
# and La Poste's, whose establishments follow a check rule of their own.
_TAKEN_SIREN_BODIES = frozenset({"73282932", "80295478", LA_POSTE_SIREN[:8]})


def _check_digit(prefix: str, valid: Callable[[str], bool]) -> str:
    """The digit that makes ``prefix + digit`` pass ``valid``: a Luhn check, which
    exactly one digit passes."""
    return next(d for d in "0123456789" if valid(prefix + d))


def business_ids(seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` distinct (SIRET, intra-EU VAT number) pairs, the same for the same seed,
    that pass the app's own checks (wholesale.services): a SIREN of 8 random digits and
    its Luhn key, the head office's NIC 0001 and the SIRET's key; the VAT number of that
    SIREN, key (12 + 3 * (SIREN % 97)) % 97. A generator of its own, so that the rest
    of the demo is the same as without identifiers."""
    rng = random.Random(f"business-ids-{seed}")
    bodies = [str(n) for n in rng.sample(range(10_000_000, 100_000_000),
                                         count + len(_TAKEN_SIREN_BODIES))]
    ids = []
    for body in [b for b in bodies if b not in _TAKEN_SIREN_BODIES][:count]:
        siren = body + _check_digit(body, valid_siren)
        siret = siren + "0001" + _check_digit(siren + "0001", valid_siret)
        ids.append((siret, vat_number_for(siren)))
    return ids


# Demo size ---------------------------------------------------------------------------

def seed_demo(session, *, hash_method: str, seed: int = DEFAULT_SEED,
              tz: str = "Europe/Paris", upload_folder: str | None = None,
              thumb_size: int = 400) -> SeedResult:
    """The Vannes territory: 30 approved farms, one waiting, and every kind of account.

    With an upload folder, each farm gets a painted picture as its photo."""
    started = perf_counter()
    rng = random.Random(seed)
    categories, label_ids = _reference_ids(session)
    w = _Writer(session)
    hashes = password_hashes(hash_method)
    admin_id, logins, users = _insert_personas(w, hashes)

    farms: list[tuple[Farm, bool]] = [(f, True) for f in FARMS] + [(PENDING_FARM, False)]
    emails = [f"{farm.email}@{DEMO_DOMAIN}" for farm, _ in farms]
    user_ids = w.insert_ids(User.__table__, [
        _user_row(email, farm.owner, Role.PRODUCER, hashes[Role.PRODUCER], approved=approved,
                  approved_by_id=admin_id, now=w.now, locale="fr")
        for email, (farm, approved) in zip(emails, farms, strict=True)
    ])
    users += len(user_ids)

    producer_rows = []
    for user_id, (farm, _), (siret, vat) in zip(user_ids, farms, business_ids(seed, len(farms)),
                                                strict=True):
        commune = COMMUNES[farm.commune]
        lat, lon = _jitter(rng, commune.latitude, commune.longitude, JITTER_KM)
        photo_path = thumb_path = None
        if upload_folder:
            photo_path, thumb_path = save_photo(paint_farm(farm.name), upload_folder, "farms",
                                                thumb_size)
        producer_rows.append({
            "user_id": user_id,
            "name": farm.name,
            "description": farm.description,
            "commune": commune.name,
            "postcode": commune.postcode,
            "address": farm.address,
            "siret": siret,
            "vat_number": vat,
            "latitude": lat,
            "longitude": lon,
            "delivery_radius_km": _radius_reaching_vannes(rng, lat, lon),
            "photo_path": photo_path,
            "thumb_path": thumb_path,
        })
    producer_ids = w.insert_ids(Producer.__table__, producer_rows)
    w.insert(producer_labels, [
        {"producer_id": pid, "label_id": label_ids[code]}
        for pid, (farm, _) in zip(producer_ids, farms, strict=True)
        for code in farm.labels
    ], stamp=False)

    catalogue = _Catalogue(w, rng, categories)
    for pid, (farm, _) in zip(producer_ids, farms, strict=True):
        factor = rng.uniform(0.92, 1.10)
        for pool_name, how_many in farm.pools:
            for template in _pick(rng, POOLS[pool_name], how_many):
                catalogue.add(pid, template, factor)
    catalogue.flush()
    _insert_pickup_points(session, w)
    _schedule_demo_pickups(session, tz=tz)
    _demo_restaurants(session, tz=tz)
    _demo_orders(session, rng, hashes[Role.HOUSEHOLD], tz=tz)

    logins += [
        Login(email, Role.PRODUCER, PASSWORDS[Role.PRODUCER], _note(farm.name, "", approved))
        for email, (farm, approved) in zip(emails, farms, strict=True)
    ]
    return SeedResult(
        producers=len(producer_ids), products=catalogue.products, variants=catalogue.variants,
        users=users, pending_producers=1, seconds=perf_counter() - started, logins=logins,
    )


# Pickup points around Vannes: (name, kind, address, postcode, commune, lat, lon, host email).
# Points are placed at the commune's centre (GeoNames) or a well-known place in it.
PICKUP_POINTS = (
    ("Épicerie Le Relais", PickupKind.SHOP, "Place des Lices", "56000", "Vannes",
     47.6571, -2.7578, "host"),
    ("Café associatif de Kercado", PickupKind.THIRD_PLACE, "Rue Jean Gougaud", "56000",
     "Vannes", 47.6466, -2.7788, "host"),
    ("Le Bistrot du Port", PickupKind.RESTAURANT, "Quai Éric Tabarly", "56000", "Vannes",
     47.6530, -2.7560, "restaurant"),
    ("Mairie de Séné", PickupKind.TOWN_HALL, "Place de la Fontaine", "56860", "Séné",
     47.6195, -2.7360, None),
    ("La Fabrique, tiers-lieu", PickupKind.THIRD_PLACE, "Rue du Général de Gaulle", "56890",
     "Saint-Avé", 47.6878, -2.7347, None),
    ("Les Paniers d'Arradon", PickupKind.ASSOCIATION, "Salle des Vents", "56610", "Arradon",
     47.6275, -2.8225, None),
    ("Mairie de Theix-Noyalo", PickupKind.TOWN_HALL, "Place de la Mairie", "56450",
     "Theix-Noyalo", 47.6286, -2.6539, None),
    ("Magasin de la Ferme du Lindin", PickupKind.FARM_SHOP, "Le Lindin", "56420", "Plaudren",
     47.7780, -2.6930, None),
)


# Weekly openings of the demo points: (point name, weekday 0=Monday, opens, closes,
# orders per slot, cut-off as days before the opening and the local time that day).
# Cut-offs as hosts say them ("the day before at 18 h"), not hours counted back
# (36 hours before 17:00 is 05:00, an hour nobody orders by).
PICKUP_OPENINGS = (
    ("Épicerie Le Relais", 3, time(17, 0), time(19, 0), 40, (1, time(18, 0))),
    ("Épicerie Le Relais", 5, time(10, 0), time(12, 0), 40, (1, time(18, 0))),
    ("Café associatif de Kercado", 2, time(17, 30), time(19, 30), 25, (1, time(12, 0))),
    ("Le Bistrot du Port", 1, time(15, 0), time(17, 0), 15, (1, time(18, 0))),
    ("Mairie de Séné", 4, time(16, 30), time(18, 30), 30, (2, time(18, 0))),
    ("La Fabrique, tiers-lieu", 3, time(18, 0), time(20, 0), 30, (1, time(18, 0))),
    ("Les Paniers d'Arradon", 4, time(18, 0), time(19, 30), 20, (2, time(20, 0))),
    ("Mairie de Theix-Noyalo", 2, time(16, 30), time(18, 30), 20, (1, time(18, 0))),
    ("Magasin de la Ferme du Lindin", 5, time(9, 0), time(12, 30), 50, (1, time(12, 0))),
)


def _schedule_demo_pickups(session, *, tz: str) -> None:
    """Openings, each farm's rounds (every opening within its delivery radius) and
    four weeks of dated slots, so that the demo can take orders at once."""
    from marketplace.geo.services import distance_km  # exact, not the local estimate

    points = {p.name: p for p in session.scalars(select(PickupPoint))}
    for name, weekday, opens, closes, capacity, (days, at) in PICKUP_OPENINGS:
        session.add(PickupSchedule(pickup_point_id=points[name].id, weekday=weekday,
                                   starts_at=opens, ends_at=closes, capacity=capacity,
                                   cutoff_days=days, cutoff_time=at))
    session.flush()
    approved = session.scalars(
        select(Producer).join(Producer.user).where(User.approved_at.is_not(None))
    ).all()
    for farm in approved:
        for name, weekday, *_ in PICKUP_OPENINGS:
            point = points[name]
            km = distance_km((farm.latitude, farm.longitude), (point.latitude, point.longitude))
            if km <= farm.delivery_radius_km:
                session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                          weekday=weekday))
    session.flush()
    generate_slots(session, weeks=4, now=utcnow(), tz=tz)


def _demo_restaurants(session, *, tz: str) -> None:
    """The restaurants' business details; the approved one has 30 days to pay its
    invoices and receives deliveries at its door on Tuesday and Friday mornings, where
    the farms within reach deliver on Tuesdays."""
    from marketplace.geo.services import distance_km  # exact, not the local estimate

    profiles = (
        # email key, business, SIRET, VAT number, address, postcode, commune, lat, lon, terms
        ("restaurant", "Le Bistrot du Port", "73282932000074", "FR44732829320",
         "Quai Éric Tabarly", "56000", "Vannes", 47.6530, -2.7560, 30),
        ("restaurant.pending", "Crêperie des Halles", "80295478500028", "FR12802954785",
         "Place des Lices", "56000", "Vannes", 47.6571, -2.7578, None),
    )
    for key, name, siret, vat, address, postcode, commune, lat, lon, terms in profiles:
        user = session.scalar(select(User).where(User.email == f"{key}@{DEMO_DOMAIN}"))
        profile = RestaurantProfile(
            user_id=user.id, business_name=name, siret=siret, vat_number=vat,
            address=address, postcode=postcode, commune=commune, latitude=lat,
            longitude=lon, delivery_hours="Mar-Sam 8:00-10:30", payment_terms_days=terms)
        session.add(profile)
        session.flush()
        if user.approved_at is None:
            continue
        point = door.save_door(session, user, profile, weekdays={1, 4},
                               starts_at=time(8, 0), ends_at=time(10, 30), cutoff_hours=24,
                               now=utcnow(), tz=tz)
        for farm in session.scalars(
                select(Producer).join(Producer.user).where(User.approved_at.is_not(None))):
            km = distance_km((farm.latitude, farm.longitude), (point.latitude, point.longitude))
            if km <= farm.delivery_radius_km:
                session.add(DeliveryRound(producer_id=farm.id, pickup_point_id=point.id,
                                          weekday=1))
    session.flush()


# Neighbours who ordered for the host's next opening, so that the farms' pick lists
# and the host's distribution sheet have something to show.
DEMO_NEIGHBOURS = ("Yann Le Gall", "Sophie Tanguy", "Malo Guillemot", "Inès Benali",
                   "Paul Jégo")


def _demo_orders(session, rng: random.Random, household_hash: str, *, tz: str) -> None:
    """Pay-at-pickup orders for the next opening of the host's shop, placed through the
    real checkout (stock and places taken as for anyone)."""

    now = utcnow()
    slot = session.scalars(
        select(PickupSlot).join(PickupSlot.pickup_point)
        .where(PickupPoint.name == PICKUP_POINTS[0][0], PickupSlot.status == SlotStatus.OPEN,
               PickupSlot.cutoff_at > now)
        .order_by(PickupSlot.starts_at)
    ).first()
    if slot is None:
        return
    farms = [f for f in session.scalars(
        select(Producer).join(Producer.user).where(User.approved_at.is_not(None))
        .order_by(Producer.id)) if can_serve(session, f, slot, tz=tz)]
    variants = list(session.scalars(
        select(Variant).join(Variant.product)
        .where(Product.producer_id.in_([f.id for f in farms]), Product.is_active.is_(True),
               Variant.is_active.is_(True), Variant.stock >= 5)
        .order_by(Variant.id)))
    if not variants:
        return
    buyers = [session.scalar(select(User).where(User.email == f"household@{DEMO_DOMAIN}"))]
    for n, name in enumerate(DEMO_NEIGHBOURS, start=1):
        buyers.append(User(email=f"neighbour{n}@{DEMO_DOMAIN}", display_name=name,
                           password_hash=household_hash, role=Role.HOUSEHOLD, locale="fr",
                           email_confirmed_at=now))
        session.add(buyers[-1])
    session.flush()
    for buyer in buyers:
        cart = {str(v.id): rng.randint(1, 2) for v in rng.sample(variants, k=3)}
        try:
            with session.begin_nested():
                checkout(session, buyer=buyer, cart=cart, slot_id=slot.id, now=now, tz=tz,
                         payment_method=PaymentMethod.AT_PICKUP, config=current_app.config)
        except CheckoutError:
            continue  # a demo order that does not fit is simply left out


def _insert_pickup_points(session, w: _Writer) -> None:
    emails = {f"{key}@{DEMO_DOMAIN}" for *_, key in PICKUP_POINTS if key}
    hosts = dict(session.execute(
        select(User.email, User.id).where(User.email.in_(sorted(emails)))
    ).all())
    w.insert(PickupPoint.__table__, [
        {"name": name, "kind": kind, "description": "", "address": address,
         "postcode": postcode, "commune": commune, "latitude": lat, "longitude": lon,
         "is_active": True,
         "host_id": hosts.get(f"{host}@{DEMO_DOMAIN}") if host else None}
        for name, kind, address, postcode, commune, lat, lon, host in PICKUP_POINTS
    ])


# Large size ------------------------------------------------------------------------------

_PREFIXES = {
    "market_garden": ("Les Jardins de", "Maraîchage de", "Le Potager de", "Ferme maraîchère de"),
    "orchard": ("Les Vergers de", "Cidrerie de", "Domaine de"),
    "small_fruit": ("Les Petits Fruits de", "Les Fraises de"),
    "dairy": ("Laiterie de", "Ferme laitière de", "GAEC de"),
    "goat": ("Chèvrerie de", "Les Chèvres de"),
    "beef": ("Ferme de", "Élevage de", "GAEC de"),
    "pork": ("Ferme de", "Porcs fermiers de"),
    "lamb": ("Bergerie de",),
    "poultry": ("Volailles de", "La Basse-Cour de", "Ferme avicole de"),
    "bakery": ("Fournil de", "Boulangerie paysanne de"),
    "beekeeper": ("Rucher de", "Les Ruchers de", "Miellerie de"),
    "mill": ("Moulin de",),
    "brewery": ("Brasserie de",),
}
_PLACES = (
    "Kerlann", "Kerbiquet", "Penhoët", "Coët-Bihan", "Lannvaux", "Ros-Glas", "Trégaret",
    "la Motte", "Bel-Air", "la Grange", "Beauséjour", "la Vallée", "la Fontaine", "Mont-Joli",
    "la Croix-Blanche", "la Lande", "Bois-Joli", "la Prairie", "Champ-Long", "la Borde",
    "le Bois-Guillaume", "le Moulin-Neuf", "le Pré-Vert", "le Chêne-Vert", "le Puits",
    "le Clos-Fleuri", "le Haut-Bourg", "le Mesnil", "le Plessis", "le Val", "les Tilleuls",
    "les Peupliers", "les Granges", "les Noues", "les Aulnes", "les Bruyères", "les Sources",
    "Saint-Martin", "Sainte-Anne", "Montplaisir", "Maupertuis", "Roquefeuille", "Castelnau",
    "Lascombes", "Belvèze", "Aiguebelle", "Fontfroide", "Pradelles", "Vernet", "Rochefort",
    "Beaulieu", "Bellevue", "Hautefort", "Auberive", "Courcelles", "Villeneuve", "Mirabel",
    "Estrées", "Ormesson", "Verneuil", "Champagne", "Varennes", "Ussel", "Arçay", "Orval",
)
_FIRST = ("Jean", "Marie", "Pierre", "Anne", "Louis", "Claire", "Paul", "Julie", "Marc",
          "Sophie", "Luc", "Camille", "Hugo", "Léa", "Thomas", "Manon", "Nicolas", "Chloé",
          "Antoine", "Laura", "Yann", "Gaëlle", "Mathieu", "Élodie", "Romain", "Pauline")
_LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
         "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
         "Le Gall", "Le Goff", "Guillou", "Jaouen", "Etcheverry", "Arnaud", "Faure", "Rey")
_KIND_FR = {
    "market_garden": "maraîchage", "orchard": "vergers et cidre", "small_fruit": "petits fruits",
    "dairy": "lait et fromages", "goat": "chèvrerie", "beef": "élevage bovin",
    "pork": "élevage porcin", "lamb": "élevage ovin", "poultry": "volailles et œufs",
    "bakery": "paysan boulanger", "beekeeper": "apiculture", "mill": "moulin",
    "brewery": "brasserie",
}
_MEAT_KINDS = frozenset({"beef", "pork", "lamb", "poultry"})


def _of(prefix: str, place: str) -> str:
    """French elision: "Ferme de" + "le Val" -> "Ferme du Val"."""
    stem = prefix[: -len(" de")]
    if place.startswith("le "):
        return f"{stem} du {place[3:]}"
    if place.startswith("les "):
        return f"{stem} des {place[4:]}"
    if place[0].lower() in "aeiouyéèêâîôûh":
        return f"{stem} d'{place}"
    return f"{prefix} {place}"


def _mainland_point(rng: random.Random) -> tuple[float, float]:
    while True:
        lat = rng.uniform(france.LAT_MIN, france.LAT_MAX)
        lon = rng.uniform(france.LON_MIN, france.LON_MAX)
        if france.in_mainland(lat, lon):
            return round(lat, 5), round(lon, 5)


def _nearest_town(lat: float, lon: float) -> tuple[str, str]:
    k = math.cos(math.radians(lat))
    name, postcode, _, _ = min(
        france.TOWNS, key=lambda t: (t[2] - lat) ** 2 + ((t[3] - lon) * k) ** 2
    )
    return name, postcode


def _large_labels(rng: random.Random, kind: str) -> Iterable[str]:
    if rng.random() < 0.30:
        yield "AB"
    if rng.random() < 0.15:
        yield "HVE"
    if kind in _MEAT_KINDS and rng.random() < 0.40:
        yield "LR"
    if rng.random() < 0.02:
        yield "AOP"
    if rng.random() < 0.05:
        yield "NP"
    if rng.random() < 0.10:
        yield "BBC"


def seed_large(session, *, hash_method: str, producers: int, products: int,
               seed: int = DEFAULT_SEED, progress: Progress | None = None,
               batch_size: int = BATCH_SIZE) -> SeedResult:
    """`producers` approved farms over mainland France and exactly `products` products."""
    if producers < 1 or products < 0:
        raise ValueError("need at least one producer and no negative product count")
    started = perf_counter()
    rng = random.Random(seed)
    categories, label_ids = _reference_ids(session)
    w = _Writer(session)
    hashes = password_hashes(hash_method)
    admin_id, logins, users = _insert_personas(w, hashes)

    kinds = list(FARM_KINDS)
    weights = [FARM_KINDS[k][1] for k in kinds]
    pools = {k: [t for name in FARM_KINDS[k][0] for t in POOLS[name]] for k in kinds}
    width = max(5, len(str(producers)))

    first_email = last_email = ""
    farm_kinds: list[tuple[int, str]] = []
    identifiers = business_ids(seed, producers)
    for start in range(0, producers, batch_size):
        numbers = range(start + 1, min(producers, start + batch_size) + 1)
        batch_kinds = rng.choices(kinds, weights, k=len(numbers))
        emails = [f"farm{n:0{width}d}@{LARGE_DOMAIN}" for n in numbers]
        first_email = first_email or emails[0]
        last_email = emails[-1]
        user_ids = w.insert_ids(User.__table__, [
            _user_row(email, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", Role.PRODUCER,
                      hashes[Role.PRODUCER], approved=True, approved_by_id=admin_id,
                      now=w.now, locale="fr")
            for email in emails
        ])
        users += len(user_ids)
        rows = []
        for user_id, kind, (siret, vat) in zip(user_ids, batch_kinds,
                                               identifiers[start:start + len(numbers)],
                                               strict=True):
            lat, lon = _mainland_point(rng)
            town, postcode = _nearest_town(lat, lon)
            place = rng.choice(_PLACES)
            rows.append({
                "user_id": user_id,
                "name": _of(rng.choice(_PREFIXES[kind]), place),
                "description": f"Ferme de démonstration ({_KIND_FR[kind]}), près de {town}.",
                "commune": f"Environs de {town}",
                "postcode": postcode,
                "address": f"Lieu-dit {place[0].upper()}{place[1:]}",
                "siret": siret,
                "vat_number": vat,
                "latitude": lat,
                "longitude": lon,
                "delivery_radius_km": rng.randrange(15, 51, 5),
                "photo_path": None,
                "thumb_path": None,
            })
        producer_ids = w.insert_ids(Producer.__table__, rows)
        w.insert(producer_labels, [
            {"producer_id": pid, "label_id": label_ids[code]}
            for pid, kind in zip(producer_ids, batch_kinds, strict=True)
            for code in _large_labels(rng, kind)
        ], stamp=False)
        farm_kinds += zip(producer_ids, batch_kinds, strict=True)
        if progress:
            progress(len(producer_ids))

    # Spread exactly `products` products over the farms, unevenly (some farms sell
    # a handful of products, some a hundred).
    farm_weights = [rng.lognormvariate(0, 0.7) for _ in farm_kinds]
    counts = Counter(rng.choices(range(len(farm_kinds)), farm_weights, k=products))
    catalogue = _Catalogue(w, rng, categories, progress, batch_size)
    for index, (pid, kind) in enumerate(farm_kinds):
        pool = pools[kind]
        order = rng.sample(pool, len(pool))
        factor = rng.uniform(0.85, 1.20)
        for k in range(counts.get(index, 0)):
            template = order[k % len(order)]
            name = None
            if k >= len(order):
                name = f"{template.name} {rng.choice(QUALIFIERS[template.category])}"
            catalogue.add(pid, template, factor, name)
    catalogue.flush()

    return SeedResult(
        producers=len(farm_kinds), products=catalogue.products, variants=catalogue.variants,
        users=users, seconds=perf_counter() - started, logins=logins,
        producer_emails=(first_email, last_email),
    )
