"""Real clients against a real uvicorn on loopback: the seed's `curl` command (verbatim but
for the host) and the official `cloudflare` Python SDK with `base_url` pointed at us."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from cloudflare import Cloudflare
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botwarden.api.app import create_app
from tests.api.conftest import SEED_EMAIL, SEED_KEY, SEED_ZONE, World
from tests.api.server import LiveServer
from tests.api.test_feedback import SEED_BODY
from tests.conftest import require_binary

SEED_CURL = Path(__file__).parent / "data" / "seed_feedback.curl"


class StatusRecorder:
    """Wraps the app to note (method, path, status) of every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def note(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, note)


@pytest.fixture
def recorded(world: World) -> Iterator[tuple[LiveServer, StatusRecorder]]:
    rec = StatusRecorder(create_app(world.st))
    with LiveServer(rec) as srv:
        yield srv, rec


def test_seed_curl_command_verbatim(
    world: World, recorded: tuple[LiveServer, StatusRecorder]
) -> None:
    curl = require_binary("curl", "the seed's Feedback API example is a curl command")
    srv, rec = recorded
    command = SEED_CURL.read_text()
    assert command.startswith("curl -X POST 'https://api.cloudflare.com/client/v4/zones/")
    command = command.replace("https://api.cloudflare.com", srv.url, 1)
    assert command.startswith("curl ")
    out = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": str(Path(curl).parent)},
    )
    answer = json.loads(out.stdout)
    assert answer["success"] is True
    assert rec.seen[-1] == (
        "POST",
        f"/client/v4/zones/{SEED_ZONE}/bot_management/feedback",
        201,
    )
    report = answer["result"]
    assert report["description"] == "Legitimate customers having low score"
    assert report["requests_by_attribute"]["topUserAgents"] == [
        {"metric": "curl/7.68.0", "requests": 100}
    ]
    listed = world.st.list_feedback(SEED_ZONE)
    assert [r.id for r in listed[0]] == [report["id"]]


@pytest.fixture
def sdk(world: World, server: LiveServer) -> Iterator[Cloudflare]:
    with Cloudflare(
        api_email=SEED_EMAIL,
        api_key=SEED_KEY,
        base_url=server.url + "/client/v4",
        max_retries=0,
    ) as client:
        yield client


def test_sdk_bot_management_get_and_update(sdk: Cloudflare, world: World) -> None:
    got = sdk.bot_management.get(zone_id=SEED_ZONE)
    assert got is not None
    assert getattr(got, "enable_js", None) is True
    assert getattr(got, "auto_update_model", None) is True
    updated = sdk.bot_management.update(
        zone_id=SEED_ZONE, enable_js=False, suppress_session_score=True
    )
    assert updated is not None
    assert getattr(updated, "enable_js", None) is False
    assert world.st.get_settings(SEED_ZONE).suppress_session_score is True
    pro = sdk.bot_management.update(
        zone_id=world.zones["pro"], sbfm_definitely_automated="managed_challenge"
    )
    assert getattr(pro, "sbfm_definitely_automated", None) == "managed_challenge"
    with pytest.raises(cloudflare.BadRequestError) as exc:
        sdk.bot_management.update(zone_id=world.zones["pro"], fight_mode=True)
    assert "fight_mode: available on the free plan" in str(exc.value)


def test_sdk_feedback_through_generic_post_and_get(sdk: Cloudflare) -> None:
    path = f"/zones/{SEED_ZONE}/bot_management/feedback"
    created: Any = sdk.post(path, cast_to=object, body=SEED_BODY)
    assert created["success"] is True
    assert created["result"]["status"] == "pending"
    listed: Any = sdk.get(path, cast_to=object)
    assert [r["id"] for r in listed["result"]] == [created["result"]["id"]]
    one: Any = sdk.get(f"{path}/{created['result']['id']}", cast_to=object)
    assert one["result"] == created["result"]
    with pytest.raises(cloudflare.BadRequestError) as exc:
        sdk.post(path, cast_to=object, body={**SEED_BODY, "requests": 99})
    assert "requests_by_score: the counts sum to 100, but requests is 99" in str(exc.value)


def test_sdk_with_a_token(world: World, server: LiveServer) -> None:
    with Cloudflare(
        api_token=world.tokens["all"], base_url=server.url + "/client/v4", max_retries=0
    ) as client:
        verified = client.user.tokens.verify()
        assert verified is not None
        assert verified.status == "active"
        zone = client.zones.get(zone_id=SEED_ZONE)
        assert zone is not None
        assert zone.name == "example.com"
        names = sorted(z.name for z in client.zones.list())
        assert names == ["business.example", "example.com", "free.example", "pro.example"]
    with (
        Cloudflare(
            api_token=world.tokens["free-zone-only"],
            base_url=server.url + "/client/v4",
            max_retries=0,
        ) as client,
        pytest.raises(cloudflare.NotFoundError),
    ):
        client.bot_management.get(zone_id=SEED_ZONE)


def _get(obj: object, name: str) -> Any:
    """A field of an SDK answer: a model, or a plain dict where the SDK's type is a union
    with `object` (its rulesets answers)."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def test_sdk_rulesets_and_lists(sdk: Cloudflare, world: World) -> None:
    rs = sdk.rulesets.phases.update(
        ruleset_phase="http_request_firewall_custom",
        zone_id=SEED_ZONE,
        rules=[{"expression": "cf.bot_management.score lt 10", "action": "block"}],
    )
    assert _get(rs, "phase") == "http_request_firewall_custom"
    assert len(_get(rs, "rules")) == 1
    again = sdk.rulesets.phases.get(ruleset_phase="http_request_firewall_custom", zone_id=SEED_ZONE)
    assert _get(again, "id") == _get(rs, "id")
    added = sdk.rulesets.rules.create(
        ruleset_id=_get(rs, "id"), zone_id=SEED_ZONE, expression="not ssl", action="log"
    )
    assert len(_get(added, "rules")) == 2
    with pytest.raises(cloudflare.BadRequestError) as exc:
        sdk.rulesets.rules.create(
            ruleset_id=_get(rs, "id"), zone_id=SEED_ZONE, expression="ssl and", action="log"
        )
    assert "unexpected end of expression" in str(exc.value)
    lst = sdk.rules.lists.create(account_id=world.account, kind="ip", name="office")
    assert lst is not None
    assert lst.name == "office"
    names = [x.name for x in sdk.rules.lists.list(account_id=world.account)]
    assert names == ["office"]
