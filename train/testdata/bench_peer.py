"""PyTorch peer of train's benchmark: the same encoder (EmbeddingBag(mean), then Linear unless the projection
is frozen as the identity, then normalize), the same InfoNCE loss and the same optimiser (lazy AdamW on the
embedding rows a batch touches, torch.optim.AdamW on a trained projection), on the same pre-tokenised
batches, on the CPU with a fixed number of threads.

Usage: bench_peer.py DIR. DIR holds bench.json and ids.i64 / offsets.i64 (little-endian int64: every
batch's texts, queries then passages, as flat ids and per-text start offsets). After the warm-up steps it
reads a step count N from each line of stdin, runs the next N steps and prints their seconds, so that the
benchmark can take turns with it.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main(d):
    c = json.load(open(os.path.join(d, "bench.json")))
    torch.set_num_threads(c["threads"])
    torch.manual_seed(c["seed"])
    ids = np.fromfile(os.path.join(d, "ids.i64"), dtype="<i8")
    offs = np.fromfile(os.path.join(d, "offsets.i64"), dtype="<i8")
    b, texts = c["batch"], 2 * c["batch"]
    batches = []
    for k in range(c["batches"]):
        o = offs[k * texts:(k + 1) * texts + 1]
        batches.append((torch.from_numpy(ids[o[0]:o[-1]].copy()), torch.from_numpy(o[:-1] - o[0])))

    bag = torch.nn.EmbeddingBag(c["buckets"], c["dim"], mode="mean", sparse=True)
    lin = torch.nn.Linear(c["dim"], c["out"])
    lr, b1, b2, eps, wd = c["lr"], c["beta1"], c["beta2"], c["eps"], c["weight_decay"]
    opt = torch.optim.AdamW(lin.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    w = bag.weight.data
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    target = torch.arange(b)
    state = {"t": 0}
    frozen = c.get("freeze_projection", False)

    def lazy_adamw():
        # torch.optim.AdamW's arithmetic, on the touched rows only.
        state["t"] += 1
        t = state["t"]
        g = bag.weight.grad.coalesce()
        idx, gv = g.indices()[0], g.values()
        mr = m.index_select(0, idx).mul_(b1).add_(gv, alpha=1 - b1)
        vr = v.index_select(0, idx).mul_(b2).addcmul_(gv, gv, value=1 - b2)
        m.index_copy_(0, idx, mr)
        v.index_copy_(0, idx, vr)
        p = w.index_select(0, idx).mul_(1 - lr * wd)
        denom = (vr.sqrt() / (1 - b2 ** t) ** 0.5).add_(eps)
        p.addcdiv_(mr, denom, value=-lr / (1 - b1 ** t))
        w.index_copy_(0, idx, p)

    def step(k):
        flat, off = batches[k % len(batches)]
        bag.zero_grad(set_to_none=True)
        opt.zero_grad(set_to_none=True)
        pooled = bag(flat, off)
        e = F.normalize(pooled if frozen else lin(pooled), dim=1)
        loss = F.cross_entropy(e[:b] @ e[b:].T / c["temperature"], target)
        loss.backward()
        lazy_adamw()
        if not frozen:
            opt.step()
        return loss

    for k in range(c["warmup"]):
        step(k)
    k = 0
    for line in sys.stdin:
        start = time.perf_counter()
        for _ in range(int(line)):
            step(k)
            k += 1
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
