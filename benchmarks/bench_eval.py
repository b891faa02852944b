"""Speed and agreement of aecore's batched metrics against a per-image scikit-image loop.

Scores the 10,000 FashionMNIST test images against a seeded blur + noise of themselves, once with
`aecore.metrics` (MSE, MAE, PSNR, SSIM over the whole batch) and once image by image with numpy and
`skimage.metrics`, then prints images/second, the speed ratio (target: 3x or more) and the largest
absolute difference (must stay within 1e-4, or the script exits non-zero).

    python benchmarks/bench_eval.py --root ../shared/datasets
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from aecore.config import DataConfig  # noqa: E402
from aecore.data import load_dataset, to_float  # noqa: E402
from aecore.metrics import SKIMAGE_SSIM_KWARGS, mae, mse, psnr, ssim  # noqa: E402

NAMES = ("mse", "mae", "psnr", "ssim")
TOLERANCE = 1e-4


def make_reconstructions(x: torch.Tensor, noise_std: float, seed: int) -> torch.Tensor:
    """A deterministic stand-in for a model's output: 3x3 box blur plus seeded Gaussian noise, clipped."""
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (F.avg_pool2d(x, 3, stride=1, padding=1) + noise_std * noise).clamp(0, 1)


def score_batched(x: torch.Tensor, x_hat: torch.Tensor, batch_size: int) -> dict[str, np.ndarray]:
    """aecore's vectorised metrics, `batch_size` images per call."""
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in NAMES}
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            a, b = x[start:start + batch_size], x_hat[start:start + batch_size]
            for name, fn in zip(NAMES, (mse, mae, psnr, ssim)):
                parts[name].append(fn(a, b))
    return {name: torch.cat(v).double().numpy() for name, v in parts.items()}


def score_reference(x: np.ndarray, x_hat: np.ndarray) -> dict[str, np.ndarray]:
    """One image at a time with numpy and scikit-image, in float64."""
    out = {name: np.empty(len(x)) for name in NAMES}
    for i, (a, b) in enumerate(zip(x, x_hat)):
        out["mse"][i] = mean_squared_error(a, b)
        out["mae"][i] = np.abs(a - b).mean()
        # skimage returns inf for identical images; aecore clamps the MSE at 1e-12, which this data never reaches
        out["psnr"][i] = peak_signal_noise_ratio(a, b, data_range=1.0)
        out["ssim"][i] = structural_similarity(a[0], b[0], **SKIMAGE_SSIM_KWARGS)
    return out


def timed(fn, repeats: int):
    """The result of fn() and its best wall time over `repeats` runs."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/raw")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--noise-std", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of the batched path; the best one counts")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    _, test = load_dataset(DataConfig(name="fashion-mnist"), root=args.root)
    x = to_float(test.x)  # (N, 1, 28, 28)
    x_hat = make_reconstructions(x, args.noise_std, args.seed)
    n = len(x)

    ours, t_ours = timed(lambda: score_batched(x, x_hat, args.batch_size), args.repeats)
    ref, t_ref = timed(lambda: score_reference(x.double().numpy(), x_hat.double().numpy()), 1)

    print(f"FashionMNIST test: {n} images {tuple(x.shape[1:])}, torch threads {args.threads}, "
          f"reconstructions = 3x3 blur + N(0, {args.noise_std}) noise (seed {args.seed})")
    print(f"SSIM settings: {SKIMAGE_SSIM_KWARGS}")
    print(f"aecore batched (batch {args.batch_size}): {t_ours:8.3f} s  {n / t_ours:12,.0f} images/s")
    print(f"skimage per-image loop:          {t_ref:8.3f} s  {n / t_ref:12,.0f} images/s")
    print(f"speed ratio: {t_ref / t_ours:.1f}x (target >= 3x)")
    worst = 0.0
    for name in NAMES:
        diff = float(np.abs(ours[name] - ref[name]).max())
        worst = max(worst, diff)
        print(f"  {name:5s} mean {ours[name].mean():10.6f} (ref {ref[name].mean():10.6f})  max |diff| {diff:.2e}")
    print(f"max |diff| over all metrics: {worst:.2e} (tolerance {TOLERANCE:.0e})")
    if worst > TOLERANCE:
        print("FAIL: aecore and scikit-image disagree beyond the tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
