"""Farm profiles. Services flush; views commit."""

from __future__ import annotations

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from marketplace.accounts.models import User
from marketplace.geo import services as geo
from marketplace.producers.models import Label, Producer


def create_farm_for(session: Session, user: User, name: str | None = None) -> Producer:
    producer = Producer(user_id=user.id, name=name or user.display_name)
    session.add(producer)
    session.flush()
    return producer


def farm_of(session: Session, user: User) -> Producer | None:
    return session.scalar(select(Producer).where(Producer.user_id == user.id))


def all_labels(session: Session) -> list[Label]:
    return list(session.scalars(select(Label).order_by(Label.code)))


def update_profile(session: Session, producer: Producer, *, label_ids: list[int], **fields) -> None:
    for key, value in fields.items():
        if not hasattr(Producer, key):
            raise AttributeError(key)
        setattr(producer, key, value)
    wanted = set(label_ids)
    producer.labels = [label for label in all_labels(session) if label.id in wanted]
    session.flush()


def is_public():
    """The criterion for a public farm (its account approved by an admin), as an
    EXISTS on the producer alone: usable in any WHERE, radius searches included."""
    return Producer.user.has(User.approved_at.is_not(None))


def public_producers_query():
    return (
        select(Producer)
        .join(Producer.user)
        .where(User.approved_at.is_not(None))
    )


def list_public_producers(session: Session, page: int, per_page: int):
    stmt = (
        public_producers_query()
        .options(selectinload(Producer.labels))
        .order_by(Producer.name, Producer.id)
    )
    # What db.paginate does, on the session given (no cap on per_page, as there).
    return SelectPagination(select=stmt, session=session, page=page, per_page=per_page,
                            max_per_page=None, error_out=False)


def get_public_producer(session: Session, producer_id: int) -> Producer | None:
    return session.scalar(
        public_producers_query()
        .where(Producer.id == producer_id)
        .options(selectinload(Producer.labels))
    )


def producers_serving(lat, lon, *, session: Session, where=(), limit: int | None = None,
                      options=()):
    """Producers whose own delivery radius reaches (lat, lon), nearest first (geo hits)."""
    return geo.reaching(Producer, Producer.delivery_radius_km, lat, lon, where=where,
                        limit=limit, session=session, options=options)
