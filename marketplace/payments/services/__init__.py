"""Payments' business rules, one module per concern; this package is what the other
domains and the views import (``from marketplace.payments import services``).

- card: how a buyer may pay; an order's PaymentIntent, applied from what Stripe says
  (never from the browser), and the reconciliation with Stripe;
- invoice_payments: the PaymentIntent of a restaurant's invoice (the invoice's own
  rules are wholesale's);
- webhooks: Stripe's events, each applied once;
- refunds: recorded with their ledger lines, sent to Stripe after the commit;
- ledger: commission and the farms' ledger lines;
- payouts: Stripe Connect transfers and bank transfers to the farms.

Plain functions with explicit arguments; they flush, never commit; network calls
(``gateway``) happen outside the functions that only touch the database.
"""

from .card import (
    apply_intent,
    apply_unsettled,
    cancel_or_retrieve,
    check_before_expiry,
    create_intent,
    payment_methods,
    payment_of,
    reconcile,
    record_failure,
    refresh_from_stripe,
    start_card_payment,
    store_intent,
)
from .invoice_payments import (
    OPEN_STATUSES,
    create_invoice_intent,
    invoice_payment_by_intent,
    invoice_payment_of,
    open_invoice_intent,
    set_invoice_amount,
    usable_invoice_payment,
)
from .ledger import (
    DEFAULT_COMMISSION_BP,
    add_entry,
    commission_bp,
    commission_of,
    ledger_entries,
    ledger_totals,
    month_bounds,
    record_invoice_sale,
    record_sales,
    undo_counter_sales,
)
from .payouts import (
    PayoutError,
    payable_now_cents,
    payouts_due,
    record_bank_transfer,
    send_due_transfers,
    transfers_due,
)
from .refunds import (
    CREDIT_NOTE_REASON,
    PAID_LATE_REASON,
    SHORT_REASON,
    RefundError,
    apply_refund_object,
    cancelled_reason,
    line_refundable_cents,
    payment_state,
    refund_entries,
    refund_label,
    refund_line_short,
    refundable_by_farm,
    refundable_cents,
    refunded_cents,
    refunds_of,
    request_refund,
    send_pending_refunds,
    send_refunds_after_commit,
)
from .webhooks import handle_event

__all__ = [
    "CREDIT_NOTE_REASON", "PAID_LATE_REASON", "SHORT_REASON", "cancelled_reason", "payment_state",
    "refund_label", "undo_counter_sales",
    "DEFAULT_COMMISSION_BP", "OPEN_STATUSES", "PayoutError", "RefundError", "add_entry",
    "apply_intent", "apply_refund_object", "apply_unsettled", "cancel_or_retrieve",
    "check_before_expiry", "commission_bp", "commission_of", "create_intent",
    "create_invoice_intent", "handle_event", "invoice_payment_by_intent",
    "invoice_payment_of", "ledger_entries", "ledger_totals", "line_refundable_cents",
    "month_bounds", "open_invoice_intent", "payable_now_cents", "payment_methods",
    "payment_of", "payouts_due",
    "reconcile", "record_bank_transfer", "record_failure", "record_invoice_sale",
    "record_sales", "refresh_from_stripe", "refund_entries", "refund_line_short",
    "refundable_by_farm", "refundable_cents", "refunded_cents", "refunds_of",
    "request_refund", "send_due_transfers", "send_pending_refunds",
    "send_refunds_after_commit", "set_invoice_amount", "start_card_payment", "store_intent",
    "transfers_due", "usable_invoice_payment",
]
