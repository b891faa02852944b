"""Every size bound aecore keeps, in one place, and the error a run that breaks one raises; imports nothing of aecore.

Configs also come from uploaded runs and links, and a model, a loader or a parser is built from them, so every
size is bounded: generous for real use and far below what would exhaust a server. The configs, the run store,
the weights reader and the dataset reader all read their bounds here.
"""

from __future__ import annotations

# Configs. The datasets here hold at most 70,000 images; widths of a few thousand are already slow to train on a
# CPU; a VAE's code is tens of numbers, an autoencoder's hundreds.
MAX_IMAGES = 10_000_000
MAX_WIDTH = 4096
MAX_LAYERS = 8
MAX_LATENT = 4096
MAX_EPOCHS = 10_000  # TrainConfig's epochs and patience, and a stored history's rows

# A run's files: what they may cost to read, far above real runs and far below what would hurt a server.
# JSON costs ~10x its size once parsed; a 10,000-epoch history is ~2 MB.
MAX_ZIP_BYTES = 200 * 2**20  # total uncompressed size of an imported zip
MAX_JSON_BYTES = 4 * 2**20
MAX_PREVIEW_BYTES = 8 * 2**20
MAX_DEPTH = 16  # a run's JSON nests 4 deep; deeper data would only make every later repr or walk recurse
MAX_PREVIEW_PIXELS = 1024 * 1024  # a real preview is 242x62, and the Runs page draws it 3x larger
MAX_CHANNELS, MAX_SIDE = 4, 512  # input_shape: the datasets are 8 to 28 px; a few hundred px leaves room for more

# A weights file: a real header holds ~100 bytes per tensor and a model here a few dozen tensors, while
# safetensors' own 100 MB limit would let a header cost gigabytes of Python objects once parsed.
MAX_HEADER = 2**20
MAX_TENSORS = 1024
MAX_RANK = 8
MAX_DIM = 2**31
MAX_PARAMETERS = MAX_ZIP_BYTES // 4  # float32: the largest model whose export this store can import back

# IDX dataset files: the largest set read here holds 60,000 images; a million 28x28 images is 784 MB.
MAX_IDX_ITEMS = 1_000_000
MAX_IDX_SIDE = 512


class RunError(ValueError):
    """A run folder, zip or weights file was refused; the message says what is wrong and what to do."""


def check_size(parameters: int, where: str) -> None:
    """Refuse a model the store could not keep (and import back) before anything is allocated for it."""
    if parameters > MAX_PARAMETERS:
        raise RunError(f"{where}: the model has {parameters:,} parameters, but the store keeps models of at most "
                       f"{MAX_PARAMETERS:,} parameters (a {MAX_ZIP_BYTES // 2**20} MB export); choose smaller "
                       "layers or a smaller code")
