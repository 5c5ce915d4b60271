"""The catalogue: categories, products, variants (price, stock, season, who they are
sold to), photos, browsing and text search, a farm's CSV import and export, and
the prices each buyer pays (pricing.py: retail, or tiers by whole cases with farm
minimums for approved restaurants)."""
