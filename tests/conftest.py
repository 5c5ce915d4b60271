"""Fixtures: app, db, client, a CSRF-aware form helper, a SQL query counter, a guard
for the logging that migrations reconfigure, and the markets several modules share.

The database is the one DATABASE_URL names (PostgreSQL in CI's second run) or a
SQLite file in a temporary folder. Tables are created once per session with
create_all (migrations are checked separately in test_migrations.py) and emptied
after each test.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import event

from marketplace import create_app
from marketplace.accounts.models import Role
from marketplace.catalogue.reference import ensure_reference_data
from marketplace.extensions import db as _db
from tests import clock as _clock
from tests import factories
from tests.clock import now

# smtp_server (session) and mailbox; stripe_server (session, localstripe) and localstripe;
# redis_url (a redis-server of the test's own)
pytest_plugins = ["tests.mailbox", "tests.stripe_server", "tests.redis_server"]

# The stateful test of money (test_money_machine.py): a few examples in `make test`, a
# long run in `make test-money` (HYPOTHESIS_PROFILE=money-long). Each step is real
# database and localstripe work: no deadline.
_MONEY = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("money", max_examples=25, stateful_step_count=30, **_MONEY)
settings.register_profile("money-long", max_examples=300, stateful_step_count=50, **_MONEY)

CSRF_RE = re.compile(r'<input[^>]*name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(autouse=True)
def clock(request) -> _clock.Clock:
    """Every test on a frozen clock (tests/clock.py): it starts at clock.DEFAULT, or
    at the instant the test is parametrised with (``indirect``), and ticks on from
    there, so timeouts, a live server and the browser tests see time pass as usual.
    No test reads the real clock."""
    with _clock.frozen(getattr(request, "param", _clock.DEFAULT)) as running:
        yield running


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in production: its own app context,
    database session, `g` and locale, not the ones the test body holds."""

    def open(self, *args, **kwargs):
        # End the test body's transaction first: what it wrote is visible to the
        # request, and what the request writes is visible to the test afterwards
        # (SQLite keeps a read snapshot for a whole transaction).
        _db.session.commit()
        try:
            return contextvars.Context().run(super().open, *args, **kwargs)
        finally:
            _db.session.commit()


@pytest.fixture(scope="session")
def _app_config(tmp_path_factory, smtp_server, stripe_server):
    base = tmp_path_factory.mktemp("instance")
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{base / 'test.db'}"
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(base),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1)
        if url.startswith("postgresql://") else url,
        "UPLOAD_FOLDER": str(base / "uploads"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "CATALOGUE_PAGE_SIZE": 24,
        "MAIL_SERVER": smtp_server.hostname,
        "MAIL_PORT": smtp_server.port,
        "STRIPE_SECRET_KEY": stripe_server.secret_key,
        "STRIPE_PUBLISHABLE_KEY": stripe_server.publishable_key,
        "STRIPE_WEBHOOK_SECRET": stripe_server.webhook_secret,
        "STRIPE_API_BASE": stripe_server.base_url,
        "STRIPE_JS_URL": stripe_server.js_url,
        "STRIPE_TIMEOUT": 5,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_CONNECT_ENABLED": False,
        # Throttling on, as in production, far above what one test does (a test signs
        # in many people from one address); tests/test_limits.py sets its own limits.
        **{name: "1000 per minute" for name in (
            "RATELIMIT_SIGN_IN", "RATELIMIT_SIGN_UP", "RATELIMIT_PASSWORD_RESET",
            "RATELIMIT_EMAIL_CONFIRMATION", "RATELIMIT_API", "RATELIMIT_CHECKOUT")},
    }


@pytest.fixture(scope="session")
def _schema(_app_config):
    app = create_app(_app_config)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield
    with app.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture
