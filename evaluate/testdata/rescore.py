"""Re-score an xling run from its embeddings alone, independently of xling's search and metrics.

Reads vectors.f32 (float32, row-major, n x dim) and items.json (one entry per row: lang, kind, id, qid,
qids) from the directory given as argv[1], and prints JSON: for every setting the mean over queries of
average precision over the whole ranking (mAP) and of F1@10, keyed "mono|q|q", "cross|q|c", "multi|q|*".

Cosine scores are inner products of the (already L2-normalised) vectors in float64. Candidates of a setting
are ordered by language, then id, and ties rank the earlier one first, as LAReQA's pool is laid out; a query
with no relevant candidate in a setting is not part of it.
"""
import json
import sys

import numpy as np

d = sys.argv[1]
items = json.load(open(d + "/items.json"))
vecs = np.fromfile(d + "/vectors.f32", dtype=np.float32).reshape(len(items), -1).astype(np.float64)
langs = sorted({it["lang"] for it in items})
order = sorted(range(len(items)), key=lambda i: (items[i]["lang"], items[i]["id"]))
queries = {l: [i for i in order if items[i]["kind"] == "query" and items[i]["lang"] == l] for l in langs}
cands = {l: [i for i in order if items[i]["kind"] == "candidate" and items[i]["lang"] == l] for l in langs}


def score(qs, cs):
    if not qs or not cs:
        return None
    sims = vecs[qs] @ vecs[cs].T
    aps, f1s = [], []
    for row, q in enumerate(qs):
        qid = items[q]["qid"]
        rel = np.array([qid in (items[c]["qids"] or []) for c in cs])
        if not rel.any():
            continue
        # Stable sort on the negated score: equal scores keep pool order.
        ranking = np.argsort(-sims[row], kind="stable")
        hits = rel[ranking]
        ranks = np.nonzero(hits)[0] + 1
        aps.append(np.mean(np.arange(1, len(ranks) + 1) / ranks))
        tp = hits[:10].sum()
        p, r = tp / 10.0, tp / rel.sum()
        f1s.append(0.0 if tp == 0 else 2 * p * r / (p + r))
    if not aps:
        return None
    return {"map": float(np.mean(aps)), "f1@10": float(np.mean(f1s)), "queries": len(aps)}


out = {}
for q in langs:
    for c in langs:
        s = score(queries[q], cands[c])
        if s:
            out[("mono" if q == c else "cross") + "|" + q + "|" + c] = s
    pool = [i for l in langs for i in cands[l]]
    s = score(queries[q], pool)
    if s:
        out["multi|" + q + "|*"] = s
json.dump(out, sys.stdout)
