#!/usr/bin/env python3
"""Independent CPU reference for upbench's k-NN entropy: SciPy's cKDTree Kozachenko–Leonenko.

    python benchmarks/knn_reference.py SAMPLES.npy K

prints `entropy_nats seconds` for the [n, d] float64 array in SAMPLES.npy: the k-th neighbour
distances come from cKDTree.query (k + 1 neighbours, the first being the point itself), and
h = ψ(n) − ψ(k) + ln V_d + (d/n)·Σ ln ε_i, V_d = π^(d/2)/Γ(d/2 + 1). The timing covers the tree
and the query. Used by benchmarks/benches/knn_vs_scipy.rs (scripts/bench-knn installs SciPy).
"""
import sys
import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln


def kl_entropy(x, k):
    n, d = x.shape
    start = time.perf_counter()
    tree = cKDTree(x)
    dist, _ = tree.query(x, k=k + 1, workers=-1)
    seconds = time.perf_counter() - start
    eps = dist[:, k]
    log_vd = d / 2 * np.log(np.pi) - gammaln(d / 2 + 1)
    return digamma(n) - digamma(k) + log_vd + d / n * np.sum(np.log(eps)), seconds


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    h, seconds = kl_entropy(np.load(sys.argv[1]), int(sys.argv[2]))
    print(f"{h:.12f} {seconds:.6f}")
