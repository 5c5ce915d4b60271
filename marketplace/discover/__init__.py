"""Finding what is near: the map of farms and pickup points, "near me", and the
buyer's location. Views over geo, producers and pickup, above all three."""
