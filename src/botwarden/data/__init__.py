"""Packaged data files (static extensions, verified-bot directory, fingerprint tables)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a packaged data file."""
    return Path(str(resources.files(__name__).joinpath(name)))


def read_lines(name: str) -> list[str]:
    """Non-empty, non-comment lines of a packaged text file."""
    lines = path(name).read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]
