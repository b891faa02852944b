"""Layers and losses the models share: MLP and conv stacks, output heads, AE and VAE mixins.

A model only builds `encoder`/`decoder` (or the VAE's mean and log-variance heads); the mixins
turn them into the `encode`/`decode`/`loss` protocol, so every model is trained and scored alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..metrics import (
    ssim,  # the scored metric itself, so the loss optimises what the app reports
)

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig

SSIM_LOSSES = ("mse_ssim", "l1_ssim")  # reconstruction losses with an SSIM term (ssim_loss below)

_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


def mlp(sizes: list[int], act: str, last_act: bool) -> nn.Sequential:
    """Linear layers between consecutive sizes, an activation after each (after the last one if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(activation(act))
    return nn.Sequential(*layers)


def _conv_block(c_in: int, c_out: int, stride: int, act: str, norm: str) -> list[nn.Module]:
    """A 3x3 convolution, batch norm if asked (its bias then is redundant: the norm's shift replaces it), activation."""
    if norm == "batch":
        return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), activation(act)]
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), activation(act)]


def conv_encoder(shape: tuple[int, int, int], cfg: ModelConfig) -> tuple[nn.Sequential, list]:
    """Stride-2 3x3 convolutions, each halving H and W (rounding up), each followed by convs_per_level - 1
    stride-1 ones; returns the stack and every (C, H, W) on the way."""
    layers: list[nn.Module] = []
    shapes = [shape]
    c, h, w = shape
    for ch in cfg.hidden:
        layers += _conv_block(c, ch, 2, cfg.activation, cfg.norm)
        for _ in range(cfg.convs_per_level - 1):
            layers += _conv_block(ch, ch, 1, cfg.activation, cfg.norm)
        c, h, w = ch, (h + 1) // 2, (w + 1) // 2
        shapes.append((c, h, w))
    return nn.Sequential(*layers, nn.Flatten()), shapes  # (B, C*H*W)


def conv_decoder(shapes: list, cfg: ModelConfig) -> nn.Sequential:
    """Upsampling steps retracing `shapes` backwards, to logits of the input's exact (C, H, W).

    "transpose" is a stride-2 transposed convolution (output_padding restores odd sizes); "nearest" resizes
    then convolves, which avoids transposed convolutions' checkerboard artefacts (Odena et al. 2016,
    doi:10.23915/distill.00003). Extra stride-1 convolutions come before each step up, mirroring the encoder.
    """
    layers: list[nn.Module] = [nn.Unflatten(1, shapes[-1])]  # (B, C, H, W)
    for i in range(len(shapes) - 1, 0, -1):
        (c_in, h_in, w_in), (c_out, h_out, w_out) = shapes[i], shapes[i - 1]
        for _ in range(cfg.convs_per_level - 1):
            layers += _conv_block(c_in, c_in, 1, cfg.activation, cfg.norm)
        last = i == 1
        if cfg.upsample == "nearest":
            layers.append(nn.Upsample(size=(h_out, w_out), mode="nearest"))
            step: nn.Module = nn.Conv2d(c_in, c_out, 3, padding=1, bias=last or cfg.norm == "none")
        else:
            pad = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))
            step = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=pad,
                                      bias=last or cfg.norm == "none")
        layers.append(step)
        if not last:
            if cfg.norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(activation(cfg.activation))
    return nn.Sequential(*layers)  # logits (B, C, H, W)


_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
_NORMS = (nn.BatchNorm2d,)


def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """Set every parameter from `generator` alone, never from torch's global one, which other threads share.

    Layers get torch's own default (each layer's `reset_parameters`: Kaiming-uniform with a = sqrt(5), biases
    uniform in +-1/sqrt(fan_in)), drawn in the same order, so a seed gives the weights `torch.manual_seed(seed)`
    would; a model with `weight_init = "glorot"` gets Glorot-uniform weights and zero biases, as Keras's Dense.
    """
    glorot = getattr(model, "weight_init", "default") == "glorot"
    for m in model.modules():
        if isinstance(m, _NORMS):
            m.reset_parameters()  # ones, zeros and fresh running statistics: nothing random
        elif isinstance(m, _LAYERS):
            if glorot:
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                continue
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
            raise TypeError(f"init_weights does not know how to initialise {type(m).__name__}; add it here")


