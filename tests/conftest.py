from __future__ import annotations

import os
import shutil
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from botwarden.state.redis import RedisState

IN_CI = os.environ.get("CI") == "true"


def require_binary(path_or_name: str, why: str) -> str:
    """Path of a binary a test needs; skip outside CI when it is missing, fail in CI."""
    found = shutil.which(path_or_name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{path_or_name} is required in CI ({why}) but is not installed")
        pytest.skip(f"{path_or_name} not installed ({why})")
    return found


def redis_state() -> RedisState:
    """A Redis state store under a fresh key prefix; skip outside CI when Redis is not
    reachable, fail in CI."""
    from botwarden.state.redis import RedisState

    store = RedisState(prefix=f"bw-test-{uuid.uuid4().hex[:8]}:", timeout=0.5)
    try:
        store.ping()
    except ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return store
