"""What makes the site look finished: category illustrations where a photo is missing,
painted pictures for the demo farms, a favicon, and no page pointing at a missing file."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from marketplace.catalogue import illustrations
from marketplace.catalogue.reference import CATEGORIES
from marketplace.producers.models import Producer
from tests import factories
from tests.conftest import csrf_token
from tests.test_demo import logins, seed

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "static" / illustrations.FOLDER


class _Refs(HTMLParser):
    """The links (<a href>) and the files (<img>, <link>, <script>) a page points at."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.files: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag in ("img", "script") and attrs.get("src"):
            self.files.append(attrs["src"])
            if tag == "img":
                self.images.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.files.append(attrs["href"])


def refs(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def illustration_url(app, category) -> str:
    with app.test_request_context():
        return illustrations.illustration_url(category)


@pytest.mark.parametrize("slug", [slug for slug, _, _ in CATEGORIES])
def test_every_category_has_an_illustration_that_is_served(app, client, slug):
    assert slug in illustrations.BY_CATEGORY
    url = illustration_url(app, slug)
    assert (ROOT / "static" / illustrations.illustration_file(slug)).is_file()
    with client.get(url) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data(as_text=True).startswith("<svg ")


def test_only_the_illustrations_used_are_vendored_with_their_licence():
    used = {*illustrations.BY_CATEGORY.values(), illustrations.FALLBACK, illustrations.FAVICON}
    assert {p.name for p in VENDORED.iterdir()} == {f"{name}.svg" for name in used} | {"LICENSE"}
    assert "MIT License" in (VENDORED / "LICENSE").read_text()
    # `make vendor` writes the same list.
    listed = re.search(r"^ILLUSTRATIONS := (.*?)\n\n", (ROOT / "Makefile").read_text(),
                       re.M | re.S).group(1)
    assert set(listed.replace("\\", " ").split()) == used


def test_an_unknown_category_falls_back_to_the_basket(app):
    # (The URL ends with ?v=<the file's hash>: see web/http_cache.py.)
    assert illustration_url(app, "truffles").split("?")[0].endswith(
        f"/{illustrations.FALLBACK}.svg")
    assert illustration_url(app, None).split("?")[0].endswith(f"/{illustrations.FALLBACK}.svg")


def test_a_product_without_photo_shows_its_category_illustration(app, client, db):
    cheese = factories.product(name="Tomme de chèvre", category_slug="cheese")
    url = illustration_url(app, "cheese")

    card = client.get("/catalogue").get_data(as_text=True)
    assert refs(card).images == [url]
    page = client.get(f"/products/{cheese.id}").get_data(as_text=True)
    assert refs(page).images == [url]
    assert "placeholder-img" not in card + page


def test_a_farm_without_photo_shows_its_main_category(app, client, db):
    farm = factories.producer(name="Ferme des Prés")
    factories.product(farm, category_slug="cheese")
    factories.product(farm, category_slug="dairy")
    factories.product(farm, category_slug="dairy")

    page = client.get(f"/producers/{farm.id}").get_data(as_text=True)
    assert illustration_url(app, "dairy") in refs(page).images
    listing = client.get("/producers").get_data(as_text=True)
    assert refs(listing).images == [illustration_url(app, None)]


def test_main_category_breaks_ties_by_the_shared_order(db):
    farm = factories.producer()
    fruit = factories.product(farm, category_slug="fruit")
    vegetables = factories.product(farm, category_slug="vegetables")
    assert illustrations.main_category([fruit, vegetables]) == vegetables.category
    assert illustrations.main_category([]) is None


def test_favicon_answers_and_every_page_links_it(app, client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/[^"]+\.svg\?v=\w+" type="image/svg\+xml">',
                     home)


@pytest.fixture
def territory(app, db) -> str:
    """The demo territory, seeded as `flask seed-demo` does; its printed output."""
    result = seed(app)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_farms_have_a_painted_picture(app, client, db, territory):
    farms = db.session.scalars(select(Producer)).all()
    assert farms
    assert all(f.photo_path and f.thumb_path for f in farms)
    farm = farms[0]
    page = client.get(f"/producers/{farm.id}").get_data(as_text=True)
    photo = f"/media/{farm.photo_path}"
    assert photo in refs(page).images
    with client.get(photo) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
    # Each farm its own picture.
    sizes = {(Path(app.config["UPLOAD_FOLDER"]) / f.photo_path).read_bytes() for f in farms[:5]}
    assert len(sizes) == 5


SKIPPED = re.compile(r"\.(csv|pdf)$|/download")
PAGES_PER_ROLE = 30


def test_no_demo_page_points_at_a_missing_file(app, db, territory):
    """Each demo role walks the pages it can reach from home (breadth first, bounded)."""
    checked: dict[str, int] = {}
    missing = []
    first_of_each_role = {}
    for email, role, password in logins(territory):
        first_of_each_role.setdefault(role, (email, password))
    for email, password in first_of_each_role.values():
        client = app.test_client()
        token = csrf_token(client, "/login")
        signed_in = client.post("/login", data={"email": email, "password": password,
                                                "csrf_token": token})
        assert signed_in.status_code == 302, email
        queue, seen, visited = ["/"], {"/"}, 0
        while queue and visited < PAGES_PER_ROLE:
            url = queue.pop(0)
            visited += 1
            with client.get(url) as response:
                if response.mimetype != "text/html":
                    continue
                found = refs(response.get_data(as_text=True))
            for src in found.files:
                path = urlsplit(urljoin(url, src))
                if path.netloc or not path.path.startswith(("/static/", "/media/")):
                    continue
                if path.path not in checked:
                    with client.get(path.path) as file:
                        checked[path.path] = file.status_code
                if checked[path.path] != 200:
                    missing.append((email, url, path.path))
            for href in found.links:
                target = urlsplit(urljoin(url, href))
                if target.netloc or SKIPPED.search(target.path) or target.path in seen:
                    continue
                seen.add(target.path)
                queue.append(target.path)
    assert not missing
    assert any("fluent-emoji" in path for path in checked)
    assert any(path.startswith("/media/farms/") for path in checked)


PLAIN_SPACE = re.compile(r" [;:!?»]|« |\)[sdf] (km|kg|h)\b")


def test_french_catalogue_keeps_punctuation_and_units_with_their_word():
    """A no-break space before : ; ! ? », after «, and between a number and its unit."""
    with (ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    loose = [text for message in catalog if message.id
             for text in (message.string if isinstance(message.string, tuple)
                          else (message.string,))
             if text and PLAIN_SPACE.search(text)]
    assert not loose
