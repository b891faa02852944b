"""The Train page's settings that buy sharpness per second: the loss, the learning-rate schedule, the conv network's shape.

`sharpness_controls(model_kind)` draws them (widgets only, keys in `OPTION_KEYS`); `option_values(cfg)` reads a
config's values for the widgets, and `apply_options(cfg, values)` writes the widgets' values into a config.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from aecore.config import LR_SCHEDULES, RunConfig

# Offered are the options that bought sharpness at equal time in `benchmarks/bench_quality.py --ablation` (full
# FashionMNIST, 2 threads; best-minute reached test SSIM 0.868 in 61 s and 0.879 given 114 s). Not offered, kept as
# config fields for scripts and for runs saved with them: resize-then-convolve upsampling (0.851 at 60 s, 0.865 in
# 118 s) and more capacity, a second convolution per level (0.860, 0.876 in 121 s) or wider layers (0.859, 0.876
# in 119 s): each step costs twice as much, and training longer buys more.
OPTION_KEYS = ("recon_loss", "ssim_weight", "lr_schedule", "warmup", "batch_norm")
OPTION_LABELS = {"recon_loss": "loss", "ssim_weight": "sharpness weight", "lr_schedule": "learning-rate schedule",
                 "warmup": "warm-up", "batch_norm": "batch normalisation"}
LOSS_LABELS = {
    "mse": "Pixel error (MSE)",
    "bce": "Pixel likelihood (BCE)",
    "mse_ssim": "Pixel error + sharpness (MSE + SSIM)",
    "l1_ssim": "Absolute pixel error + sharpness (L1 + SSIM)",
}
AE_LOSSES = ("mse", "bce", "mse_ssim", "l1_ssim")
VAE_LOSSES = ("mse", "bce")  # a VAE's loss is a likelihood: no SSIM term
SCHEDULE_LABELS = {"constant": "Constant", "one_cycle": "One cycle (up, then down)", "cosine": "Warm-up, then cosine decay"}


def option_values(cfg: RunConfig) -> dict:
    """The widget values that reproduce cfg's options."""
    m, t = cfg.model, cfg.train
    return {"recon_loss": m.recon_loss, "ssim_weight": m.ssim_weight, "lr_schedule": t.lr_schedule,
            "warmup": t.warmup, "batch_norm": m.norm == "batch"}


def apply_options(cfg: RunConfig, v: dict) -> RunConfig:
    """cfg with the widgets' options; batch norm applies to convolutional models alone, which keep their own
    upsampling and convolutions per level."""
    conv = cfg.model.kind.startswith("conv")
    model = dataclasses.replace(
        cfg.model, recon_loss=v["recon_loss"], ssim_weight=float(v["ssim_weight"]),
        norm="batch" if conv and v["batch_norm"] else "none", upsample=cfg.model.upsample if conv else "transpose",
        convs_per_level=cfg.model.convs_per_level if conv else 1)
    train = dataclasses.replace(cfg.train, lr_schedule=v["lr_schedule"], warmup=float(v["warmup"]))
    return dataclasses.replace(cfg, model=model, train=train)


def sharpness_controls(model_kind: str, variational: bool) -> None:
    """The options' widgets, in an expander; conv-only ones are greyed out for other models."""
    keep = dict(persist_state="session")
    conv = model_kind.startswith("conv")
    with st.expander("Sharper results", icon=":material/auto_awesome:"):
        losses = VAE_LOSSES if variational else AE_LOSSES
        if st.session_state.get("recon_loss") not in losses:
            st.session_state.recon_loss = losses[0]
        loss = st.selectbox(
            "Loss", losses, key="recon_loss", format_func=LOSS_LABELS.get, **keep,
            help="What the model is told to get right. Pixel error alone makes blurry pictures (a blur is a safe "
                 "guess); adding sharpness (SSIM, how alike edges and textures look) keeps outlines crisp.")
        st.slider("Sharpness weight", min_value=0.1, max_value=3.0, step=0.1, key="ssim_weight", **keep,
                  disabled=loss not in ("mse_ssim", "l1_ssim"),
                  help="How much sharpness counts against pixel error: higher gives crisper edges, lower gives "
                       "truer brightness.")
        schedule = st.selectbox(
            "Learning-rate schedule", LR_SCHEDULES, key="lr_schedule", format_func=SCHEDULE_LABELS.get, **keep,
            help="How the step size changes during training. Starting small, rising, then ending small usually "
                 "learns faster and ends sharper than one fixed step size; the learning rate above is the peak.")
        st.slider("Warm-up", min_value=0.0, max_value=0.5, step=0.05, key="warmup", **keep,
                  disabled=schedule == "constant",
                  help="Share of the training in which the step size rises to its peak before it falls again.")
        st.checkbox("Batch normalisation", key="batch_norm", disabled=not conv, **keep,
                    help="Rescales the signals between layers so training stays steady at larger step sizes. "
                         "Convolutional models only.")
