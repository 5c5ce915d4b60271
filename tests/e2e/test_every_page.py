"""Every page each demo role can reach by following links, on a 360 px phone: no error
status, no sideways scrolling, and no serious or critical accessibility violation
found by axe-core (vendored in tests/e2e/vendor/axe-core by `make vendor`)."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalogue.models import Product, Variant
from marketplace.extensions import db
from marketplace.pickup.models import DeliveryRound, PickupPoint
from marketplace.pickup.rounds import can_serve
from marketplace.producers.models import Producer
from tests import clock, factories
from tests.e2e.conftest import _app, serving
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
NARROW = {"width": 360, "height": 740}
ROLES = {
    "anonymous": None,
    "household": ("household@demo.circuit-court.fr", "demo-household"),
    "restaurant": ("restaurant@demo.circuit-court.fr", "demo-restaurant"),
    "producer": ("ferme.lindin@demo.circuit-court.fr", "demo-producer"),
    "host": ("host@demo.circuit-court.fr", "demo-host"),
    "admin": ("admin@demo.circuit-court.fr", "demo-admin"),
}
# Pages of one shape (a product, an order, the catalogue filtered by anything) are
# checked twice at most: same path once digits are blanked, same query keys.
PER_SHAPE = 2
MAX_PAGES = 120
# Links a crawl must not follow: leaving the session, and the language switch (the
# rest of the crawl would then check the English pages only).
SKIPPED = re.compile(r"^/(logout|lang/|static/)")
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' -- ' +
         v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' (' +
           ((n.any[0] || n.all[0] || {}).message || '') + ')').join(' | '));
}"""
# Controls past the screen's right edge (in a table that scrolls sideways, say) are out
# of sight even when the page itself fits; a button's word wider than the button is cut.
OFF_SCREEN = """() => Array.from(document.querySelectorAll(
    'main button, main .btn, main input:not([type=hidden]), main select, main textarea'))
  .filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 1)
  .filter(e => { const r = e.getBoundingClientRect();
                 // A word wider than its button; a field's long value scrolls in it.
                 const words = e.matches('button, .btn') && e.scrollWidth > e.clientWidth + 1;
                 return r.right > window.innerWidth + 1 || r.left < -1 || words; })
  .map(e => e.outerHTML.slice(0, 100))"""
LINKS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => !a.hasAttribute('download'))
  .map(a => a.href)"""


def _shape(path: str, query: str) -> str:
    keys = sorted({key for key, _ in parse_qsl(query, keep_blank_values=True)})
    return re.sub(r"\d+", "N", path) + "?" + "&".join(keys)


def _crawl(page, base_url: str, start: list[str]) -> tuple[list[str], list[str]]:
    """Visit the pages reachable from START; return (pages visited, problems found)."""
    origin = urlsplit(base_url).netloc
    queue = deque(start)
    seen_urls = set(start)
    shapes: dict[str, int] = {}
    visited, problems = [], []
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        try:
            response = page.goto(path)
        except PlaywrightError as error:
            if "Download is starting" not in str(error):
                raise
            # A CSV or PDF: the browser saves it, so its status is read directly.
            response = page.request.get(path)
            if response.status >= 400:
                problems.append(f"{path}: status {response.status}")
            continue
        visited.append(path)
        if response is None or response.status >= 400:
            problems.append(f"{path}: status {response and response.status}")
            continue
        if "html" not in (response.headers.get("content-type") or ""):
            continue
        scroll, inner = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            problems.append(f"{path}: {scroll} px wide on a {inner} px screen")
        off_screen = page.evaluate(OFF_SCREEN)
        if off_screen:
            problems.append(f"{path}: {len(off_screen)} controls off screen: {off_screen[0]}")
        # Evaluated by the browser tools, not as a <script> the page's CSP would refuse.
        page.evaluate(AXE.read_text(encoding="utf-8"))
        problems += [f"{path}: {violation}" for violation in page.evaluate(AXE_RUN)]
        for href in page.evaluate(LINKS):
            url, _ = urldefrag(href)
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or parts.netloc != origin:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in seen_urls or SKIPPED.match(parts.path):
                continue
            seen_urls.add(target)
            shape = _shape(parts.path, parts.query)
            if shapes.get(shape, 0) >= PER_SHAPE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queue.append(target)
    return visited, problems


def _order_at_the_restaurants_door() -> None:
    """The demo restaurant's order delivered to its door, so that its door's sheet
    (and every link on it) is in the crawl."""
    restaurant = db.session.scalar(select(User).where(User.email == ROLES["restaurant"][0]))
    door = db.session.scalar(select(PickupPoint).where(
        PickupPoint.private_buyer_id == restaurant.id))
    farms = db.session.scalars(select(Producer).join(DeliveryRound).where(
        DeliveryRound.pickup_point_id == door.id)).all()
    slot, farm = next((slot, farm) for slot in factories.slots_of(door) for farm in farms
                      if slot.cutoff_at > clock.now() and can_serve(db.session, farm, slot,
                                                                    tz=factories.TZ))
    variant = db.session.scalars(select(Variant).join(Product).where(
        Product.producer_id == farm.id, Product.is_active.is_(True),
        Variant.is_active.is_(True), Variant.stock >= 1)).first()
    factories.restaurant_order(restaurant, slot, {variant.id: 1})


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """The demo data served once for every role (the crawl only reads)."""
    # Seeded at the instant each test starts from (tests/clock.py), so the demo's
    # market days are as near as they are for the other browser tests.
    with _app(tmp_path_factory.mktemp("demo"), MAIL_SERVER="") as app, serving(app) as live:
        with clock.frozen(clock.DEFAULT):
            result = app.test_cli_runner().invoke(args=["seed-demo"])
            assert result.exit_code == 0, result.output
            with app.app_context():
                _order_at_the_restaurants_door()
        yield live


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_a_role_can_reach_works_fits_and_is_accessible(role, demo_site,
                                                                   chromium_browser):
    context = chromium_browser.new_context(base_url=demo_site.base_url, locale="fr-FR",
                                           viewport=NARROW, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        start = ["/"]
        if ROLES[role]:
            sign_in(page, *ROLES[role])
            page.wait_for_load_state()
            landing = urlsplit(page.url)
            if landing.path != "/login":
                start.append(landing.path)
        visited, problems = _crawl(page, demo_site.base_url, start)
    finally:
        context.close()
    assert len(visited) > 3, visited
    assert problems == [], "\n".join(problems)
