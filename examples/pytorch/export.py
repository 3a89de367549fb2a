"""Scripts the example models of ``models.py`` and saves them as TorchScript for upbench.

Usage::

    python export.py --models-dir /path/to/models --out /path/to/out [--only FILE.pt ...]

``--models-dir`` holds the safetensors weights (``espcn_x4.safetensors``,
``realesr_animevideov3_x4.safetensors``, ``dncnn_sigma25.safetensors``). Writes into ``--out``:

==============================  ===========================================================
``espcn_x4.pt``                 ESPCN ×4, deterministic, image SR
``srvgg_x4.pt``                 Real-ESRGAN compact ×4, deterministic, image SR
``dncnn_s25.pt``                DnCNN-S σ = 25/255, deterministic, image denoising
``noisy_espcn_x4.pt``           ESPCN ×4 + N(0, 0.03²) noise, stochastic, image SR
``shrinkage_half.pt``           ``0.5 · y``, deterministic, exact tasks
``example1_posterior_sampler.pt``  ``0.5 · y + √0.5 · z``, stochastic, exact tasks
==============================  ===========================================================

Each module is put in eval mode, compiled with ``torch.jit.script`` (tracing cannot take the
``n_samples`` and ``seed`` arguments), checked against the eager module on a small input, and
saved with ``torch.jit.save``. One line is printed per file written. ``--only`` exports the named
files alone (the exact-task models need no weights). A missing weights file stops the export
before anything is written (exit status 2).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import Callable, List, Tuple

import torch
from torch import nn

from models import Dncnn, Espcn, GaussianSampler, NoisyEspcn, Shrinkage, Srvgg, load_weights

WEIGHTS = {
    "espcn": "espcn_x4.safetensors",
    "srvgg": "realesr_animevideov3_x4.safetensors",
    "dncnn": "dncnn_sigma25.safetensors",
}


# Every file export.py writes, with the weights it needs.
NEEDS = {
    "espcn_x4.pt": ["espcn"],
    "srvgg_x4.pt": ["srvgg"],
    "dncnn_s25.pt": ["dncnn"],
    "noisy_espcn_x4.pt": ["espcn"],
    "shrinkage_half.pt": [],
    "example1_posterior_sampler.pt": [],
}


def build(models_dir: Path, only: List[str]) -> List[Tuple[str, nn.Module, Tuple[object, ...]]]:
    """``(file name, module in eval mode, example arguments)`` for every model in ``only``."""
    image = torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(0))
    vector = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    espcn = lambda: load_weights(Espcn(), models_dir / WEIGHTS["espcn"])  # noqa: E731
    makers = {
        "espcn_x4.pt": lambda: (espcn(), (image,)),
        "srvgg_x4.pt": lambda: (load_weights(Srvgg(), models_dir / WEIGHTS["srvgg"]), (image,)),
        "dncnn_s25.pt": lambda: (load_weights(Dncnn(), models_dir / WEIGHTS["dncnn"]), (image,)),
        "noisy_espcn_x4.pt": lambda: (NoisyEspcn(espcn(), sigma=0.03).eval(), (image, 3, 17)),
        "shrinkage_half.pt": lambda: (Shrinkage(0.5).eval(), (vector,)),
        "example1_posterior_sampler.pt": lambda: (GaussianSampler(0.5, math.sqrt(0.5)).eval(), (vector, 3, 17)),
    }
    return [(name, *makers[name]()) for name in only]


def check(name: str, eager: Callable[..., torch.Tensor], scripted: torch.jit.ScriptModule, args: Tuple) -> None:
    """Fails unless the scripted module reproduces the eager one exactly on ``args``."""
    with torch.no_grad():
        want, got = eager(*args), scripted(*args)
    if want.shape != got.shape or not torch.equal(want, got):
        raise RuntimeError(f"{name}: the scripted module's output differs from the eager module's")


def main(argv: List[str] | None = None) -> int:
    """Runs the export; returns the exit status."""
    parser = argparse.ArgumentParser(description="Export upbench's example models as TorchScript.")
    parser.add_argument("--models-dir", type=Path, required=True, help="directory holding the .safetensors weights")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the .pt files into")
    parser.add_argument("--only", nargs="+", choices=list(NEEDS), default=list(NEEDS), help="files to export (all by default)")
    args = parser.parse_args(argv)

    needed = sorted({WEIGHTS[w] for name in args.only for w in NEEDS[name]})
    missing = [name for name in needed if not (args.models_dir / name).is_file()]
    if missing:
        print(
            f"error: weights file(s) not found in {args.models_dir}: {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    try:
        if needed:
            import safetensors  # noqa: F401
    except ImportError:
        print("error: the `safetensors` package is needed to read the weights (pip install safetensors)", file=sys.stderr)
        return 2

    # torch.jit.script / save warn that TorchScript is deprecated; upbench still loads only TorchScript.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
    args.out.mkdir(parents=True, exist_ok=True)
    for file_name, module, example in build(args.models_dir, args.only):
        scripted = torch.jit.script(module)
        check(file_name, module, scripted, example)
        path = args.out / file_name
        torch.jit.save(scripted, str(path))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
