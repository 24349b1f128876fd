"""Loads an ONNX file with python-onnx, runs the full checker, and prints what it read as JSON."""
import json
import sys

import onnx
from onnx import numpy_helper

m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
g = m.graph


def dims(vi):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in vi.type.tensor_type.shape.dim]


json.dump({
    "ir_version": m.ir_version,
    "producer_name": m.producer_name,
    "opsets": [[o.domain, o.version] for o in m.opset_import],
    "metadata": {p.key: p.value for p in m.metadata_props},
    "graph_name": g.name,
    "nodes": [{"op": n.op_type, "name": n.name, "inputs": list(n.input), "outputs": list(n.output),
               "attrs": {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}} for n in g.node],
    "initializers": {t.name: {"dims": list(t.dims), "type": t.data_type,
                              "values": numpy_helper.to_array(t).ravel().tolist()} for t in g.initializer},
    "inputs": [[v.name, v.type.tensor_type.elem_type, dims(v)] for v in g.input],
    "outputs": [[v.name, v.type.tensor_type.elem_type, dims(v)] for v in g.output],
}, sys.stdout)
