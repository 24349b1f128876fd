"""Peer for the retrieval benchmarks: faiss IndexFlatIP on the same vectors and thread count.

usage: faiss_peer.py DIR DIM THREADS
Loads DIR/queries.f32 and DIR/cands.f32 (little-endian float32, row-major), then for every line K read
from stdin runs one top-K search of all queries and prints its seconds, so that the benchmark can take
turns with xling round by round.
"""
import sys
import time

import faiss
import numpy as np

d, dim, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = np.fromfile(d + "/queries.f32", dtype="<f4").reshape(-1, dim)
c = np.fromfile(d + "/cands.f32", dtype="<f4").reshape(-1, dim)
faiss.omp_set_num_threads(threads)
index = faiss.IndexFlatIP(dim)
index.add(c)
for line in sys.stdin:
    k = int(line)
    start = time.perf_counter()
    index.search(q, k)
    print(time.perf_counter() - start, flush=True)
