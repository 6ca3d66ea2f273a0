from __future__ import annotations

import json
from pathlib import Path

from botwarden.ml.dataset import load
from botwarden.ml.evaluate import evaluate
from botwarden.ml.model import Model


def test_report_files_and_figures(small_model: Path, holdout: Path, tmp_path: Path) -> None:
    data = load([holdout])
    report = evaluate(Model(small_model), data, tmp_path)
    names = sorted(p.name for p in report.files)
    assert names == ["eval.json", "eval.md", "eval_calibration.png", "eval_roc.png",
                     "eval_scores.png"]  # fmt: skip
    for p in report.files:
        assert p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((tmp_path / "eval.json").read_text())
    view = doc["views"]["model"]
    assert view["overall"]["requests"] == len(data)
    assert set(view["by_sophistication"]) >= {"0", "1", "2", "3", "4"}
    assert "login_abuse" in view["by_subtype"]
    assert "chrome_desktop" in view["by_population"]
    assert view["by_population"]["chrome_desktop"]["bot_recall"] is None
    assert 0.9 < doc["auc"] <= 1.0
    md = (tmp_path / "eval.md").read_text()
    assert "## By sophistication level" in md
    assert "![eval_roc.png](eval_roc.png)" in md
