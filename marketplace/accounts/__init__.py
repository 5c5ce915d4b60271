"""Accounts, the lowest domain: users and roles, sign-up, sign-in and out, the admin's
approval of farms and restaurants, role decorators, SIRET and VAT number checks.
What hangs on an account elsewhere (a farm, a restaurant's details) answers its
signals (signals.py)."""
