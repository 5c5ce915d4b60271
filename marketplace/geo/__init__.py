"""Places and distances: the offline gazetteer of French communes, geocoders behind
geopy's interface, resolving what a person types into a place, and exact radius
searches (distance.py). services.py is what other domains import."""
