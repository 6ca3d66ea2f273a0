"""A seeded store behind a real uvicorn: the seed's user and zone, zones on every plan,
a second account the seed user has no access to, and tokens with narrow grants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from botwarden import store
from botwarden.api.app import create_app
from botwarden.store import Grant, Permission, Plan
from tests.api.server import LiveServer
from tests.store.helpers import sqlite_url

SEED_EMAIL = "user@example.com"
SEED_KEY = "c2547eb745079dac9320b638f5e225cf483cc5cfdda41"
SEED_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
OTHER_EMAIL = "mallory@example.net"
OTHER_KEY = "0f9e8d7c6b5a49382716051f2e3d4c5b6a798897"


@dataclass
class World:
    st: store.Store
    account: str
    other_account: str
    zones: dict[str, str]  # plan name → zone id in the seed account ("other": other account)
    tokens: dict[str, str] = field(default_factory=dict)
    admin_key: str = ""

    def key_headers(self) -> dict[str, str]:
        return {"X-Auth-Email": SEED_EMAIL, "X-Auth-Key": SEED_KEY}

    def other_headers(self) -> dict[str, str]:
        return {"X-Auth-Email": OTHER_EMAIL, "X-Auth-Key": OTHER_KEY}

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def token(self, name: str, *grants: Grant, user_id: str | None = None) -> dict[str, str]:
        uid = user_id or self.st.find_user(SEED_EMAIL).id
        _, value = self.st.create_token(uid, name, list(grants))
        self.tokens[name] = value
        return self.bearer(name)


def build_world(st: store.Store) -> World:
    acct = st.create_account("Acme")
    other = st.create_account("Other Corp")
    st.create_user(SEED_EMAIL, SEED_KEY, account_ids=[acct.id])
    st.create_user(OTHER_EMAIL, OTHER_KEY, account_ids=[other.id])
    zones = {
        "enterprise": st.create_zone(acct.id, "example.com", Plan.ENTERPRISE, id=SEED_ZONE).id,
        "business": st.create_zone(acct.id, "business.example", Plan.BUSINESS).id,
        "pro": st.create_zone(acct.id, "pro.example", Plan.PRO).id,
        "free": st.create_zone(acct.id, "free.example", Plan.FREE).id,
        "other": st.create_zone(other.id, "other.example", Plan.ENTERPRISE).id,
    }
    w = World(st, acct.id, other.id, zones)
    _, w.admin_key = st.create_user("admin@example.com", is_admin=True, account_ids=[acct.id])
    every = frozenset(Permission)
    w.token("all", Grant(every, account_ids=frozenset({acct.id})))
    w.token("free-zone-only", Grant(every, zone_ids=frozenset({zones["free"]})))
    w.token(
        "read-only",
        Grant(
            frozenset({Permission.ZONE_READ, Permission.BOT_MANAGEMENT_READ}),
            account_ids=frozenset({acct.id}),
        ),
    )
    return w


@pytest.fixture
def st(tmp_path: Path) -> Iterator[store.Store]:
    s = store.open(sqlite_url(tmp_path))
    yield s
    s.close()


@pytest.fixture
def world(st: store.Store) -> World:
    return build_world(st)


@pytest.fixture
def server(st: store.Store) -> Iterator[LiveServer]:
    with LiveServer(create_app(st)) as srv:
        yield srv


@pytest.fixture
def api(world: World, server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the live API as the seed's user (X-Auth-Email / X-Auth-Key)."""
    with httpx.Client(
        base_url=server.url + "/client/v4", headers=world.key_headers(), timeout=30
    ) as c:
        yield c


@pytest.fixture
def anon(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/client/v4", timeout=30) as c:
        yield c
