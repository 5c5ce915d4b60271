"""Delivery rounds: which pickup points a producer serves on which weekdays.

Plain functions with explicit arguments, the session first for those that query (the
caller passes its own); they flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from marketplace.geo.services import search_radius, within_km
from marketplace.pickup.models import DeliveryRound, PickupPoint, PickupSchedule, PickupSlot
from marketplace.producers.models import Producer
from marketplace.producers.services import is_public


class RoundError(ValueError):
    """A round the producer may not declare; str() is a message for people."""

    def __init__(self, message: str, point_id: int | None = None):
        super().__init__(message)
        self.point_id = point_id


@dataclass(frozen=True)
class NearbyPoint:
    point: PickupPoint
    distance_km: float


def _has_position(producer: Producer) -> bool:
    return producer.latitude is not None and producer.longitude is not None


def point_within_radius(producer: Producer, point: PickupPoint) -> bool:
    if not _has_position(producer):
        return False
    return within_km(producer, point, producer.delivery_radius_km)


def nearby_points(session: Session, producer: Producer) -> list[NearbyPoint]:
    """Active pickup points within the producer's delivery radius, nearest first."""
    if not _has_position(producer):
        return []
    hits = search_radius(PickupPoint, producer.latitude, producer.longitude,
                         producer.delivery_radius_km, where=[PickupPoint.is_active.is_(True)],
                         session=session)
    return [NearbyPoint(hit.obj, hit.distance_km) for hit in hits]


def door_hours(session: Session, nearby: list[NearbyPoint]) -> dict[int, dict[int, str]]:
    """Restaurants' doors among ``nearby``: point id -> {weekday: "08:00-11:00"}, the
    days and hours each receives deliveries (one query)."""
    ids = [n.point.id for n in nearby if n.point.is_door]
    hours: dict[int, dict[int, str]] = {point_id: {} for point_id in ids}
    if ids:
        for schedule in session.scalars(
                select(PickupSchedule).where(PickupSchedule.pickup_point_id.in_(ids),
                                             PickupSchedule.active.is_(True))):
            hours[schedule.pickup_point_id][schedule.weekday] = (
                f"{schedule.starts_at:%H:%M}–{schedule.ends_at:%H:%M}")
    return hours


def rounds_of(session: Session, producer: Producer) -> list[DeliveryRound]:
    return list(session.scalars(
        select(DeliveryRound).where(DeliveryRound.producer_id == producer.id)
        .order_by(DeliveryRound.pickup_point_id, DeliveryRound.weekday)
    ))


def set_rounds(session: Session, producer: Producer,
               rounds: Iterable[tuple[int, int]]) -> list[DeliveryRound]:
    """Replace the producer's rounds by `rounds`, pairs of (pickup point id, weekday 0-6).

    Raises RoundError (nothing changed) for a bad weekday, an unknown or inactive point,
    or a point outside the producer's delivery radius.
    """
    wanted = sorted({(int(point_id), int(weekday)) for point_id, weekday in rounds})
    points: dict[int, PickupPoint] = {}
    if wanted:
        ids = {point_id for point_id, _ in wanted}
        points = {p.id: p for p in session.scalars(
            select(PickupPoint).where(PickupPoint.id.in_(ids)))}
    for point_id, weekday in wanted:
        if not 0 <= weekday <= 6:
            raise RoundError(f"Weekday {weekday} is not between 0 (Monday) and 6 (Sunday).")
        point = points.get(point_id)
        if point is None or not point.is_active:
            raise RoundError(f"Pickup point {point_id} does not exist or is closed.", point_id)
        if not point_within_radius(producer, point):
            raise RoundError(
                f"The pickup point {point.name} is outside your delivery radius "
                f"({producer.delivery_radius_km} km).", point_id)
    session.execute(delete(DeliveryRound).where(DeliveryRound.producer_id == producer.id))
    created = [DeliveryRound(producer_id=producer.id, pickup_point_id=point_id, weekday=weekday)
               for point_id, weekday in wanted]
    session.add_all(created)
    session.flush()
    return created


def local_weekday(slot: PickupSlot, tz: str = "Europe/Paris") -> int:
    return slot.starts_at.astimezone(UTC).astimezone(ZoneInfo(tz)).weekday()


def serving(session: Session, producers: Iterable[Producer], slot: PickupSlot, *,
            tz: str = "Europe/Paris") -> set[int]:
    """Ids of the ``producers`` that serve ``slot``: a round at the slot's point on its
    local weekday, and the point within the producer's delivery radius. One query,
    whatever the number of producers."""
    by_id = {producer.id: producer for producer in producers}
    if not by_id:
        return set()
    with_round = set(session.scalars(
        select(DeliveryRound.producer_id).where(
            DeliveryRound.producer_id.in_(list(by_id)),
            DeliveryRound.pickup_point_id == slot.pickup_point_id,
            DeliveryRound.weekday == local_weekday(slot, tz),
        )))
    if not with_round:
        return set()
    point = slot.pickup_point or session.get(PickupPoint, slot.pickup_point_id)
    return {pid for pid in with_round if point_within_radius(by_id[pid], point)}


def served(session: Session, slots: Iterable[PickupSlot], *,
           tz: str = "Europe/Paris") -> list[PickupSlot]:
    """Those of ``slots`` some public farm serves (see ``serving``), in their order: a
    date no farm delivers offers nothing to order. One query whatever the number."""
    slots = list(slots)
    point_ids = sorted({slot.pickup_point_id for slot in slots})
    if not point_ids:
        return []
    farms: dict[tuple[int, int], list[Producer]] = {}
    for point_id, weekday, farm in session.execute(
            select(DeliveryRound.pickup_point_id, DeliveryRound.weekday, Producer)
            .join(Producer, Producer.id == DeliveryRound.producer_id)
            .where(DeliveryRound.pickup_point_id.in_(point_ids), is_public())):
        farms.setdefault((point_id, weekday), []).append(farm)
    return [slot for slot in slots
            if any(point_within_radius(farm, slot.pickup_point)
                   for farm in farms.get((slot.pickup_point_id, local_weekday(slot, tz)), ()))]


def can_serve(session: Session, producer: Producer, slot: PickupSlot, *,
              tz: str = "Europe/Paris") -> bool:
    """The producer serves the slot (see ``serving``)."""
    return producer.id in serving(session, [producer], slot, tz=tz)
