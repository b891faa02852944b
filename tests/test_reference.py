"""Reference values from the quality benchmark: read when present, None when absent, a clear error when malformed."""

from __future__ import annotations

import json
import math

import pytest

from aecore.reference import REFERENCE_DIR, load_reference, reference_path

ROW = {"preset": "fashion-mlp", "title": "FashionMNIST fully connected AE", "model": "mlp_ae", "latent_dim": 64,
       "epochs": 5, "status": "done", "seconds": 41.2, "mse": 0.0121, "ssim": 0.71, "psnr": 19.4,
       "pca_mse": 0.0139, "pca_ssim": 0.66}
DOC = {"dataset": "fashion-mnist", "train_images": 60000, "test_images": 10000, "device": "cpu", "threads": 2,
       "measured": "2026-11-22", "mean_image": {"mse": 0.094, "ssim": 0.21}, "presets": [ROW]}


def write(root, name="fashion-mnist", doc=DOC):
    root.mkdir(exist_ok=True)
    (root / f"{name}.json").write_text(json.dumps(doc))


def test_absent_reference_is_none(tmp_path):
    assert load_reference("fashion-mnist", tmp_path) is None
    assert reference_path("mnist-sample", tmp_path) is None


def test_a_sample_reads_its_full_datasets_reference(tmp_path):
    write(tmp_path)
    assert load_reference("fashion-mnist", tmp_path) == DOC
    assert load_reference("fashion-mnist-sample", tmp_path) == DOC
    assert load_reference("mnist-sample", tmp_path) is None
    write(tmp_path, "fashion-mnist-sample", {**DOC, "train_images": 10000})
    assert load_reference("fashion-mnist-sample", tmp_path)["train_images"] == 10000  # its own file comes first


def test_a_missing_score_written_as_nan_is_kept(tmp_path):
    (tmp_path / "fashion-mnist.json").write_text(json.dumps({**DOC, "presets": [{**ROW, "psnr": float("nan")}]}))
    assert math.isnan(load_reference("fashion-mnist", tmp_path)["presets"][0]["psnr"])


@pytest.mark.parametrize("doc", [
    [1, 2],
    {k: v for k, v in DOC.items() if k != "presets"},
    {**DOC, "mean_image": {"mse": "low", "ssim": 0.2}},
    {**DOC, "presets": [{**ROW, "mse": True}]},
    {**DOC, "presets": [{k: v for k, v in ROW.items() if k != "pca_mse"}]},
    {**DOC, "presets": "fashion-mlp"},
])
def test_a_malformed_reference_says_how_to_write_it_again(tmp_path, doc):
    write(tmp_path, doc=doc)
    with pytest.raises(ValueError, match="bench_quality.py --out fashion-mnist.json"):
        load_reference("fashion-mnist", tmp_path)


def test_invalid_json_is_refused(tmp_path):
    (tmp_path / "fashion-mnist.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a reference file"):
        load_reference("fashion-mnist", tmp_path)


def test_the_bundled_reference_folder_is_read_by_default():
    assert REFERENCE_DIR.name == "references" and REFERENCE_DIR.parent.name == "aecore"
    path = REFERENCE_DIR / "fashion-mnist.json"
    assert (load_reference("fashion-mnist") is not None) == path.is_file()


def test_pca_scores_fall_with_more_components_and_project_the_inputs_given():
    import torch

    from aecore.config import DataConfig
    from aecore.data import load_dataset, to_float
    from aecore.denoise import noisy_images
    from aecore.metrics import mse
    from aecore.reference import pca_scores

    train, test = load_dataset(DataConfig(limit_train=1000, limit_test=200))
    scores = pca_scores(train, test, (2, 32, 784, 5000))
    assert list(scores) == [2, 32, 784]  # no more components than pixels
    assert scores[2]["mse"] > scores[32]["mse"] > scores[784]["mse"]
    assert scores[784]["mse"] < 1e-6 and scores[784]["ssim"] > 0.999  # every direction: the images come back
    noisy = noisy_images(test, "gaussian", 0.3, seed=1)
    denoised = pca_scores(train, test, (32, 784), noisy)
    assert denoised[784]["mse"] == pytest.approx(float(mse(to_float(test.x), noisy).mean()), rel=1e-3)
    assert denoised[32]["mse"] < denoised[784]["mse"]  # a few components keep the image and drop most noise
    assert torch.equal(noisy, noisy_images(test, "gaussian", 0.3, seed=1))
