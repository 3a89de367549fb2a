#!/usr/bin/env python3
"""Reference values for the native quality metrics (harness/src/estimate/quality/, issue [13]).

Computes NIQE, BRISQUE and ST-LPIPS (alex) with the independent reference implementations and
writes harness/tests/reference/quality_reference.json, which the Rust tests read:

* NIQE: BasicSR's own code, ``calculate_niqe`` of ``basicsr/metrics/niqe.py`` with
  ``basicsr/utils/matlab_functions.py`` (float32 MATLAB-style imresize), ``color_util.py`` and
  ``metric_util.py`` at commit 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a (2024-05-17), executed
  verbatim; the ``basicsr`` package itself is not installed (its ``__init__`` pulls in the whole
  training framework), so the four files are loaded as modules of a stub package. Images are
  read as BasicSR's script does: ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` (BGR; a grey file
  stays one channel and is scored on its grey values), ``crop_border`` = 4 (the ×4 SR scale).
* BRISQUE: PyPI ``brisque`` 0.2.0, ``BRISQUE(url=False).score(rgb_uint8)``; a grey file is
  replicated to RGB first (scikit-image's ``rgb2gray`` refuses a 2-D array).
* ST-LPIPS: PyPI ``stlpips-pytorch`` 0.0.2, ``LPIPS(net='alex', variant='shift_tolerant')``,
  ``forward(a, b, normalize=True)`` on float32 RGB in [0, 1], CPU.

Each metric is also run once in a second arithmetic (float64 NIQE, a float32-rounded grey image
for BRISQUE) to record how far the reference itself moves on flat images.

Setup (torch 2.11 comes from the project's .venv):

    .venv/bin/python -m venv --system-site-packages /tmp/ref-venv
    /tmp/ref-venv/bin/pip install scipy==1.17.1 opencv-python-headless==5.1.0.95 \
        scikit-image==0.26.0 libsvm-official==3.37.0 numpy==2.3.5 requests torchsummary==1.5.1 ipython
    /tmp/ref-venv/bin/pip install --no-deps brisque==0.2.0 stlpips-pytorch==0.0.2 torchvision==0.26.0
    git -C BasicSR archive 8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a basicsr/metrics/niqe.py \
        basicsr/metrics/niqe_pris_params.npz basicsr/metrics/metric_util.py \
        basicsr/utils/matlab_functions.py basicsr/utils/color_util.py | tar -x -C /tmp/basicsr
    /tmp/ref-venv/bin/python harness/tests/reference/quality_reference.py --basicsr /tmp/basicsr \
        --data ../shared/datasets --models ../shared/models \
        > harness/tests/reference/quality_reference.json
"""
import argparse
import importlib.util
import json
import math
import platform
import sys
import types
import warnings

import cv2
import numpy as np


def load_basicsr(root):
    """BasicSR's NIQE files as modules of a stub ``basicsr`` package (code executed unchanged)."""
    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    for pkg in ['basicsr', 'basicsr.utils', 'basicsr.metrics']:
        sys.modules[pkg] = types.ModuleType(pkg)
    registry = types.ModuleType('basicsr.utils.registry')

    class Registry:
        def register(self):
            return lambda f: f

    registry.METRIC_REGISTRY = Registry()
    sys.modules['basicsr.utils.registry'] = registry
    color = load('basicsr.utils.color_util', f'{root}/basicsr/utils/color_util.py')
    sys.modules['basicsr.utils'].bgr2ycbcr = color.bgr2ycbcr
    load('basicsr.utils.matlab_functions', f'{root}/basicsr/utils/matlab_functions.py')
    load('basicsr.metrics.metric_util', f'{root}/basicsr/metrics/metric_util.py')
    return load('basicsr.metrics.niqe', f'{root}/basicsr/metrics/niqe.py')


# --- MATLAB imresize in float64 (for the float64 NIQE variant and the ×4 bicubic upscale) -------
def cubic(x):
    a = np.abs(x)
    a2, a3 = a * a, a * a * a
    return (1.5 * a3 - 2.5 * a2 + 1) * (a <= 1) + (-0.5 * a3 + 2.5 * a2 - 4 * a + 2) * ((a > 1) & (a <= 2))


