"""Restores an exported upbench task with NumPy alone: samples made outside upbench, for `upbench judge`.

    upbench export-task SUITE --task NAME --out DIR
    python restore.py DIR --model posterior-mean      # exact tasks with a Gaussian prior
    python restore.py DIR --model posterior-sampler   # exact tasks with a Gaussian prior
    python restore.py DIR --model bicubic             # image super-resolution
    upbench judge SUITE --task NAME --samples DIR

The models are the closed-form ones upbench's reference plugins implement, written again here
from the task's manifest (``task.json``) so that their samples are made by another framework:

- ``posterior-mean``: E[X | y] = Σ (Σx⁻¹ m + Aᵀ y / σ²) with Σ = (Σx⁻¹ + AᵀA / σ²)⁻¹;
- ``posterior-sampler``: K draws of N(E[X | y], Σ) per measurement (``--seed``);
- ``bicubic``: MATLAB's ``imresize(y, scale, 'bicubic')`` on floating-point pixels (Keys' cubic,
  a = −0.5, mirrored borders, rows first), clamped to [0, 1].

Each writes the samples where ``task.json`` says (``samples_file`` of every input), in float64
for exact tasks and float32 for images.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def gaussian_posterior(exact: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gain G, offset c, covariance Σ) of the posterior: E[X | y] = G y + c, Cov = Σ."""
    if len(exact["prior_weights"]) != 1:
        raise SystemExit("error: the closed-form posterior here needs a Gaussian prior (one component)")
    a = np.asarray(exact["operator"], dtype=np.float64)
    m0 = np.asarray(exact["prior_means"][0], dtype=np.float64)
    prior_cov = np.asarray(exact["prior_covariances"][0], dtype=np.float64)
    noise_var = float(exact["noise_std"]) ** 2
    precision = np.linalg.inv(prior_cov) + a.T @ a / noise_var
    cov = np.linalg.inv(precision)
    cov = (cov + cov.T) / 2
    return cov @ a.T / noise_var, cov @ np.linalg.solve(prior_cov, m0), cov


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic with a = −0.5 (MATLAB's ``cubic``)."""
    a = np.abs(x)
    return np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1, np.where(a <= 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))


def upsample_axis(x: np.ndarray, axis: int, scale: int) -> np.ndarray:
    """MATLAB bicubic ×``scale`` along ``axis``: six taps per output, mirrored borders."""
    n = x.shape[axis]
    out = np.arange(1, n * scale + 1)
    u = out / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - 2).astype(np.int64)
    taps = left[:, None] + np.arange(6)[None, :]
    weights = cubic(u[:, None] - taps)
    weights /= weights.sum(axis=1, keepdims=True)
    period = 2 * n
    m = np.mod(taps - 1, period)
    index = np.where(m < n, m, period - 1 - m)
    picked = np.take(x, index, axis=axis)  # the axis becomes (outputs, 6)
    shape = [1] * picked.ndim
    shape[axis], shape[axis + 1] = weights.shape
    return (picked * weights.reshape(shape)).sum(axis=axis + 1)


def bicubic(y: np.ndarray, scale: int) -> np.ndarray:
    """``[C, h, w]`` → ``[C, h·scale, w·scale]``, computed in float64."""
    x = y.astype(np.float64)
    return upsample_axis(upsample_axis(x, x.ndim - 2, scale), x.ndim - 1, scale)


def main(argv: list[str] | None = None) -> int:
    """Writes the samples; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", type=Path, help="the folder `upbench export-task` wrote")
    parser.add_argument("--model", choices=["posterior-mean", "posterior-sampler", "bicubic"], required=True)
    parser.add_argument("--seed", type=int, default=0, help="seed of the posterior sampler")
    args = parser.parse_args(argv)
    manifest = json.loads((args.export_dir / "task.json").read_text())
    k = manifest["samples_per_observation"]
    rng = np.random.default_rng(args.seed)
    for spec in manifest["inputs"]:
        y = np.load(args.export_dir / spec["file"])
        target = args.export_dir / spec["samples_file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if args.model == "bicubic":
            if manifest.get("exact") is not None or not manifest["kind"].endswith("super-resolution"):
                raise SystemExit(f"error: bicubic restores image super-resolution, not {manifest['kind']}")
            channels, height, _ = spec["sample_shape"]
            image = y[0, :channels]
            scale = height // image.shape[1]
            samples = np.clip(bicubic(image, scale).astype(np.float32), 0.0, 1.0)
        else:
            if manifest.get("exact") is None:
                raise SystemExit(f"error: {args.model} needs an exact task, not {manifest['kind']}")
            gain, offset, cov = gaussian_posterior(manifest["exact"])
            mean = y @ gain.T + offset
            if args.model == "posterior-mean":
                samples = mean
            else:
                chol = np.linalg.cholesky(cov)
                z = rng.standard_normal((y.shape[0], k, chol.shape[0]))
                samples = mean[:, None, :] + z @ chol.T
        np.save(target, np.ascontiguousarray(samples))
        print(f"wrote {target} {list(samples.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
