"""A colour picture collection to try, made offline from the photos scikit-image ships: `write_demo_pictures`.

Each photo is a class (an astronaut, a cat, coffee, a rocket, deep space, stained tissue, a retina, a
motorbike); its pictures are seeded random squares cut from it at different sizes, some mirrored, written as
PNG and JPEG into one folder per class, the layout a person's own collection has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# class name -> the file in scikit-image's own data folder (all in its wheel, none downloaded)
PHOTOS = {"astronaut": "astronaut.png", "cat": "chelsea.png", "coffee": "coffee.png", "rocket": "rocket.jpg",
          "space": "hubble_deep_field.jpg", "tissue": "ihc.png", "retina": "retina.jpg",
          "motorbike": "motorcycle_left.png"}
DEMO_NAME = "Photo patches (demo)"


def write_demo_pictures(folder: str | Path, per_class: int = 60, seed: int = 0) -> Path:
    """Write `per_class` pictures of each of the eight classes under `folder/<class>/` and return the folder."""
    import skimage  # the photos' folder; scikit-image is imported only here, where its data is wanted

    source = Path(skimage.__file__).parent / "data"
    out = Path(folder)
    rng = np.random.default_rng(seed)
    for name, file in PHOTOS.items():
        with Image.open(source / file) as im:
            photo = im.convert("RGB")
        (out / name).mkdir(parents=True, exist_ok=True)
        short = min(photo.size)
        for i in range(per_class):
            side = int(rng.integers(short // 5, short // 2))
            left = int(rng.integers(0, photo.width - side + 1))
            top = int(rng.integers(0, photo.height - side + 1))
            patch = photo.crop((left, top, left + side, top + side)).resize((96, 96), Image.Resampling.LANCZOS)
            if rng.random() < 0.5:
                patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if i % 3 == 0:
                patch.save(out / name / f"{i:03d}.jpg", quality=90)
            else:
                patch.save(out / name / f"{i:03d}.png")
    return out
