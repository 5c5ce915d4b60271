"""What browsers and proxies may keep (web/http_cache.py): static files under
content-hashed URLs for a year; public pages of anonymous visitors without a
session revalidated by ETag; nothing of a signed-in visitor's or a cart's."""

from __future__ import annotations

import re

import pytest

from tests import factories


@pytest.fixture
def carrots(db):
    return factories.product(factories.producer(), name="Carottes",
                             variants=(("1 kg", 350, 5),))


@pytest.mark.parametrize("url", ["/", "/catalogue", "/catalogue?category=vegetables"])
def test_an_anonymous_public_page_is_revalidated_by_etag(client, db, carrots, url):
    first = client.get(url)
    assert first.status_code == 200
    control = {part.strip() for part in first.headers["Cache-Control"].split(",")}
    assert {"public", "no-cache"} <= control
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    if url == "/":
        return  # the home page shows no price
    # A change gives another page, so another ETag: the full page again.
    carrots.variants[0].price_cents = 420
    db.session.commit()
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_per_person_pages_are_not_public(client, db, carrots, login):
    login(factories.user())
    response = client.get("/catalogue")
    assert "ETag" not in response.headers
    assert "public" not in response.headers.get("Cache-Control", "")


def test_a_visitor_with_a_session_gets_no_shared_page(client, db, carrots):
    with client.session_transaction() as session:
        session["cart"] = {str(carrots.variants[0].id): 1}
    response = client.get("/catalogue")
    assert "ETag" not in response.headers
    assert "public" not in response.headers.get("Cache-Control", "")


def test_static_files_have_content_hashed_urls_kept_a_year(client, db):
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert urls
    assert all(re.search(r"[?&]v=[0-9a-f]{12}\b", u) for u in urls), urls
    response = client.get(urls[0].replace("&amp;", "&"))
    assert response.status_code == 200
    response.close()  # the file sent
    control = response.headers["Cache-Control"]
    assert "max-age=31536000" in control
    assert "immutable" in control
