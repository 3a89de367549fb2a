"""Smoke test of ``export.py``'s mechanics where torchvision's weights cannot be downloaded.

Runs ``export.py`` (same arguments) with the packages' own code, but with torchvision's AlexNet
and VGG16 **randomly initialised** instead of downloaded, and DISTS' alpha/beta read from the
copy of ``weights.pt`` inside the installed ``DISTS_pytorch`` package. The files it writes are
NOT LPIPS or DISTS: they only show that the wrappers trace, that the traced files give the
packages' scores on two image sizes, and that upbench accepts and runs them (``--check``, a
run). Needs ``lpips``, ``dists-pytorch`` and ``torchvision`` importable (no weights).
"""

import os
import runpy
import sys

import torchvision.models as tvm

for name in ["alexnet", "vgg16"]:
    real = getattr(tvm, name)
    setattr(tvm, name, lambda pretrained=False, _real=real, **kw: _real(weights=None))

import DISTS_pytorch  # noqa: E402

# DISTS_pytorch reads os.path.join(sys.prefix, 'weights.pt'); the wheel also ships it in the package
sys.prefix = os.path.dirname(DISTS_pytorch.__file__)
sys.argv = [os.path.join(os.path.dirname(__file__), "export.py")] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
