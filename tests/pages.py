"""Helpers that use the site as a browser would: the session's cart and language, the
tokens and names a page shows, the invoice payment buttons."""

from __future__ import annotations

import re

from tests.conftest import CSRF_RE

TOKEN_RE = re.compile(r'name="checkout_token" value="([^"]+)"')
CARD_LINK = re.compile(r'class="stretched-link text-decoration-none" href="/products/\d+">([^<]+)<')


def names_on(html: str) -> set[str]:
    """The product names on a catalogue page's cards."""
    return set(CARD_LINK.findall(html))


def set_cart(client, cart: dict) -> None:
    """Put ``cart`` (variant id -> quantity) in the client's session."""
    with client.session_transaction() as session:
        session["cart"] = {str(k): v for k, v in cart.items()}


def browse_first(client) -> None:
    """The buyer chose to fill the cart before choosing a market day: adding to the
    cart no longer asks where and when first."""
    with client.session_transaction() as session:
        session["market_day_asked"] = True


def choose_market_day(client, slot) -> None:
    """Keep ``slot`` as the client's market day, as the chooser's button does."""
    page = client.get("/market-day").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    response = client.post("/market-day", data={"csrf_token": token, "slot_id": str(slot.id)})
    assert response.status_code == 303, response.get_data(as_text=True)


def sign_out(client) -> None:
    """Forget who is signed in; keep the session in English."""
    with client.session_transaction() as session:
        session.clear()
        session["lang"] = "en"


def start_invoice_payment(client, invoice_id, **extra):
    """The "Pay by card" button of the invoice page."""
    page = client.get(f"/restaurant/invoices/{invoice_id}").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    return client.post(f"/restaurant/invoices/{invoice_id}/pay",
                       data={"csrf_token": token, **extra})


def confirm_invoice_payment(client, invoice_id, method_id):
    """What the pay page's script sends: the payment method Stripe.js made."""
    page = client.get(f"/restaurant/invoices/{invoice_id}").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    return client.post(f"/restaurant/invoices/{invoice_id}/pay/confirm",
                       data={"csrf_token": token, "payment_method": method_id})


def link_in(mail, path: str) -> str:
    """The path of the first link in an e-mail's text whose path starts with ``path``
    (the links are absolute, at PUBLIC_URL; the test client wants the path)."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S+)", mail.get_content())
    assert match, mail.get_content()
    return match.group(1)
