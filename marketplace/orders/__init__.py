"""Orders: the cart across farms, checkout (stock and slot place taken in one
transaction), orders split into one sub-order per farm, their state machine, and
fulfilment (short units, ready, collected, a closed date's orders moved or
cancelled). What happens to an order is announced (signals.py) to payments,
wholesale and notifications, which orders never imports."""
