"""schemathesis over the OpenAPI document of a live API (analytics mounted): no 5xx, and
every answer matches the documented status codes, content type and schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from botwarden.api.app import create_app
from tests.api.analytics_events import Events
from tests.api.conftest import World
from tests.api.server import LiveServer

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


EXAMPLES_PER_OPERATION = 25


def _events(world: World) -> Events:
    events = Events()
    events.insert(
        [
            {
                "ts": 1_700_000_000 + i,
                "zone": world.zones["enterprise"],
                "client_ip": "192.0.2.1",
                "score": 1 + i % 99,
                "score_src": "Machine Learning",
                "host": "example.com",
            }
            for i in range(50)
        ]
    )
    return events


def _aim(doc: dict[str, Any], world: World, url: str) -> dict[str, Any]:
    """Point generated zone and account ids at real ones (random ids only ever reach the
    404 path); everything else is generated as the document allows."""
    ids = {"zone_id": sorted(set(world.zones.values())), "account_id": [world.account]}
    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] in ids:
                    param["schema"] = {"type": "string", "enum": ids[param["name"]]}
    doc["servers"] = [{"url": url}]
    return doc


@pytest.mark.slow
def test_openapi_conformance(world: World) -> None:
    world.st.register_model("2024.1", metrics={"auc": 0.97})
    headers = {"Authorization": f"Bearer {world.tokens['all']}"}
    with LiveServer(create_app(world.st, analytics_source=_events(world).source)) as srv:
        doc = httpx.get(srv.url + "/client/v4/openapi.json").json()
        schema = schemathesis.openapi.from_dict(_aim(doc, world, srv.url))
        operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) >= 40
        for op in operations:

            @given(case=op.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                case.call_and_validate(base_url=srv.url, headers=headers, checks=CHECKS)

            run()
