from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI") == "true"


def require_binary(path_or_name: str, why: str) -> str:
    """Path of a binary a test needs; skip outside CI when it is missing, fail in CI."""
    found = shutil.which(path_or_name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{path_or_name} is required in CI ({why}) but is not installed")
        pytest.skip(f"{path_or_name} not installed ({why})")
    return found
