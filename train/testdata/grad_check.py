"""PyTorch reference for train's gradient test.

For each case directory given: read the weights (raw little-endian float64) and the batch (case.json),
build the same network with torch modules (EmbeddingBag(mean) + Linear + normalize, InfoNCE by
cross_entropy, discriminator MLP behind a gradient-reversal autograd Function), and write, in float64:
the loss and every gradient of the first step, the gradient the reversal layer passes to the encoder,
and the weights after two torch.optim.AdamW steps on the same batch. The embedding table is optimised
as a sub-table of the rows the batch touches (lazy AdamW: untouched rows are left alone).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def load(d, name, shape):
    return torch.tensor(np.fromfile(os.path.join(d, name + ".f64"), dtype="<f8").reshape(shape))


def save(d, name, t):
    t.detach().numpy().astype("<f8").tofile(os.path.join(d, name + ".out.f64"))


class GradReverse(torch.autograd.Function):
    captured = []

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        r = -ctx.lam * g
        GradReverse.captured.append(r)
        return r, None


def run(d):
    c = json.load(open(os.path.join(d, "case.json")))
    B, D, O, H, L = c["buckets"], c["dim"], c["out"], c["hidden"], c["langs"]
    disc_texts, disc_lang = c.get("disc") or [], c.get("disc_lang") or []
    texts = c["queries"] + c["passages"] + disc_texts
    b = len(c["queries"])
    flat = [i for t in texts for i in t if i != 0]
    offsets = np.cumsum([0] + [sum(1 for i in t if i != 0) for t in texts[:-1]])
    ids_t = torch.tensor(flat, dtype=torch.long)
    off_t = torch.tensor(offsets, dtype=torch.long)
    rows = torch.tensor(sorted(set(flat)), dtype=torch.long)

    base = load(d, "emb", (B, D))
    sub = torch.nn.Parameter(base[rows].clone())
    lin = torch.nn.Linear(D, O)
    with torch.no_grad():
        lin.weight.copy_(load(d, "proj", (D, O)).T)
        lin.bias.copy_(load(d, "bias", (O,)))
    params = [sub, lin.weight, lin.bias]
    disc = None
    if H > 0:
        disc = torch.nn.Sequential(torch.nn.Linear(O, H), torch.nn.ReLU(), torch.nn.Linear(H, L))
        with torch.no_grad():
            disc[0].weight.copy_(load(d, "w1", (O, H)).T)
            disc[0].bias.copy_(load(d, "b1", (H,)))
            disc[2].weight.copy_(load(d, "w2", (H, L)).T)
            disc[2].bias.copy_(load(d, "b2", (L,)))
        params += list(disc.parameters())
    # With texts of its own (the balanced design) the discriminator learns from those alone.
    batch_lang = [-1] * (2 * b) if disc_texts else c["qlang"] + c["plang"]
    labels = torch.tensor([l if 0 <= l < L else -100 for l in batch_lang + disc_lang], dtype=torch.long)
    opt = torch.optim.AdamW(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                            weight_decay=c["weight_decay"])
    target = torch.arange(b)
    losses = []
    for step in range(2):
        opt.zero_grad()
        GradReverse.captured.clear()
        table = base.index_copy(0, rows, sub)
        pooled = F.embedding_bag(ids_t, table, off_t, mode="mean")
        e = F.normalize(lin(pooled), dim=1)
        s = e[:b] @ e[b : 2 * b].T / c["temperature"]
        loss = F.cross_entropy(s, target)
        if c["symmetric"]:
            loss = (loss + F.cross_entropy(s.T, target)) / 2
        if disc is not None and (labels >= 0).any():
            logits = disc(GradReverse.apply(e, c["lambda"]))
            loss = loss + F.cross_entropy(logits, labels, ignore_index=-100)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            g = torch.zeros(B, D)
            g[rows] = sub.grad
            save(d, "g_emb", g)
            save(d, "g_proj", lin.weight.grad.T)
            save(d, "g_bias", lin.bias.grad)
            if disc is not None:
                save(d, "g_w1", disc[0].weight.grad.T)
                save(d, "g_b1", disc[0].bias.grad)
                save(d, "g_w2", disc[2].weight.grad.T)
                save(d, "g_b2", disc[2].bias.grad)
                rev = GradReverse.captured[0] if GradReverse.captured else torch.zeros(len(texts), O)
                save(d, "g_rev", rev)
        opt.step()
    with torch.no_grad():
        save(d, "emb", base.index_copy(0, rows, sub))
        save(d, "proj", lin.weight.T)
        save(d, "bias", lin.bias)
        if disc is not None:
            save(d, "w1", disc[0].weight.T)
            save(d, "b1", disc[0].bias)
            save(d, "w2", disc[2].weight.T)
            save(d, "b2", disc[2].bias)
    json.dump({"loss": losses}, open(os.path.join(d, "loss.json"), "w"))


if __name__ == "__main__":
    for d in sys.argv[1:]:
        run(d)
