"""A household signs up through the form, then browses and filters the catalogue."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.notifications.models import OutboxMessage
from tests import factories
from tests.e2e.conftest import PHONE_VIEWPORT
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

CARD_TITLES = ".product-card .card-title"


def _seed_catalogue(app) -> None:
    with app.app_context():
        pont = factories.producer(name="Ferme du Pont")
        verger = factories.producer(name="Verger des Landes")
        factories.product(pont, name="Carottes des sables", category_slug="vegetables")
        factories.product(pont, name="Poireaux d'hiver", category_slug="vegetables")
        factories.product(verger, name="Pommes reinettes", category_slug="fruit")
        factories.product(verger, name="Tomme de chèvre", category_slug="cheese")
        # Never public: a farm not approved yet, and a product taken off sale.
        waiting = factories.producer(name="Ferme en attente", approved=False)
        factories.product(waiting, name="Carottes en attente", category_slug="vegetables")
        factories.product(pont, name="Carottes retirées", category_slug="vegetables",
                          is_active=False)


def _show(page, *, q: str | None = None, category: str | None = None) -> None:
    """Set the catalogue filters and press the form's button ("Afficher" in French)."""
    if category is not None:
        page.select_option("#category", value=category)
    if q is not None:
        page.fill("#q", q)
    page.locator("form[role=search] [type=submit]").click()


def test_household_signs_up_then_filters_the_catalogue(e2e_server, browser_page):
    _seed_catalogue(e2e_server.app)
    page = browser_page

    page.goto("/signup")
    page.fill("#display_name", "Camille Martin")
    page.fill("#email", "camille@example.org")
    page.fill("#password", "un mot de passe solide")
    page.fill("#confirm", "un mot de passe solide")
    page.check("input[name=role][value=household]")
    page.locator("form:has(#confirm) [type=submit]").click()

    # Asked to confirm the address, by the link the e-mail carries.
    expect(page).to_have_url(re.compile(r"/signup/check-your-inbox$"))
    with e2e_server.app.app_context():
        user = db.session.scalar(select(User).where(User.email == "camille@example.org"))
        assert user is not None
        assert user.role == Role.HOUSEHOLD
        assert user.display_name == "Camille Martin"
        mail = db.session.scalar(select(OutboxMessage).where(
            OutboxMessage.to_address == "camille@example.org"))
        link = re.search(r"https?://\S+(/confirm/\S+)", mail.body_text).group(1)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in(page, "camille@example.org", "un mot de passe solide")

    # A household lands on the catalogue, signed in.
    expect(page).to_have_url(re.compile(r"/catalogue$"))
    expect(page.locator("header nav")).to_contain_text("Camille Martin")

    titles = page.locator(CARD_TITLES)
    expect(titles).to_have_text(
        ["Carottes des sables", "Poireaux d'hiver", "Pommes reinettes", "Tomme de chèvre"]
    )

    _show(page, category="fruit")
    expect(page).to_have_url(re.compile(r"[?&]category=fruit"))
    expect(titles).to_have_text(["Pommes reinettes"])
    expect(page.locator("#category")).to_have_value("fruit")

    _show(page, category="vegetables")
    expect(titles).to_have_text(["Carottes des sables", "Poireaux d'hiver"])

    # Text search alone, over every category: matches product names...
    _show(page, category="", q="carottes")
    expect(page).to_have_url(re.compile(r"[?&]q=carottes"))
    expect(titles).to_have_text(["Carottes des sables"])
    expect(page.locator("#q")).to_have_value("carottes")

    # ... and farm names.
    _show(page, q="verger")
    expect(titles).to_have_text(["Pommes reinettes", "Tomme de chèvre"])

    # Both filters together.
    _show(page, q="verger", category="cheese")
    expect(titles).to_have_text(["Tomme de chèvre"])

    _show(page, q="rutabaga", category="")
    expect(titles).to_have_count(0)


def test_catalogue_fits_a_phone_screen(e2e_server, phone_page, tmp_path):
    _seed_catalogue(e2e_server.app)
    with e2e_server.app.app_context():
        farm = factories.producer(name="GAEC de la Vallée du Blavet et des Landes de Lanvaux")
        factories.product(
            farm,
            name="Confiture extra de mirabelles et de pêches de vigne au miel de châtaignier",
            category_slug="honey",
            variants=(("Pot de 370 g (verre consigné)", 650, 3),),
        )
    page = phone_page

    page.goto("/catalogue")
    expect(page.locator(CARD_TITLES)).to_have_count(5)
    shot = tmp_path / "catalogue-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert inner_width == PHONE_VIEWPORT["width"]
    assert scroll_width <= inner_width, (
        f"the catalogue scrolls sideways on a phone: {scroll_width}px of content "
        f"in a {inner_width}px window (screenshot: {shot})"
    )
