"""Generate: new images from a model's decoder. A VAE draws samples from its prior and, with a 2-D code, its
whole map of images; any model can be steered with sliders along the main directions of its codes.

The codes of a subset of test images are computed once per run (cached); each slider move then decodes
a single code, which takes milliseconds, so the picture follows the sliders.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.generate import manifold_grid, sample_prior
from aecore.infer import gray_uint8
from aecore.latent import along_directions, decode_codes, encode_split, principal_directions
from aecore.models import is_variational
from aecore.runs import RunInfo
from ui.images import enlarge, labelled_rows, tile_rows
from ui.loaders import cached_model, cached_test_split, finished_runs_or_stop, load_model_or_stop, load_test_or_stop, \
    run_picker
from ui.shell import require_shell

require_shell()

SAMPLE_ROWS, SAMPLE_COLUMNS = 4, 10
MANIFOLD_SIZE = 15
CODE_SUBSET = 1000  # test images whose codes set the sliders' directions and spreads
SLIDERS = 4
SLIDER_LIMIT = 3.0
STRIP_STEPS = (-3, -2, -1, 0, 1, 2, 3)


def is_vae(run: RunInfo) -> bool:
    return is_variational(run.model_kind)


@st.cache_data(max_entries=32, show_spinner="Drawing new images…")
def prior_samples(run_id: str, n: int, seed: int) -> np.ndarray:
    """(n, H, W) uint8 images decoded from random codes."""
    return gray_uint8(sample_prior(cached_model(run_id), n, seed))


@st.cache_data(max_entries=16, show_spinner="Reading the codes of test images…")
def test_codes(run_id: str, dataset: str) -> np.ndarray:
    """Codes (n, D) of a fixed subset of the dataset's test images."""
    return encode_split(cached_model(run_id), cached_test_split(dataset), n=CODE_SUBSET).z


