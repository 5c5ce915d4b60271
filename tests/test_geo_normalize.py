"""Search keys and query parsing for place names (no database)."""

from __future__ import annotations

import pytest

from marketplace.geo.normalize import department_code, parse_query, postcode, search_key


@pytest.mark.parametrize(("text", "key"), [
    ("Saint-Lô", "saint lo"),
    ("saint-lo", "saint lo"),
    ("Saint Lô", "saint lo"),
    ("SAINT LÔ", "saint lo"),
    ("St-Lô", "saint lo"),
    ("St Lo", "saint lo"),
    ("ROCHEFORT EN TERRE", "rochefort en terre"),
    ("Rochefort-en-Terre", "rochefort en terre"),
    ("  rochefort--en   terre ", "rochefort en terre"),
    ("St-Avé", "saint ave"),
    ("Ste-Marie", "sainte marie"),
    ("Stes-Maries-de-la-Mer", "saintes maries de la mer"),
    ("L'Haÿ-les-Roses", "l hay les roses"),
    ("L’Isle-sur-la-Sorgue", "l isle sur la sorgue"),
    ("Œuilly", "oeuilly"),
    ("Cœuvres-et-Valsery", "coeuvres et valsery"),
    ("Paris 15", "paris 15"),
    ("", ""),
    ("!!!", ""),
    ("\x00", ""),
])
def test_search_key(text, key):
    assert search_key(text) == key


def test_st_is_only_expanded_as_a_whole_word():
    assert search_key("Stenay") == "stenay"
    assert search_key("Estaing") == "estaing"


@pytest.mark.parametrize(("text", "code"), [
    ("56", "56"), ("1", "01"), ("01", "01"), ("2a", "2A"), ("2B", "2B"), ("974", "974"),
    ("123", None), ("ab", None), ("", None), ("5600", None),
])
def test_department_code(text, code):
    assert department_code(text) == code


def test_postcode():
    assert postcode("56000") == "56000"
    assert postcode(" 56 000 ") == "56000"
    assert postcode("5600") is None
    assert postcode("56000a") is None


@pytest.mark.parametrize(("text", "key", "qualifier"), [
    ("Saint-Lô (50)", "saint lo", "50"),
    ("saint-lo 50", "saint lo", "50"),
    ("saint-lo, 50", "saint lo", "50"),
    ("Sainte-Marie, Morbihan", "sainte marie", "Morbihan"),
    ("Saint-Martin (Hautes-Pyrénées)", "saint martin", "Hautes-Pyrénées"),
    ("Ajaccio 2A", "ajaccio", "2A"),
    ("Vannes 56000", "vannes", "56000"),
    ("56000 Vannes", "vannes", "56000"),
    ("Rochefort-en-Terre", "rochefort en terre", None),
])
def test_parse_query_splits_a_qualifier(text, key, qualifier):
    parsed = parse_query(text)
    assert (parsed.key, parsed.qualifier, parsed.postcode) == (key, qualifier, None)


def test_parse_query_keeps_the_whole_key_for_names_with_numbers():
    parsed = parse_query("Paris 15")
    assert parsed.full_key == "paris 15"
    assert (parsed.key, parsed.qualifier) == ("paris", "15")


def test_parse_query_postcode_alone():
    assert parse_query("56 000").postcode == "56000"
    assert parse_query("56000").key == ""
