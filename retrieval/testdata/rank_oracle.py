"""Reference ranking for retrieval tests: numpy in float64, ties broken by lower candidate index.

usage: rank_oracle.py DIR DIM K TOL
DIR holds queries.f32 and cands.f32 (little-endian float32, row-major) and relevant.json (list per query).
Prints JSON: per query the top-K indexes and scores, the 1-based rank of each relevant candidate, and the
number of other candidates whose score lies within TOL of that candidate's (the rank slack that float32
rounding may cause).
"""
import json
import sys

import numpy as np

d, dim, k, tol = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
q = np.fromfile(d + "/queries.f32", dtype="<f4").reshape(-1, dim).astype(np.float64)
c = np.fromfile(d + "/cands.f32", dtype="<f4").reshape(-1, dim).astype(np.float64)
with open(d + "/relevant.json") as f:
    relevant = json.load(f)
s = q @ c.T
n = c.shape[0]
out = []
for i in range(q.shape[0]):
    order = np.lexsort((np.arange(n), -s[i]))  # last key is primary: score descending, then index
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    top = order[:k]
    rel = relevant[i]
    out.append({
        "top": top.tolist(),
        "scores": s[i, top].tolist(),
        "ranks": [int(rank[r]) for r in rel],
        "slack": [int(np.sum(np.abs(s[i] - s[i, r]) <= tol)) - 1 for r in rel],
    })
json.dump(out, sys.stdout)
