"""Image grids for display: rows of uint8 images, enlarged pixel for pixel, with a label left of each row.

`labelled_rows(rows, labels)` is what the Home gallery and the Train page's original-vs-reconstruction
strip show; `enlarge_png(data)` makes a small stored preview crisp at a readable size, and `stack_pairs`
sets each image above its reconstruction (`aecore.infer.image_uint8` turns float images into bytes first).
Grey images are (n, H, W) uint8, colour ones (n, H, W, 3); every function takes both.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
LABEL_COLOUR = (49, 51, 63)
FONT_SIZE = 15
MARGIN = 8  # white border, so rounded image corners never clip a tile


def tile_rows(rows: Sequence[np.ndarray], scale: int = 2, pad: int = 4) -> np.ndarray:
    """Rows of grey (n, H, W) or colour (n, H, W, 3) uint8 images as one grid on white: (R*(H*scale+pad)-pad,
    N*(W*scale+pad)-pad) when every row is grey, with a last axis of 3 when any is in colour."""
    if not rows:
        raise ValueError("tile_rows needs at least one row of images")
    colour = any(r.ndim == 4 for r in rows)
    rows = [np.repeat(r[..., None], 3, axis=-1) if colour and r.ndim == 3 else r for r in rows]
    H, W = rows[0].shape[1:3]
    n = max(len(r) for r in rows)
    th, tw = H * scale + pad, W * scale + pad
    grid = np.full((len(rows) * th - pad, n * tw - pad, *((3,) if colour else ())), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            if img.shape[:2] != (H, W):
                raise ValueError(f"every image must be {H}x{W}, got {img.shape}")
            grid[i * th:i * th + H * scale, j * tw:j * tw + W * scale] = img.repeat(scale, 0).repeat(scale, 1)
    return grid


def labelled_rows(rows: Sequence[np.ndarray], labels: Sequence[str], scale: int = 2, pad: int = 4,
                  label_width: int = 130, font_size: int = FONT_SIZE) -> Image.Image:
    """`tile_rows` with each row's label written to its left, as an RGB image."""
    if len(rows) != len(labels):
        raise ValueError(f"got {len(rows)} rows but {len(labels)} labels")
    grid = tile_rows(rows, scale, pad)
    canvas = Image.new("RGB", (label_width + grid.shape[1] + 2 * MARGIN, grid.shape[0] + 2 * MARGIN), BACKGROUND)
    canvas.paste(Image.fromarray(grid).convert("RGB"), (label_width + MARGIN, MARGIN))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=font_size)
    row_height = rows[0].shape[-2] * scale + pad
    for i, label in enumerate(labels):
        y = MARGIN + i * row_height + (row_height - pad) / 2
        draw.text((label_width + MARGIN - 12, y), label, fill=LABEL_COLOUR, font=font, anchor="rm")
    return canvas


def enlarge_png(data: bytes, scale: int = 3) -> bytes:
    """A PNG enlarged `scale` times with nearest-neighbour pixels, so small images stay sharp."""
    with Image.open(io.BytesIO(data)) as img:
        big = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return png_bytes(big)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# Inferno (Smith & van der Walt's perceptually uniform map for matplotlib), sampled at nine stops:
# dark where nothing differs, bright yellow where the most does, readable in grey print and by colour-blind eyes.
HEAT_STOPS = np.array([(0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85), (227, 89, 51),
                       (249, 140, 10), (249, 201, 50), (252, 255, 164)], np.float32)


def heat_colours(values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Values in [0, vmax] (larger ones saturate) as inferno colours: shape (..., 3) uint8."""
    if vmax <= 0:
        raise ValueError(f"vmax must be positive, got {vmax}")
    t = np.clip(np.nan_to_num(np.asarray(values, np.float32) / vmax), 0.0, 1.0) * (len(HEAT_STOPS) - 1)
    low = np.minimum(t.astype(np.int64), len(HEAT_STOPS) - 2)
    frac = (t - low)[..., None]
    return np.round(HEAT_STOPS[low] * (1 - frac) + HEAT_STOPS[low + 1] * frac).astype(np.uint8)


def heat_scale(width: int = 240, height: int = 14) -> np.ndarray:
    """The colour scale of `heat_colours` from 0 (left) to vmax (right), as an (height, width, 3) uint8 bar."""
    return np.repeat(heat_colours(np.linspace(0.0, 1.0, width))[None], height, axis=0)


def enlarge(image: np.ndarray, scale: int = 6) -> np.ndarray:
    """An (H, W) or (H, W, 3) uint8 image `scale` times larger, pixel for pixel."""
    return image.repeat(scale, 0).repeat(scale, 1)


def shorten(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_px: float) -> str:
    """The text, cut with an ellipsis so that it is at most max_px wide in the font."""
    if font.getlength(text) <= max_px:
        return text
    while text and font.getlength(text + "…") > max_px:
        text = text[:-1]
    return text.rstrip() + "…"


def labelled_grid(rows: Sequence[np.ndarray], labels: Sequence[str], scale: int = 2, pad: int = 4,
                  max_label_px: int = 260) -> Image.Image:
    """Rows of grey (n, H, W) or colour (n, H, W, 3) uint8 images, each row's label left of it, as RGB.

    The label column is as wide as the longest label needs, up to max_label_px; longer labels are shortened.
    """
    if len(rows) != len(labels):
        raise ValueError(f"got {len(rows)} rows but {len(labels)} labels")
    if not rows:
        raise ValueError("labelled_grid needs at least one row of images")
    font = ImageFont.load_default(size=FONT_SIZE)
    shown = [shorten(label, font, max_label_px) for label in labels]
    label_width = int(max(font.getlength(t) for t in shown)) + 20 if any(shown) else 0
    grid = tile_rows([r if r.ndim == 4 else np.repeat(r[..., None], 3, axis=-1) for r in rows], scale, pad)
    canvas = Image.new("RGB", (label_width + grid.shape[1] + 2 * MARGIN, grid.shape[0] + 2 * MARGIN), BACKGROUND)
    canvas.paste(Image.fromarray(grid), (label_width + MARGIN, MARGIN))
    draw = ImageDraw.Draw(canvas)
    row_height = rows[0].shape[1] * scale + pad
    for i, label in enumerate(shown):
        y = MARGIN + i * row_height + (row_height - pad) / 2
        draw.text((label_width + MARGIN - 12, y), label, fill=LABEL_COLOUR, font=font, anchor="rm")
    return canvas


def image_row(row: np.ndarray, scale: int = 2, pad: int = 4) -> np.ndarray:
    """One row of grey (n, H, W) or colour (n, H, W, 3) uint8 images side by side on white, as (h, w, 3) uint8."""
    return tile_rows([row if row.ndim == 4 else np.repeat(row[..., None], 3, axis=-1)], scale, pad)


def stack_pairs(top: np.ndarray, bottom: np.ndarray, gap: int = 2) -> np.ndarray:
    """Each image of `top` (n, H, W) or (n, H, W, 3) above its partner in `bottom`, a white gap between:
    (n, 2H + gap, W) or (n, 2H + gap, W, 3)."""
    if top.shape != bottom.shape or top.ndim not in (3, 4):
        raise ValueError(f"need two (n, H, W) or (n, H, W, 3) batches of one shape, got {top.shape} and {bottom.shape}")
    white = np.full((top.shape[0], gap, *top.shape[2:]), 255, np.uint8)
    return np.concatenate([top, white, bottom], axis=1)
