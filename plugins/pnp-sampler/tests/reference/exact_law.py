"""The exact law of the sampler's output on Gaussian tasks, without sampling: with the exact
denoiser of a Gaussian prior every step is affine in (x_t, y) plus fresh Gaussian noise, so the
output given y is Gaussian with a mean affine in y and a covariance that does not depend on y;
this script propagates both through the steps (numpy, float64, independently of the Rust code)
and prints P = E_y D_½(sampler ‖ posterior) (averaged over y ~ p(y) in closed form) and
U/N(X|Y) = (|C_s + C|/|C|)^(1/d), for the tables of docs/sampler.md.

    .venv/bin/python plugins/pnp-sampler/tests/reference/exact_law.py
"""
import numpy as np


def ar1(d, rho):
    i = np.arange(d)
    return rho ** np.abs(i[:, None] - i[None, :])


def run(Sig, A, sn, steps, eta, step):
    """(F, h, C): output = F·y + h + N(0, C), the plugin's automatic schedule and start."""
    d, m = Sig.shape[0], A.shape[0]
    I = np.eye(d)
    scale = np.sqrt(np.linalg.eigvalsh(Sig).max())
    smax, smin = 20 * scale, 1e-3 * scale
    sig = np.append(np.geomspace(smax, smin, steps) if steps > 1 else [smax], 0.0)
    P = np.linalg.inv(A.T @ A / sn**2 + I / smax**2)  # start: prox of the prior mean (0)
    F, h, C = P @ A.T / sn**2, np.zeros(d), eta**2 * smax**2 * I
    for k in range(steps):
        s, sp = sig[k], sig[k + 1]
        W = Sig @ np.linalg.inv(Sig + s**2 * I)  # D(x) = W x
        if step == "tweedie":
            Ct = s**2 * W
            G = Ct @ A.T @ np.linalg.inv(A @ Ct @ A.T + sn**2 * np.eye(m))
            L, R = (I - G @ A) @ W, G
        else:  # DiffPIR prox, λ = 1
            Q = np.linalg.inv(A.T @ A / sn**2 + I / s**2)
            L, R = Q @ W / s**2, Q @ A.T / sn**2
        c = eta * sp * np.sqrt(max(0.0, 1 - sp**2 / s**2))
        a = np.sqrt(max(sp**2 - c**2, 0.0)) / s
        M = (1 - a) * L + a * I
        F, h, C = M @ F + (1 - a) * R, M @ h, M @ C @ M.T + c**2 * I
    return F, h, C


def scores(Sig, A, sn, F, h, C):
    d, m = Sig.shape[0], A.shape[0]
    S = A @ Sig @ A.T + sn**2 * np.eye(m)
    K = Sig @ A.T @ np.linalg.inv(S)
    Cp = Sig - K @ A @ Sig
    Sb = (C + Cp) / 2
    Q = np.linalg.inv(Sb)
    D = F - K
    quad = h @ Q @ h + np.trace(Q @ D @ S @ D.T)  # E_y over y ~ N(0, S)
    ld = np.linalg.slogdet(Sb)[1] - 0.5 * (np.linalg.slogdet(C)[1] + np.linalg.slogdet(Cp)[1])
    u = np.exp((np.linalg.slogdet(C + Cp)[1] - np.linalg.slogdet(Cp)[1]) / d)
    # η = 0: E_y |F y + h − K y|² / tr Cp
    mean_err = (np.trace(D @ S @ D.T) + h @ h) / np.trace(Cp)
    return 0.25 * quad + ld, u, mean_err


def main():
    d = 16
    tasks = [
        ("ar1(0.8)-denoising-d16 σ=0.5", ar1(d, 0.8), np.eye(d), 0.5),
        ("ar1(0.9)-inpainting-d16 σ=0.2", ar1(d, 0.9), np.eye(d)[[0, 2, 3, 6, 9, 10, 12, 15]], 0.2),
    ]
    for name, Sig, A, sn in tasks:
        for step in ["tweedie", "prox"]:
            print(f"{name} [{step}]")
            for steps in [10, 25, 50, 100, 200, 400]:
                p, u, _ = scores(Sig, A, sn, *run(Sig, A, sn, steps, 1.0, step))
                _, _, e0 = scores(Sig, A, sn, *run(Sig, A, sn, steps, 0.0, step))
                print(f"  steps {steps:4}: eta=1 P = {p:.4f}, U/N = {u:.4f}; eta=0 E|x - E[X|y]|^2 / tr Cov = {e0:.2e}")


if __name__ == "__main__":
    main()
