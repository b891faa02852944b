"""Your own pictures, in colour, end to end: a zip uploaded on the Your pictures page, a model trained on it, and
every page that shows its images showing them in colour (a shown image's pixels have R, G and B apart)."""

from __future__ import annotations

import base64
import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image
from studio import (
    TRAIN_BUTTON,
    choose_file,
    no_exception,
    screenshot,
    start_server,
    stop_server,
    wait_idle,
)

from aecore.demo_pictures import write_demo_pictures

NAME = "**Zoé's** photos <b>1</b>"


@pytest.fixture(scope="module")
def pictures_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures")
    (root / "runs").mkdir()
    proc, url = start_server(root / "runs", {"AECORE_MAX_COMPUTE": "2"})
    yield url, root
    stop_server(proc)


def colourful(png: bytes) -> float:
    """The share of pixels whose channels are more than 40 apart: 0 for any grey picture."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
    return float(((rgb.max(-1) - rgb.min(-1)) > 40).mean())


def image_colour(page, locator) -> float:
    """The most colourful of the shown images the locator finds."""
    locator.first.wait_for(timeout=120_000)
    return max(colourful(locator.nth(i).screenshot()) for i in range(min(locator.count(), 6)))


def photo_zip(tmp_path) -> bytes:
    folder = write_demo_pictures(tmp_path / "photos", per_class=40)
    (folder / "cat" / "notes.txt").write_text("not a picture")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder.parent))
    return buf.getvalue()


def main_images(page):
    return page.locator('[data-testid="stMain"] [data-testid="stImage"] img')


def test_a_zip_of_colour_pictures_trains_and_every_page_shows_colour(pictures_server, page, tmp_path):
    url, root = pictures_server
    page.goto(f"{url}/pictures")
    wait_idle(page)
    choose_file(page, {"name": "photos.zip", "mimeType": "application/zip", "buffer": photo_zip(tmp_path)})
    wait_idle(page)
    name = page.get_by_role("textbox", name="Name")
    name.fill(NAME)
    name.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Add these pictures").click()
    page.get_by_text("Added", exact=False).first.wait_for(timeout=120_000)
    wait_idle(page)
    no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    assert NAME in main.inner_text()  # shown as typed: no bold, no HTML
    assert page.get_by_text("1 file was skipped; here is why", exact=False).count() == 1  # notes.txt, in a table
    assert image_colour(page, main_images(page)) > 0.2  # the collection's gallery
    screenshot(page, "pictures-added")

    dataset = next(p.name for p in (root / "datasets").iterdir() if p.name.startswith("pictures-"))
    page.goto(f"{url}/train?dataset={dataset}&model=conv_ae&latent_dim=32&epochs=25&lr=0.001")
    wait_idle(page)
    no_exception(page)
    page.get_by_role("button", name=TRAIN_BUTTON).click()
    page.get_by_text(re.compile(r"look \d+ ?% alike")).first.wait_for(timeout=240_000)
    wait_idle(page)
    assert page.get_by_text("no better than the average image", exact=False).count() == 0
    assert image_colour(page, main_images(page)) > 0.05  # test pictures above their redrawings
    screenshot(page, "pictures-trained")

    for path in ("compare", "generate", "denoise", "anomalies", "your_image"):
        page.goto(f"{url}/{path}")
        wait_idle(page, 180_000)
        if path == "your_image":
            page.get_by_text("Take one from the test set", exact=True).click()
            wait_idle(page, 180_000)
        main_images(page).first.wait_for(timeout=180_000)
        wait_idle(page, 180_000)
        no_exception(page)
        # Your image: the picture the models get, its own dataset's by default, not the heat scale beside it
        shown = main_images(page).first if path == "your_image" else main_images(page)
        assert image_colour(page, shown) > 0.05, path
        screenshot(page, f"pictures-{path}")

    page.goto(f"{url}/latent")
    wait_idle(page, 180_000)
    page.get_by_text("Images on the map", exact=True).first.click()
    wait_idle(page, 180_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot image').length > 0", timeout=60_000)
    sources = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot image')]"
                            ".map(i => i.getAttribute('href') || i.getAttribute('xlink:href') || i.href.baseVal)")
    thumbs = [base64.b64decode(s.split(",", 1)[1]) for s in sources if s and s.startswith("data:image/png")]
    assert thumbs and max(colourful(t) for t in thumbs) > 0.2
    screenshot(page, "pictures-latent")
