"""Named set-ups: the classic tutorial autoencoders, and demo presets that look good within seconds.

The classic presets keep their tutorials' settings: they are what a user compares against. The demo presets
(`seconds` > 0) are tuned for quality per second on a 2-core CPU with 2 threads, and each should beat PCA
with the same code size on test SSIM and MSE within its `seconds` of training (benchmarks/bench_quality.py).
No title promises a time: how long a preset takes is measured on the machine it runs on (aecore.machine_speed).

Every preset but best-minute trains on a bundled sample so it works offline; pick the full dataset with
`dataclasses.replace(cfg, data=DataConfig(name="fashion-mnist"))` or `--data fashion-mnist`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig


@dataclass(frozen=True)
class Preset:
    title: str
    description: str  # in plain words, for someone who has never trained a network
    details: str  # the same set-up in the field's own terms, one click away in the app
    config: RunConfig
    seconds: float = 0.0  # a demo's training budget on a 2-core CPU (bench_quality); 0 for the classic set-ups


_CLASSIC = TrainConfig(epochs=5, batch_size=128, lr=1e-3, patience=5, min_delta=1e-3)
# A VAE's loss is nats per image (about 250 on these samples), not a per-pixel error: half a nat is
# about 0.2 % of it, a drop its late epochs still make, where 1e-3 would let any flicker reset patience.
VAE_MIN_DELTA = 0.5
_VAE = dataclasses.replace(_CLASSIC, min_delta=VAE_MIN_DELTA)
_FASHION = DataConfig(name="fashion-mnist-sample")
# What buys test SSIM per second of CPU (benchmarks/bench_quality.py): the MSE + SSIM loss, batch norm and a
# one-cycle rate; small batches, because on a CPU four steps of 32 images cost about one of 128 but learn more.
_SHARP_CONV = ModelConfig("conv_ae", 64, (32, 64), recon_loss="mse_ssim", ssim_weight=0.5, norm="batch")
_SHARP = dataclasses.replace(_CLASSIC, epochs=4, batch_size=32, lr=2e-3, lr_schedule="one_cycle", patience=0)
_MNIST = DataConfig(name="mnist-sample")

PRESETS: dict[str, Preset] = {
    "fashion-mlp": Preset(
        "FashionMNIST fully connected AE",
        "The classic first autoencoder from tutorials: every pixel is wired to every unit, and each picture is "
        "squeezed into 64 numbers and drawn back.",
        "The classic tutorial: 784-256-64 with ReLU, sigmoid output, MSE, Adam 1e-3, batch 128, 5 epochs.",
        RunConfig(_FASHION, ModelConfig("mlp_ae", 64, (256,)), _CLASSIC),
    ),
    "mnist-deep": Preset(
        "Deep MNIST AE",
        "A deeper network for handwritten digits: it squeezes each digit into 32 numbers that spread out well on the "
        "maps.",
        "784-256-64-32 with an unbounded 32-d bottleneck and Glorot weights, 12 epochs.",
        RunConfig(_MNIST, ModelConfig("deep_mlp_ae", 32, (256, 64)), dataclasses.replace(_CLASSIC, epochs=12)),
    ),
    "mnist-64": Preset(
        "MNIST 784-to-64 AE",
        "The smallest classic: one layer squeezes each handwritten digit into 64 numbers, one layer draws it back.",
        "The smallest classic: one ReLU layer down to a 64-d code and one sigmoid layer back, 10 epochs.",
        RunConfig(_MNIST, ModelConfig("mlp_ae", 64, ()), dataclasses.replace(_CLASSIC, epochs=10)),
    ),
    "fashion-cnn": Preset(
        "FashionMNIST convolutional AE",
        "Looks at small patches of each picture, as an eye does, and squeezes it into 64 numbers: sharper edges than "
        "wiring every pixel to everything.",
        "Two stride-2 convolutions (32, 64 channels) to a 64-d code, transposed convolutions back, 10 epochs.",
        RunConfig(_FASHION, ModelConfig("conv_ae", 64, (32, 64)), dataclasses.replace(_CLASSIC, epochs=10)),
    ),
    "fashion-vae": Preset(
        "FashionMNIST VAE",
        "Learns a smooth map of codes as well as the pictures, so it can also invent new clothes of its own.",
        "Fully connected VAE, 784-512-256 to a 16-d Gaussian code, BCE + KL, 10 epochs.",
        RunConfig(_FASHION, ModelConfig("vae", 16, (512, 256), recon_loss="bce"), dataclasses.replace(_VAE, epochs=10)),
    ),
    "best-minute": Preset(
        "Sharpest in a minute",
        "The sharpest model this app can train in a minute, on all 60,000 clothing pictures (downloaded once).",
        "The sharpest model this app trains in a minute: a convolutional AE with a 64-d code, batch norm, an "
        "MSE + SSIM loss and a one-cycle learning rate, on the full 60,000 FashionMNIST images (downloaded once).",
        RunConfig(DataConfig(name="fashion-mnist"), _SHARP_CONV,
                  dataclasses.replace(_SHARP, batch_size=64, lr=3e-3, epochs=3)),
        seconds=60,
    ),
    "quick-demo": Preset(
        "Quick demo",
        "Looks at small patches of each clothing picture and squeezes it into 32 numbers, trained to keep edges "
        "sharp: crisp enough to impress, fast enough to watch.",
        "A convolutional AE with a 32-d code on the FashionMNIST sample, trained for sharpness (MSE + SSIM, batch "
        "norm, one-cycle learning rate): crisp enough to impress, fast enough to watch.",
        RunConfig(_FASHION, dataclasses.replace(_SHARP_CONV, latent_dim=32), _SHARP),
        seconds=15,
    ),
    "denoise-demo": Preset(
        "Denoising demo",
        "The quick demo's network, shown grainy copies of each picture and taught to give back the clean one.",
        "The quick demo's network trained to remove Gaussian noise (std 0.3) from FashionMNIST.",
        RunConfig(_FASHION, dataclasses.replace(_SHARP_CONV, latent_dim=32),
                  dataclasses.replace(_SHARP, noise="gaussian", noise_level=0.3)),
        seconds=15,
    ),
    "vae-2d": Preset(
        "2-D VAE for maps",
        "Squeezes every picture into just 2 numbers, so its whole map of codes fits on one flat picture that Generate "
        "can draw.",
        "A VAE with a 2-d code: the latent space is the plot, and the Generate page draws its whole manifold.",
        RunConfig(_FASHION, ModelConfig("vae", 2, (512, 256), recon_loss="bce"), dataclasses.replace(_VAE, epochs=20)),
        seconds=15,
    ),
}


def get_preset(name: str) -> RunConfig:
    """The RunConfig of a preset; a run of it is named after the preset's title (aecore.names), as in the app."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name].config


LARGE_SIDE = 64  # pictures this wide give a two-level convolutional model one more halving


def suited_to_side(cfg: RunConfig, side: int) -> RunConfig:
    """cfg with a third stride-2 level for a two-level convolutional model on pictures of LARGE_SIDE px or more,
    so its code layer reads 8x8 maps, not 16x16: on the 64-px demo colour collection (1,280 pictures, 40 epochs)
    test MSE 0.0221 and SSIM 0.463 against 0.0259 and 0.443, with 719k parameters instead of 1.1 M, in the
    same time. Other models and sizes are returned as they are."""
    model = cfg.model
    if side < LARGE_SIDE or not model.kind.startswith("conv") or len(model.hidden) != 2:
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(model, hidden=(*model.hidden, model.hidden[-1] * 2)))
