#!/usr/bin/python3
"""Turn Debian's FreeDict dictionaries into a word-pair bitext corpus in Tatoeba's layout.

A tuning experiment (docs/tuning.md, "Bilingual dictionaries"), not part of the recipe:

    apt-get download dict-freedict-eng-{ara,deu,hin,rus,spa,tur} dict-freedict-{ara,deu,spa,tur}-eng
    for f in dict-freedict-*.deb; do dpkg-deb -x "$f" x; done
    scripts/freedict-bitext.py x/usr/share/dictd DATA/bitext/dict 40000

writes DATA/bitext/dict/eng-xxx.eng and eng-xxx.xxx, line-aligned, at most CAP pairs per language (a seeded
sample), which `go run ./experiment/tune -bitext ...,dict` reads. el is not converted: it is held out.
"""
import gzip
import os
import random
import re
import sys

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
LANGS = ["ara", "deu", "hin", "rus", "spa", "tur"]
MAX_WORDS = 4


def b64(s):
    v = 0
    for c in s:
        v = v * 64 + B64.index(c)
    return v


def clean(t):
    # Drop usage notes "(tıb.)", grammar "<v>", cross references "{...}" and dictd's "~" word joiner.
    for pat in (r"\([^)]*\)", r"\[[^\]]*\]", r"\{[^}]*\}", r"<[^>]*>"):
        t = re.sub(pat, "", t)
    t = t.replace("~", " ").strip().strip(".").strip()
    return re.sub(r"\s+", " ", t)


def entries(src, name):
    """Yields (headword, translations) of one dictd database: index lines are headword, base64 offset and
    length into the gzip-compatible .dict.dz; an entry is the headword line (with /pronunciation/), then
    numbered or plain translation lines, indented examples and Synonyms/see lines."""
    data = gzip.open(os.path.join(src, f"freedict-{name}.dict.dz")).read()
    with open(os.path.join(src, f"freedict-{name}.index"), encoding="utf-8") as index:
        for line in index:
            head, off, size = line.rstrip("\n").split("\t")[:3]
            if head.startswith("00database"):
                continue
            lines = data[b64(off) : b64(off) + b64(size)].decode("utf-8").split("\n")
            h = clean(re.sub(r"\s*/[^/]*/\s*", " ", lines[0]))
            out = []
            for x in lines[1:]:
                s = x.strip()
                if not s or x.startswith("      ") or s.startswith(("Synonyms:", "see:", "Note:", '"')):
                    continue
                for t in re.split(r"[,;]", re.sub(r"^\d+\.\s*", "", s)):
                    t = clean(t)
                    if t:
                        out.append(t)
            yield h, out


def main(src, dst, cap):
    os.makedirs(dst, exist_ok=True)
    for lang in LANGS:
        pairs = set()
        for name, reverse in ((f"eng-{lang}", False), (f"{lang}-eng", True)):
            if not os.path.exists(os.path.join(src, f"freedict-{name}.index")):
                continue
            for h, ts in entries(src, name):
                if not h or len(h.split()) > MAX_WORDS:
                    continue
                for t in ts[:3]:
                    if len(t.split()) <= MAX_WORDS:
                        pairs.add((t, h) if reverse else (h, t))
        pairs = sorted(pairs)
        random.Random(7).shuffle(pairs)
        pairs = pairs[:cap]
        with open(os.path.join(dst, f"eng-{lang}.eng"), "w", encoding="utf-8") as fe, open(
            os.path.join(dst, f"eng-{lang}.{lang}"), "w", encoding="utf-8"
        ) as fx:
            for e, x in pairs:
                fe.write(e + "\n")
                fx.write(x + "\n")
        print(lang, len(pairs))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
