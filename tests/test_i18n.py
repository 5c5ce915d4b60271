"""French catalogue: complete, placeholders intact, and actually served.

The messages are extracted from the source tree here the way `make messages` does
(babel.cfg, same keywords), so a string added without its French translation fails
test_every_message_has_a_french_translation with the list of what is missing. The
fix: `make messages`, translate the new entries in
translations/fr/LC_MESSAGES/messages.po, then `make translations` (pybabel compile).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import PYTHON_FORMAT
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import escape

from marketplace.extensions import babel
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PO_PATH = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# The keywords `make messages` extracts (pybabel's defaults plus -k _l -k lazy_gettext),
# as babel keyword specs: the argument positions holding the singular and plural.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
}

LOGIN_LINK_RE = re.compile(r'<a class="nav-link" href="/login">([^<]*)</a>')


def read_catalog():
    with PO_PATH.open("rb") as fh:
        return read_po(fh, locale="fr")


def extract_messages() -> dict[str | tuple[str, ...], list[str]]:
    """msgid (a tuple for plurals) -> the places it comes from, as in the .pot."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(ROOT / "babel.cfg"))
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        key = tuple(message) if isinstance(message, (list, tuple)) else message
        if not (key[0] if isinstance(key, tuple) else key):
            continue
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> Counter:
    """`%(name)s`-style placeholders with their conversion, and bare `%` signs.

    A bare `%` that the English has not would break `s % variables` (Jinja's
    newstyle gettext always formats), so it is counted too.
    """
    found = Counter()
    for match in PYTHON_FORMAT.finditer(text):
        if match.group(0) == "%%":
            continue
        found[match.group(0)] += 1
    found["bare %"] = PYTHON_FORMAT.sub("", text).count("%")
    return +found


@pytest.fixture(scope="session")
def compiled_catalog():
    """The .mo the app reads: compiled here, as `pybabel compile` would, if missing or
    older than the .po (normally `make test` has just compiled it)."""
    if not MO_PATH.exists() or MO_PATH.stat().st_mtime < PO_PATH.stat().st_mtime:
        catalog = read_catalog()
        fd, tmp = tempfile.mkstemp(dir=MO_PATH.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write_mo(fh, catalog)
            os.chmod(tmp, 0o644)
            os.replace(tmp, MO_PATH)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        # Requests served before this point may have cached "no translations" for fr
        # (the domain is a cached property of the shared Babel object).
        domain = vars(babel).get("domain_instance")
        if domain is not None:
            domain.cache.clear()
    return Translations.load(str(TRANSLATIONS), ["fr"])


@pytest.fixture
def fr(compiled_catalog):
    def translate(msgid: str) -> str:
        text = compiled_catalog.gettext(msgid)
        assert text != msgid, f"{msgid!r} is not translated in the compiled catalogue"
        return text

    return translate


def test_every_message_has_a_french_translation():
    catalog = read_catalog()
    extracted = extract_messages()
    assert len(extracted) > 100, "the extraction found almost nothing: check babel.cfg"
    problems = []
    for msgid, places in sorted(extracted.items(), key=lambda item: str(item[0])):
        singular = msgid[0] if isinstance(msgid, tuple) else msgid
        where = ", ".join(places[:3])
        message = catalog.get(singular)
        if message is None:
            problems.append(f"not in messages.po (run `make messages`): {singular!r} ({where})")
            continue
        if isinstance(msgid, tuple) and not message.pluralizable:
            problems.append(f"needs plural forms (run `make messages`): {singular!r} ({where})")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy, check and remove the flag: {singular!r} ({where})")
        elif len(strings) < catalog.num_plurals and message.pluralizable:
            problems.append(f"needs {catalog.num_plurals} plural forms: {singular!r} ({where})")
        elif not all(s.strip() for s in strings):
            problems.append(f"no French yet: {singular!r} ({where})")
    assert not problems, (
        f"{len(problems)} message(s) without a usable French translation in "
        f"{PO_PATH.relative_to(ROOT)}:\n  " + "\n  ".join(problems)
    )


def test_translations_keep_the_placeholders():
    catalog = read_catalog()
    errors = list(catalog.check())  # babel's python-format checks, as pybabel compile runs
    assert not errors, "\n".join(
        f"{message.id!r}: {'; '.join(map(str, errs))}" for message, errs in errors
    )
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        if message.pluralizable:
            singular, plural = message.id
            # French form 0 is 0 and 1; the others are plurals.
            pairs = [(singular if i == 0 else plural, s) for i, s in enumerate(message.string)]
        else:
            pairs = [(message.id, message.string)]
        for source, translation in pairs:
            if translation and placeholders(source) != placeholders(translation):
                problems.append(
                    f"{source!r} -> {translation!r}: expected {dict(placeholders(source))}, "
                    f"got {dict(placeholders(translation))}"
                )
    assert not problems, "\n".join(problems)


def test_plural_forms(compiled_catalog):
    assert compiled_catalog.ngettext("%(num)d product", "%(num)d products", 0) % {"num": 0} \
        == "0 produit"
    assert compiled_catalog.ngettext("%(num)d product", "%(num)d products", 1) % {"num": 1} \
        == "1 produit"
    assert compiled_catalog.ngettext("%(num)d product", "%(num)d products", 2) % {"num": 2} \
        == "2 produits"


def test_pages_are_french_by_default_and_english_on_request(client, db, form_post, fr):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert LOGIN_LINK_RE.findall(html) == [str(escape(fr("Sign in")))]
    assert str(escape(fr("Food from farms near you"))) in html

    response = client.post("/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 302

    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert LOGIN_LINK_RE.findall(html) == ["Sign in"]
    assert "Food from farms near you" in html


def test_catalogue_counts_products_in_french(client, db):
    factories.product(name="Carottes des sables")
    html = client.get("/catalogue").get_data(as_text=True)
    assert ">1 produit</h2>" in html


def test_form_errors_are_french(client, db, form_post, fr):
    user = factories.user()
    response = form_post("/login", {"email": user.email, "password": "not the password"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert str(escape(fr("Wrong e-mail or password."))) in html
    assert str(escape(fr("Please correct the fields marked below."))) in html
    assert "Wrong e-mail or password." not in html
