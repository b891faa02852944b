"""A user's own picture as model input: `load_user_image(data) -> UserImage` with a (1, 1, 28, 28) tensor.

Uploads are untrusted, so only Pillow's own decoders for PNG, JPEG, GIF, WebP and BMP are tried (no
plug-in that calls out to other programs), the byte size and the pixel count are checked before anything
is decoded (a tiny file can declare a gigapixel image), and every failure becomes an `ImageError` whose
message can be shown as it is. The picture is then made to look like MNIST and FashionMNIST: grayscale,
a dark background (light ones are inverted), the object cropped, centred and scaled into the frame.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
MAX_BYTES = 10 * 2**20
MAX_PIXELS = 40_000_000
WORK_SIDE = 512  # big pictures are box-averaged down to about this before any float maths
# Formats people upload that we refuse, told apart by their first bytes so the message can name them.
_SIGNATURES = {b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"8BPS": "Photoshop", b"%PDF": "PDF",
               b"\x00\x00\x01\x00": "ICO", b"<svg": "SVG", b"<?xml": "SVG", b"%!PS": "PostScript"}


class ImageError(ValueError):
    """An uploaded file was refused; the message says why and what to upload instead."""


@dataclass(frozen=True, eq=False)
class UserImage:
    tensor: Tensor  # (1, 1, H, W) float32 in [0, 1], ready for model.encode
    preview: np.ndarray  # (H, W) uint8: exactly what the model sees
    inverted: bool  # whether light and dark were swapped
    original_size: tuple[int, int]  # (width, height) as stored in the file
    format: str  # one of FORMATS


def load_user_image(
    data: bytes, invert: bool | str = "auto", size: tuple[int, int] = (28, 28), fill: float = 1.0,
    max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
) -> UserImage:
    """Decode an uploaded PNG/JPEG/GIF/WebP/BMP into a centred, dark-background (1, 1, H, W) image.

    `invert`: "auto" inverts when the border is mostly light; True or False forces it. `size` is (H, W).
    `fill` is the share of the frame the object's longer side spans: 1.0 suits FashionMNIST, 20/28 MNIST.
    """
    if invert not in ("auto", True, False):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    if len(size) != 2 or min(size) < 1 or not 0.0 < fill <= 1.0:
        raise ValueError(f"size must be (H, W) of positive ints and fill in (0, 1], got {size!r} and {fill!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected the file's bytes (UploadedFile.getvalue()), got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageError("The file is empty. Upload a PNG or JPEG image.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB. "
                         "Upload a smaller image.")
    gray, fmt, original_size = _decode(data, max_pixels)
    bg = float(np.median(_border(gray)))
    inverted = bg > 0.5 if invert == "auto" else bool(invert)
    if inverted:
        gray, bg = 1.0 - gray, 1.0 - bg
    gray = _stretch(gray, bg)
    out = _fit(_crop(gray), size, fill)
    preview = np.round(out * 255).astype(np.uint8)
    tensor = torch.from_numpy(out.astype(np.float32)).reshape(1, 1, *size)
    return UserImage(tensor, preview, inverted, original_size, fmt)


def _decode(data: bytes, max_pixels: int) -> tuple[np.ndarray, str, tuple[int, int]]:
    """The first frame as grayscale float32 (H, W) in [0, 1], reduced to about WORK_SIDE, upright per EXIF."""
    return _read(data, max_pixels, _grayscale)


def decode_rgb(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, str]:
    """One picture of a collection as (H, W, 3) uint8, reduced to about WORK_SIDE, upright per EXIF, with every
    guard of `load_user_image`; transparency over white, 16 bits scaled, CMYK and palettes through RGB."""
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    rgb, fmt, _ = _read(bytes(data), max_pixels, _rgb)
    return rgb, fmt


def square_picture(rgb: np.ndarray, size: int, square: str = "crop") -> np.ndarray:
    """An (H, W, 3) uint8 picture made square ("crop": its centre; "pad": whole, on black) and `size` pixels a side."""
    im = Image.fromarray(rgb)
    if square == "crop":
        im = ImageOps.fit(im, (size, size), Image.Resampling.LANCZOS)
    else:
        im = ImageOps.pad(im, (size, size), Image.Resampling.LANCZOS, color=(0, 0, 0))
    return np.asarray(im.convert("RGB"), np.uint8)


def load_picture_as(data: bytes, size: int, channels: int) -> np.ndarray:
    """An uploaded picture as a collection's model sees one: its centre square, `size` pixels a side, colour
    (H, W, 3) or grey (H, W) uint8; ImageError says why it cannot be."""
    square = square_picture(decode_rgb(data)[0], size)
    if channels == 1:
        return np.round(square.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return square


def _read(data: bytes, max_pixels: int, convert: Callable[[Image.Image], np.ndarray],
          ) -> tuple[np.ndarray, str, tuple[int, int]]:
    try:
        # Pillow warns above its own pixel limit and raises above twice that; both mean a bomb here
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"The image has too many pixels to open safely ({err}). Upload a smaller image.") from err
    except Image.UnidentifiedImageError as err:
        raise ImageError(_unidentified(data)) from err
    except Exception as err:  # a malformed header can raise anything from inside a decoder
        raise ImageError(f"The file could not be read as an image ({_short(err)}). It may be damaged.") from err
    with im:
        width, height = im.size
        if width < 1 or height < 1:
            raise ImageError(f"The image is {width}x{height} pixels; it must be at least 1x1.")
        if width * height > max_pixels:
            raise ImageError(f"The image is {width}x{height} = {width * height / 1e6:.0f} megapixels; the limit is "
                             f"{max_pixels / 1e6:.0f}. Upload a smaller image.")
        fmt = str(im.format)
        try:
            if fmt == "JPEG":
                im.draft("RGB" if convert is _rgb else "L", (WORK_SIDE, WORK_SIDE))  # the decoder scales by 1/2..1/8
            im.load()  # the first frame only: GIF and WebP animations are not read further
            pixels = convert(_upright(im))
        except ImageError:
            raise
        except MemoryError as err:
            raise ImageError("The image is too large to decode. Upload a smaller image.") from err
        except Exception as err:  # truncated or corrupt data raises OSError, SyntaxError, ValueError, ...
            raise ImageError(f"The image data is damaged or truncated ({_short(err)}). "
                             "Save it again as PNG or JPEG and upload that.") from err
    return pixels, fmt, (width, height)


def _upright(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # the pixels are fine; only the orientation tag is unreadable, so ignore it
        return im


def _grayscale(im: Image.Image) -> np.ndarray:
    """Any mode as luminance float32 (H, W) in [0, 1]: transparency over white, 16 bits kept."""
    if im.mode.startswith("I") or im.mode == "F":
        # 16-bit PNGs open as I;16 or I; convert("L") would clip them at 255 instead of scaling
        scale = 255.0 if im.mode == "F" else 65535.0
        small = _shrink(im.convert("F"))
        return np.clip(np.asarray(small, np.float32) / scale, 0.0, 1.0)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, P, 1, YCbCr, ...: through RGB for a standard luma
    small = _shrink(im.convert("L"))
    return np.asarray(small, np.float32) / 255.0


def _rgb(im: Image.Image) -> np.ndarray:
    """Any mode as (H, W, 3) uint8: 16 bits scaled (not clipped), transparency over white, the rest through RGB."""
    if im.mode.startswith("I") or im.mode == "F":
        scale = 255.0 if im.mode == "F" else 65535.0
        grey = np.clip(np.asarray(_shrink(im.convert("F")), np.float32) / scale, 0.0, 1.0)
        return np.repeat(np.round(grey * 255).astype(np.uint8)[..., None], 3, axis=-1)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(_shrink(im.convert("RGB")), np.uint8)


def _shrink(im: Image.Image) -> Image.Image:
    side = max(im.size)
    if side <= WORK_SIDE:
        return im
    scale = WORK_SIDE / side
    new = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(new, Image.Resampling.BOX)  # area averaging: no aliasing, no overshoot


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def _stretch(gray: np.ndarray, bg: float) -> np.ndarray:
    """Levels stretched so the background is 0 and the brightest pixel 1, like MNIST's black backgrounds."""
    top = float(gray.max())
    if top - bg < 0.05:  # a blank picture: nothing to stretch
        return gray
    return np.clip((gray - bg) / (top - bg), 0.0, 1.0)


