"""What payments announces to the domains above it."""

from __future__ import annotations

from marketplace.ordered_signals import Namespace

_signals = Namespace()

#: A PaymentIntent that is no order's came from Stripe (webhook, retrieve, reconcile).
#: Sender: the intent. kwargs: session, config, now. The receiver whose document it
#: pays (a restaurant's invoice) applies it and returns what it did (a short string,
#: as ``card.apply_intent`` does); the others return None.
intent_received = _signals.signal("intent-received")

#: A refund was recorded in the caller's transaction (sent to Stripe after the commit).
#: Sender: the Refund. kwargs: session, config, now. notifications tells the buyer.
refund_recorded = _signals.signal("refund-recorded")

#: Asked before a buyer cancels: what else than the order's own card payment would go
#: back to the card (an invoice paid by card, credited in full by the cancellation).
#: Sender: the Order. kwargs: session. Receivers return cents, or None.
cancel_card_refunds = _signals.signal("cancel-card-refunds")

#: Asked by the order's page: the order's invoices, as (due date, paid) pairs. Sender:
#: the Order. kwargs: session. Receivers return a list, or None.
order_invoices = _signals.signal("order-invoices")


def cancel_card_refunds_of(session, order) -> int:
    """What documents of higher domains would give back to the card if ``order`` were
    cancelled now (cancel_card_refunds)."""
    return sum(cents or 0 for _receiver, cents in
               cancel_card_refunds.send(order, session=session))


def invoices_of(session, order) -> list:
    """(due date, paid) of each of the order's invoices (order_invoices)."""
    return [pair for _receiver, pairs in order_invoices.send(order, session=session)
            for pair in pairs or ()]
