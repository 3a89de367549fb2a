"""Reference FFDNet outputs for tests/ffdnet.rs, written from the architecture in
../shared/models/README.md section 3 (KAIR's network_ffdnet.py), independently of the Rust code.

Run from the repository root:
    .venv/bin/python plugins/pnp-sampler/tests/reference/ffdnet_reference.py
It writes ffdnet_reference.json beside this file: the input is a closed-form pattern (so the test
rebuilds it), the outputs are float32 values for σ = 30/255 and for σ = 200/255 clamped to 75/255.
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "../../../../../shared/models/ffdnet_color.safetensors")
H, W = 21, 26  # odd height: the replicate padding is exercised


def pattern():
    x = torch.zeros(1, 3, H, W, dtype=torch.float64)
    for c in range(3):
        for i in range(H):
            for j in range(W):
                x[0, c, i, j] = 0.5 + 0.3 * math.sin(0.7 * i + 1.3 * j + c) + 0.15 * math.cos(0.37 * i * j + 2.0 * c)
    return x.float()


def ffdnet(x, sigma, w):
    h, wd = x.shape[-2:]
    x = F.pad(x, (0, wd % 2, 0, h % 2), mode="replicate")
    x = F.pixel_unshuffle(x, 2)
    m = torch.full((x.shape[0], 1, x.shape[2], x.shape[3]), min(sigma, 75 / 255), dtype=x.dtype)
    x = torch.cat([x, m], 1)
    for i in range(0, 23, 2):
        x = F.conv2d(x, w[f"model.{i}.weight"], w[f"model.{i}.bias"], padding=1)
        if i < 22:
            x = F.relu(x)
    return F.pixel_shuffle(x, 2)[..., :h, :wd]


def main():
    w = {k: v.float() for k, v in load_file(WEIGHTS).items()}
    x = pattern()
    out = {"height": H, "width": W}
    with torch.no_grad():
        for name, sigma in [("sigma30", 30 / 255), ("sigma200", 200 / 255)]:
            out[name] = [float(v) for v in ffdnet(x, sigma, w).flatten()]
    with open(os.path.join(HERE, "ffdnet_reference.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
