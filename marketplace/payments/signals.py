"""What payments announces to the domains above it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A PaymentIntent that is no order's came from Stripe (webhook, retrieve, reconcile).
#: Sender: the intent. kwargs: session, config, now. The receiver whose document it
#: pays (a restaurant's invoice) applies it and returns what it did (a short string,
#: as ``card.apply_intent`` does); the others return None.
intent_received = _signals.signal("intent-received")
