"""A person's own pictures: real image files written into folders and zips, read into a kept collection."""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecore import own_pictures
from aecore.config import DataConfig
from aecore.data import DatasetUnavailable, load_dataset
from aecore.demo_pictures import write_demo_pictures
from aecore.own_pictures import CollectionOptions, add_collection
from aecore.reference import pca_at
from aecore.store import collections
from aecore.store.collections import CollectionError


@pytest.fixture(autouse=True)
def datasets(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "datasets"
    monkeypatch.setenv("AECORE_DATASETS_DIR", str(root))
    return root


def picture(rng: np.random.Generator, colour: tuple[int, int, int], size=(40, 30)) -> Image.Image:
    """A picture of one main colour with noise, so classes differ and each picture is its own."""
    base = np.array(colour, np.float32)[None, None]
    pixels = base + rng.normal(0, 25, (size[1], size[0], 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def encoded(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
CLASS_COLOURS = {"reds": (220, 40, 40), "greens": (40, 200, 60), "blues": (40, 60, 220)}


def write_classes(root: Path, per_class: int = 25, nested: bool = True) -> None:
    rng = np.random.default_rng(0)
    for name, colour in CLASS_COLOURS.items():
        for i in range(per_class):
            fmt = FORMATS[i % len(FORMATS)]
            sub = root / name / ("deeper" if nested and i % 4 == 0 else "")
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{i}.{fmt.lower()}").write_bytes(encoded(picture(rng, colour), fmt))


def test_nested_classes_in_mixed_formats_become_a_colour_collection_with_unreadable_files_listed(tmp_path):
    source = tmp_path / "my pictures"
    write_classes(source)
    (source / "reds" / "notes.txt").write_text("not a picture")
    (source / "greens" / "broken.png").write_bytes(encoded(picture(np.random.default_rng(1), (0, 0, 0)), "PNG")[:60])
    (source / ".DS_Store").write_bytes(b"\0" * 10)  # hidden files are not pictures a person meant
    info = add_collection("Colours", source, CollectionOptions(size=32))
    assert info.classes == ("blues", "greens", "reds")
    assert info.channels == 3 and info.size == 32
    assert info.train + info.test == 75 and info.test == 15  # a fifth of each class held out
    assert {s.path for s in info.skipped} == {"reds/notes.txt", "greens/broken.png"}
    assert all(s.why for s in info.skipped)
    train, test = load_dataset(DataConfig(name=info.id))
    assert tuple(train.x.shape[1:]) == (3, 32, 32) and len(test) == 15
    assert sorted(np.bincount(test.y.numpy()).tolist()) == [5, 5, 5]
    # pixels keep their colour: the red class is redder than green or blue
    reds = train.x[train.y == info.classes.index("reds")].float().mean((0, 2, 3))
    assert reds[0] > reds[1] + 100 and reds[0] > reds[2] + 100
    assert pca_at(info.id, 8) is not None and 0 < pca_at(info.id, 8)["mse"] < info.reference["mean_image"]["mse"]


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("square", ["crop", "pad"])
def test_every_size_and_squaring(tmp_path, size, square):
    source = tmp_path / "src"
    write_classes(source, per_class=20, nested=False)
    info = add_collection("Colours", source, CollectionOptions(size=size, square=square))
    train, _ = load_dataset(DataConfig(name=info.id))
    assert tuple(train.x.shape[1:]) == (3, size, size)
    corner = train.x[:, :, 0, 0].float().mean().item()
    assert (corner < 1.0) == (square == "pad")  # a 40x30 picture padded to a square has black corners


def test_a_flat_folder_is_one_class_named_after_it_and_grey_pictures_stay_grey(tmp_path):
    source = tmp_path / "scans"
    source.mkdir()
    rng = np.random.default_rng(0)
    for i in range(55):
        grey = Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8))
        grey.save(source / f"{i}.png")
    info = add_collection("Scans", source)
    assert info.classes == ("scans",) and info.channels == 1
    forced = add_collection("Scans in colour", source, CollectionOptions(colour="colour"))
    assert forced.channels == 3 and forced.id != info.id


def test_a_zip_holding_one_folder_reads_as_that_folder_and_the_same_pictures_are_kept_once(tmp_path):
    source = tmp_path / "src" / "holiday"
    write_classes(source, per_class=20)
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(source.rglob("*")):
            z.write(f, f.relative_to(source.parent))
    from_zip = add_collection("Holiday", archive)
    from_folder = add_collection("Holiday again", source)
    assert from_zip.classes == ("blues", "greens", "reds")
    assert from_zip.id == from_folder.id and from_folder.name == "Holiday"  # one content, one dataset
    assert len(collections.list_all()[0]) == 1


def test_names_with_markdown_and_path_characters_are_kept_as_typed(tmp_path):
    source = tmp_path / "src"
    rng = np.random.default_rng(0)
    for name in ("**bold** [x](a.b)", "<b>Zoé & co"):
        (source / name).mkdir(parents=True)
        for i in range(30):
            picture(rng, (200, 100, 50)).save(source / name / f"{i}.png")
    info = add_collection("# Modèle / ../ <i>x</i>", source)
    assert info.name == "# Modèle / ../ <i>x</i>"
    assert set(info.classes) == {"**bold** [x](a.b)", "<b>Zoé & co"}
    assert [p.name for p in collections.folder(info.id).parent.iterdir()] == [info.id]  # nothing written elsewhere


def test_empty_and_too_few_are_refused_with_a_reason(tmp_path):
    empty = tmp_path / "empty"
    (empty / "cats").mkdir(parents=True)
    with pytest.raises(CollectionError, match="no pictures"):
        add_collection("Empty", empty)
    few = tmp_path / "few"
    write_classes(few, per_class=10, nested=False)
    (few / "reds" / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(CollectionError, match=r"Only 30 .* at least 50.*bad\.jpg"):
        add_collection("Few", few)


@pytest.mark.parametrize("claims", [None, 1000])
def test_a_zip_bomb_is_skipped_quickly_not_unpacked(tmp_path, claims):
    source = tmp_path / "src"
    write_classes(source, per_class=20, nested=False)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(source.rglob("*.*")):
            z.write(f, f.relative_to(source))
        z.writestr("reds/huge.png", b"\0" * (200 * 2**20))  # 200 MB of zeros, ~200 kB packed
    if claims is not None:
        _claim(archive, "reds/huge.png", claims)  # a crafted zip lies about the size it unpacks to
    started = time.perf_counter()
    collection = add_collection("Bomb", archive)
    assert time.perf_counter() - started < 30
    assert [s.path for s in collection.skipped] == ["reds/huge.png"]
    assert ("larger than 10 MB" if claims is None else "damaged inside the zip") in collection.skipped[0].why


def _claim(archive: Path, member: str, size: int) -> None:
    data = bytearray(archive.read_bytes())
    for at in [i for i in range(len(data)) if data[i:i + 4] == b"PK\x01\x02"]:
        name_len = struct.unpack("<H", data[at + 28:at + 30])[0]
        if data[at + 46:at + 46 + name_len] == member.encode():
            data[at + 24:at + 28] = struct.pack("<I", size)
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as z:
        assert z.getinfo(member).file_size == size


def test_a_zip_declaring_too_many_entries_is_refused_before_they_are_read(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.png", b"x")
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 65_000, 65_000)
    archive.write_bytes(bytes(data))
    with pytest.raises(CollectionError, match="65,000 files"):
        add_collection("Many", archive)


def test_a_folder_of_too_many_files_is_refused_while_counting(tmp_path, monkeypatch):
    monkeypatch.setattr(own_pictures, "MAX_ENTRIES", 100)
    source = tmp_path / "src"
    source.mkdir()
    for i in range(150):
        (source / f"{i}.png").write_bytes(b"")
    with pytest.raises(CollectionError, match="more than 100 files"):
        add_collection("Many", source)


def test_too_many_decoded_bytes_for_the_size_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(own_pictures, "MAX_DECODED_BYTES", 64 * 64 * 3 * 40)
    source = tmp_path / "src"
    write_classes(source, per_class=20, nested=False)
    with pytest.raises(CollectionError, match="at most 40"):
        add_collection("Big", source, CollectionOptions(size=64))


def test_a_deleted_collection_is_a_plain_sentence_and_comes_back_when_added_again(tmp_path):
    source = write_demo_pictures(tmp_path / "photos", per_class=8)
    info = add_collection("Photos", source, CollectionOptions(size=28))
    collections.delete(info.id)
    with pytest.raises(DatasetUnavailable, match="was deleted"):
        load_dataset(DataConfig(name=info.id))
    again = add_collection("Photos", source, CollectionOptions(size=28))
    assert again.id == info.id
    assert len(load_dataset(DataConfig(name=info.id))[0]) == info.train


def test_rename_keeps_the_id_and_a_damaged_folder_is_one_sentence(tmp_path):
    source = write_demo_pictures(tmp_path / "photos", per_class=8)
    info = add_collection("Photos", source, CollectionOptions(size=28))
    assert collections.rename(info.id, "  My   photos ").name == "My photos"
    bad = collections.folder(info.id) / "x_train.npy"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(CollectionError, match="damaged"):
        collections.load(info.id)
    (collections.folder(info.id) / "info.json").write_text('{"id": 1}')
    found, problems = collections.list_all()
    assert found == [] and len(problems) == 1 and "damaged" in problems[0]


def test_odd_modes_are_read_like_uploads(tmp_path):
    """16-bit grey, CMYK, transparency and an EXIF rotation, each in a class of its own beside ordinary pictures."""
    source = tmp_path / "src"
    rng = np.random.default_rng(0)
    (source / "odd").mkdir(parents=True)
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20] = (255, 0, 0)  # red on the left half of a landscape picture
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show": the left half ends up on top
    Image.fromarray(wide).save(source / "odd" / "rotated.jpg", exif=exif, quality=95)
    Image.fromarray((rng.integers(0, 65535, (30, 30))).astype(np.uint16)).save(source / "odd" / "deep.png")
    Image.fromarray(np.full((30, 30, 3), 90, np.uint8)).convert("CMYK").save(source / "odd" / "print.jpg")
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 255, 0  # fully transparent blue: white once over white
    Image.fromarray(rgba).save(source / "odd" / "clear.png")
    for i in range(50):
        picture(rng, (30, 160, 90)).save(source / "odd" / f"{i}.png")
    info = add_collection("Odd", source, CollectionOptions(size=28, square="pad", test_fraction=0.05))
    assert info.skipped_count == 0 and info.train + info.test == 54


def test_the_upright_picture_is_kept(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, format="JPEG", exif=exif, quality=95)
    from aecore.uploads import decode_rgb, load_picture_as

    rgb, fmt = decode_rgb(buf.getvalue())
    assert fmt == "JPEG" and rgb.shape == (40, 20, 3)  # portrait once turned upright
    assert rgb[:20, :, 0].mean() > 200 and rgb[20:, :, 0].mean() < 60  # the red half on top
    assert load_picture_as(buf.getvalue(), 32, 1).shape == (32, 32)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("kind", ["mlp_ae", "deep_mlp_ae", "conv_ae", "vae", "conv_vae"])
def test_every_model_learns_colour_pictures_at_every_size(tmp_path, kind, size):
    from aecore.config import RunConfig, TrainConfig, default_config
    from aecore.train import train_run

    info = add_collection("Photos", write_demo_pictures(tmp_path / "photos", per_class=12), CollectionOptions(size=size))
    cfg = RunConfig(DataConfig(name=info.id), default_config(kind), TrainConfig(epochs=4, batch_size=16, patience=0))
    history = train_run(cfg, device="cpu").history
    losses = [e["train_loss"] for e in history.epochs]
    errors = [e["train_mse"] for e in history.epochs]  # a VAE's loss in nats has a large floor; its pixel error falls
    assert history.finished and losses[-1] < losses[0] and errors[-1] < 0.9 * errors[0], (losses, errors)
