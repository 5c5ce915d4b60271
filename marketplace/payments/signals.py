"""What payments announces to the domains above it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A PaymentIntent that is no order's came from Stripe (webhook, retrieve, reconcile).
#: Sender: the intent. kwargs: session, config, now. The receiver whose document it
#: pays (a restaurant's invoice) applies it and returns what it did (a short string,
#: as ``card.apply_intent`` does); the others return None.
intent_received = _signals.signal("intent-received")

#: A refund was recorded in the caller's transaction (sent to Stripe after the commit).
#: Sender: the Refund. kwargs: session, config, now. notifications tells the buyer.
refund_recorded = _signals.signal("refund-recorded")
