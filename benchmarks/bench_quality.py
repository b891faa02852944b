"""Quality at a budget: every preset trained on the full FashionMNIST, with test MSE, SSIM and seconds.

    python benchmarks/bench_quality.py [--root ../shared/datasets] [--presets fashion-mlp,vae-2d] [--out FILE]

References measured in the same run: the mean training image (what a model that learned nothing
scores) and PCA with the preset's latent size (the best any linear autoencoder can do). Ratios
below 1 against PCA mean the network beats every linear code of that size. `--out` writes the
table as JSON, the reference values the app shows beside its numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecore.config import DataConfig  # noqa: E402
from aecore.data import load_dataset, to_float  # noqa: E402
from aecore.device import pick_device  # noqa: E402
from aecore.metrics import mse, ssim  # noqa: E402
from aecore.presets import PRESETS, get_preset  # noqa: E402
from aecore.train import train_run  # noqa: E402


def pca_reconstruction(train: torch.Tensor, test: torch.Tensor, k: int) -> torch.Tensor:
    """Test images rebuilt from their top-k principal components of the training images (float, flat)."""
    mean = train.mean(0, keepdim=True)
    _, _, v = torch.pca_lowrank(train - mean, q=k, center=False, niter=4)
    return ((test - mean) @ v @ v.T + mean).clamp(0, 1)


def score(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, float]:
    return {"mse": mse(x, x_hat).mean().item(), "ssim": ssim(x, x_hat).mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/raw")
    parser.add_argument("--dataset", default="fashion-mnist", help="dataset name (default: the full FashionMNIST)")
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import os

    os.environ["AECORE_DATA_DIR"] = args.root
    data = DataConfig(name=args.dataset)
    train, test = load_dataset(data)
    x_train = to_float(train.x).flatten(1)
    x_test = to_float(test.x)
    mean_image = x_train.mean(0).view(1, *test.shape).expand_as(x_test)
    baseline = score(x_test, mean_image)
    device = pick_device()
    print(f"{args.dataset}: {len(train)} train / {len(test)} test, device {device}, {torch.get_num_threads()} threads")
    print(f"mean image baseline: MSE {baseline['mse']:.4f}  SSIM {baseline['ssim']:.4f}\n")
    header = f"{'preset':14} {'model':12} {'z':>3} {'ep':>3} {'MSE':>7} {'SSIM':>6} {'secs':>6} {'PCA MSE':>8} {'MSE/PCA':>7} {'MSE/mean':>8}"
    print(header + "\n" + "-" * len(header))
    rows = []
    for name in args.presets.split(","):
        cfg = dataclasses.replace(get_preset(name), data=data)
        result = train_run(cfg, device)
        h = result.history
        pca = score(x_test, pca_reconstruction(x_train, x_test.flatten(1), cfg.model.latent_dim).view_as(x_test))
        row = {
            "preset": name, "title": PRESETS[name].title, "model": cfg.model.kind, "latent_dim": cfg.model.latent_dim,
            "epochs": len(h.epochs), "status": h.status, "seconds": round(h.seconds, 1),
            "mse": result.metrics.get("mse", float("nan")), "ssim": result.metrics.get("ssim", float("nan")),
            "psnr": result.metrics.get("psnr", float("nan")), "pca_mse": pca["mse"], "pca_ssim": pca["ssim"],
        }
        rows.append(row)
        print(f"{name:14} {row['model']:12} {row['latent_dim']:>3} {row['epochs']:>3} {row['mse']:7.4f} {row['ssim']:6.3f} "
              f"{row['seconds']:6.1f} {row['pca_mse']:8.4f} {row['mse'] / row['pca_mse']:7.2f} {row['mse'] / baseline['mse']:8.3f}",
              flush=True)
    if args.out:
        out = {
            "dataset": args.dataset, "train_images": len(train), "test_images": len(test),
            "device": str(device), "threads": torch.get_num_threads(), "machine": platform.machine(),
            "torch": torch.__version__, "measured": time.strftime("%Y-%m-%d"),
            "mean_image": baseline, "presets": rows,
        }
        Path(args.out).write_text(json.dumps(out, indent=2))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
