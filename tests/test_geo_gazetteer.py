"""The gazetteer: data read from the PyPI packages, and `flask geo load-gazetteer`."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.geo import models as _geo_models  # noqa: F401  (tables for create_all)
from marketplace.geo.gazetteer import load_gazetteer, read_gazetteer
from marketplace.geo.models import Department, Place, PlacePostcode


def geo_cli(app, *args):
    if "geo" not in app.cli.commands:  # until create_app registers it
        from marketplace.geo.cli import register

        register(app)
    return app.test_cli_runner().invoke(args=["geo", *args])


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture(scope="module")
def data():
    return read_gazetteer()


def by_name(data, name, department):
    return [p for p in data.places if p.name == name and p.department_code == department]


def test_data_has_every_french_departement_and_no_overseas(data):
    codes = {code for code, _ in data.departments}
    assert len(codes) == 96  # 94 numbered mainland départements, 2A and 2B
    assert {"01", "2A", "2B", "56", "95"} <= codes
    assert not {c for c in codes if c.startswith("97")}
    assert dict(data.departments)["56"] == "Morbihan"
    assert all(41 < p.latitude < 51.2 and -5.2 < p.longitude < 9.6 for p in data.places)


def test_data_places_merge_geonames_ids_populations_and_postcodes(data):
    assert 30_000 < len(data.places) < 45_000
    with_ids = [p for p in data.places if p.geonames_id]
    assert len(with_ids) > 14_000  # cities500: French places of 500 inhabitants or more
    assert len({p.geonames_id for p in with_ids}) == len(with_ids)
    (saint_lo,) = by_name(data, "Saint-Lô", "50")
    assert saint_lo.geonames_id == 2978758
    assert saint_lo.population > 15_000
    assert saint_lo.postcodes == ("50000",)
    assert saint_lo.search_key == "saint lo"
    assert abs(saint_lo.latitude - 49.116) < 0.01
    assert abs(saint_lo.longitude + 1.090) < 0.01
    (rochefort,) = by_name(data, "Rochefort-en-Terre", "56")
    assert rochefort.postcodes == ("56220",)
    # A small commune, in the postal data only.
    assert any(p.geonames_id is None and p.postcodes for p in data.places)
    # Ids are 1..n in a stable order: a reload keeps them.
    assert [p.id for p in data.places] == list(range(1, len(data.places) + 1))


def test_load_a_slice_is_idempotent(db, data):
    first = load_gazetteer(db.session, departments={"50", "56"})
    db.session.commit()
    ids = set(db.session.scalars(select(Place.id)))
    assert first.departments == 2
    assert first.places == len(ids) == sum(
        1 for p in data.places if p.department_code in {"50", "56"})
    assert first.postcodes == count(db, PlacePostcode) > 0
    again = load_gazetteer(db.session, departments={"50", "56"})
    db.session.commit()
    assert again == again.__class__(2, first.places, first.postcodes, again.seconds)
    assert set(db.session.scalars(select(Place.id))) == ids
    place = db.session.scalar(select(Place).where(Place.search_key == "saint lo"))
    assert place.label == "Saint-Lô (50)"
    assert place.department.name == "Manche"


def test_cli_loads_departements_and_skips_when_not_empty(app, db):
    result = geo_cli(app, "load-gazetteer", "--department", "56", "--department", "2a")
    assert result.exit_code == 0, result.output
    assert "Loaded" in result.output
    assert set(db.session.scalars(select(Department.code))) == {"56", "2A"}
    loaded = count(db, Place)
    result = geo_cli(app, "load-gazetteer", "--if-empty")
    assert result.exit_code == 0, result.output
    assert f"already has {loaded} places" in result.output
    assert count(db, Place) == loaded


def test_cli_refuses_an_unknown_departement(app, db):
    result = geo_cli(app, "load-gazetteer", "--department", "99")
    assert result.exit_code == 2
    assert "Unknown département" in result.output
    assert count(db, Place) == 0


def test_cli_loads_the_whole_gazetteer(app, db, data):
    result = geo_cli(app, "load-gazetteer")
    assert result.exit_code == 0, result.output
    assert count(db, Place) == len(data.places)
    assert count(db, Department) == 96
    assert count(db, PlacePostcode) == sum(len(p.postcodes) for p in data.places)
    result = geo_cli(app, "resolve", "ROCHEFORT EN TERRE")
    assert result.exit_code == 0, result.output
    assert "found" in result.output
    assert "Rochefort-en-Terre (56, Morbihan)" in result.output
