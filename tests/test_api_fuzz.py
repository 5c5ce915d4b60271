"""Schemathesis, with every check, against the API's own OpenAPI description.

It reads /api/v1/openapi.json and runs all its phases (the description's examples,
coverage of each parameter's edges, fuzzing, links between operations) through the
WSGI app, with every check on: status codes and JSON bodies the description allows,
no 500, an Allow header on a 405 to a method the API does not take (TRACE, POST...).
Seeded and small, so the run is the same each time and takes seconds.
"""

from __future__ import annotations

import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from tests import factories


def _run(schema) -> tuple[list[str], set[str]]:
    """What schemathesis found, and the requests it sent ("TRACE /producers", ...)."""
    found, sent = [], set()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            sent |= {f"{node.value.method} {node.value.path}"
                     for node in event.recorder.cases.values()}
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished) and (
            event.status in (Status.FAILURE, Status.ERROR)
        ):
            for case_id, checks in event.recorder.checks.items():
                case = event.recorder.cases[case_id].value
                found.extend(
                    f"{check.name}: {check.failure_info.failure.title} "
                    f"({case.method} {case.formatted_path} {case.query})"
                    for check in checks if check.failure_info is not None
                )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"error: {getattr(event, 'value', None) or event.exception}")
    return found, sent


def test_api_matches_its_description(app):
    # Something to find, around the description's example centre (Vannes).
    factories.producer(name="Ferme de Theix", lat=47.6292, lon=-2.6557)
    factories.pickup_point("Halle de Vannes", at=(47.6582, -2.7608))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.update(workers=1)
    schema.config.seed = 20261208
    schema.config.generation.update(max_examples=25, deterministic=True)

    found, sent = _run(schema)

    assert found == []
    # It did reach the API, with the methods it does not take too.
    assert {"GET /producers", "GET /pickup-points", "TRACE /producers",
            "POST /pickup-points"} <= sent
