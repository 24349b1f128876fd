"""Builds BERT/XLM-R-shaped encoders with seeded random weights in plain torch, exports them to ONNX,
and writes PyTorch's own embeddings of given id rows as the reference the Go tests compare against.

Usage: /usr/bin/python3 export.py < request.json > reference.json

The request is a JSON list of jobs:
  {"config": {...}, "onnx": "/path/model.onnx", "rows": [{"ids": [...], "type_ids": [...] or null}, ...]}
config keys: layers, hidden, heads, ffn, vocab, max_positions, position_offset (2 for XLM-R, whose
positions start after the padding index; 0 for BERT), type_vocab (0: no token_type_ids input),
int32 (int32 inputs instead of int64), pooled (a masked-mean "sentence_embedding" output instead of
"last_hidden_state"), seed, opset, rename (optional map from those tensor names to the names to export,
for models that xling must reject).

The model file is exported only when absent (written beside it, then renamed). Each row is run alone,
without padding, so the reference does not depend on how a runner pads; the answer is a JSON list,
one object per job, with "mean", "cls", "mean_norm" and "cls_norm" lists of embeddings.
"""

import json
import math
import os
import sys

import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.heads = c["heads"]
        self.head_dim = h // self.heads
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.ln1 = nn.LayerNorm(h, eps=1e-5)
        self.up = nn.Linear(h, c["ffn"])
        self.down = nn.Linear(c["ffn"], h)
        self.ln2 = nn.LayerNorm(h, eps=1e-5)

    def forward(self, x, bias):
        b, s, h = x.shape

        def split(t):
            return t.view(b, s, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, s, h)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.pooled = c["pooled"]
        self.word = nn.Embedding(c["vocab"], h)
        self.pos = nn.Embedding(c["max_positions"], h)
        self.token_type = nn.Embedding(c["type_vocab"], h) if c["type_vocab"] > 0 else None
        off = c["position_offset"]
        self.register_buffer("positions", torch.arange(off, c["max_positions"]).unsqueeze(0), persistent=False)
        self.ln = nn.LayerNorm(h, eps=1e-5)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        ids = input_ids.long()
        x = self.word(ids) + self.pos(self.positions[:, : ids.shape[1]])
        if self.token_type is not None:
            x = x + self.token_type(token_type_ids.long())
        x = self.ln(x)
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        if not self.pooled:
            return x
        m = mask.unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp(min=1e-9)


def build(c):
    torch.manual_seed(c["seed"])
    model = Encoder(c)
    # Random LayerNorm parameters too, so every weight matters.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.normal_(1.0, 0.1)
                m.bias.normal_(0.0, 0.1)
    return model.eval()


def export(model, c, path):
    dtype = torch.int32 if c["int32"] else torch.int64
    ids = torch.ones(2, 5, dtype=dtype)
    mask = torch.ones(2, 5, dtype=dtype)
    names = ["input_ids", "attention_mask"]
    args = [ids, mask]
    if c["type_vocab"] > 0:
        names.append("token_type_ids")
        args.append(torch.zeros(2, 5, dtype=dtype))
    out = "sentence_embedding" if c["pooled"] else "last_hidden_state"
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[out] = {0: "batch"} if c["pooled"] else {0: "batch", 1: "sequence"}
    rename = c.get("rename") or {}
    names = [rename.get(n, n) for n in names]
    axes = {rename.get(n, n): a for n, a in axes.items()}
    out = rename.get(out, out)
    tmp = path + ".tmp%d" % os.getpid()
    torch.onnx.export(model, tuple(args), tmp, input_names=names, output_names=[out],
                      dynamic_axes=axes, opset_version=c.get("opset", 14), do_constant_folding=True)
    os.replace(tmp, path)


def reference(model, c, rows):
    ref = {"mean": [], "cls": [], "mean_norm": [], "cls_norm": []}
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor([r["ids"]], dtype=torch.int64)
            args = [ids, torch.ones_like(ids)]
            if c["type_vocab"] > 0:
                types = r.get("type_ids") or [0] * len(r["ids"])
                args.append(torch.tensor([types], dtype=torch.int64))
            out = model(*args)
            mean = out[0] if c["pooled"] else out[0].mean(0)
            cls = out[0] if c["pooled"] else out[0, 0]
            for key, v in (("mean", mean), ("cls", cls)):
                ref[key].append(v.tolist())
                ref[key + "_norm"].append(nn.functional.normalize(v, dim=0).tolist())
    return ref


def main():
    jobs = json.load(sys.stdin)
    answers = []
    for job in jobs:
        c = job["config"]
        model = build(c)
        if not os.path.exists(job["onnx"]):
            export(model, c, job["onnx"])
        answers.append(reference(model, c, job.get("rows") or []))
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