def to_image(logits: Tensor, output: str) -> Tensor:
    return torch.sigmoid(logits) if output == "sigmoid" else logits


def reconstruction_error(logits: Tensor, target: Tensor, cfg: ModelConfig) -> Tensor:
    """Per-image reconstruction error summed over pixels, (B,). BCE uses logits for stability."""
    if cfg.recon_loss == "bce":
        err = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    else:
        err = (to_image(logits, cfg.output) - target).pow(2)
    return err.flatten(1).sum(dim=1)


def ssim_loss(image: Tensor, target: Tensor, cfg: ModelConfig) -> Tensor:
    """Mean pixel error (MSE or L1) plus ssim_weight x (1 - SSIM), a scalar.

    MSE alone rewards blur; the SSIM term rewards edges and texture the eye sees (Zhao et al. 2017,
    "Loss Functions for Image Restoration with Neural Networks", doi:10.1109/TCI.2016.2644865).
    """

    pixel = F.mse_loss(image, target) if cfg.recon_loss == "mse_ssim" else F.l1_loss(image, target)
    with torch.autocast(image.device.type, enabled=False):  # its constants (1e-4) vanish in bfloat16
        similarity = ssim(target.float(), image.float()).mean()
    return pixel + cfg.ssim_weight * (1 - similarity)


def pixel_mse(logits: Tensor, target: Tensor, output: str) -> Tensor:
    """Mean squared error of the displayed image, comparable across every model and loss."""
    return (to_image(logits.detach(), output).clamp(0, 1) - target).pow(2).mean()


class AEMixin:
    """encode/decode/loss for a deterministic autoencoder built of `encoder` and `decoder`."""

    cfg: ModelConfig
    encoder: nn.Module
    decoder: nn.Module
    image_shape: tuple[int, int, int]

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return to_image(self.decoder(z), self.cfg.output)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def loss(
        self, x: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean per-pixel reconstruction loss (MSE, BCE, or either SSIM mix) of `target` from input `x`; nothing is random."""
        logits = self.decoder(self.encode(x))
        if self.cfg.recon_loss == "mse" and self.cfg.output == "sigmoid":  # the common case, in two fused kernels
            loss = F.mse_loss(torch.sigmoid(logits), target)
            return loss, {"loss": loss.detach(), "mse": loss.detach()}  # a sigmoid image needs no clamp
        if self.cfg.recon_loss in SSIM_LOSSES:
            loss = ssim_loss(to_image(logits, self.cfg.output), target, self.cfg)
            return loss, {"loss": loss.detach(), "mse": pixel_mse(logits, target, self.cfg.output)}
        pixels = math.prod(self.image_shape)
        loss = reconstruction_error(logits, target, self.cfg).mean() / pixels
        return loss, {"loss": loss.detach(), "mse": pixel_mse(logits, target, self.cfg.output)}


class VAEMixin:
    """Variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114) over `encoder`, `mu`, `logvar`, `decoder`.

    The loss is the negative ELBO per image, reconstruction summed over pixels plus beta x KL
    (Higgins et al. 2017); `encode` returns the posterior mean so codes are deterministic.
    """

    cfg: ModelConfig
    encoder: nn.Module
    mu: nn.Module
    logvar: nn.Module
    decoder: nn.Module
    latent_dim: int

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h).clamp(-30.0, 20.0)  # clamped so exp() cannot overflow

    def encode(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        return to_image(self.decoder(z), self.cfg.output)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def loss(
        self, x: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Negative ELBO per image; z is sampled with `generator` (on x's device), else torch's global generator."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)  # reparameterisation trick
        logits = self.decoder(z)
        recon = reconstruction_error(logits, target, self.cfg).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        loss = recon + self.cfg.beta * kl
        logs = {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach(),
                "mse": pixel_mse(logits, target, self.cfg.output)}
        return loss, logs

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images decoded from z ~ N(0, I), (n, C, H, W)."""
        device = next(self.parameters()).device  # type: ignore[attr-defined]
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z)
