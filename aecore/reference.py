"""Reference scores to read a run's numbers against: `load_reference(dataset) -> dict | None`.

`benchmarks/bench_quality.py --out aecore/references/<dataset>.json` trains every preset on a full dataset
and records test MSE, SSIM and PSNR, beside two yardsticks measured in the same run: PCA with each
preset's code size (the best any linear autoencoder can do) and the mean training image (what a model
that learned nothing scores). A bundled sample reads its full dataset's file: the images are the same
kind, only fewer. Files are only read, never written here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .data import Split, to_float
from .metrics import mse, ssim
from .store import collections

REFERENCE_DIR = Path(__file__).parent / "references"
SAMPLE_SUFFIX = "-sample"
PRESET_NUMBERS = ("latent_dim", "epochs", "seconds", "mse", "ssim", "psnr", "pca_mse", "pca_ssim")
# code sizes the benchmark scores PCA at, so most runs find theirs: the Train page's defaults and powers of two
PCA_CODE_SIZES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def reference_path(dataset: str, root: str | Path | None = None) -> Path | None:
    """The reference file for a dataset (its own, else its full dataset's for a sample), or None if there is none."""
    base = Path(root) if root is not None else REFERENCE_DIR
    for name in dict.fromkeys((dataset, dataset.removesuffix(SAMPLE_SUFFIX))):
        path = base / f"{name}.json"
        if path.is_file():
            return path
    return None


def load_reference(dataset: str, root: str | Path | None = None) -> dict[str, Any] | None:
    """The benchmark's reference values for a dataset, or None when none were measured.

    ValueError names the file and says how to write it again when it is not what the benchmark writes.
    """
    path = reference_path(dataset, root)
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        _check(doc)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is not a reference file ({type(err).__name__}: {err}); write it again with "
                         f"python benchmarks/bench_quality.py --out {path.name}") from err
    return doc


def _check(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise TypeError(f"expected a JSON object, got {type(doc).__name__}")
    for key in ("dataset", "train_images", "test_images", "mean_image", "presets"):
        if key not in doc:
            raise KeyError(key)
    for key in ("mse", "ssim"):
        _number(doc["mean_image"][key])
    if not isinstance(doc["presets"], list):
        raise TypeError("presets must be a list")
    for row in doc["presets"]:
        if not isinstance(row.get("preset"), str) or not isinstance(row.get("model"), str):
            raise TypeError(f"a preset row needs 'preset' and 'model' names, got {row!r}")
        for key in PRESET_NUMBERS:
            _number(row[key])
        if "at" in row:  # scores after so many seconds; JSON keys are text ("60.0" from bench_quality): as numbers
            if not isinstance(row["at"], dict):
                raise TypeError("a preset row's 'at' must map seconds to scores")
            row["at"] = {_number(float(k)): {m: _number(v) for m, v in s.items()} for k, s in row["at"].items()}


def _number(v: Any) -> float:
    """A JSON number; NaN is allowed (the benchmark writes it for a missing score), booleans are not."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isinf(v):
        raise TypeError(f"expected a finite number, got {v!r}")
    return float(v)


def pca_scores(train: Split, test: Split, sizes: tuple[int, ...], inputs: torch.Tensor | None = None,
               ) -> dict[int, dict[str, float]]:
    """Test MSE and SSIM of PCA fitted on the training images, for every code size (one SVD for all).

    `inputs` (float images like the test split's, e.g. noisy copies) are projected instead of the test images,
    which stay the target: PCA as a denoiser, the linear reference for a denoising autoencoder."""

    x_train, x_test = to_float(train.x).flatten(1), to_float(test.x)
    x_in = x_test if inputs is None else inputs
    mean = x_train.mean(0, keepdim=True)
    _, _, vt = torch.linalg.svd(x_train - mean, full_matrices=False)  # float32: rows are principal directions
    out = {}
    for k in sorted(s for s in sizes if s <= vt.shape[0]):
        v = vt[:k].T  # (H*W, k)
        x_hat = ((x_in.flatten(1) - mean) @ v @ v.T + mean).clamp(0, 1).view_as(x_test)
        out[k] = {"mse": mse(x_test, x_hat).mean().item(), "ssim": ssim(x_test, x_hat).mean().item()}
    return out


COLLECTION_FIT_IMAGES = 4000  # PCA for a person's collection is fitted on at most this many training pictures
COLLECTION_TEST_IMAGES = 2000  # and scored on at most this many test pictures: 6 s at 64 px colour on 2 cores


def collection_reference(train: Split, test: Split) -> dict:
    """The yardsticks a collection keeps: the mean training image's test MSE and SSIM, and PCA's at every code
    size up to the pictures it was fitted on (fitted on a seeded share of a large collection)."""
    rng = torch.Generator().manual_seed(0)
    if len(train) > COLLECTION_FIT_IMAGES:
        train = train.take(torch.randperm(len(train), generator=rng)[:COLLECTION_FIT_IMAGES])
    if len(test) > COLLECTION_TEST_IMAGES:
        test = test.take(torch.randperm(len(test), generator=rng)[:COLLECTION_TEST_IMAGES])
    x_test = to_float(test.x)
    mean = to_float(train.x).mean(0, keepdim=True).expand_as(x_test)
    sizes = tuple(k for k in PCA_CODE_SIZES if k < len(train))
    return {"mean_image": {"mse": mse(x_test, mean).mean().item(), "ssim": ssim(x_test, mean).mean().item()},
            "pca": {str(k): v for k, v in pca_scores(train, test, sizes).items()}}


def pca_at(dataset: str, code_size: int, root: str | Path | None = None) -> dict[str, float] | None:
    """Test MSE and SSIM of PCA with `code_size` components on the dataset (a sample reads its full dataset's),
    from the benchmark's file or a collection's own; None where that code size or the file is missing or
    unreadable."""
    if collections.is_collection_id(dataset):
        try:
            return (collections.read_info(dataset).reference or {}).get("pca", {}).get(str(code_size))
        except collections.CollectionError:
            return None
    try:
        ref = load_reference(dataset, root)
    except ValueError:
        return None  # the Compare page's reference section says what is wrong with the file
    if ref is None:
        return None
    scores = ref.get("pca", {}).get(str(code_size))
    if scores is None:  # files written before the PCA table: each preset row carries its own code size's
        scores = next(({"mse": p["pca_mse"], "ssim": p["pca_ssim"]} for p in ref["presets"]
                       if p["latent_dim"] == code_size and not math.isnan(p["pca_mse"])), None)
    try:
        return None if scores is None else {"mse": _number(scores["mse"]), "ssim": _number(scores["ssim"])}
    except (KeyError, TypeError):
        return None
