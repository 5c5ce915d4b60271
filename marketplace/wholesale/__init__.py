"""Restaurants: business accounts, wholesale prices by quantity, cases, minimums."""
