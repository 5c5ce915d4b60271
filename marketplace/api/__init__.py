"""JSON API v1: read-only radius searches, described by an OpenAPI 3.1 document."""
