"""The OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from marketplace.geo.location import MAX_RADIUS_KM, MIN_RADIUS_KM

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _query(name: str, description: str, minimum: float, maximum: float, example: float) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "number", "minimum": minimum, "maximum": maximum},
        "example": example,
    }


PARAMETERS = [
    _query("lat", "Latitude of the search centre, in decimal degrees (WGS 84).", -90, 90, 47.6582),
    _query("lon", "Longitude of the search centre, in decimal degrees (WGS 84).", -180, 180,
           -2.7608),
    _query(
        "radius_km",
        f"Search radius in kilometres, from {MIN_RADIUS_KM} to {MAX_RADIUS_KM} inclusive. "
        "A larger radius is refused with a 400, never silently reduced.",
        MIN_RADIUS_KM, MAX_RADIUS_KM, 30,
    ),
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": (
            f"At most this many items, the nearest ones (default {DEFAULT_LIMIT}, "
            f"at most {MAX_LIMIT}). `count` says how many were returned."
        ),
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                   "default": DEFAULT_LIMIT},
    },
]


def _operation(operation_id: str, summary: str, description: str) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "parameters": PARAMETERS,
        "responses": {
            "200": {
                "description": "The matches within the radius, nearest first.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ItemList"}}
                },
            },
            "400": {
                "description": (
                    "A parameter is missing, is not a finite decimal number (NaN and "
                    "infinities are refused), or is out of range. The body names it."
                ),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                },
            },
            "405": {"$ref": "#/components/responses/MethodNotAllowed"},
            "429": {"$ref": "#/components/responses/TooManyRequests"},
        },
    }


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Circuit Court API",
            "version": "1.0.0",
            "description": (
                "Read-only search of the producers (farms) and pickup points around a "
                "point. Distances are exact geodesic distances (WGS 84 ellipsoid) rounded "
                "to 0.01 km; items are sorted by distance, nearest first. Unknown query "
                "parameters are ignored. Error messages are in English unless the "
                "request's Accept-Language asks for French; `parameter` is the stable, "
                "machine-readable part."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/producers": {
                "get": _operation(
                    "listProducersNear",
                    "Producers within a radius",
                    "Farms whose account is approved, within `radius_km` of the point.",
                ),
            },
            "/pickup-points": {
                "get": _operation(
                    "listPickupPointsNear",
                    "Pickup points within a radius",
                    "Active pickup points within `radius_km` of the point.",
                ),
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This description",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "required": ["id", "name", "lat", "lon", "distance_km"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "lon": {"type": "number", "minimum": -180, "maximum": 180},
                        "distance_km": {
                            "type": "number",
                            "minimum": 0,
                            "description": "Geodesic distance from the point, rounded to 0.01 km.",
                        },
                    },
                },
                "ItemList": {
                    "type": "object",
                    "required": ["items", "count"],
                    "additionalProperties": False,
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "count": {"type": "integer", "minimum": 0},
                    },
                    "example": {
                        "items": [
                            {"id": 12, "name": "Ferme de Lindin", "lat": 47.7325,
                             "lon": -2.5894, "distance_km": 15.27},
                        ],
                        "count": 1,
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string", "description": "A readable message."},
                        "parameter": {
                            "type": "string",
                            "enum": ["lat", "lon", "radius_km", "limit"],
                            "description": "The query parameter at fault.",
                        },
                    },
                    "example": {"error": "The parameter lat is required.", "parameter": "lat"},
                },
            },
            "responses": {
                "MethodNotAllowed": {
                    "description": "Only GET (and HEAD) are allowed.",
                    "headers": {
                        "Allow": {
                            "description": "The methods this path takes.",
                            "schema": {"type": "string"},
                            "example": "GET, HEAD, OPTIONS",
                        }
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "TooManyRequests": {
                    "description": (
                        "Too many requests from this address in a short time (the "
                        "site's RATELIMIT_API setting); Retry-After says in how many "
                        "seconds to ask again."
                    ),
                    "headers": {
                        "Retry-After": {"schema": {"type": "integer", "minimum": 0}},
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        },
    }
