"""files.write_private: whole files, owner-only, and create-if-absent for racing processes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from botwarden.files import write_private


def test_replace_writes_whole_private_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "doc.json"
    assert write_private(path, "one\n")
    assert write_private(path, "two\n")
    assert path.read_text() == "two\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [f.name for f in path.parent.iterdir()] == ["doc.json"]


def test_create_only_keeps_the_first_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert write_private(path, "first\n", replace=False, fsync=True)
    assert not write_private(path, "second\n", replace=False)
    assert path.read_text() == "first\n"
    assert [f.name for f in tmp_path.iterdir()] == ["secret"]


def test_create_only_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some filesystems have no hard links: the file is then created exclusively."""

    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "secret"
    assert write_private(path, "first\n", replace=False)
    assert not write_private(path, "second\n", replace=False)
    assert path.read_text() == "first\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [f.name for f in tmp_path.iterdir()] == ["secret"]
