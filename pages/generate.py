"""Generate: new images from a model's decoder. Any model draws samples from a mixture of bell curves fitted to
its training codes, and a VAE also from its own prior at a chosen temperature; a 2-D code shows its whole
map of images; any model can be steered with sliders, and moved from one class to another by class arithmetic.

The codes of a subset of test images are computed once per run (cached); each slider move then decodes
a single code, which takes milliseconds, so the picture follows the sliders. The mixture is background work
shared between sessions (`ui.generation`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.data import images_at
from aecore.generate import MAX_COMPONENTS, manifold_grid, shift_codes
from aecore.infer import image_uint8
from aecore.latent import along_directions, decode_codes, interpolate, principal_directions, variety_shares
from aecore.models import is_variational
from aecore.store.runs import RunInfo
from ui.generation import (cached_class_means, mixture_or_none, mixture_samples, prior_samples, test_codes)
from ui.images import enlarge, labelled_rows, tile_rows
from ui.loaders import cached_model, cached_test_split, finished_runs_or_stop, load_model_or_stop, load_test_or_stop, \
    run_picker
from ui.shell import require_shell
from ui.text import shown

require_shell()

SAMPLE_ROWS, SAMPLE_COLUMNS = 4, 10
MANIFOLD_SIZE = 15
PRIOR, MIXTURE = "prior", "mixture"
WALK_STEPS = 8
SHIFT_AMOUNTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)
SLIDERS = 4
SLIDER_LIMIT = 3.0
STRIP_STEPS = (-3, -2, -1, 0, 1, 2, 3)


def is_vae(run: RunInfo) -> bool:
    return is_variational(run.model_kind)


@st.cache_data(max_entries=16, show_spinner=False)
def code_axes(run_id: str, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes' mean, top principal directions and the spread along each."""
    return principal_directions(test_codes(run_id, dataset)[0], k=SLIDERS)


@st.cache_data(max_entries=16, show_spinner=False)
def direction_names(run_id: str, dataset: str) -> list[str]:
    """'Main direction 1 — 34 % of the variety', one per slider: what each moves along, and how much it covers."""
    shares = variety_shares(test_codes(run_id, dataset)[0], k=SLIDERS)
    return [f"Main direction {i + 1} — {share:.0%} of the variety" for i, share in enumerate(shares)]


@st.cache_data(max_entries=16, show_spinner="Drawing the map…")
def manifold_image(run_id: str, dataset: str, vae: bool) -> np.ndarray:
    """The 2-D code map as one uint8 mosaic: over the prior for a VAE, over the test codes' range otherwise."""
    codes = None if vae else test_codes(run_id, dataset)[0]
    return image_uint8(manifold_grid(cached_model(run_id), MANIFOLD_SIZE, codes=codes))


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
        rows.append(image_uint8(decode_codes(model, codes)))
    return rows


def generate_controls(runs: list[RunInfo]) -> RunInfo:
    """The model picker, preselecting the newest VAE the first time."""
    vaes = [r for r in runs if is_vae(r)]
    if vaes and "generate_run" not in st.session_state:
        st.session_state.generate_run = vaes[0].id
    return run_picker("Model", key="generate_run", runs=runs,
                      help="Any saved model. A variational autoencoder (VAE) can also draw from the bell curve it "
                           "was trained to use for its codes.")


def next_seed() -> None:
    st.session_state.generate_seed = int(st.session_state.get("generate_seed", 0)) + 1


def show_new_images(run: RunInfo) -> None:
    st.subheader("New images from random codes")
    vae = is_vae(run)
    source = MIXTURE
    if vae:
        source = st.radio("Draw the codes from", (PRIOR, MIXTURE), key="generate_source", horizontal=True,
                          format_func={PRIOR: "The VAE's own bell curve", MIXTURE: "The training images' codes"}.get,
                          help="A VAE was trained to give codes that follow one bell curve, so it can draw from "
                               "that. Or, as for any model, draw from groups fitted to the codes its training "
                               "images really get, which often gives cleaner images.")
    seed_col, knob_col, button_col = st.columns([1, 2, 1], vertical_alignment="bottom")
    seed = int(seed_col.number_input("Seed", min_value=0, max_value=1_000_000, step=1, key="generate_seed",
                                     help="The same seed always draws the same images."))
    button_col.button("New samples", key="generate_new", icon=":material/casino:", on_click=next_seed,
                      help="Draw another set of random codes.")
    n = SAMPLE_ROWS * SAMPLE_COLUMNS
    if source == PRIOR:
        temperature = knob_col.slider(
            "Temperature", min_value=0.1, max_value=2.0, value=1.0, step=0.1, key="generate_temperature",
            help="How far from the middle of the bell curve the random codes may land. Below 1: typical, cleaner "
                 "images with less variety. Above 1: more varied and stranger ones. 1 is the curve it trained with.")
        images = prior_samples(run.id, n, seed, float(temperature))
        words = (f"Each image is decoded from a random code drawn from the VAE's bell curve, its spread times "
                 f"{temperature:g}. None is a copy of a training image: they are the model's own inventions, and "
                 "blurry or odd ones show where its map of codes is thin.")
    else:
        components = int(knob_col.number_input(
            "Groups of codes", min_value=1, max_value=MAX_COMPONENTS, value=10, step=1, key="generate_components",
            help="Before drawing, the codes of the training images are split into this many groups, each a bell "
                 "curve around one kind of image. More groups follow the training images more closely; fewer "
                 "blend kinds together into more unusual images. 10 suits ten classes. Changing it refits."))
        mixture = mixture_or_none(run.id, run.dataset, components)
        if mixture is None:
            return
        images = mixture_samples(run.id, mixture, n, seed)
        words = (f"The codes of up to 5,000 training images were split into {components} groups (a Gaussian "
                 "mixture); each image here is decoded from a new random code drawn from one group. This works "
                 "for any autoencoder, which has no bell curve of its own to draw from.")
    rows = [images[i * SAMPLE_COLUMNS:(i + 1) * SAMPLE_COLUMNS] for i in range(SAMPLE_ROWS)]
    st.image(tile_rows(rows, scale=3, pad=6), alt=f"{len(images)} images drawn by the model from random codes")
    st.caption(words)


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
    st.image(labelled_rows(strips, [f"Direction {i + 1}" for i in range(n)], scale=3, label_width=100),
             alt="For each slider, the image it gives from -3 to +3 with the other sliders at 0")
    st.caption(f"Each row moves one slider from {STRIP_STEPS[0]} (left) to +{STRIP_STEPS[-1]} (right) with the "
               "others at 0; direction 1 is the one along which the codes differ most.")


