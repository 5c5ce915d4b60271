"""Relays: a point's host or a named volunteer orders for neighbours who are not
online (no e-mail, no password), on paper or by phone."""
