from __future__ import annotations

import io
import json
from pathlib import Path

from botwarden.ml import cli


def run(fn: object, *args: object, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = fn(*args, stdout=out, stderr=err, **kw)  # type: ignore[operator]
    return code, out.getvalue(), err.getvalue()


def test_train_register_and_manage(corpus: Path, holdout: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    code, out, err = run(cli.train_command, data=[corpus], out=tmp_path / "m", rounds=15,
                         threads=1, register=True, data_dir=data_dir)  # fmt: skip
    assert code == 0, err
    assert "validation: AUC" in out
    assert "registered as v2 (candidate)" in out
    assert "boosting" in err  # the progress bars
    assert (tmp_path / "m" / "model.onnx").is_file()

    code, out, _ = run(cli.list_command, data_dir=data_dir)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("v1       active")
    assert lines[2].startswith("v2       candidate")

    code, out, _ = run(cli.show_command, "v2", data_dir=data_dir)
    meta = json.loads(out)
    assert meta["state"] == "candidate"
    assert meta["parent"] == "v1"
    assert meta["training_data"]["rows"] > 1000
    assert "calibration" not in meta

    assert run(cli.shadow_command, "v2", data_dir=data_dir)[0] == 0
    assert run(cli.promote_command, "v2", data_dir=data_dir)[1] == "v2 is active (was v1)\n"
    assert run(cli.pin_command, "a.example", "v1", data_dir=data_dir)[0] == 0
    code, out, _ = run(cli.auto_update_command, "b.example", False, data_dir=data_dir)
    assert out == "b.example: auto-update off (runs v2, pinned)\n"
    assert run(cli.rollback_command, data_dir=data_dir)[1] == "v1 is active again (v2 retired)\n"

    code, out, err = run(cli.eval_command, "v2", data=[holdout], out=tmp_path / "e",
                         data_dir=data_dir, progress=False)  # fmt: skip
    assert code == 0, err
    assert "human FP" in out
    assert (tmp_path / "e" / "eval.md").is_file()


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    code, _, err = run(cli.train_command, data=[tmp_path / "nope.parquet"], out=tmp_path / "m")
    assert (code, err) == (2, f"error: no such data file: {tmp_path / 'nope.parquet'}\n")
    code, _, err = run(cli.promote_command, "v7", data_dir=tmp_path)
    assert code == 2
    assert err.startswith("error: no model version 'v7'")
    code, _, err = run(cli.rollback_command, data_dir=tmp_path)
    assert code == 2
    assert "nothing to roll back" in err
