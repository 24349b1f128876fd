"""Independent reference for xling's ngram tokenizer, written from the spec in ngram.go's comment.

Reads {"config": {...}, "texts": [...]} as JSON on stdin; writes [[ids, truncated], ...] as JSON.
"""
import json
import os
import sys
import unicodedata

FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211
MASK = (1 << 64) - 1


def fnv1a(data, h=FNV_OFFSET):
    for c in data:
        h = ((h ^ c) * FNV_PRIME) & MASK
    return h


def lower(c):
    # Simple case mapping, as Go's unicode.ToLower; Python's full mapping only differs for U+0130.
    if c == "\u0130":
        return "i"
    lc = c.lower()
    return lc if len(lc) == 1 else c


def is_word_char(c):
    return unicodedata.category(c)[0] in "LMN"


def romanization_table():
    """romanize.tsv: code point (hex), script, Latin replacement; '#' lines are comments."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "romanize.tsv")
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line or line.startswith("#"):
                continue
            cp, _script, latin = line.split("\t")
            table[chr(int(cp, 16))] = latin
    return table


def split_words(text):
    cur = []
    for c in text:
        c = lower(c)
        if is_word_char(c):
            cur.append(c)
        elif cur:
            yield cur
            cur = []
    if cur:
        yield cur


def words(text, table=None):
    for w in split_words(text):
        if table is not None:
            w = [table.get(c, c) for c in w]
        s = "".join(w)
        if s:
            yield s


def encode(cfg, text):
    seed = cfg["seed"].to_bytes(8, "little")
    mod = cfg["buckets"] - 1

    def ident(kind, s):
        return 1 + fnv1a(seed + kind + s.encode("utf-8")) % mod

    span = cfg.get("span") or "word"
    table = romanization_table() if cfg.get("romanize") else None
    ids = []
    if span != "word":
        ws = list(words(text, table))
        if span == "text+words":
            ids = [ident(b"w", w) for w in ws]
        if ws:
            b = " " + " ".join(ws) + " "
            for i in range(len(b)):
                for n in range(cfg["min_n"], cfg["max_n"] + 1):
                    if i + n > len(b):
                        break
                    if b[i : i + n] == " ":
                        continue
                    ids.append(ident(b"g", b[i : i + n]))
        return finish(cfg, ids)
    for w in words(text, table):
        ids.append(ident(b"w", w))
        b = "<" + w + ">"
        for i in range(len(b)):
            for n in range(cfg["min_n"], cfg["max_n"] + 1):
                if i + n > len(b):
                    break
                if n == 1 and (i == 0 or i == len(b) - 1):
                    continue
                ids.append(ident(b"g", b[i : i + n]))
    return finish(cfg, ids)


def finish(cfg, ids):
    keep = cfg["max_tokens"]
    kept = ids[:keep]
    if cfg.get("unique"):
        kept = sorted(set(kept))
    return kept, len(ids) > keep


def main():
    req = json.load(sys.stdin)
    json.dump([list(encode(req["config"], t)) for t in req["texts"]], sys.stdout)


main()
