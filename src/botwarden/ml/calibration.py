"""Calibration (isotonic regression) and the fixed map from probability to bot score.

The map is the contract that makes a score mean the same in every model version: with
`p` the calibrated probability that a request is automated and `BOUNDARY_P` = 0.5,

    p ≥ 0.5  →  score = 2 + ⌊27 · (1 − p) / 0.5⌋   (2..29, "likely automated")
    p < 0.5  →  score = 30 + ⌊69 · (0.5 − p) / 0.5⌋ (30..99, "likely human")

so 30 is exactly the point where automated becomes less likely than not, 2 means
p = 1 and 99 means p = 0. Versions differ in how well they separate traffic, never in
what a score says. docs/model.md describes the same mapping.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOUNDARY_P = 0.5
MIN_SCORE, BOUNDARY_SCORE, MAX_SCORE = 2, 30, 99


def score_of(p: float) -> int:
    """The bot score (2..99) of a calibrated probability of automation."""
    if p >= BOUNDARY_P:
        s = 2 + int(27.0 * (1.0 - p) / (1.0 - BOUNDARY_P))
        return 29 if s > 29 else (2 if s < 2 else s)
    s = 30 + int(69.0 * (BOUNDARY_P - p) / BOUNDARY_P)
    return 99 if s > 99 else (30 if s < 30 else s)


def scores_of(p: np.ndarray) -> np.ndarray:
    """`score_of` over an array (same arithmetic, so the same integers)."""
    p = np.asarray(p, dtype=np.float64)
    bot = np.clip(2 + np.floor(27.0 * (1.0 - p) / (1.0 - BOUNDARY_P)), 2, 29)
    human = np.clip(30 + np.floor(69.0 * (BOUNDARY_P - p) / BOUNDARY_P), 30, 99)
    out: np.ndarray = np.where(p >= BOUNDARY_P, bot, human).astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class Isotonic:
    """A monotone map raw probability → calibrated probability: constant on each block
    of the pool-adjacent-violators fit, linear between blocks."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    @classmethod
    def fit(cls, raw: np.ndarray, label: np.ndarray, weight: np.ndarray | None = None) -> Isotonic:
        order = np.argsort(raw, kind="stable")
        xs = np.asarray(raw, dtype=np.float64)[order]
        ys = np.asarray(label, dtype=np.float64)[order]
        ws = np.ones(len(xs)) if weight is None else np.asarray(weight, np.float64)[order]
        # Pool equal raw values first, so ties get one value.
        ux, start = np.unique(xs, return_index=True)
        sw = np.add.reduceat(ws, start)
        sy = np.add.reduceat(ys * ws, start)
        lo = ux.copy()
        hi = ux.copy()
        # Pool adjacent violators over the tie-pooled points.
        bw: list[float] = []
        by: list[float] = []
        bl: list[float] = []
        bh: list[float] = []
        for i in range(len(ux)):
            w, y, a, b = float(sw[i]), float(sy[i]), float(lo[i]), float(hi[i])
            while by and by[-1] / bw[-1] >= y / w:
                w += bw.pop()
                y += by.pop()
                a = bl.pop()
                bh.pop()
            bw.append(w)
            by.append(y)
            bl.append(a)
            bh.append(b)
        px: list[float] = []
        py: list[float] = []
        for w, y, a, b in zip(bw, by, bl, bh, strict=True):
            v = y / w
            px.append(a)
            py.append(v)
            if b > a:
                px.append(b)
                py.append(v)
        return cls(tuple(px), tuple(py))

    def __call__(self, p: float) -> float:
        xs, ys = self.x, self.y
        i = bisect_right(xs, p)
        if i == 0:
            return ys[0]
        if i >= len(xs):
            return ys[-1]
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (p - x0) * ((y1 - y0) / (x1 - x0))

    def apply(self, p: np.ndarray) -> np.ndarray:
        xs = np.asarray(self.x)
        ys = np.asarray(self.y)
        p = np.asarray(p, dtype=np.float64)
        i = np.searchsorted(xs, p, side="right")
        j = np.clip(i, 1, len(xs) - 1)
        x0, x1, y0, y1 = xs[j - 1], xs[j], ys[j - 1], ys[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = y0 + (p - x0) * ((y1 - y0) / (x1 - x0))
        out: np.ndarray = np.where(i == 0, ys[0], np.where(i >= len(xs), ys[-1], mid))
        return out

    def to_json(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Sequence[float]]) -> Isotonic:
        x, y = tuple(float(v) for v in doc["x"]), tuple(float(v) for v in doc["y"])
        if len(x) != len(y) or not x:
            raise ValueError("calibration: x and y must be non-empty and of equal length")
        return cls(x, y)
