"""Pickup points and their hosts, weekly openings, dated slots with a capacity and a
cut-off, and the farms' delivery rounds to the points (rounds.py)."""
