"""resolve_place: what a person types -> a place, homonyms, or suggestions."""

from __future__ import annotations

import pytest

from marketplace.extensions import db as _db
from marketplace.geo import models as _geo_models  # noqa: F401  (tables for create_all)
from marketplace.geo.gazetteer import load_gazetteer
from marketplace.geo.services import ResolutionStatus, resolve_place

# Saint-Lô (50); Vannes, Saint-Avé, Rochefort-en-Terre (56); Valence in 26, 82 and 16;
# Sainte-Marie in 05 (twice), 25 and 35; Paris (75).
DEPARTMENTS = {"05", "16", "25", "26", "35", "50", "56", "75", "82"}


@pytest.fixture
def gazetteer(db):
    load_gazetteer(db.session, departments=DEPARTMENTS)
    db.session.commit()


# Loading the slice takes a moment: the tests loop over queries rather than
# being parametrized, so that each loads it once.

def test_saint_lo_is_found_however_it_is_typed(gazetteer):
    for query in ["saint-lo", "Saint Lô", "SAINT-LÔ", "St-Lô", "  saint   lo  ", "Saint-Lô (50)",
                  "saint-lo 50", "Saint-Lô, Manche", "saint lo manche", "Saint-Lô 50000"]:
        result = resolve_place(query, session=_db.session)
        assert result.status is ResolutionStatus.FOUND, (query, result)
        assert result.place.name == "Saint-Lô"
        assert result.place.department_code == "50"
        assert result.place.department_name == "Manche"
        assert result.place.postcodes == ("50000",)
        assert result.place.label == "Saint-Lô (50)"
        assert result.source == "gazetteer"


def test_rochefort_en_terre(gazetteer):
    for query in ["ROCHEFORT EN TERRE", "Rochefort-en-Terre", "rochefort en terre"]:
        result = resolve_place(query, session=_db.session)
        assert result.found, query
        assert result.place.label == "Rochefort-en-Terre (56)"
        assert 47.6 < result.place.latitude < 47.8


def test_st_abbreviation(gazetteer):
    assert resolve_place("St-Avé", session=_db.session).place.name == "Saint-Avé"


def test_homonyms_are_ambiguous_most_populated_first(gazetteer):
    result = resolve_place("Valence", session=_db.session)
    assert result.status is ResolutionStatus.AMBIGUOUS
    assert result.place is None
    assert [c.department_code for c in result.candidates] == ["26", "82", "16"]
    assert result.candidates[0].population > result.candidates[1].population
    assert result.candidates[0].full_label == "Valence (26, Drôme)"


def test_a_departement_tells_homonyms_apart(gazetteer):
    for query, code in [
        ("Valence (82)", "82"), ("valence 82", "82"), ("Valence, Tarn-et-Garonne", "82"),
        ("valence tarn et garonne", "82"), ("Valence (Charente)", "16"), ("Valence 16460", "16"),
        ("Sainte-Marie, Ille-et-Vilaine", "35"), ("Sainte-Marie (25)", "25"),
    ]:
        result = resolve_place(query, session=_db.session)
        assert result.found, (query, result)
        assert result.place.department_code == code


def test_homonyms_within_one_departement_stay_ambiguous_until_the_postcode(gazetteer):
    result = resolve_place("Sainte-Marie (05)", session=_db.session)
    assert result.ambiguous
    assert {c.department_code for c in result.candidates} == {"05"}
    postcode = result.candidates[0].postcodes[0]
    chosen = resolve_place(f"Sainte-Marie {postcode}", session=_db.session)
    assert chosen.found
    assert chosen.place == result.candidates[0]


def test_a_name_in_another_departement_is_suggested(gazetteer):
    result = resolve_place("Saint-Lô (56)", session=_db.session)
    assert result.unknown
    assert result.reason == "not_in_department"
    assert [s.label for s in result.suggestions] == ["Saint-Lô (50)"]
    result = resolve_place("Valence, Morbihan", session=_db.session)
    assert result.reason == "not_in_department"
    assert [s.department_code for s in result.suggestions] == ["26", "82", "16"]


def test_postcode_alone(gazetteer):
    result = resolve_place("56000", session=_db.session)
    assert result.found
    assert result.place.name == "Vannes"
    assert resolve_place("56 000", session=_db.session).place == result.place


def test_postcode_of_several_communes_is_ambiguous(gazetteer):
    result = resolve_place("50000", session=_db.session)
    assert result.ambiguous
    assert result.candidates[0].name == "Saint-Lô"  # the most populated first
    assert all("50000" in c.postcodes for c in result.candidates)


def test_unknown_postcode_suggests_neighbours(gazetteer):
    result = resolve_place("56009", session=_db.session)
    assert result.unknown
    assert result.reason == "unknown_postcode"
    assert result.suggestions
    assert all(any(code.startswith("560") for code in s.postcodes) for s in result.suggestions)


def test_typos_get_suggestions(gazetteer):
    for query, expected in [("Vanes", "Vannes"), ("Rochefor en Terre", "Rochefort-en-Terre"),
                            ("Saint-Avee", "Saint-Avé")]:
        result = resolve_place(query, session=_db.session)
        assert result.unknown, query
        assert result.reason == "not_found", query
        assert expected in [s.name for s in result.suggestions], (query, result.suggestions)


def test_prefix_suggestions_most_populated_first(gazetteer):
    result = resolve_place("Saint-L", session=_db.session)
    assert result.unknown
    names = [s.name for s in result.suggestions]
    assert names[0] == "Saint-Lô"  # the largest "saint l..." of the loaded départements
    populations = [s.population or -1 for s in result.suggestions]
    assert populations == sorted(populations, reverse=True)
    assert len(result.suggestions) <= 8


def test_nothing_to_find(gazetteer):
    for query, reason in [("", "empty"), ("   ", "empty"), (None, "empty"), (42, "empty"),
                          ("x" * 101, "too_long"), ("!!!", "not_found"),
                          ("zzzzqqqq", "not_found")]:
        result = resolve_place(query, session=_db.session)
        assert result.unknown, query
        assert result.reason == reason, query
        assert result.suggestions == (), query


def test_never_raises_for_user_input(gazetteer):
    for query in ["\x00", "Saint\x00Lô", "' OR 1=1 --", "%", "_", "Saint-Lô (", "()", "(50)",
                  ",", "Saint-Lô,,", "🥕🥕", "Москва", "a" * 100, "50 000 000", "2A", "999",
                  "Valence (99)", "Valence (Bretagne)", "12 rue de la Paix, Vannes", "é" * 100]:
        result = resolve_place(query, session=_db.session)
        assert result.status in set(ResolutionStatus), query
        assert isinstance(result.as_dict(), dict)


def test_a_qualifier_that_names_nothing_does_not_narrow(gazetteer):
    result = resolve_place("Valence (Bretagne)", session=_db.session)
    assert result.ambiguous
    assert len(result.candidates) == 3


def test_names_with_numbers_come_before_departement_codes(gazetteer):
    result = resolve_place("Paris 15", session=_db.session)
    assert result.found
    assert result.place.name == "Paris 15"
    assert result.place.department_code == "75"


def test_empty_gazetteer_says_so(db):
    result = resolve_place("Vannes", session=_db.session)
    assert result.unknown
    assert result.reason == "no_gazetteer"
