"""Exports standard LPIPS (AlexNet) and DISTS as TorchScript metrics for upbench (``[[metric]]``).

Usage::

    python export.py --out DIR [--only lpips|dists ...] [--check-size H W]

Needs a machine with the official packages and their weights (see ``README.md``):

- ``lpips`` (PyPI ``lpips``, Zhang et al. 2018): ``lpips.LPIPS(net="alex")``, version 0.1 linear
  heads (shipped inside the package) on torchvision's ImageNet AlexNet (downloaded by
  torchvision into the torch hub cache on first use);
- ``dists`` (PyPI ``dists-pytorch``, Ding et al. 2020): ``DISTS_pytorch.DISTS()``, its alpha/beta
  (shipped inside the package) on torchvision's ImageNet VGG16 (downloaded likewise).

Each is wrapped in upbench's calling convention for a full-reference metric,
``forward(image, reference) -> scalar`` with ``image`` and ``reference`` float32 ``[1, 3, H, W]``
RGB in [0, 1]: LPIPS with ``normalize=True`` (its own [0, 1] → [−1, 1] scaling), DISTS as it
takes images (it normalises with the ImageNet mean and std itself). Neither package's module is
scriptable, so each wrapper is traced (``torch.jit.trace``) on a 64×64 pair. A traced module
runs on any image size only if nothing in it depends on the size, so the script calls the saved
file on a pair of another size (``--check-size``, default 96×80) and on the tracing size, and
refuses to keep a file whose score differs from the eager module's by more than 1e-5.

For each file it prints the SHA-256 and a ready ``[[metric]]`` entry to paste into a suite (the
``torchscript`` path is relative to the suite file: copy the ``.pt`` beside it or edit the path).
Exit status 2 when a package or its weights are missing, 1 when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Callable, Dict, Tuple

import torch
from torch import nn

TRACE_SIZE = (64, 64)


class Lpips(nn.Module):
    """``lpips.LPIPS(net="alex")`` as ``forward(image, reference) -> scalar`` on [0, 1] inputs."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.net(image, reference, normalize=True).reshape(())


class Dists(nn.Module):
    """``DISTS_pytorch.DISTS()`` as ``forward(image, reference) -> scalar`` on [0, 1] inputs."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.net(reference, image, require_grad=False, batch_average=True).reshape(())


def make_lpips() -> nn.Module:
    import lpips  # PyPI lpips

    return Lpips(lpips.LPIPS(net="alex", version="0.1", verbose=False))


def make_dists() -> nn.Module:
    from DISTS_pytorch import DISTS  # PyPI dists-pytorch

    return Dists(DISTS())


# name → (constructor, file name, better direction, what it is)
METRICS: Dict[str, Tuple[Callable[[], nn.Module], str, str, str]] = {
    "lpips": (make_lpips, "lpips_alex.pt", "lower", "LPIPS v0.1, AlexNet (lpips package)"),
    "dists": (make_dists, "dists_vgg16.pt", "lower", "DISTS, VGG16 (DISTS_pytorch package)"),
}


def pair(height: int, width: int, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """A seeded image and a noisy copy of it, float32 [1, 3, H, W] in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, height, width, generator=g)
    reference = (image + 0.1 * torch.randn(1, 3, height, width, generator=g)).clamp(0, 1)
    return image, reference


def export(name: str, out: Path, check_size: Tuple[int, int]) -> bool:
    make, file_name, better, what = METRICS[name]
    try:
        module = make().eval()
    except ImportError as e:
        print(f"{name}: its package is not installed ({e}); pip install it on a machine that has its weights", file=sys.stderr)
        sys.exit(2)
    except Exception as e:  # the backbone's weights could not be downloaded or read
        print(f"{name}: could not be built ({type(e).__name__}: {e})", file=sys.stderr)
        sys.exit(2)
    path = out / file_name
    with torch.no_grad():
        traced = torch.jit.trace(module, pair(*TRACE_SIZE, seed=1), check_trace=True)
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
        for size, seed in [(TRACE_SIZE, 2), (check_size, 3)]:
            a, b = pair(*size, seed=seed)
            eager, saved = float(module(a, b)), float(loaded(a, b))
            if not abs(eager - saved) <= 1e-5:
                print(f"{path}: on {size[0]}×{size[1]} the saved module gives {saved}, the package {eager}", file=sys.stderr)
                path.unlink()
                return False
            print(f"{name}: {size[0]}×{size[1]} pair: {saved:.6f} (package {eager:.6f})", file=sys.stderr)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"# {what}: {path} (sha256 {sha})")
    print("[[metric]]")
    print(f'name = "{name}"')
    print(f'torchscript = "{file_name}"')
    print(f'sha256 = "{sha}"')
    print('reference = "full"')
    print(f'better = "{better}"')
    print()
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory the .pt files are written to")
    parser.add_argument("--only", nargs="+", choices=sorted(METRICS), help="export these alone")
    parser.add_argument("--check-size", nargs=2, type=int, default=[96, 80], metavar=("H", "W"),
                        help="a second image size the saved file is checked on (default 96 80)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ok = all([export(name, args.out, tuple(args.check_size)) for name in (args.only or list(METRICS))])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
