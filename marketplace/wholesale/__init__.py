"""Restaurants: business profiles and approval details, the quick-order grid and CSV
orders, delivery to their door, standing weekly orders, invoices and credit notes
(with their card payment and PDFs). Prices by tier and case are the catalogue's
(catalogue/pricing.py)."""
