"""Browser journeys: the app served on a real port, driven by Debian's chromium.

Fixtures here have their own names (e2e_app, e2e_server, paying_server,
chromium_browser, browser_page, phone_page) so they never mix with the unit fixtures of
tests/conftest.py (app, db, client, _app_config, _schema).

Database: always a SQLite file in the test's own temporary folder, also in CI's
PostgreSQL run. These tests check what a person sees in a browser, not SQL
dialects: the unit tests already run against both databases. The unit fixtures
drop and empty every table of the DATABASE_URL database around each test; a
live server writing to that same database from another thread would race with
them. A fresh file per test keeps every journey independent and costs a few
milliseconds.

Browser: the pip `playwright` package driving /usr/bin/chromium (Debian's
package, installed by scripts/ensure-chromium.sh); `playwright install` is never
used. Without chromium the tests skip with a loud warning, except when CI=true,
where they fail: CI must not go green without running them.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from marketplace import create_app
from marketplace.catalogue.reference import ensure_reference_data
from marketplace.extensions import db as _db

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium tries to reach Google's
# services, which the closed CI network refuses (slowly).
# --disable-dev-shm-usage: containers often give /dev/shm only 64 MB.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEFAULT_TIMEOUT_MS = 15_000
PHONE_VIEWPORT = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"

_MISSING_CHROMIUM = (
    f"{CHROMIUM} not found: browser tests cannot run. Install Debian's chromium "
    "(apt-get install chromium) or run scripts/ensure-chromium.sh as root."
)
_skipped_for_chromium = False


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _require_chromium() -> None:
    global _skipped_for_chromium
    if CHROMIUM.exists():
        return
    if in_ci():
        pytest.fail(f"CI=true and {_MISSING_CHROMIUM}", pytrace=False)
    _skipped_for_chromium = True
    pytest.skip(f"!!! BROWSER TESTS SKIPPED !!! {_MISSING_CHROMIUM}")


def pytest_terminal_summary(terminalreporter):
    if _skipped_for_chromium:
        terminalreporter.write_sep("!", "WARNING: BROWSER TESTS (tests/e2e) WERE SKIPPED", red=True)
        terminalreporter.write_line(_MISSING_CHROMIUM, red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


# The application and its server -----------------------------------------------


@dataclass
class LiveServer:
    app: Flask
    base_url: str

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@contextmanager
def _app(tmp_path, **settings):
    """The app on a fresh SQLite file, with the reference data; ``settings`` added."""
    base = tmp_path / "instance"
    app = create_app({
        # Same settings as the unit tests (tests/conftest.py, _app_config).
        "TESTING": True,
        "INSTANCE_PATH": str(base),
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'e2e.db'}",
        "UPLOAD_FOLDER": str(base / "uploads"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **settings,
    })
    with app.app_context():
        _db.create_all()
        ensure_reference_data(_db.session)
        _db.session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def e2e_app(tmp_path):
    with _app(tmp_path, CATALOGUE_PAGE_SIZE=24) as app:
        yield app


@contextmanager
def serving(app: Flask):
    """APP on 127.0.0.1 and a free port, served from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, base_url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def e2e_server(e2e_app):
    """The app on 127.0.0.1 and a free port, served from a background thread."""
    with serving(e2e_app) as live:
        yield live


@pytest.fixture
def paying_server(tmp_path, localstripe):
    """The app on a free port with its payments against localstripe."""
    with _app(tmp_path, MAIL_SERVER="", **localstripe.settings()) as app, serving(app) as live:
        yield live


# The browser ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open_page(request, browser, server: LiveServer, **context_options):
    context = browser.new_context(base_url=server.base_url, locale="fr-FR", **context_options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    # Whatever the Content-Security-Policy blocked (chromium says so on the console): a
    # journey that works only because the blocked part did not matter still fails.
    blocked: list[str] = []
    context.on("console", lambda message: blocked.append(message.text)
               if "Content Security Policy" in message.text else None)
    page = context.new_page()
    yield page
    if getattr(request.node, "e2e_failed", False):
        # Keep what the browser showed when a journey failed (CI artefact).
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
            print(f"could not save a failure screenshot: {exc}")
    context.close()
    if blocked and not getattr(request.node, "e2e_failed", False):
        pytest.fail("The Content-Security-Policy blocked:\n" + "\n".join(blocked),
                    pytrace=False)


@pytest.fixture
def browser_page(request, chromium_browser, e2e_server):
    """A fresh browser tab (own cookies) on a desktop-sized window."""
    yield from _open_page(request, chromium_browser, e2e_server)


@pytest.fixture
def phone_page(request, chromium_browser, e2e_server):
    """A fresh tab the size of a phone screen (390 x 844 CSS pixels, mobile layout)."""
    yield from _open_page(
        request, chromium_browser, e2e_server, viewport=PHONE_VIEWPORT, is_mobile=True,
        has_touch=True,
    )
