"""Peer timing for BenchmarkSearch: faiss IndexFlatIP top-K on the same vectors.

usage: faiss_peer.py DIR DIM K THREADS REPS
Prints the mean seconds of one search over REPS runs, after one warm-up run.
"""
import sys
import time

import faiss
import numpy as np

d, dim, k, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
q = np.fromfile(d + "/queries.f32", dtype="<f4").reshape(-1, dim)
c = np.fromfile(d + "/cands.f32", dtype="<f4").reshape(-1, dim)
faiss.omp_set_num_threads(threads)
index = faiss.IndexFlatIP(dim)
index.add(c)
index.search(q, k)
start = time.perf_counter()
for _ in range(reps):
    index.search(q, k)
print((time.perf_counter() - start) / reps)
