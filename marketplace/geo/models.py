"""The gazetteer: French départements, places (communes and a few other localities)
and their postcodes, loaded from PyPI data packages by `flask geo load-gazetteer`.

Place ids are given by the loader (the same data gives the same ids), so the
postcode rows need no RETURNING and a reload keeps ids. Still, nothing should hold a
foreign key to a place: keep its coordinates and label instead (as users do).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db


class Department(db.Model):
    """A French département: code ("56", "2A"), name ("Morbihan") and its search key."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    search_key: Mapped[str] = mapped_column(String(80), index=True)

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class Place(db.Model):
    """A place a buyer may type: a commune (or former commune, or locality) with a point."""

    __tablename__ = "places"
    __table_args__ = (
        CheckConstraint("latitude >= -90 AND latitude <= 90", name="lat"),
        CheckConstraint("longitude >= -180 AND longitude <= 180", name="lon"),
        # Equality on the key, and LIKE 'prefix%' for suggestions on PostgreSQL
        # whatever the database's collation (SQLite compares bytes already).
        Index("ix_places_search_key", "search_key",
              postgresql_ops={"search_key": "text_pattern_ops"}),
        Index("ix_places_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # GeoNames id when the place is in GeoNames' cities500 (about 15,000 French
    # places of 500 inhabitants or more); none for smaller communes.
    geonames_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    search_key: Mapped[str] = mapped_column(String(120))
    department_code: Mapped[str] = mapped_column(
        ForeignKey("departments.code"), index=True
    )
    population: Mapped[int | None] = mapped_column(Integer)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)

    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)

    @property
    def label(self) -> str:
        """'Saint-Lô (50)': how homonyms are told apart."""
        return f"{self.name} ({self.department_code})"

    def __repr__(self) -> str:
        return f"<Place {self.id} {self.label}>"


class PlacePostcode(db.Model):
    """One postcode of a place; a postcode may serve several places and the reverse."""

    __tablename__ = "place_postcodes"

    postcode: Mapped[str] = mapped_column(String(5), primary_key=True)
    place_id: Mapped[int] = mapped_column(
        ForeignKey("places.id", ondelete="CASCADE"), primary_key=True, index=True
    )
