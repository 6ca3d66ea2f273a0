"""The machine-learning engine's parts: features, training, ONNX export, versions, reports."""
