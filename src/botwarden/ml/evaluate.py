"""Evaluation reports: JSON, Markdown and PNG plots of a model on labelled events.

The headline figures are the human false-positive rate (humans scored below 30) and the
bot recall (bots scored below 30), overall and per subtype, sophistication level and
population. "Model alone" scores every request with the model; "after heuristics" gives
score 1 to requests the heuristics engine decides first (the `heuristic_hit` feature), as
the pipeline does, and the model's score to the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from botwarden.ml.calibration import BOUNDARY_SCORE
from botwarden.ml.dataset import Dataset
from botwarden.ml.features import FEATURE_NAMES
from botwarden.ml.train import auc

TARGETS = {"human_fp_rate": 0.005, "bot_recall": 0.95}
_HEUR = FEATURE_NAMES.index("heuristic_hit")
LEVEL_NAMES = {
    0: "not automated / good bot",
    1: "declared library or tool",
    2: "library spoofing a browser user agent",
    3: "headless browser",
    4: "stealth (browser-grade TLS and headers, residential proxies, human pacing)",
}


@dataclass(slots=True)
class Report:
    doc: dict[str, Any]
    files: list[Path]


def _rates(y: np.ndarray, low: np.ndarray) -> dict[str, Any]:
    humans, bots = ~y, y
    return {
        "requests": len(y),
        "humans": int(humans.sum()),
        "bots": int(bots.sum()),
        "human_fp_rate": float(low[humans].mean()) if humans.any() else None,
        "bot_recall": float(low[bots].mean()) if bots.any() else None,
    }


def _groups(keys: np.ndarray, y: np.ndarray, low: np.ndarray) -> dict[str, Any]:
    out = {}
    for k in sorted({str(v) for v in keys.tolist()}):
        m = keys.astype(str) == k
        out[k] = _rates(y[m], low[m])
    return out


def metrics(data: Dataset, scores: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    y = data.y.astype(bool)
    heur = data.X[:, _HEUR] > 0.0
    views: dict[str, Any] = {}
    for view, s in (("model", scores), ("after_heuristics", np.where(heur, 1, scores))):
        low = s < BOUNDARY_SCORE
        bots = y
        views[view] = {
            "overall": _rates(y, low),
            "by_sophistication": _groups(data.sophistication, y, low),
            "by_subtype": _groups(np.where(bots, data.subtype, "(human)"), y, low),
            "by_population": _groups(data.population, y, low),
        }
    return {
        "auc": auc(y, probabilities),
        "heuristic_share": {
            "bots": float(heur[y].mean()) if y.any() else None,
            "humans": float(heur[~y].mean()) if (~y).any() else None,
        },
        "views": views,
        "targets": TARGETS,
    }


def evaluate(
    model: Any,
    data: Dataset,
    out: Path,
    *,
    name: str = "eval",
    progress: Callable[[str, float, float], None] | None = None,
) -> Report:
    """Score `data` with `model` (ml.model.Model) and write the report into `out`."""
    note = progress or (lambda _s, _d, _t: None)
    out.mkdir(parents=True, exist_ok=True)
    note("scoring", 0, 1)
    probs = model.probabilities(data.X)
    from botwarden.ml.calibration import scores_of

    scores = scores_of(probs)
    note("scoring", 1, 1)
    doc = {
        "model": {
            "version": model.version,
            "fingerprint": model.fingerprint,
            "feature_schema": model.meta.get("feature_schema"),
        },
        "data": {
            "files": [Path(f).name for f in data.files],
            "digest": data.digest,
            "rows": len(data),
        },
        **metrics(data, scores, probs),
    }
    note("plots", 0, 3)
    files = [out / f"{name}.json", out / f"{name}.md"]
    files += _plots(data.y.astype(bool), probs, scores, out, name)
    note("plots", 3, 3)
    files[0].write_text(json.dumps(doc, indent=2) + "\n")
    files[1].write_text(markdown(doc, [f.name for f in files[2:]]))
    return Report(doc, files)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def markdown(doc: dict[str, Any], images: list[str]) -> str:
    m = doc["model"]
    view = doc["views"]["model"]
    o = view["overall"]
    lines = [
        f"# Model {m['version']} — evaluation",
        "",
        f"Data: {', '.join(doc['data']['files'])} ({doc['data']['rows']:,} requests, "
        f"digest `{doc['data']['digest'][:12]}`). Feature schema `{m['feature_schema']}`.",
        "",
        "A request counts as flagged when its score is below 30 (automated or likely "
        "automated). Human false-positive rate = flagged humans / humans; bot recall = "
        "flagged bots / bots.",
        "",
        "## Overall",
        "",
        "| view | requests | humans | bots | human FP rate | bot recall | AUC |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("model", "model alone"), ("after_heuristics", "after heuristics")):
        ov = doc["views"][name]["overall"]
        lines.append(
            f"| {label} | {ov['requests']:,} | {ov['humans']:,} | {ov['bots']:,} | "
            f"{_pct(ov['human_fp_rate'])} | {_pct(ov['bot_recall'])} | "
            f"{doc['auc']:.4f} |"
        )
    ok_fp = o["human_fp_rate"] is not None and o["human_fp_rate"] <= TARGETS["human_fp_rate"]
    ok_rec = o["bot_recall"] is not None and o["bot_recall"] >= TARGETS["bot_recall"]
    lines += [
        "",
        f"Targets (model alone): human FP ≤ {100 * TARGETS['human_fp_rate']:.1f} % — "
        f"{'met' if ok_fp else 'NOT met'}; bot recall ≥ {100 * TARGETS['bot_recall']:.0f} % — "
        f"{'met' if ok_rec else 'NOT met'}.",
        "",
        "## By sophistication level",
        "",
        "| level | what | requests | bot recall (model) | bot recall (after heuristics) | "
        "human FP rate |",
        "|---|---|---:|---:|---:|---:|",
    ]
    after = doc["views"]["after_heuristics"]
    for level, r in view["by_sophistication"].items():
        a = after["by_sophistication"][level]
        what = LEVEL_NAMES.get(int(level), "") if level.lstrip("-").isdigit() else ""
        lines.append(
            f"| {level} | {what} | {r['requests']:,} | {_pct(r['bot_recall'])} | "
            f"{_pct(a['bot_recall'])} | {_pct(r['human_fp_rate'])} |"
        )
    lines += ["", "## By subtype (bots)", "", "| subtype | bots | recall (model) | "
              "recall (after heuristics) |", "|---|---:|---:|---:|"]  # fmt: skip
    for sub, r in view["by_subtype"].items():
        if sub == "(human)":
            continue
        a = after["by_subtype"][sub]
        lines.append(f"| {sub or '(good bots)'} | {r['bots']:,} | {_pct(r['bot_recall'])} | "
                     f"{_pct(a['bot_recall'])} |")  # fmt: skip
    lines += ["", "## By population", "", "| population | humans | bots | human FP rate | "
              "bot recall |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for pop, r in view["by_population"].items():
        lines.append(
            f"| {pop} | {r['humans']:,} | {r['bots']:,} | {_pct(r['human_fp_rate'])} | "
            f"{_pct(r['bot_recall'])} |"
        )
    lines += ["", "## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    return "\n".join(lines)


def roc_points(y: np.ndarray, p: np.ndarray, n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(~ys)
    tpr = tp / max(1, int(ys.sum()))
    fpr = fp / max(1, int((~ys).sum()))
    idx = np.unique(np.linspace(0, len(p) - 1, min(n, len(p))).astype(np.int64))
    return np.r_[0.0, fpr[idx]], np.r_[0.0, tpr[idx]]


def _plots(y: np.ndarray, p: np.ndarray, scores: np.ndarray, out: Path, name: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fpr, tpr = roc_points(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, lw=1.5)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlabel("false-positive rate (humans)")
    ax.set_ylabel("true-positive rate (bots)")
    ax.set_title(f"ROC — AUC {auc(y, p):.4f}")
    files.append(out / f"{name}_roc.png")
    fig.savefig(files[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [b - 0.5 for b in range(1, 101)]
    ax.hist(scores[~y], bins=bins, alpha=0.6, label="humans", log=True)
    ax.hist(scores[y], bins=bins, alpha=0.6, label="bots", log=True)
    ax.axvline(BOUNDARY_SCORE - 0.5, c="k", ls="--", lw=1)
    ax.set_xlabel("bot score")
    ax.set_ylabel("requests (log)")
    ax.legend()
    ax.set_title("Score histogram by class")
    files.append(out / f"{name}_scores.png")
    fig.savefig(files[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, 21)
    which = np.clip(np.digitize(p, edges) - 1, 0, 19)
    xs, ys_ = [], []
    for b in range(20):
        m = which == b
        if m.sum() >= 20:
            xs.append(float(p[m].mean()))
            ys_.append(float(y[m].mean()))
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.plot(xs, ys_, marker="o")
    ax.set_xlabel("predicted probability of automation")
    ax.set_ylabel("observed share of bots")
    ax.set_title("Calibration")
    files.append(out / f"{name}_calibration.png")
    fig.savefig(files[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return files