def app(_app_config, _schema):
    app = create_app(_app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        ensure_reference_data(_db.session)
        _db.session.commit()
        yield app
        _db.session.rollback()
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


@pytest.fixture
def english(client):
    """The client's session in English: tests that read messages check the msgids."""
    with client.session_transaction() as session:
        session["lang"] = "en"


@pytest.fixture
def form_post(client):
    """POST a form the way a browser does: fetch the page, take its token, submit."""

    def post(url: str, data: dict, *, page: str | None = None, **kwargs):
        data = dict(data)
        data.setdefault("csrf_token", csrf_token(client, page or url))
        return client.post(url, data=data, **kwargs)

    return post


@pytest.fixture
def login(client, form_post):
    def do_login(user, password: str = factories.PASSWORD):
        response = form_post("/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return do_login


@pytest.fixture
def count_queries(app):
    @contextmanager
    def counter():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(_db.engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(_db.engine, "before_cursor_execute", before)

    return counter


@pytest.fixture
def keep_logging():
    """Undo the logging set-up that migrations/env.py applies (fileConfig).

    fileConfig disables every logger alive at that moment and adds a stderr
    handler to the root logger; without this, tests running afterwards would lose
    their log records.
    """
    manager = logging.root.manager
    disabled = {
        name: lg.disabled for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    root_handlers, root_level = list(logging.root.handlers), logging.root.level
    levels = {
        name: lg.level for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    yield
    for name, lg in list(manager.loggerDict.items()):
        if isinstance(lg, logging.Logger):
            lg.disabled = disabled.get(name, False)
            if name in levels:
                lg.level = levels[name]
    for handler in logging.root.handlers[:]:
        if handler not in root_handlers:
            logging.root.removeHandler(handler)
    logging.root.setLevel(root_level)


# Markets the order, payment and invoice tests share ---------------------------------------

@pytest.fixture
def hosted_market(db):
    """A hosted point with a slot, two farms serving it, three buyers."""
    host = factories.user(Role.HOST, name="Hôte")
    point = factories.pickup_point()
    point.host_id = host.id
    db.session.commit()
    slot = factories.slot(point, capacity=10)
    later = factories.slot(point, starts_in=timedelta(days=9), cutoff_in=timedelta(days=7),
                           capacity=10)
    farm = factories.producer(name="Ferme A")
    other_farm = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    carrots = factories.product(farm, name="Carottes", variants=(("1 kg", 350, 50),))
    leeks = factories.product(farm, name="=Poireaux", variants=(("botte", 280, 50),))
    eggs = factories.product(other_farm, name="Œufs", variants=(("douzaine", 597, 50),))
    for s in (slot, later):
        factories.delivery_round(farm, s)
        factories.delivery_round(other_farm, s)
    buyers = [factories.user(name=name) for name in ("Zoé", "Ali", "Marc")]
    return {"host": host, "point": point, "slot": slot, "later": later, "farm": farm,
            "other_farm": other_farm, "carrots": carrots.variants[0],
            "leeks": leeks.variants[0], "eggs": eggs.variants[0], "buyers": buyers}


@pytest.fixture
def invoice_market(db):
    """Two farms serving a slot (Ferme A with its SIRET, Ferme B without), two approved
    restaurants with 30 days' terms."""
    point = factories.pickup_point()
    slot = factories.slot(point, capacity=100)
    farm_a = factories.producer(name="Ferme A")
    farm_a.siret, farm_a.vat_number = "80295478500028", "FR12802954785"
    farm_a.address, farm_a.postcode = "Lieu-dit Kerbras", "56250"
    farm_b = factories.producer(name="Ferme B", lat=47.70, lon=-2.70)
    carrots = factories.product(farm_a, name="Carottes", variants=(("1 kg", 350, 500),))
    juice = factories.product(farm_a, name="Jus de pomme", variants=(("1 l", 420, 500),))
    juice.vat_rate_bp = 2000
    eggs = factories.product(farm_b, name="Œufs", variants=(("douzaine", 597, 500),))
    db.session.commit()
    factories.delivery_round(farm_a, slot)
    factories.delivery_round(farm_b, slot)
    return {"slot": slot, "farm_a": farm_a, "farm_b": farm_b, "carrots": carrots.variants[0],
            "juice": juice.variants[0], "eggs": eggs.variants[0],
            "bistrot": factories.restaurant(), "cantine": factories.restaurant(name="La Cantine")}


@pytest.fixture
def doorstep(db):
    """A restaurant's door open on Tuesdays, a farm within reach and one far away."""
    bistrot = factories.door_restaurant()
    point = factories.restaurant_door(bistrot, weekdays=(1,))
    near = factories.producer(name="Ferme voisine")  # Elven, ~13 km from Vannes
    far = factories.producer(name="Ferme lointaine", lat=48.11, lon=-1.68)  # Rennes
    leeks = factories.product(near, name="Poireaux", variants=(("botte", 280, 50),))
    return {"bistrot": bistrot, "point": point, "near": near, "far": far,
            "leeks": leeks.variants[0],
            # The first date still open (on a Monday, Tuesday's is past its cut-off).
            "slot": next(s for s in factories.slots_of(point)
                         if s.cutoff_at > now() + timedelta(hours=1))}
