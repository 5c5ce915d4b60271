"""Payments: Stripe (gateway.py, the only code that talks to it), card payments of
orders and invoices, webhooks, refunds, the farms' ledger and commission, payouts;
the checkout and payment pages."""
