from __future__ import annotations

import json
from pathlib import Path

import pytest

from botwarden.errors import ConfigError
from botwarden.ml.registry import ACTIVE, CANDIDATE, RETIRED, Registry


@pytest.fixture
def reg(tmp_path: Path, small_model: Path) -> Registry:
    # The small model stands in for the packaged base model.
    return Registry(tmp_path / "models", base=small_model)


def test_base_model_becomes_v1(reg: Registry, small_model: Path) -> None:
    assert reg.active == "v1"
    [v1] = reg.versions()
    assert (v1.version, v1.state) == ("v1", ACTIVE)
    assert v1.meta["version"] == "v1"
    assert v1.meta["source"] == "package base model"
    assert (reg.root / "v1" / "model.onnx").read_bytes() == (
        small_model / "model.onnx"
    ).read_bytes()
    assert json.loads(reg.path.read_text())["revision"] == 1


def test_versions_promote_and_roll_back(reg: Registry, small_model: Path) -> None:
    v2 = reg.add(small_model, description="retrained")
    v3 = reg.add(small_model)
    assert (v2, v3) == ("v2", "v3")
    assert reg.info("v2").state == CANDIDATE
    assert reg.info("v2").meta["parent"] == "v1"
    assert reg.info("v2").meta["description"] == "retrained"  # what the user said wins
    reg.promote("v2")
    assert reg.active == "v2"
    assert reg.info("v1").state == RETIRED
    reg.promote("v3")
    assert reg.rollback() == "v2"
    assert reg.active == "v2"
    assert reg.info("v3").state == RETIRED
    assert reg.rollback() == "v1"
    with pytest.raises(ConfigError, match="nothing to roll back"):
        reg.rollback()
    # state survives a reload
    again = Registry(reg.root, base=reg.base)
    assert again.active == "v1"
    assert again.info("v2").state == RETIRED


def test_zone_pins_and_auto_update(reg: Registry, small_model: Path) -> None:
    reg.add(small_model)
    assert reg.resolve("a.example") == "v1"
    reg.set_auto_update("a.example", False)  # stays on what it runs now
    reg.pin("b.example", "v2")
    reg.promote("v2")
    assert reg.resolve("a.example") == "v1"
    assert reg.resolve("b.example") == "v2"
    assert reg.resolve("c.example") == "v2"
    assert reg.zone("a.example") == {"pin": "v1", "auto_update": False}
    reg.set_auto_update("a.example", True)
    assert reg.resolve("a.example") == "v2"
    reg.pin("b.example", None)
    assert reg.zone("b.example") == {"pin": None, "auto_update": True}
    with pytest.raises(ConfigError, match="no model version 'v9'"):
        reg.pin("a.example", "v9")


def test_shadow_is_a_candidate(reg: Registry, small_model: Path) -> None:
    v2 = reg.add(small_model)
    reg.set_shadow(v2)
    assert reg.shadow == "v2"
    with pytest.raises(ConfigError, match="active model"):
        reg.set_shadow("v1")
    reg.promote(v2)
    assert reg.shadow is None  # promoting the shadow ends shadowing


def test_changes_are_detected(reg: Registry, small_model: Path) -> None:
    before = reg.stamp()
    reg.add(small_model)
    assert reg.stamp() != before


def test_corrupt_registry_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable model registry"):
        Registry(tmp_path)