def contributions(in_len, out_len, scale):
    aa = scale < 1
    kw = 4.0 / scale if aa else 4.0
    x = np.arange(1, out_len + 1)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kw / 2)
    p = int(math.ceil(kw)) + 2
    ind = left[:, None] + np.arange(p)[None, :]
    d = u[:, None] - ind
    w = scale * cubic(scale * d) if aa else cubic(d)
    w = w / w.sum(1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    ind = aux[np.mod(ind.astype(int) - 1, len(aux))]
    keep = np.any(w != 0, 0)
    return w[:, keep], ind[:, keep]


def imresize(img, scale, round_u8):
    """MATLAB imresize(img, scale, 'bicubic'), rows first; uint8 rounding after each pass."""
    out = img.astype(np.float64)
    for dim in (0, 1):
        n = int(math.ceil(out.shape[dim] * scale))
        w, ind = contributions(out.shape[dim], n, scale)
        x = np.moveaxis(out, dim, 0)
        y = np.einsum('ok,ok...->o...', w, x[ind])
        out = np.moveaxis(y, 0, dim)
        if round_u8:
            out = np.clip(np.floor(out + 0.5), 0, 255)
    return out.astype(np.uint8) if round_u8 else out


# --- cases ---------------------------------------------------------------------------------------
def read_rgb(path):
    """8-bit RGB (a grey file replicated), as the Rust side reads it."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2), img
    return img[:, :, ::-1].copy(), img


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--basicsr', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--models', required=True)
    args = ap.parse_args()
    niqe_mod = load_basicsr(args.basicsr)

    # The shipped parameter file holds exactly BasicSR's npz.
    from safetensors.numpy import load_file
    shipped = load_file(f'{args.models}/niqe_pris_params.safetensors')
    npz = np.load(f'{args.basicsr}/basicsr/metrics/niqe_pris_params.npz')
    for k in ('mu_pris_param', 'cov_pris_param', 'gaussian_window'):
        assert np.array_equal(shipped[k], npz[k]), k

    # (id, file relative to the data dir, rows kept (None: all)); crop_border 4 for NIQE
    images = [
        ('set5/img_001', 'set5/hr/img_001.png', None),
        ('set5/img_002', 'set5/hr/img_002.png', None),
        ('set5/img_003', 'set5/hr/img_003.png', None),
        ('set5/img_004', 'set5/hr/img_004.png', None),
        ('set5/img_005', 'set5/hr/img_005.png', None),
        ('set14/img_003', 'set14/hr/img_003.png', None),
        ('set14/img_006', 'set14/hr/img_006.png', None),
        # smaller than 192 px in a side: the top 160 rows of a 720×576 picture
        ('set14/img_002[:160]', 'set14/hr/img_002.png', 160),
    ]
    out = {
        'generator': 'harness/tests/reference/quality_reference.py',
        'environment': {
            'python': platform.python_version(),
            'numpy': np.__version__,
            'scipy': __import__('scipy').__version__,
            'opencv': cv2.__version__,
            'scikit-image': __import__('skimage').__version__,
            'torch': __import__('torch').__version__,
            'basicsr_commit': '8d56e3a045f9fb3e1d8872f92ee4a4f07f886b0a',
            'brisque': '0.2.0',
            'stlpips-pytorch': '0.0.2',
            'machine': platform.machine(),
        },
        'niqe': {'crop_border': 4, 'cases': []},
        'brisque': {'cases': []},
        'stlpips': {'cases': []},
    }

    # --- NIQE -----------------------------------------------------------------------------------
    def niqe_f64(img_bgr, crop):
        """BasicSR's niqe() with the image in float64 and a float64 imresize."""
        y = niqe_mod.to_y_channel(img_bgr.astype(np.float64) / 1.0) if img_bgr.ndim == 3 else img_bgr
        y = np.squeeze(y).astype(np.float64)
        if crop:
            y = y[crop:-crop, crop:-crop]
        y = np.round(y)
        saved = niqe_mod.imresize
        niqe_mod.imresize = lambda im, scale, antialiasing: imresize(im, scale, False)
        try:
            return niqe_mod.niqe(y, npz['mu_pris_param'], npz['cov_pris_param'], npz['gaussian_window'])
        finally:
            niqe_mod.imresize = saved

    for ident, rel, rows in images:
        _, raw = read_rgb(f'{args.data}/{rel}')
        if rows is not None:
            raw = raw[:rows].copy()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', category=RuntimeWarning)
            value = niqe_mod.calculate_niqe(raw, 4, input_order='HWC', convert_to='y')
            v64 = niqe_f64(raw, 4)
        out['niqe']['cases'].append({'image': ident, 'file': rel, 'rows': rows, 'shape': list(raw.shape),
                                     'niqe': value, 'niqe_float64': v64})
    # crop_border 0 once
    _, raw = read_rgb(f'{args.data}/set5/hr/img_002.png')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        out['niqe']['crop0'] = {'image': 'set5/img_002', 'file': 'set5/hr/img_002.png',
                                'niqe': niqe_mod.calculate_niqe(raw, 0, input_order='HWC', convert_to='y')}
    # one 96-block only (a ×4 LR image, 128×192 before the crop): what BasicSR does
    _, raw = read_rgb(f'{args.data}/set14/lr_x4/img_011.png')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        try:
            r = niqe_mod.calculate_niqe(raw, 4, input_order='HWC', convert_to='y')
            single = {'result': repr(r)}
        except Exception as e:  # noqa: BLE001 -- recorded, it is the point
            single = {'exception': f'{type(e).__name__}: {e}'}
    single.update({'image': 'set14/lr_x4/img_011', 'shape': list(raw.shape)})
    out['niqe']['one_block'] = single

    # --- BRISQUE --------------------------------------------------------------------------------
    import skimage.color
    from brisque import BRISQUE
    obj = BRISQUE(url=False)
    svr = json.load(open(f'{args.models}/brisque_svr.json'))

    def features(gray):
        f1 = obj.calculate_brisque_features(gray, kernel_size=7, sigma=7 / 6)
        down = cv2.resize(gray, None, fx=1 / 2, fy=1 / 2, interpolation=cv2.INTER_CUBIC)
        f2 = obj.calculate_brisque_features(down, kernel_size=7, sigma=7 / 6)
        return np.array([float(v) for v in np.concatenate((f1, f2))])

    def svr_score(f):
        lo, hi = np.array(svr['scaling']['min']), np.array(svr['scaling']['max'])
        x = -1 + 2.0 / (hi - lo) * (f - lo)
        sv = np.array(svr['svr']['support_vectors'])
        k = np.exp(-svr['svr']['gamma'] * ((sv - x) ** 2).sum(1))
        return float(np.dot(svr['svr']['coef'], k) - svr['svr']['rho'])

    for ident, rel, rows in images:
        rgb, _ = read_rgb(f'{args.data}/{rel}')
        if rows is not None:
            rgb = rgb[:rows].copy()
        score = float(obj.score(rgb))
        gray = skimage.color.rgb2gray(rgb)
        f = features(gray)
        with_json = svr_score(f)
        # second arithmetic: the grey image rounded to float32
        f32 = features(gray.astype(np.float32).astype(np.float64))
        out['brisque']['cases'].append({'image': ident, 'file': rel, 'rows': rows, 'brisque': score,
                                        'brisque_from_json': with_json, 'brisque_grey_float32': svr_score(f32),
                                        'features': f.tolist()})

    # --- ST-LPIPS -------------------------------------------------------------------------------
    import torch
    from stlpips_pytorch import stlpips
    torch.set_grad_enabled(False)
    net = stlpips.LPIPS(net='alex', variant='shift_tolerant', verbose=False).eval()

    def dist(a, b):
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float() / 255.0
        return float(net(t(a), t(b), normalize=True).item())

    for ident, rel, _ in images[:7]:
        hr, _ = read_rgb(f'{args.data}/{rel}')
        lr, _ = read_rgb(f'{args.data}/{rel.replace("/hr/", "/lr_x4/")}')
        up = imresize(lr, 4.0, True)
        assert up.shape == hr.shape, (up.shape, hr.shape)
        out['stlpips']['cases'].append({'image': ident, 'file': rel, 'pair': 'hr vs imresize(lr_x4, 4)',
                                        'stlpips': dist(hr, up)})
    hr, _ = read_rgb(f'{args.data}/set5/hr/img_002.png')
    a, b = hr[8:-8, 8:-8], hr[8:-8, 7:-9]
    out['stlpips']['cases'].append({'image': 'set5/img_002', 'file': 'set5/hr/img_002.png',
                                    'pair': 'hr[8:-8, 8:-8] vs hr[8:-8, 7:-9] (shifted right by 1 px)',
                                    'stlpips': dist(a, b)})
    out['stlpips']['cases'].append({'image': 'set5/img_002', 'file': 'set5/hr/img_002.png',
                                    'pair': 'hr vs hr', 'stlpips': dist(hr, hr)})
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
