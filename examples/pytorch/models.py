"""PyTorch ports of upbench's image plugins, and small models for exact tasks, ready for TorchScript.

Every module here can be compiled with ``torch.jit.script`` and follows the calling conventions of
upbench's TorchScript plugin:

- a deterministic model has ``forward(y: Tensor) -> Tensor``: ``[n, m] -> [n, d]`` on exact tasks,
  ``[n, C(+1), h, w] -> [n, C, H, W]`` on image tasks (float32 pixels in [0, 1]; inpainting adds a
  last mask channel, 1 = observed);
- a stochastic model has ``forward(y: Tensor, n_samples: int, seed: int) -> Tensor`` and returns
  ``[n, K, d]`` or ``[n, K, C, H, W]``; it draws its noise from a CPU ``torch.Generator`` seeded
  with ``seed`` and then moves the noise to ``y.device``, so a seed gives the same samples on every
  device.

The three image networks are op-for-op ports of the Rust plugins and load the same safetensors
files by the same tensor names:

- :class:`Espcn` ports ``plugins/espcn-x4/src/lib.rs``, with the colour conversions of
  ``plugins/image-kit/src/colour.rs``;
- :class:`Srvgg` ports ``plugins/srvgg-x4/src/lib.rs``;
- :class:`Dncnn` ports ``plugins/dncnn-s25/src/lib.rs``.

Each calls the same ATen operators as the Rust code does through tch, in the same order, so the
float32 outputs agree with the plugins' outputs to rounding (bit for bit on the same device and
thread count, up to the convolution algorithm libtorch picks).

Loading the weights needs the ``safetensors`` package; the modules themselves do not.
"""

from __future__ import annotations

import os
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Dncnn",
    "Espcn",
    "GaussianSampler",
    "NoisyEspcn",
    "Shrinkage",
    "Srvgg",
    "load_weights",
    "ycbcr_to_rgb",
    "rgb_to_ycbcr",
]


# Architecture constants of the Rust plugins.
_SRVGG_BODY_CONVS = 16  # body convolutions between the first and the last
_SRVGG_FEATURES = 64
_DNCNN_MIDDLE_LAYERS = 15
_DNCNN_FEATURES = 64


# --------------------------------------------------------------------------------------------
# Helpers shared by the image models (ports of image-kit and upbench-tch).
# --------------------------------------------------------------------------------------------


def _image(y: Tensor, channels: int) -> Tensor:
    """The image part of measurements ``[n, C, h, w]`` as float32.

    Ports ``ImageTask::split`` (``plugins/upbench-tch/src/image.rs``) for the tasks these models
    solve (super-resolution and denoising, which carry no mask channel): the measurements must be
    4-D with exactly ``channels`` channels, and are converted to float32. ``channels`` < 1 accepts
    any channel count.
    """
    if y.dim() != 4 or (channels > 0 and y.size(1) != channels):
        want = str(channels) if channels > 0 else "C"
        raise ValueError(f"expected measurements [n, {want}, h, w], got {y.shape}")
    return y.to(torch.float32)


def _mix(x: Tensor, m: List[List[float]]) -> Tensor:
    """Row ``i`` of the result is ``x[:, 0] * m[i][0] + x[:, 1] * m[i][1] + x[:, 2] * m[i][2]``.

    Ports ``mix`` of ``plugins/image-kit/src/colour.rs`` term for term (same products by
    double-precision scalars, same summation order, multiplications by 0 and 1 included).
    """
    rows: List[Tensor] = []
    for r in m:
        rows.append(x.narrow(1, 0, 1) * r[0] + x.narrow(1, 1, 1) * r[1] + x.narrow(1, 2, 1) * r[2])
    return torch.cat(rows, 1)


def _chroma_offset(x: Tensor) -> Tensor:
    """``[0, 128/255, 128/255]`` as ``[1, 3, 1, 1]``, rounded from float64 to ``x``'s dtype."""
    offset = torch.tensor([0.0, 128.0 / 255.0, 128.0 / 255.0], dtype=torch.float64)
    return offset.to(dtype=x.dtype, device=x.device).view(1, 3, 1, 1)


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """RGB → YCbCr on ``[n, 3, h, w]`` in [0, 1]: JPEG / ITU-R BT.601 full range, chroma centred on
    128/255, no clamping (``colour::rgb_to_ycbcr``)."""
    m = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
    return _mix(rgb, m) + _chroma_offset(rgb)


def ycbcr_to_rgb(ycc: Tensor) -> Tensor:
    """YCbCr → RGB, the inverse of :func:`rgb_to_ycbcr`, no clamping (``colour::ycbcr_to_rgb``)."""
    m = [[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]]
    return _mix(ycc - _chroma_offset(ycc), m)


