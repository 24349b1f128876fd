"""Independent numpy forward pass of a hashbag ONNX file, from its initializers.

Usage: hashbag_ref.py MODEL < {"ids": [[...], ...]}; prints {"metadata": {...}, "embeddings": [[...], ...]}.
The file must pass onnx's full checker first.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
w = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
E, P, b = w["embedding"], w["proj"], w["bias"]

rows = json.load(sys.stdin)["ids"]
seq = max([1] + [len(r) for r in rows])
ids = np.zeros((len(rows), seq), dtype=np.int64)
mask = np.zeros((len(rows), seq))
for i, r in enumerate(rows):
    ids[i, : len(r)] = r
    mask[i, : len(r)] = 1
weight = mask * (ids != 0)
pooled = (E[ids] * weight[:, :, None]).sum(axis=1) / np.maximum(weight.sum(axis=1, keepdims=True), 1)
h = pooled @ P + b
out = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
json.dump({"metadata": {p.key: p.value for p in model.metadata_props}, "embeddings": out.tolist()}, sys.stdout)
