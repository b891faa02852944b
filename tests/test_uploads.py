"""The upload loader: every mode and format to a centred (1, 1, 28, 28) image, and every bad file to ImageError."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aecore.uploads import ImageError, UserImage, load_user_image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def square(light_background: bool, shape=(60, 40)) -> np.ndarray:
    """A uint8 picture: a 20x20 square in contrast to its background."""
    bg, fg = (240, 20) if light_background else (10, 230)
    a = np.full(shape, bg, np.uint8)
    a[20:40, 10:30] = fg
    return a


def png_header_only(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of any size: zero rows compress about 1000:1, so it is built in moments."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(height // 1000)) + comp.compress(row * (height % 1000))
    idat += comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def check(u: UserImage) -> None:
    assert u.tensor.shape == (1, 1, 28, 28) and u.tensor.dtype == torch.float32
    assert 0.0 <= float(u.tensor.min()) and float(u.tensor.max()) <= 1.0
    assert u.preview.shape == (28, 28) and u.preview.dtype == np.uint8
    assert np.array_equal(u.preview, np.round(u.tensor[0, 0].numpy() * 255).astype(np.uint8))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
@pytest.mark.parametrize("light", [True, False])
def test_light_backgrounds_are_inverted_and_dark_ones_are_not(fmt, light):
    u = load_user_image(encode(Image.fromarray(square(light)), fmt))
    check(u)
    assert u.inverted is light and u.format == fmt and u.original_size == (40, 60)
    # either way the square ends up bright on black, cropped and centred: it fills the frame
    t = u.tensor[0, 0]
    assert float(t[:, 0].max()) < 0.3 and float(t[14, 14]) > 0.8


def test_invert_can_be_forced():
    data = encode(Image.fromarray(square(False)), "PNG")
    assert load_user_image(data, invert=True).inverted
    assert not load_user_image(data, invert=False).inverted
    with pytest.raises(ValueError):
        load_user_image(data, invert="yes")


def test_aspect_ratio_is_kept_and_the_object_centred():
    a = np.zeros((100, 300), np.uint8)
    a[40:60, 50:250] = 255  # a 10:1 bar off to one side
    t = load_user_image(encode(Image.fromarray(a), "PNG")).tensor[0, 0]
    rows = torch.nonzero(t.max(dim=1).values > 0.5).flatten()
    assert t[:, 0].max() > 0.5 and t[:, -1].max() > 0.5  # spans the width
    assert 1 <= len(rows) <= 5 and abs(rows.float().mean().item() - 13.5) <= 1.0  # thin and centred vertically


def test_fill_leaves_a_margin_like_mnist():
    t = load_user_image(encode(Image.fromarray(square(False)), "PNG"), fill=20 / 28).tensor[0, 0]
    assert float(t[:3].max()) == 0.0 and float(t[:, :3].max()) == 0.0 and float(t[14, 14]) > 0.8


def test_one_pixel_image():
    check(load_user_image(encode(Image.new("L", (1, 1), 200), "PNG")))


def test_sixteen_bit_png_is_scaled_not_clipped():
    a = square(False).astype(np.uint16) * 257  # full 16-bit range; clipping at 255 would make it flat
    im = Image.fromarray(a)
    assert im.mode == "I;16"
    u = load_user_image(encode(im, "PNG"))
    check(u)
    assert not u.inverted and float(u.tensor[0, 0, 14, 14]) > 0.8


def test_cmyk_jpeg():
    im = Image.fromarray(square(True)).convert("CMYK")
    u = load_user_image(encode(im, "JPEG"))
    check(u)
    assert u.inverted and float(u.tensor[0, 0, 14, 14]) > 0.8


def test_transparent_background_counts_as_white():
    rgba = np.zeros((50, 50, 4), np.uint8)  # transparent black everywhere...
    rgba[15:35, 15:35] = (0, 0, 0, 255)  # ...but an opaque black square
    u = load_user_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    check(u)
    assert u.inverted and float(u.tensor[0, 0, 14, 14]) > 0.8 and float(u.tensor[0, 0, 0, 0]) < 0.2


def test_animated_gif_uses_its_first_frame():
    frames = [Image.fromarray(square(False)), Image.new("L", (40, 60), 255), Image.new("L", (40, 60), 0)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    u = load_user_image(data)
    check(u)
    assert not u.inverted and float(u.tensor[0, 0, 14, 14]) > 0.8


def test_exif_orientation_is_applied():
    im = Image.fromarray(square(False, shape=(40, 60)))  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    u = load_user_image(encode(im, "JPEG", exif=exif.tobytes()))
    assert u.original_size == (60, 40)
    # the upright picture is portrait, and so is the square's region after the crop: narrow in x
    a = load_user_image(encode(im.rotate(-90, expand=True), "JPEG"))
    assert torch.allclose(u.tensor, a.tensor, atol=0.15)


def test_huge_declared_size_is_refused_fast():
    data = png_header_only(20_000, 20_000)
    assert len(data) < 100_000
    start = time.perf_counter()
    with pytest.raises(ImageError, match="too many pixels"):
        load_user_image(data)
    assert time.perf_counter() - start < 1.0


def test_pixel_limit_is_our_own_below_pillows():
    assert load_user_image(png_header_only(2000, 1000), max_pixels=2_000_000).original_size == (2000, 1000)
    with pytest.raises(ImageError, match="megapixels"):
        load_user_image(png_header_only(2000, 1001), max_pixels=2_000_000)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # untouched


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"hello, world", "not an image"),
    (b"II*\x00" + bytes(100), "TIFF files are not supported"),
    (b"%PDF-1.7\n" + bytes(100), "PDF files are not supported"),
])
def test_bad_files_are_refused_with_a_message(data, message):
    with pytest.raises(ImageError, match=message):
        load_user_image(data)


def test_only_bytes_are_accepted():
    with pytest.raises(TypeError):
        load_user_image("picture.png")  # type: ignore[arg-type]


def test_too_many_bytes():
    with pytest.raises(ImageError, match="the limit is 1 MB"):
        load_user_image(bytes(2**20 + 1), max_bytes=2**20)


def test_truncated_jpeg():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 256, (200, 200), dtype=np.uint8)), "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_user_image(data[: len(data) // 2])


def test_other_formats_are_refused():
    with pytest.raises(ImageError, match="TIFF"):
        load_user_image(encode(Image.fromarray(square(False)), "TIFF"))


def _valid_files() -> list[bytes]:
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
    return [encode(noisy, "PNG"), encode(noisy, "JPEG", quality=80), encode(Image.fromarray(square(True)), "PNG"),
            encode(noisy.convert("P"), "GIF")]


VALID = _valid_files()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, len(data)))
        if kind == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:pos + draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=512), mutated()))
def test_any_bytes_give_an_image_or_an_image_error(data):
    try:
        u = load_user_image(data)
    except ImageError as err:
        assert str(err)
    else:
        check(u)
        assert bool(torch.isfinite(u.tensor).all())
