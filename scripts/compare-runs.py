#!/usr/bin/env python3
"""Compares two upbench runs (results.json) configuration by configuration.

Used by scripts/gpu-check to check that a CUDA run agrees with a CPU run: for every task and
model, U/N(X|Y) and P must agree within their confidence intervals (the two intervals overlap),
and the region must be the same. Exit status 1 when any configuration disagrees.

    python3 scripts/compare-runs.py RUN_A/results.json RUN_B/results.json
"""
import json
import sys


def load(path):
    with open(path) as f:
        report = json.load(f)
    return report, {(r["task"], r["label"]): r for r in report["results"]}


def overlap(a, b):
    lo_a, hi_a = a["ci"]["lower"], a["ci"]["upper"]
    lo_b, hi_b = b["ci"]["lower"], b["ci"]["upper"]
    if a["point"] is None or b["point"] is None:  # +inf is written as null
        return a["point"] == b["point"]
    return max(lo_a, lo_b) <= min(hi_a, hi_b) * (1 + 1e-12)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (ra, a), (rb, b) = load(sys.argv[1]), load(sys.argv[2])
    ma, mb = ra["manifest"], rb["manifest"]
    print(f"A: {ma['device']} (cuda available: {ma['cuda_available']}), wall {ma['wall_secs']:.1f} s, libtorch {ma['libtorch_version']}")
    print(f"B: {mb['device']} (cuda available: {mb['cuda_available']}), wall {mb['wall_secs']:.1f} s")
    bad = 0
    print(f"{'task':24} {'model':36} {'U/N A':>9} {'U/N B':>9} {'P A':>10} {'P B':>10} {'region':>14} {'samples/s A/B':>14}  agree")
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            print(f"{key[0]:24} {key[1]:36} missing in {'A' if key not in a else 'B'}")
            bad += 1
            continue
        x, y = a[key], b[key]
        ok = overlap(x["uncertainty_ratio"], y["uncertainty_ratio"]) and overlap(x["perception_nats"], y["perception_nats"]) and x["region"] == y["region"]
        bad += not ok
        p = lambda r: "inf" if r["perception_nats"]["point"] is None else f"{r['perception_nats']['point']:.4f}"
        tx, ty = x["throughput_samples_per_sec"], y["throughput_samples_per_sec"]
        speed = tx["point"] / ty["point"] if tx and ty else float("nan")
        print(f"{key[0]:24} {key[1]:36} {x['uncertainty_ratio']['point']:9.4f} {y['uncertainty_ratio']['point']:9.4f} {p(x):>10} {p(y):>10} {x['region']:>14} {speed:14.2f}  {'yes' if ok else 'NO'}")
    print(f"{bad} configuration(s) disagree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
