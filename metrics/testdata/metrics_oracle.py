"""Reference per-query metrics for metrics tests: sklearn where it has the metric, plain numpy otherwise.

Reads JSON from stdin: a list of [n, [1-based ranks of the relevant candidates]]. Writes JSON: per query
a dict from metric name to value.
"""
import json
import sys

import numpy as np
from sklearn.metrics import average_precision_score, ndcg_score

out = []
for n, ranks in json.load(sys.stdin):
    rel = np.zeros(n)  # rel[i]: 1 when the candidate at rank i+1 is relevant
    rel[np.asarray(ranks) - 1] = 1
    score = -np.arange(n, dtype=np.float64)  # strictly decreasing: no ties
    nrel = rel.sum()
    pos = np.flatnonzero(rel) + 1
    hits = np.cumsum(rel)
    at = lambda k: rel[:k].sum()
    ap20 = np.sum(hits[:20][rel[:20] == 1] / np.arange(1, n + 1)[:20][rel[:20] == 1]) / min(nrel, 20)
    p10, r10 = at(10) / 10, at(10) / nrel
    out.append({
        "map": average_precision_score(rel, score),
        "map@20": ap20,
        "mrr@10": 1 / pos[0] if pos[0] <= 10 else 0.0,
        "r@1": at(1) / nrel,
        "r@10": r10,
        "r@100": at(100) / nrel,
        "ndcg@10": ndcg_score(rel[None, :], score[None, :], k=10),
        "p@10": p10,
        "f1@10": 2 * p10 * r10 / (p10 + r10) if p10 + r10 > 0 else 0.0,
        "rank_distance": float(pos[-1] - pos[0]),
    })
json.dump(out, sys.stdout)
