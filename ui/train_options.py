"""The Train page's settings that buy sharpness per second: the loss, the learning-rate schedule, the conv network's shape.

`sharpness_controls(model_kind)` draws them (widgets only, keys in `OPTION_KEYS`); `option_values(cfg)` reads a
config's values for the widgets, and `apply_options(cfg, values)` writes the widgets' values into a config.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from aecore.config import LR_SCHEDULES, UPSAMPLES, RunConfig

OPTION_KEYS = ("recon_loss", "ssim_weight", "lr_schedule", "warmup", "batch_norm", "upsample", "convs_per_level")
OPTION_LABELS = {"recon_loss": "loss", "ssim_weight": "sharpness weight", "lr_schedule": "learning-rate schedule",
                 "warmup": "warm-up", "batch_norm": "batch normalisation", "upsample": "upsampling",
                 "convs_per_level": "layers per size"}
LOSS_LABELS = {
    "mse": "Pixel error (MSE)",
    "bce": "Pixel likelihood (BCE)",
    "mse_ssim": "Pixel error + sharpness (MSE + SSIM)",
    "l1_ssim": "Absolute pixel error + sharpness (L1 + SSIM)",
}
AE_LOSSES = ("mse", "bce", "mse_ssim", "l1_ssim")
VAE_LOSSES = ("mse", "bce")  # a VAE's loss is a likelihood: no SSIM term
SCHEDULE_LABELS = {"constant": "Constant", "one_cycle": "One cycle (up, then down)", "cosine": "Warm-up, then cosine decay"}
UPSAMPLE_LABELS = {"transpose": "Transposed convolution (classic)", "nearest": "Resize, then convolve (smoother)"}


def option_values(cfg: RunConfig) -> dict:
    """The widget values that reproduce cfg's options."""
    m, t = cfg.model, cfg.train
    return {"recon_loss": m.recon_loss, "ssim_weight": m.ssim_weight, "lr_schedule": t.lr_schedule,
            "warmup": t.warmup, "batch_norm": m.norm == "batch", "upsample": m.upsample,
            "convs_per_level": m.convs_per_level}


def apply_options(cfg: RunConfig, v: dict) -> RunConfig:
    """cfg with the widgets' options; the conv-only ones apply to convolutional models alone."""
    conv = cfg.model.kind.startswith("conv")
    model = dataclasses.replace(
        cfg.model, recon_loss=v["recon_loss"], ssim_weight=float(v["ssim_weight"]),
        norm="batch" if conv and v["batch_norm"] else "none", upsample=v["upsample"] if conv else "transpose",
        convs_per_level=int(v["convs_per_level"]) if conv else 1)
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
        st.selectbox("Upsampling", UPSAMPLES, key="upsample", format_func=UPSAMPLE_LABELS.get, disabled=not conv,
                     **keep, help="How the decoder grows the picture back: resizing first avoids faint checkerboard "
                                  "patterns but is slower. Convolutional models only.")
        st.number_input("Layers per size", min_value=1, max_value=4, step=1, key="convs_per_level",
                        disabled=not conv, **keep,
                        help="Convolution layers at each image size: more look closer but train slower; 1 is "
                             "the classic network. Convolutional models only.")
