"""Card payments through Stripe, webhooks, refunds, pay at pickup, the farms' ledger."""