def show_class_arithmetic(run: RunInfo) -> None:
    st.subheader("From one class to another")
    classes = load_test_or_stop(run.dataset).classes
    means = cached_class_means(run.id, run.dataset)
    present = [k for k in range(len(classes)) if np.isfinite(means[k]).all()]
    if len(present) < 2:
        st.info("Class arithmetic needs test images of at least two classes.", icon=":material/info:")
        return
    st.markdown("The average code of every image of a class stands for that class. Walk from one class's average "
                "to another's, or add the difference between two averages to one picture's code, to move that "
                "picture towards the other class while it keeps what makes it itself.")
    a_col, b_col = st.columns(2)
    a = a_col.selectbox("From class", present, index=0, key="generate_class_a", format_func=lambda k: classes[k],
                        help="The class to start from.")
    b = b_col.selectbox("To class", present, index=1, key="generate_class_b", format_func=lambda k: classes[k],
                        help="The class to move towards.")
    model = cached_model(run.id)
    walk = image_uint8(interpolate(model, means[a], means[b], WALK_STEPS))
    z, labels, indices = test_codes(run.id, run.dataset)
    own = np.flatnonzero(labels == a)
    pick = st.number_input(f"Which {shown(classes[a])} picture", min_value=1, max_value=len(own), value=1, step=1,
                           key="generate_pick", help=f"One of the {len(own)} test pictures of this class.")
    index = own[min(int(pick), len(own)) - 1]
    shifted = image_uint8(decode_codes(model, shift_codes(z[index], means[a], means[b], SHIFT_AMOUNTS)))
    original = images_at(cached_test_split(run.dataset), indices[[index]])
    strip = np.concatenate([original, shifted])
    st.image(labelled_rows([walk], ["Average to average"], scale=3, label_width=150),
             alt=f"The average {classes[a]} turning step by step into the average {classes[b]}")
    st.image(labelled_rows([strip], ["Picture + difference"], scale=3, label_width=150),
             alt=f"A {classes[a]} picture, then its code moved towards {classes[b]} in steps")
    steps = ", ".join(f"{t:g}" for t in SHIFT_AMOUNTS)
    st.caption(f"Top: decoded from evenly spaced codes between the two averages. Bottom: the picture itself, then "
               f"its code plus {steps} times (average {classes[b]} − average {classes[a]}); at 0 it is the "
               "model's redrawing of the picture, at 1 the whole difference has been added.")


def reset_sliders(n: int) -> None:
    for i in range(n):
        st.session_state[f"generate_slider_{i}"] = 0.0


def show_sliders(run_id: str, dataset: str, n: int) -> None:
    """The sliders and the image decoded from them; a fragment, so a slider move redraws only this."""
    mean, directions, stds = code_axes(run_id, dataset)
    names = direction_names(run_id, dataset)
    controls, picture = st.columns([3, 2], gap="large", vertical_alignment="center")
    with controls:
        amounts = []
        for i in range(n):
            st.session_state.setdefault(f"generate_slider_{i}", 0.0)
            amounts.append(st.slider(names[i], -SLIDER_LIMIT, SLIDER_LIMIT, step=0.1,
                                     key=f"generate_slider_{i}",
                                     help=f"Moves the code along direction {i + 1}, in spreads of the test codes."))
        st.button("Back to the average", key="generate_reset", icon=":material/restart_alt:", on_click=reset_sliders,
                  args=(n,), help="Set every slider to 0: the average code.")
    code = along_directions(mean, directions, stds, np.array(amounts, np.float32))
    image = image_uint8(decode_codes(cached_model(run_id), code))[0]
    picture.image(enlarge(image, 8), alt="The image the model draws from the code the sliders set",
                  caption="Drawn from the sliders' code")


st.title("Generate")
st.caption("Make new images with a trained model: draw random codes and let it redraw them, steer its code with "
           "sliders, or move a picture from one class to another.")
runs = finished_runs_or_stop("Generating images needs a trained model, and there is none yet.")
run = generate_controls(runs)
load_model_or_stop(run)
show_new_images(run)
if run.latent_dim == 2:
    show_manifold(run)
show_explorer(run)
show_class_arithmetic(run)
