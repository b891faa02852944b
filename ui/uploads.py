"""A user's picture read for the models, or a plain message saying why it cannot be: `read_picture(data, fill)`.

The Your image page hands the uploaded bytes here; aecore.uploads does the decoding and the checks, and
every refusal comes back as the text of its `ImageError`, ready for `st.error`, never as an exception.
"""

from __future__ import annotations

from aecore.uploads import MAX_BYTES, ImageError, UserImage, load_user_image

UPLOAD_TYPES = ("png", "jpg", "jpeg", "gif", "webp", "bmp")  # the formats aecore.uploads decodes
MAX_MB = MAX_BYTES // 2**20
DIGIT_DATASETS = ("mnist-sample", "mnist", "digits")
DIGIT_FILL = 20 / 28  # MNIST digits span about 20 of their 28 pixels; clothes fill the frame


def frame_fill(dataset: str) -> float:
    """How much of the 28x28 frame the object should span to look like the images this dataset's models saw."""
    return DIGIT_FILL if dataset in DIGIT_DATASETS else 1.0


def read_picture(data: bytes, fill: float = 1.0) -> tuple[UserImage | None, str | None]:
    """The picture made ready for the models, or None and the reason it was refused."""
    try:
        return load_user_image(data, fill=fill), None
    except ImageError as err:
        return None, str(err)
