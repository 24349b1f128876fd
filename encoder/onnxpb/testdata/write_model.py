"""Writes a model with python-onnx, with tensor data in float_data/int64_data rather than raw_data."""
import sys

import onnx
from onnx import TensorProto, helper

w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.5, -1.25, 3.0, 1e-8, 2.5e7, -0.0])
k = helper.make_tensor("k", TensorProto.INT64, [3], [1, -2, 1 << 40])
r = helper.make_tensor("r", TensorProto.FLOAT, [2], [7.0, 8.0], raw=False)
node = helper.make_node("Add", ["x", "w"], ["y"])
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializer=[w, k, r])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
helper.set_model_props(model, {"a": "1", "xling.model": "ünï"})
onnx.save(model, sys.argv[1])
