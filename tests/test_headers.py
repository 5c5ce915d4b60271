"""Security headers: a Content-Security-Policy without inline script on every page,
templates with no inline script or event handler, no-store on a person's pages, HSTS
over HTTPS only, gunicorn's version kept quiet."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from marketplace import create_app
from marketplace.extensions import db as _db
from marketplace.web.headers import content_security_policy
from tests import factories
from tests.mailbox import free_port

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.IGNORECASE | re.DOTALL)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def test_no_template_holds_inline_script_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for match in SCRIPT_TAG.finditer(text):
            attributes = match.group(1)
            # Data for scripts (not run): <script type="application/json">.
            if "src=" not in attributes and 'type="application/json"' not in attributes:
                found.append(f"{path.relative_to(ROOT)}: inline <script{attributes}>")
        found += [f"{path.relative_to(ROOT)}: event handler attribute"
                  for _ in EVENT_HANDLER.finditer(text)]
        found += [f"{path.relative_to(ROOT)}: style attribute"
                  for _ in STYLE_ATTRIBUTE.finditer(text)]
        if "<style" in text:
            found.append(f"{path.relative_to(ROOT)}: <style> element")
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_looks_for():
    assert SCRIPT_TAG.search('<script>alert(1)</script>')
    assert EVENT_HANDLER.search('<button class="x"\n onclick="go()">')
    assert STYLE_ATTRIBUTE.search('<div style="color: red">')
    assert not EVENT_HANDLER.search('<button data-once="1">')


@pytest.mark.parametrize("url", ["/", "/catalogue", "/login", "/map", "/does-not-exist"])
def test_every_page_has_the_policy(client, url):
    response = client.get(url)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_policy_names_stripe_and_the_tile_server():
    policy = directives(content_security_policy(
        stripe_js_url="https://js.stripe.com/v3/",
        tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png"))
    assert policy["script-src"] == ["'self'", "https://js.stripe.com"]
    assert policy["frame-src"] == ["https://js.stripe.com", "https://hooks.stripe.com"]
    assert "https://api.stripe.com" in policy["connect-src"]
    assert policy["img-src"][:3] == ["'self'", "data:", "https://*.tile.example.org"]
    local = directives(content_security_policy(
        stripe_js_url="http://127.0.0.1:8420/js.stripe.com/v3/", tile_url=""))
    assert local["script-src"] == ["'self'", "http://127.0.0.1:8420"]  # localstripe's shim
    assert local["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert "https://api.stripe.com" not in local["connect-src"]


def test_a_persons_order_page_is_not_stored(client, login, hosted_market):
    buyer = hosted_market["buyers"][0]
    order = factories.order(buyer, hosted_market["slot"], {hosted_market["carrots"].id: 1})
    login(buyer)
    response = client.get(f"/orders/{order.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/orders").headers["Cache-Control"] == "no-store"
    # Public files stay cacheable, signed in or not.
    static = client.get("/static/css/app.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_anonymous_public_pages_are_not_no_store(client):
    response = client.get("/catalogue")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_only_with_secure_cookies(app, secure):
    other = create_app({**app.config, "SESSION_COOKIE_SECURE": secure})
    try:
        response = other.test_client().get("/login")
        if secure:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        else:
            assert "Strict-Transport-Security" not in response.headers
    finally:
        with other.app_context():
            _db.engine.dispose()


def test_gunicorn_does_not_say_its_version(tmp_path):
    import gunicorn

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
             "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The favicon needs no database.
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico",
                                            timeout=5) as response:
                    server_header = response.headers["Server"]
                break
            except OSError:
                assert server.poll() is None, "gunicorn stopped"
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server_header
    assert gunicorn.__version__ not in server_header
    assert not re.search(r"\d", server_header), server_header
