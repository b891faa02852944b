"""Quality per second: every preset trained on the full FashionMNIST, scored on the test split as it trains.

    python benchmarks/bench_quality.py [--root ../shared/datasets] [--presets quick-demo,best-minute]
                                       [--budgets 15,30,60,120] [--no-own] [--no-colour] [--out FILE]

For each preset: test SSIM and MSE after 15, 30, 60 and 120 s of training (or at its end, when it ends
sooner), and at its end. The clock counts training only (optimiser steps and the per-epoch validation); the
test scoring at each mark is left out of it. References measured in the same run: the mean training image
(what a model that learned nothing scores) and PCA with each code size (the best any linear autoencoder
can do, Baldi & Hornik 1989). Demo presets are also trained on their own dataset (a bundled sample), up to
the time their title promises, against PCA fitted on that sample; `--no-own` skips those rows. A denoising
preset is scored twice: on clean test images like every preset, and on its own task, the test images with its
training noise (seeded) in and the clean ones as the target, against PCA projecting the same noisy images.
A whole run (every preset, the default budgets) writes aecore/references/<dataset>.json, which the app shows;
a partial one writes only to `--out FILE`.

The convolutional presets are also trained on the demo colour collection (`aecore.demo_pictures`: 8 classes
of patches of scikit-image's photos, 32x32 in colour, built offline in a temporary folder), scored at the same
marks against PCA with the same code size fitted on it; `--no-colour` skips them.

`--ablation` instead trains the best-minute preset with each of its sharpness options undone in turn, and each
architecture option the Train page offers added in turn, for 60 s each: what every option buys at equal time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecore.config import DataConfig, RunConfig  # noqa: E402
from aecore.data import Split, load_dataset, split_validation, to_float  # noqa: E402
from aecore.device import pick_device  # noqa: E402
from aecore.demo_pictures import write_demo_pictures  # noqa: E402
from aecore.denoise import denoising_scores, noisy_images  # noqa: E402
from aecore.own_pictures import CollectionOptions, add_collection  # noqa: E402
from aecore.scoring import evaluate  # noqa: E402
from aecore.metrics import ssim  # noqa: E402
from aecore.presets import PRESETS, get_preset  # noqa: E402
from aecore.reference import PCA_CODE_SIZES, pca_scores  # noqa: E402
from aecore.train import fit, mean_image_mse, new_model  # noqa: E402

BUDGETS = (15, 30, 60, 120)
NOISE_SEED = 1234  # the noisy test images a denoising preset and PCA are both scored on


def time_to_quality(cfg: RunConfig, train: Split, test: Split, device: torch.device,
                    budgets: tuple[float, ...], to_the_end: bool = False) -> dict:
    """Train cfg's model with `fit`, scoring the test split at each budget of training seconds, then at the end
    (after the last budget, or `to_the_end` of its epochs)."""
    train, val = split_validation(train, cfg.train.val_fraction, cfg.train.seed)
    model = new_model(cfg, train.shape).to(device)
    start, scoring = time.perf_counter(), 0.0  # seconds spent scoring are taken off the training clock
    marks, pending = {}, sorted(budgets)

    def trained() -> float:
        return time.perf_counter() - start - scoring

    def on_step(e) -> None:
        nonlocal scoring
        while pending and trained() >= pending[0]:
            t0 = time.perf_counter()
            m = evaluate(model, test, device)
            scoring += time.perf_counter() - t0
            model.train()
            marks[pending.pop(0)] = {"mse": m["mse"], "ssim": m["ssim"]}

    limit = math.inf if to_the_end else max(budgets)
    history = fit(model, train, val, cfg.train, device, on_step, lambda: trained() >= limit)
    seconds = trained()
    m = evaluate(model, test, device)
    end = {"mse": m["mse"], "ssim": m["ssim"], "psnr": m["psnr"]}
    if cfg.train.denoising:
        end["denoising"] = denoising_scores(model, test, cfg.train.noise, cfg.train.noise_level, NOISE_SEED, device)
    for b in pending:  # ended before this budget: its score is the end's
        marks[b] = {"mse": end["mse"], "ssim": end["ssim"]}
    return {"status": history.status, "epochs": len(history.epochs), "steps": history.steps,
            "seconds": round(seconds, 1), **end,
            "at": {str(b): marks[b] for b in sorted(marks)}}


def row_for(name: str, cfg: RunConfig, train: Split, test: Split, device: torch.device, budgets: tuple[float, ...],
            pca: dict[int, dict[str, float]]) -> dict:
    r = time_to_quality(cfg, train, test, device, budgets)
    p = pca.get(cfg.model.latent_dim, {"mse": math.nan, "ssim": math.nan})
    if cfg.train.denoising:
        noisy = noisy_images(test, cfg.train.noise, cfg.train.noise_level, NOISE_SEED)
        r["pca_denoising"] = pca_scores(train, test, (cfg.model.latent_dim,), noisy)[cfg.model.latent_dim]
    return {"preset": name, "title": PRESETS[name].title, "model": cfg.model.kind, "dataset": cfg.data.name,
            "latent_dim": cfg.model.latent_dim, **r, "pca_mse": p["mse"], "pca_ssim": p["ssim"],
            "promised_seconds": PRESETS[name].seconds}


def verdict(scores: dict, pca_ssim: float, pca_mse: float) -> str:
    return "beats" if scores["ssim"] > pca_ssim and scores["mse"] < pca_mse else "LOSES TO"


def show(rows: list[dict], budgets: tuple[float, ...], pca: dict[int, dict[str, float]]) -> None:
    marks = "".join(f" {f'@{b:g}s':>13}" for b in budgets)
    header = f"{'preset':13} {'data':7} {'z':>3} {'steps':>5}{marks} {'end SSIM/MSE':>13} {'secs':>6}  vs PCA"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        cells = "".join(f" {r['at'][str(b)]['ssim']:6.3f}/{r['at'][str(b)]['mse']:.4f}" for b in budgets)
        data = "sample" if r["dataset"].endswith("-sample") else "colour" if r["dataset"].startswith("pictures-") else "full"
        print(f"{r['preset']:13} {data:7} {r['latent_dim']:>3} {r['steps']:>5}{cells} {r['ssim']:6.3f}/{r['mse']:.4f} "
              f"{r['seconds']:6.1f}  {verdict(r, r['pca_ssim'], r['pca_mse'])} PCA ({r['pca_ssim']:.3f}/{r['pca_mse']:.4f})",
              flush=True)
    for k in sorted({r["latent_dim"] for r in rows}):
        if k in pca:
            print(f"{'PCA':13} {'':7} {k:>3} {'':>5}" + f" {pca[k]['ssim']:6.3f}/{pca[k]['mse']:.4f}" * len(budgets))


def ablation(train: Split, test: Split, device: torch.device, budgets: tuple[float, ...]) -> None:
    """best-minute, then one option changed per row, each scored at the same seconds and trained to its end
    (its one-cycle rate spans all its epochs: a slower variant cut at 60 s would be cut before its rate fell)."""
    base = dataclasses.replace(get_preset("best-minute"), data=DataConfig(name="fashion-mnist"))
    m, t = base.model, base.train
    variants = {
        "best-minute": base,
        "- batch norm": dataclasses.replace(base, model=dataclasses.replace(m, norm="none")),
        "- SSIM in the loss": dataclasses.replace(base, model=dataclasses.replace(m, recon_loss="mse")),
        "- one-cycle rate": dataclasses.replace(base, train=dataclasses.replace(t, lr_schedule="constant", lr=1e-3)),
        "+ resize upsampling": dataclasses.replace(base, model=dataclasses.replace(m, upsample="nearest")),
        "+ 2 convs per level": dataclasses.replace(base, model=dataclasses.replace(m, convs_per_level=2)),
        "+ wider (64, 128)": dataclasses.replace(base, model=dataclasses.replace(m, hidden=(64, 128))),
    }
    marks = "".join(f" {f'@{b:g}s':>13}" for b in budgets)
    header = f"{'best-minute, one change':24} {'steps':>5}{marks} {'end SSIM/MSE':>13} {'secs':>6}"
    print(header + "\n" + "-" * len(header))
    for name, cfg in variants.items():
        r = time_to_quality(cfg, train, test, device, budgets, to_the_end=True)
        cells = "".join(f" {r['at'][str(b)]['ssim']:6.3f}/{r['at'][str(b)]['mse']:.4f}" for b in budgets)
        print(f"{name:24} {r['steps']:>5}{cells} {r['ssim']:6.3f}/{r['mse']:.4f} {r['seconds']:6.1f}", flush=True)


def spanning(cfg: RunConfig, train: Split, device: torch.device, seconds: float) -> RunConfig:
    """cfg with as many epochs as fill `seconds` here, timed from one epoch: a preset's few epochs over a small
    collection end in seconds, before any budget is reached."""
    probe = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    model = new_model(probe, train.shape).to(device)
    start = time.perf_counter()
    fit(model, train, None, probe.train, device)
    per_epoch = time.perf_counter() - start
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=max(1, math.ceil(seconds / per_epoch))))


def colour_rows(names: list[str], device: torch.device, budgets: tuple[float, ...], per_class: int) -> list[dict]:
    """The convolutional presets on the demo colour collection, each against PCA with its code size on it."""
    conv = [n for n in names if get_preset(n).model.kind.startswith("conv")]
    if not conv:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AECORE_DATASETS_DIR"] = str(Path(tmp) / "datasets")
        info = add_collection("Photo patches", write_demo_pictures(Path(tmp) / "photos", per_class=per_class),
                              CollectionOptions(size=32))
        data = DataConfig(name=info.id)
        train, test = load_dataset(data)
        pca = pca_scores(train, test, tuple({get_preset(n).model.latent_dim for n in conv}))
        print(f"\ndemo colour collection: {len(train)} train / {len(test)} test, {info.size}x{info.size} colour, "
              f"{len(info.classes)} classes; mean image SSIM {info.reference['mean_image']['ssim']:.3f} "
              f"MSE {info.reference['mean_image']['mse']:.4f}; each preset's epochs stretched to fill "
              f"{max(budgets):g} s, so its learning-rate schedule spans the run")
        rows = [row_for(n, spanning(dataclasses.replace(get_preset(n), data=data), train, device, max(budgets)),
                        train, test, device, budgets, pca) for n in conv]
    show(rows, budgets, pca)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/raw")
    parser.add_argument("--dataset", default="fashion-mnist", help="dataset name (default: the full FashionMNIST)")
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated preset names")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="training seconds to score at")
    parser.add_argument("--no-own", action="store_true", help="skip the demo presets on their own datasets")
    parser.add_argument("--no-colour", action="store_true", help="skip the convolutional presets on the colour collection")
    parser.add_argument("--colour-per-class", type=int, default=400, help="pictures of each of the 8 colour classes")
    parser.add_argument("--ablation", action="store_true",
                        help="best-minute with one option changed per row, scored at 15, 30 and 60 s (nothing written)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="JSON file to write (default aecore/references/<dataset>.json; '' for none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["AECORE_DATA_DIR"] = args.root
    budgets = tuple(float(b) for b in args.budgets.split(","))
    names = [n for n in args.presets.split(",") if n]
    for n in names:
        get_preset(n)  # an unknown name fails before anything trains
    began = time.perf_counter()
    data = DataConfig(name=args.dataset)
    train, test = load_dataset(data)
    device = pick_device()
    sizes = tuple(sorted(set(PCA_CODE_SIZES) | {get_preset(n).model.latent_dim for n in names}))
    pca = pca_scores(train, test, sizes)
    x_test = to_float(test.x)
    mean_image = {"mse": mean_image_mse(train, test), "ssim": ssim(x_test, to_float(train.x).mean(0).expand_as(x_test)).mean().item()}
    print(f"{args.dataset}: {len(train)} train / {len(test)} test, device {device}, {torch.get_num_threads()} threads, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"mean image: SSIM {mean_image['ssim']:.3f}  MSE {mean_image['mse']:.4f}\n")
    if args.ablation:
        ablation(train, test, device, tuple(b for b in budgets if b <= 60))
        print(f"PCA with 64 numbers: {pca[64]['ssim']:.3f}/{pca[64]['mse']:.4f}; benchmark took "
              f"{time.perf_counter() - began:.0f} s; load average now {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    rows = [row_for(n, dataclasses.replace(get_preset(n), data=data), train, test, device, budgets, pca) for n in names]
    show(rows, budgets, pca)
    own = []
    # a demo preset whose own dataset is the one above already has its row
    for n in [] if args.no_own else [n for n in names if PRESETS[n].seconds and PRESETS[n].config.data != data]:
        cfg = get_preset(n)
        own_train, own_test = load_dataset(cfg.data)
        own_pca = pca_scores(own_train, own_test, (cfg.model.latent_dim,))
        own.append(row_for(n, cfg, own_train, own_test, device, (PRESETS[n].seconds,), own_pca))
    if own:
        print("\ndemo presets on their own dataset, within the time their title promises:")
        for r in own:
            print(f"  {r['preset']:13} {r['dataset']:20} z {r['latent_dim']:>3}: SSIM {r['ssim']:.3f} MSE {r['mse']:.4f} "
                  f"in {r['seconds']:.1f} s, {r['steps']} steps (promised {r['promised_seconds']:g} s) vs PCA {r['pca_ssim']:.3f} / "
                  f"{r['pca_mse']:.4f}: {verdict(r, r['pca_ssim'], r['pca_mse'])} PCA")
            if "denoising" in r:
                d, p = r["denoising"], r["pca_denoising"]
                print(f"  {'':13} {'its own task':20} z {r['latent_dim']:>3}: SSIM {d['ssim']:.3f} MSE {d['mse']:.4f} from images "
                      f"with its noise vs PCA denoising {p['ssim']:.3f} / {p['mse']:.4f}: {verdict(d, p['ssim'], p['mse'])} PCA")
    colour = [] if args.no_colour else colour_rows(names, device, budgets, args.colour_per_class)
    print(f"\nbenchmark took {time.perf_counter() - began:.0f} s; load average now "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    whole = names == list(PRESETS) and budgets == BUDGETS and not args.no_own and not args.no_colour  # only a whole run refreshes the app's file
    default = Path(__file__).resolve().parents[1] / "aecore" / "references" / f"{args.dataset}.json"
    out = args.out if args.out is not None else default if whole else ""
    if not out:
        print("no JSON written: pass --out FILE (a partial run never replaces the app's reference file by default)")
    else:
        doc = {"dataset": args.dataset, "train_images": len(train), "test_images": len(test), "device": str(device),
               "threads": torch.get_num_threads(), "machine": platform.machine(), "torch": torch.__version__,
               "measured": time.strftime("%Y-%m-%d"), "budgets": list(budgets), "mean_image": mean_image,
               "pca": {str(k): v for k, v in pca.items()}, "presets": rows, "own_dataset": own,
               "colour": colour}
        Path(out).write_text(json.dumps(doc, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