@st.cache_data(max_entries=16, show_spinner=False)
def code_axes(run_id: str, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes' mean, top principal directions and the spread along each."""
    return principal_directions(test_codes(run_id, dataset), k=SLIDERS)


@st.cache_data(max_entries=16, show_spinner="Drawing the map…")
def manifold_image(run_id: str, dataset: str, vae: bool) -> np.ndarray:
    """The 2-D code map as one uint8 mosaic: over the prior for a VAE, over the test codes' range otherwise."""
    codes = None if vae else test_codes(run_id, dataset)
    return gray_uint8(manifold_grid(cached_model(run_id), MANIFOLD_SIZE, codes=codes))


@st.cache_data(max_entries=16, show_spinner=False)
def direction_strips(run_id: str, dataset: str) -> list[np.ndarray]:
    """Per direction, (len(STRIP_STEPS), H, W) uint8 images from -3 to +3 spreads, the others held at the mean."""
    mean, directions, stds = code_axes(run_id, dataset)
    model = cached_model(run_id)
    rows = []
    for i in range(len(directions)):
        amounts = np.zeros((len(STRIP_STEPS), len(directions)), np.float32)
        amounts[:, i] = STRIP_STEPS
        codes = np.stack([along_directions(mean, directions, stds, a) for a in amounts])
        rows.append(gray_uint8(decode_codes(model, codes)))
    return rows


def generate_controls(runs: list[RunInfo]) -> RunInfo:
    """The model picker, preselecting the newest VAE the first time."""
    vaes = [r for r in runs if is_vae(r)]
    if vaes and "generate_run" not in st.session_state:
        st.session_state.generate_run = vaes[0].id
    return run_picker("Model", key="generate_run", runs=runs,
                      help="Any saved model. Drawing brand-new images needs a variational autoencoder (VAE).")


def next_seed() -> None:
    st.session_state.generate_seed = int(st.session_state.get("generate_seed", 0)) + 1


def show_prior(run: RunInfo) -> None:
    st.subheader("New images from random codes")
    if not is_vae(run):
        st.info("Sampling needs a variational autoencoder: this model learned to redraw images, but not a map of "
                "codes to draw new ones from. On Train, train the 'FashionMNIST VAE' or the '2-D VAE' preset, then "
                "pick it above.", icon=":material/info:")
        return
    seed_col, button_col = st.columns([1, 3], vertical_alignment="bottom")
    seed = seed_col.number_input("Seed", min_value=0, max_value=1_000_000, step=1, key="generate_seed",
                                 help="The same seed always draws the same images.")
    button_col.button("New samples", key="generate_new", icon=":material/casino:", on_click=next_seed,
                      help="Draw another set of random codes.")
    images = prior_samples(run.id, SAMPLE_ROWS * SAMPLE_COLUMNS, int(seed))
    rows = [images[i * SAMPLE_COLUMNS:(i + 1) * SAMPLE_COLUMNS] for i in range(SAMPLE_ROWS)]
    st.image(tile_rows(rows, scale=3, pad=6), alt=f"{len(images)} images drawn by the model from random codes")
    st.caption("Each image is decoded from a random code drawn from the bell curve the VAE learned to use for its "
               "codes. None is a copy of a training image: they are the model's own inventions, and blurry or "
               "odd ones show where its map of codes is thin.")


def show_manifold(run: RunInfo) -> None:
    st.subheader("The whole map of its 2-number codes")
    vae = is_vae(run)
    if not vae:
        load_test_or_stop(run.dataset)
    mosaic = manifold_image(run.id, run.dataset, vae)
    picture, words = st.columns([3, 2], gap="large")
    picture.image(mosaic, width=min(mosaic.shape[1] * 2, 720),
                  alt=f"A {MANIFOLD_SIZE} by {MANIFOLD_SIZE} grid of images decoded from evenly spaced codes")
    spread = "from the bell curve it was trained on" if vae else "across the range its test images' codes cover"
    words.markdown(f"This model squeezes every image into just two numbers, so all it knows fits on one sheet. "
                   f"Each tile is decoded from a code on an even grid {spread}: the first number grows from left "
                   "to right and the second from bottom to top.")
    words.caption("Neighbouring tiles have nearby codes, so they look alike; where one kind of image turns into "
                  "another, the model has placed those classes side by side.")


def show_explorer(run: RunInfo) -> None:
    st.subheader("Steer it with sliders")
    load_test_or_stop(run.dataset)
    n = len(code_axes(run.id, run.dataset)[1])
    sliders = "this slider moves" if n == 1 else f"these {n} sliders move"
    st.markdown(f"Every image is squeezed into a code of {run.latent_dim} numbers. Over the test images, those codes "
                f"differ most along a few directions; {sliders} the code along them, in steps of the usual spread "
                "(0 is the average code; ±3 is further out than almost any real image), and the model redraws the "
                "code at once.")
    st.fragment(show_sliders)(run.id, run.dataset, n)
    st.markdown("**What each slider does on its own**")
    strips = direction_strips(run.id, run.dataset)
    st.image(labelled_rows(strips, [f"Slider {i + 1}" for i in range(n)], scale=3, label_width=80),
             alt="For each slider, the image it gives from -3 to +3 with the other sliders at 0")
    st.caption(f"Each row moves one slider from {STRIP_STEPS[0]} (left) to +{STRIP_STEPS[-1]} (right) with the "
               "others at 0; slider 1 follows the direction along which the codes differ most.")


def reset_sliders(n: int) -> None:
    for i in range(n):
        st.session_state[f"generate_slider_{i}"] = 0.0


def show_sliders(run_id: str, dataset: str, n: int) -> None:
    """The sliders and the image decoded from them; a fragment, so a slider move redraws only this."""
    mean, directions, stds = code_axes(run_id, dataset)
    controls, picture = st.columns([3, 2], gap="large", vertical_alignment="center")
    with controls:
        amounts = []
        for i in range(n):
            st.session_state.setdefault(f"generate_slider_{i}", 0.0)
            amounts.append(st.slider(f"Slider {i + 1}", -SLIDER_LIMIT, SLIDER_LIMIT, step=0.1,
                                     key=f"generate_slider_{i}",
                                     help=f"Moves the code along direction {i + 1}, in spreads of the test codes."))
        st.button("Back to the average", key="generate_reset", icon=":material/restart_alt:", on_click=reset_sliders,
                  args=(n,), help="Set every slider to 0: the average code.")
    code = along_directions(mean, directions, stds, np.array(amounts, np.float32))
    image = gray_uint8(decode_codes(cached_model(run_id), code))[0]
    picture.image(enlarge(image, 8), alt="The image the model draws from the code the sliders set",
                  caption="Drawn from the sliders' code")


st.title("Generate")
st.caption("Make new images with a trained model: let a VAE invent them, or steer any model's code with sliders.")
runs = finished_runs_or_stop("Generating images needs a trained model, and there is none yet.")
run = generate_controls(runs)
load_model_or_stop(run)
show_prior(run)
if run.latent_dim == 2:
    show_manifold(run)
show_explorer(run)