def _seeded_normal(shape: List[int], seed: int, like: Tensor) -> Tensor:
    """Standard normal noise of ``shape`` in ``like``'s dtype on ``like``'s device.

    Drawn on the CPU from a fresh ``torch.Generator`` seeded with ``seed`` (TorchScript can only
    make CPU generators) and then moved, so a seed gives the same noise on every device and the
    draws never touch libtorch's global generators. Float32 and float64 draws of one seed differ.
    """
    g = torch.Generator()
    g.manual_seed(seed)
    z = torch.randn(shape, generator=g, dtype=like.dtype)
    return z.to(like.device)


# --------------------------------------------------------------------------------------------
# Image models.
# --------------------------------------------------------------------------------------------


class Espcn(nn.Module):
    """ESPCN ×4 (Shi et al., CVPR 2016), a port of the ``espcn-x4`` plugin.

    Weights: ``espcn_x4.safetensors`` (keys ``conv_1``, ``conv_2``, ``conv_3`` ``.weight`` /
    ``.bias``). The network: conv 5×5 3→64 (padding 2), tanh, conv 3×3 64→32 (padding 1), tanh,
    conv 3×3 32→48 (padding 1), pixel shuffle ×4, clamp to [0, 1]. It was trained on YCbCr, so
    with ``colour_space="rgb"`` (the plugin's default) RGB measurements are converted to YCbCr
    before the network and its clamped output back to RGB, clamped again.

    ``forward(y)``: ``[n, 3, h, w]`` → ``[n, 3, 4h, 4w]``, float32.
    """

    def __init__(self, colour_space: str = "rgb") -> None:
        """``colour_space``: ``"rgb"`` (convert to YCbCr and back) or ``"ycbcr"`` (measurements
        already YCbCr, output YCbCr)."""
        super().__init__()
        if colour_space not in ("rgb", "ycbcr"):
            raise ValueError(f"colour_space '{colour_space}' is neither \"rgb\" nor \"ycbcr\"")
        self.convert = colour_space == "rgb"
        self.conv_1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv_2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv_3 = nn.Conv2d(32, 48, 3, padding=1)

    def forward(self, y: Tensor) -> Tensor:
        """Super-resolves ``y`` ``[n, 3, h, w]`` to ``[n, 3, 4h, 4w]``."""
        image = _image(y, 3)
        x = rgb_to_ycbcr(image) if self.convert else image
        x = torch.tanh(self.conv_1(x))
        x = torch.tanh(self.conv_2(x))
        out = F.pixel_shuffle(self.conv_3(x), 4).clamp(0.0, 1.0)
        if self.convert:
            out = ycbcr_to_rgb(out).clamp(0.0, 1.0)
        return out