def _crop(gray: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """The bounding box of the pixels brighter than the threshold, with a 1-pixel margin."""
    rows, cols = np.nonzero((gray > threshold).any(axis=1))[0], np.nonzero((gray > threshold).any(axis=0))[0]
    if len(rows) == 0:
        return gray
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, gray.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, gray.shape[1])
    return gray[r0:r1, c0:c1]


def _fit(gray: np.ndarray, size: tuple[int, int], fill: float) -> np.ndarray:
    """Scale to fit `fill` of the (H, W) frame keeping the aspect ratio, centred on a black background."""
    h, w = size
    scale = min(h * fill / gray.shape[0], w * fill / gray.shape[1])
    new_h = min(h, max(1, round(gray.shape[0] * scale)))
    new_w = min(w, max(1, round(gray.shape[1] * scale)))
    # BILINEAR antialiases when shrinking and, unlike LANCZOS, never rings past the [0, 1] range
    small = Image.fromarray(np.ascontiguousarray(gray, np.float32)).resize((new_w, new_h), Image.Resampling.BILINEAR)
    out = np.zeros(size, np.float32)
    top, left = (h - new_h) // 2, (w - new_w) // 2
    out[top:top + new_h, left:left + new_w] = np.clip(np.asarray(small, np.float32), 0.0, 1.0)
    return out


def _unidentified(data: bytes) -> str:
    for magic, name in _SIGNATURES.items():
        if data.lstrip()[:len(magic)] == magic:
            return f"{name} files are not supported. Save the image as PNG or JPEG and upload that."
    return "The file is not an image in a supported format. Upload a PNG, JPEG, GIF, WebP or BMP image."


def _short(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 120 else text[:117] + "..."
