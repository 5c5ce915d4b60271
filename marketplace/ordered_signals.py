"""Blinker signals whose receivers run in the order they were connected.

Blinker itself calls them in the order of a set of ids (memory addresses): the
domains' receivers (money first, then documents, then the e-mail that tells of both,
create_app's ``register_receivers``) would run in an order that changes from one
process to another. The domains' signal namespaces are this module's ``Namespace``.
"""

from __future__ import annotations

from itertools import count

import blinker
from blinker.base import ANY, make_id


class OrderedSignal(blinker.NamedSignal):
    """A named signal calling its receivers in the order of their first connection."""

    def __init__(self, name: str, doc: str | None = None) -> None:
        super().__init__(name, doc)
        self._rank: dict = {}
        self._next = count()

    def connect(self, receiver, sender=ANY, weak: bool = True):
        connected = super().connect(receiver, sender, weak)
        self._rank.setdefault(make_id(receiver), next(self._next))
        return connected

    def receivers_for(self, sender):
        return iter(sorted(super().receivers_for(sender),
                           key=lambda receiver: self._rank.get(make_id(receiver), 0)))


class Namespace(blinker.Namespace):
    """A dict of OrderedSignal by name (blinker.Namespace's interface)."""

    def signal(self, name: str, doc: str | None = None) -> OrderedSignal:
        if name not in self:
            self[name] = OrderedSignal(name, doc)
        return self[name]