class Srvgg(nn.Module):
    """Real-ESRGAN's SRVGGNetCompact ×4 (``realesr-animevideov3``), a port of ``srvgg-x4``.

    Weights: ``realesr_animevideov3_x4.safetensors``, keys ``body.0`` … ``body.34``: conv 3×3 3→64
    (``body.0``), PReLU(64) (``body.1.weight``), 16 × [conv 3×3 64→64, PReLU(64)]
    (``body.2`` … ``body.33``), conv 3×3 64→48 (``body.34``); every conv has padding 1 and a bias.
    The network's output, pixel-shuffled ×4, is a residual over the input upsampled ×4 by nearest
    neighbour (pixel repetition); the sum is clamped to [0, 1] (the plugin clamps; the original
    Real-ESRGAN code does not).

    ``forward(y)``: RGB ``[n, 3, h, w]`` → ``[n, 3, 4h, 4w]``, float32.
    """

    def __init__(self) -> None:
        super().__init__()
        f = _SRVGG_FEATURES
        layers: List[nn.Module] = [nn.Conv2d(3, f, 3, padding=1), nn.PReLU(f)]
        for _ in range(_SRVGG_BODY_CONVS):
            layers += [nn.Conv2d(f, f, 3, padding=1), nn.PReLU(f)]
        layers.append(nn.Conv2d(f, 3 * 16, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, y: Tensor) -> Tensor:
        """Super-resolves ``y`` ``[n, 3, h, w]`` to ``[n, 3, 4h, 4w]``."""
        image = _image(y, 3)
        residual = F.pixel_shuffle(self.body(image), 4)
        base = image.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
        return (residual + base).clamp(0.0, 1.0)


class Dncnn(nn.Module):
    """DnCNN-S for Gaussian noise of σ = 25/255 (Zhang et al., TIP 2017), a port of ``dncnn-s25``.

    Weights: ``dncnn_sigma25.safetensors``, keys ``dncnn.N``: conv 3×3 1→64 with bias
    (``dncnn.0``), ReLU; 15 × [conv 3×3 64→64 without bias (``dncnn.{2+3l}``), BatchNorm2d(64,
    eps 1e-4) in inference mode (``dncnn.{3+3l}``: ``weight``, ``bias``, ``running_mean``,
    ``running_var``; ``num_batches_tracked`` is loaded but unused), ReLU]; conv 3×3 64→1 without
    bias (``dncnn.47``); padding 1 everywhere. The network predicts the noise: the result is
    ``y - net(y)``, not clamped. Any number of channels: each channel is denoised as a grey image
    of its own (the model was trained on grey images, the noise is independent across channels).

    ``forward(y)``: ``[n, C, h, w]`` → ``[n, C, h, w]``, float32.
    """

    def __init__(self) -> None:
        super().__init__()
        f = _DNCNN_FEATURES
        layers: List[nn.Module] = [nn.Conv2d(1, f, 3, padding=1, bias=True), nn.ReLU()]
        for _ in range(_DNCNN_MIDDLE_LAYERS):
            layers += [nn.Conv2d(f, f, 3, padding=1, bias=False), nn.BatchNorm2d(f, eps=1e-4), nn.ReLU()]
        layers.append(nn.Conv2d(f, 1, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)

    def forward(self, y: Tensor) -> Tensor:
        """Denoises ``y`` ``[n, C, h, w]`` channel by channel."""
        noisy = _image(y, 0)
        size = noisy.shape
        grey = noisy.reshape(size[0] * size[1], 1, size[2], size[3])
        return (grey - self.dncnn(grey)).reshape(size)


class NoisyEspcn(nn.Module):
    """A stochastic model for tests and demos: :class:`Espcn`'s output plus Gaussian noise.

    Sample ``k`` of measurement ``i`` is ``espcn(y)[i] + sigma * z[i, k]`` with ``z`` standard
    normal of shape ``[n, K, 3, 4h, 4w]``, drawn in one call from a CPU generator seeded with
    ``seed``; not clamped.

    ``forward(y, n_samples, seed)``: ``[n, 3, h, w]`` → ``[n, K, 3, 4h, 4w]``, float32.
    """

    def __init__(self, espcn: Espcn, sigma: float = 0.03) -> None:
        """``espcn``: the (loaded) network; ``sigma``: the noise's standard deviation."""
        super().__init__()
        self.espcn = espcn
        self.sigma = float(sigma)

    def forward(self, y: Tensor, n_samples: int, seed: int) -> Tensor:
        """``n_samples`` noisy copies of ESPCN's restoration of each measurement."""
        x = self.espcn(y)
        shape = [x.size(0), n_samples, x.size(1), x.size(2), x.size(3)]
        return x.unsqueeze(1) + self.sigma * _seeded_normal(shape, seed, x)


# --------------------------------------------------------------------------------------------
# Models for exact (vector) tasks.
# --------------------------------------------------------------------------------------------


class Shrinkage(nn.Module):
    """Deterministic: ``forward(y) = c * y``, ``[n, m]`` → ``[n, m]`` (so d = m), in ``y``'s dtype.

    ``Shrinkage(0.5)`` is the posterior mean of the paper's Example 1 (X ~ N(0, 1), Y = X + W,
    W ~ N(0, 1)).
    """

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = float(c)

    def forward(self, y: Tensor) -> Tensor:
        """``c * y``."""
        if y.dim() != 2:
            raise ValueError(f"expected measurements [n, m], got {y.shape}")
        return self.c * y


class GaussianSampler(nn.Module):
    """Stochastic: sample ``k`` of measurement ``i`` is ``scale * y[i] + std * z[i, k]``.

    ``z`` is standard normal ``[n, K, d]`` (d = m), drawn in ``y``'s dtype from a CPU generator
    seeded with ``seed``. ``GaussianSampler(0.5, sqrt(0.5))`` samples the exact posterior
    N(y/2, 1/2) of the paper's Example 1.

    ``forward(y, n_samples, seed)``: ``[n, m]`` → ``[n, K, m]``.
    """

    def __init__(self, scale: float, std: float) -> None:
        super().__init__()
        self.scale = float(scale)
        self.std = float(std)

    def forward(self, y: Tensor, n_samples: int, seed: int) -> Tensor:
        """``n_samples`` draws per measurement."""
        if y.dim() != 2:
            raise ValueError(f"expected measurements [n, m], got {y.shape}")
        z = _seeded_normal([y.size(0), n_samples, y.size(1)], seed, y)
        return self.scale * y.unsqueeze(1) + self.std * z


# --------------------------------------------------------------------------------------------
# Weights.
# --------------------------------------------------------------------------------------------


def load_weights(module: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Loads a safetensors file into ``module`` by tensor name, strictly (every key of the module
    present in the file and nothing else), and returns the module in eval mode.

    Raises ``FileNotFoundError`` naming the file when it does not exist.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path} not found")
    from safetensors.torch import load_file  # only needed here: the modules work without it

    module.load_state_dict(load_file(os.fspath(path)), strict=True)
    return module.eval()
