"""LightGBM → ONNX (onnxmltools), with thresholds that keep float32 inputs on the same
side of every split as LightGBM's double-precision thresholds.

onnxruntime compares float32 features with float32 thresholds; LightGBM compares the
same features, widened to double, with double thresholds. Rounding a threshold `t` to
the nearest float32 can move it past a feature value, so a split would go the other way.
Rounding *down* to the largest float32 `t'` ≤ `t` cannot: for any float32 `x`,
`x ≤ t ⇔ x ≤ t'`. The export rewrites every threshold that way (from the booster's own
dump), so the two agree up to float32 summation of leaf values.

The served graph is one node: onnxmltools' classifier is rewritten as a
TreeEnsembleRegressor that outputs the raw score (the margin, log-odds). The classifier's
extra outputs (label, identity, cast and multiply nodes) cost onnxruntime a third of its
per-row time, and the sigmoid is not needed: calibration (isotonic, invariant under
monotone maps) reads the margin directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb
    import onnx

INPUT = "input"
MARGIN = "margin"
TARGET_OPSET = 15
ML_OPSET = 1


def _round_down(t: float) -> float:
    f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _thresholds(booster: lgb.Booster) -> dict[tuple[int, int], float]:
    """Split thresholds by (tree id, node id), numbered as onnxmltools numbers nodes: the
    root is 0 and a visited split gives its two children the next two ids, pre-order."""
    dump: dict[str, Any] = booster.dump_model()
    out: dict[tuple[int, int], float] = {}
    for tree_id, tree in enumerate(dump["tree_info"]):
        counter = [0]
        stack: list[tuple[dict[str, Any], int]] = [(tree["tree_structure"], 0)]
        while stack:
            node, node_id = stack.pop()
            if "split_index" not in node:
                continue
            left_id, right_id = counter[0] + 1, counter[0] + 2
            counter[0] += 2
            out[(tree_id, node_id)] = float(node["threshold"])
            # pre-order, left first: push right below left
            stack.append((node["right_child"], right_id))
            stack.append((node["left_child"], left_id))
    return out


def to_onnx(booster: lgb.Booster, n_features: int) -> onnx.ModelProto:
    """The booster as an ONNX model: float32 input `input` (n × n_features), output
    `margin` (n × 1): LightGBM's raw score, `booster.predict(x, raw_score=True)`."""
    import onnx
    from onnxmltools import convert_lightgbm  # type: ignore[import-untyped]
    from onnxmltools.convert.common.data_types import (  # type: ignore[import-untyped]
        FloatTensorType,
    )

    model: onnx.ModelProto = convert_lightgbm(
        booster,
        initial_types=[(INPUT, FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    _fix_thresholds(model, booster)
    lean = _regressor(model, n_features)
    onnx.checker.check_model(lean)
    return lean


def _regressor(model: onnx.ModelProto, n_features: int) -> onnx.ModelProto:
    """The classifier's trees as a single TreeEnsembleRegressor giving the margin."""
    from onnx import TensorProto, helper

    [clf] = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    attrs = {a.name: helper.get_attribute_value(a) for a in clf.attribute}
    if set(attrs.get("class_ids", [])) - {0}:
        raise RuntimeError("ONNX export: expected a binary classifier with one score")
    kw: dict[str, Any] = {k: v for k, v in attrs.items() if k.startswith("nodes_")}
    kw.update(
        target_treeids=attrs["class_treeids"],
        target_nodeids=attrs["class_nodeids"],
        target_ids=attrs["class_ids"],
        target_weights=attrs["class_weights"],
        n_targets=1,
        post_transform="NONE",
        aggregate_function="SUM",
    )
    if attrs.get("base_values"):
        kw["base_values"] = list(attrs["base_values"])[-1:]
    node = helper.make_node(
        "TreeEnsembleRegressor", [INPUT], [MARGIN], domain="ai.onnx.ml", name="trees", **kw
    )
    graph = helper.make_graph(
        [node],
        "botwarden",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(MARGIN, TensorProto.FLOAT, [None, 1])],
    )
    out: onnx.ModelProto = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", TARGET_OPSET),
            helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        ],
        ir_version=model.ir_version,
        producer_name="botwarden",
    )
    return out


def _fix_thresholds(model: onnx.ModelProto, booster: lgb.Booster) -> None:
    import onnx

    wanted = _thresholds(booster)
    for node in model.graph.node:
        if node.op_type not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            continue
        attrs = {a.name: a for a in node.attribute}
        modes = [m.decode() for m in attrs["nodes_modes"].strings]
        values = list(attrs["nodes_values"].floats)
        trees = list(attrs["nodes_treeids"].ints)
        ids = list(attrs["nodes_nodeids"].ints)
        splits = 0
        for i, mode in enumerate(modes):
            if mode == "LEAF":
                continue
            if mode != "BRANCH_LEQ":
                raise RuntimeError(f"ONNX export: unexpected split mode {mode}")
            t = wanted.get((trees[i], ids[i]))
            if t is None or abs(values[i] - t) > 1e-3 * max(1.0, abs(t)):
                raise RuntimeError("ONNX export: graph nodes do not match the booster's dump")
            values[i] = _round_down(t)
            splits += 1
        if splits != len(wanted):
            raise RuntimeError(
                f"ONNX export: {splits} splits in the graph, {len(wanted)} in the booster"
            )
        new = onnx.helper.make_attribute("nodes_values", values)
        for i, a in enumerate(node.attribute):
            if a.name == "nodes_values":
                node.attribute[i].CopyFrom(new)
