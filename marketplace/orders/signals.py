"""What happens to an order, announced to the domains above orders.

Orders knows nothing of payments, invoices or e-mails: it sends these blinker
signals and payments (refunds, the ledger), wholesale (invoices, credit notes) and
notifications (e-mails) react, in the caller's transaction (receivers flush, never
commit; an exception in a receiver aborts the whole change). Each is sent with the
order, sub-order or line as sender and keyword arguments only: ``session``, ``now``,
``config`` (the settings mapping) and what the event needs. The receivers are
connected by ``connect_receivers`` of each higher domain, called by create_app in the
order payments, wholesale, notifications (blinker calls receivers in the order they
were connected): money first, then documents, then the e-mail that tells of both.
"""

from __future__ import annotations

from marketplace.ordered_signals import Namespace

_signals = Namespace()

#: The order is sure (paid, to pay at pickup, or on invoice). kwargs: session, now, config.
order_confirmed = _signals.signal("order-confirmed")

#: The order was cancelled, its stock and place given back. kwargs: session, now, config,
#: reason (for the buyer), expired (True: unpaid in time; nothing was paid).
order_cancelled = _signals.signal("order-cancelled")

#: A line's missing quantity changed. Sender: the OrderLine. kwargs: session, now, config,
#: lowered (True when fewer units are missing than before).
line_short_changed = _signals.signal("line-short-changed")

#: A sub-order's missing units were recorded (after every line's own signal).
#: kwargs: session, now, config.
shorts_recorded = _signals.signal("shorts-recorded")

#: A farm packed its part of the order. Sender: the SubOrder. kwargs: session, now.
sub_order_ready = _signals.signal("sub-order-ready")

#: The buyer took the order. kwargs: session, now, config.
order_collected = _signals.signal("order-collected")

#: A check-off was undone on an order paid at the counter: it is to pay again.
#: kwargs: session, now.
counter_payment_undone = _signals.signal("counter-payment-undone")

#: The order moved to another date of its point. kwargs: session, old_slot, new_slot,
#: reason.
order_moved = _signals.signal("order-moved")

#: Asked at checkout: how many days this buyer may take to pay on invoice. Sender: the
#: buyer. kwargs: session. Receivers return a number of days or None (no terms).
invoice_terms = _signals.signal("invoice-terms")


class Refused(ValueError):
    """A receiver refuses the change (a refund that cannot be made, say): ``message``
    says why, for people (a lazy translated string). The caller rolls back."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def invoice_terms_of(session, buyer) -> int | None:
    """The longest payment terms a higher domain grants this buyer, or None."""
    days = [value for _receiver, value in invoice_terms.send(buyer, session=session) if value]
    return max(days) if days else None
