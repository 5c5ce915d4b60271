"""Farms: their profile, labels, position and delivery radius; views.py gives every
farm page the signed-in producer's farm."""
