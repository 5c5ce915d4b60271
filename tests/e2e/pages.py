"""Steps the browser tests share."""

from __future__ import annotations

from tests import factories


def sign_in(page, email: str, password: str = factories.PASSWORD) -> None:
    """Sign in through the login form (the page is left where the site sends it)."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("form:has(#password) [type=submit]").click()
