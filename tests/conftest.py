"""Fixtures: app, db, client, a CSRF-aware form helper and a SQL query counter.

The database is the one DATABASE_URL names (PostgreSQL in CI's second run) or a
SQLite file in a temporary folder. Tables are created once per session with
create_all (migrations are checked separately in test_migrations.py) and emptied
after each test.
"""

from __future__ import annotations

import contextvars
import os
import re
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from marketplace import create_app
from marketplace.catalogue.reference import ensure_reference_data
from marketplace.extensions import db as _db
from tests import clock as _clock
from tests import factories

# smtp_server (session) and mailbox; stripe_server (session, localstripe) and localstripe
pytest_plugins = ["tests.mailbox", "tests.stripe_server"]

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
