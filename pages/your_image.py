"""Your image: draw a picture, upload one or take one from the test set, and see how each chosen model redraws it.

aecore.uploads turns the picture into what the models were trained on (28x28 grayscale, a light object on
black, centred); a drawing is the canvas's PNG and goes through exactly the same checks as an upload. Each
model then redraws it, with its error as a number and as a heatmap, and shows where the picture lands on a map
of the test images' codes (aecore.placement), the test images nearest to it, and how unusual it finds it. A
refused picture gets a plain message, never a traceback.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from aecore.store.collections import is_collection_id
from aecore.uploads import UserImage, load_picture_as
from aecore.data import images_at, pick_test_image
from aecore.infer import ImageReconstruction, reconstruct_image
from aecore.placement import ImageMap, Placement, build_map, place
from aecore.store.runs import RunInfo
from ui.images import enlarge, heat_colours, heat_scale, image_row
from ui.loaders import (
    cached_model, cached_test_split, finished_runs_or_stop, load_model_or_stop, load_test_or_stop, runs_picker,
)
from ui.map_figures import placement_figure
from ui.presenter import image_width
from ui.shell import require_shell
from ui.uploads import MAX_MB, UPLOAD_TYPES, frame_fill, read_picture
from ui.widgets import dataset_label, dataset_words, model_label
from ui.text import plain, shown

require_shell()

UPLOAD, DRAW, TEST_SET = "upload", "draw", "test"
SOURCES = {UPLOAD: "Upload a picture", DRAW: "Draw one", TEST_SET: "Take one from the test set"}
CANVAS = 280  # pixels: ten screen pixels per model pixel
STROKE = 22  # a pen about as thick as an MNIST digit's strokes, once shrunk
NEAREST = 6
SAMPLE_DATASETS = ("fashion-mnist-sample", "mnist-sample")
PER_ROW = 3
SCALE = 5  # 28 pixels shown as 140
ERROR_RANGE = 0.5  # differences this large or larger get the brightest colour, as on Compare


@st.cache_data(max_entries=16, show_spinner="Reading the picture…")
def prepared(data: bytes, fill: float) -> tuple[UserImage | None, str | None]:
    return read_picture(data, fill)


@st.cache_data(max_entries=64, show_spinner=False)
def test_picture(dataset: str, label: int, nth: int) -> tuple[np.ndarray, str]:
    return pick_test_image(dataset, label, nth)


@st.cache_data(max_entries=16, show_spinner="Reading the picture…")
def collection_input(data: bytes, size: int, channels: int) -> np.ndarray:
    return load_picture_as(data, size, channels)


@st.cache_data(max_entries=128, show_spinner="Redrawing it…")
def redrawn(run_id: str, image: np.ndarray) -> ImageReconstruction:
    return reconstruct_image(cached_model(run_id), image)


def picture_controls(chosen: list[RunInfo]) -> tuple[str, bytes | None, tuple[str, int, int] | None]:
    """Where the picture comes from: an upload's bytes, or a test image's (dataset, class, which one): from the
    chosen models' own datasets (the first model's first) or the samples."""
    source = st.radio("Picture", list(SOURCES), key="your_image_source", format_func=SOURCES.get, horizontal=True,
                      label_visibility="collapsed")
    if source == DRAW:
        return source, drawing(), None
    if source == UPLOAD:
        upload = st.file_uploader(f"A picture of one object: PNG, JPEG, GIF, WebP or BMP, up to {MAX_MB} MB",
                                  type=list(UPLOAD_TYPES), key="your_image_upload", max_upload_size=MAX_MB,
                                  help="A photo or drawing of one thing on a plain background works best: a shoe, "
                                       "a bag, a shirt, or a handwritten digit.")
        return source, upload.getvalue() if upload is not None else None, None
    data_col, button_col = st.columns([1, 3], vertical_alignment="bottom")
    options = list(dict.fromkeys([*(r.dataset for r in chosen), *SAMPLE_DATASETS]))
    if st.session_state.get("your_image_dataset") not in options:
        st.session_state.your_image_dataset = options[0]
    dataset = data_col.selectbox("Dataset", options, key="your_image_dataset", format_func=dataset_label)
    st.session_state.setdefault("your_image_nth", 0)
    button_col.button("Another one", key="your_image_next", icon=":material/shuffle:",
                      on_click=lambda: st.session_state.update(your_image_nth=st.session_state.your_image_nth + 1),
                      help="The next test image of the same class.")
    classes = load_test_or_stop(dataset).classes
    label = st.pills("Class", range(len(classes)), key="your_image_class", format_func=lambda i: shown(classes[i]),
                     default=0, required=True, help="A test image of this class; no model trained on it.")
    return source, None, (dataset, int(label), int(st.session_state.your_image_nth))


def drawing() -> bytes | None:
    """The canvas, white pen on black as the training images are; its picture as PNG bytes once something is
    drawn. The bytes come from the browser: they are read with every check an upload gets."""
    st.space("small")  # room for the canvas's toolbar, which sits above it
    pad, hint = st.columns([1, 2], gap="large", vertical_alignment="center")
    with pad:
        canvas = st_canvas(stroke_width=STROKE, stroke_color="#FFFFFF", background_color="#000000", height=CANVAS,
                           width=CANVAS, drawing_mode="freedraw", return_image_data=True, key="your_image_canvas")
    hint.markdown("Draw a digit or a piece of clothing in the black square with the mouse (or a finger). Every "
                  "model below redraws it as you go, and shows where it lands among the test images.")
    hint.caption("The buttons above the square undo a stroke or clear the drawing.")
    if not (canvas.json_data or {}).get("objects"):
        return None
    try:
        return canvas.image_bytes
    except (ValueError, TypeError):  # binascii.Error is a ValueError: what the browser sent was no PNG data URL
        return b""


def show_preview(image: np.ndarray, user: UserImage | None, drawn: bool = False) -> None:
    picture, words = st.columns([1, 3], gap="large", vertical_alignment="center")
    h, w = image.shape[:2]
    kind = "colour" if image.ndim == 3 else "gray"
    picture.image(enlarge(image, SCALE), alt=f"The picture as the models see it: {h} by {w} {kind} pixels")
    if user is None:
        words.markdown(f"A test image, exactly as the models get it: **{h} × {w} {kind} pixels**.")
        return
    w, h = user.original_size
    if drawn:
        words.markdown("Your drawing as the models see it: cropped around what you drew, centred and shrunk to "
                       "**28 × 28 pixels**.")
        return
    words.markdown(f"Your {user.format} picture ({w} × {h} pixels) as the models see it: turned gray, cropped "
                   "around the object, centred and shrunk to **28 × 28 pixels**.")
    if user.inverted:
        words.caption("Inverted: light background detected. The training images show light objects on black, so "
                      "light and dark were swapped to match.")


def show_models(chosen: list[RunInfo], data: bytes | None, image: np.ndarray) -> None:
    """Each model's redrawing side by side, PER_ROW to a row, with errors on one colour scale."""
    results, notes, inputs = {}, {}, {}
    for run in chosen:
        load_model_or_stop(run)
        inputs[run.id], notes[run.id] = model_input(run, data, image)
        try:
            results[run.id] = redrawn(run.id, inputs[run.id])
        except ValueError as err:
            notes[run.id] = f" It cannot redraw this picture: {plain(err)}."
    for start in range(0, len(chosen), PER_ROW):
        for column, run in zip(st.columns(PER_ROW, gap="large"), chosen[start:start + PER_ROW]):
            with column:
                show_model(run, results.get(run.id), notes[run.id])
                if run.id in results:
                    show_place(run, inputs[run.id])
    bar, words = st.columns([1, 3], vertical_alignment="center")
    bar.image(heat_scale(), width="stretch")
    words.caption(f"Error colours, the same for every model: black where the redrawing matches, bright yellow where "
                  f"it is off by {ERROR_RANGE:g} of full brightness or more.")


def show_model(run: RunInfo, rebuilt: ImageReconstruction | None, note: str) -> None:
    st.markdown(f"{plain(run.name)}")
    st.caption(f"{model_label(run.model_kind)}, trained on the {dataset_words(run.dataset)}.{note}")
    if rebuilt is None:
        return
    tiles = [enlarge(np.round(rebuilt.image * 255).astype(np.uint8), 3),
             enlarge(np.round(rebuilt.reconstruction * 255).astype(np.uint8), 3),
             enlarge(heat_colours(rebuilt.difference, ERROR_RANGE), 3)]
    st.image(tiles, caption=["Input", "Redrawn", "Error"], width=image_width(84),
             alt=["The input image", "The model's redrawing of it", "Where the two differ: brighter is worse"])
    mse_col, psnr_col = st.columns(2)
    mse_col.metric("Error (MSE)", f"{rebuilt.mse:.4f}", border=True,
                   help="Mean squared difference per pixel between the input and the redrawing. Lower is better.")
    psnr_col.metric("PSNR", f"{rebuilt.psnr:.1f} dB", border=True,
                    help="The same difference in decibels. Higher is better; above 20 dB looks close.")


@st.cache_data(max_entries=16, show_spinner="Mapping the test images…")
def model_map(run_id: str, dataset: str) -> ImageMap:
    return build_map(cached_model(run_id), cached_test_split(dataset))


@st.cache_data(max_entries=256, show_spinner=False)
def placed(run_id: str, dataset: str, image: np.ndarray) -> Placement:
    return place(model_map(run_id, dataset), cached_model(run_id), image, NEAREST)


def show_place(run: RunInfo, image: np.ndarray) -> None:
    """Where the picture lands among this model's test images, the nearest of them, and how unusual it is."""
    test = load_test_or_stop(run.dataset)
    try:
        tmap, where = model_map(run.id, run.dataset), placed(run.id, run.dataset, image)
    except ValueError as err:  # codes with no spread, or not finite: said as the Latent page says it
        st.caption(f"Its codes cannot be mapped: {plain(err)}")
        return
    st.plotly_chart(placement_figure(tmap.points, tmap.labels, test.classes, where.point, where.nearest),
                    key=f"your_image_map_{run.id}", config={"displayModeBar": False},
                    alt="The test images as dots by class, and your picture as a star among them")
    st.caption("Dots: test pictures, coloured by class (point at one to see which). The closer two dots, the more "
               "alike this model finds the pictures.")
    share = where.worse_than
    verdict = ("**Unusual** for this model" if where.unusual else "**Ordinary** for this model")
    st.markdown(f"{verdict}: it redraws {share:.0%} of the test pictures better than this one.")
    st.caption("Closest test pictures, as this model sees them:")
    st.image(image_row(images_at(test, tmap.indices[where.nearest]), scale=2), width="content",
             alt="The test images whose codes are closest to your picture's")


def model_input(run: RunInfo, data: bytes | None, image: np.ndarray) -> tuple[np.ndarray, str]:
    """The image this model gets: uploads are framed like its training images (digits keep a margin; a model
    of a person's own pictures gets the upload's centre square, in colour if it learned colour)."""
    if data is not None and is_collection_id(run.dataset):
        return collection_input(data, run.input_shape[-1], run.input_shape[0]), \
            " It gets the middle square of the picture, as its own pictures were made."
    if data is None or frame_fill(run.dataset) == 1.0:
        return image, ""
    user, _ = prepared(data, frame_fill(run.dataset))
    return user.preview, " The picture was framed with a margin, as digits are."


st.title("Your image")
st.caption("Bring your own picture and see what your models make of it. Something like the images a model "
           "learned from comes back close; anything else shows what the model cannot draw.")
runs = finished_runs_or_stop("Redrawing a picture needs a trained model, and there is none yet.")
chosen = runs_picker("Models", key="your_image_runs", runs=runs, default=3,
                     help="Each model chosen redraws the picture, side by side.")
source, data, sample = picture_controls(chosen)
if source == UPLOAD and data is None:
    st.info("Upload a picture above, or take one from the test set instead.", icon=":material/upload:")
    st.stop()
if source == DRAW and data is None:
    st.stop()
user: UserImage | None = None
if data is not None:
    user, problem = prepared(data, 1.0)
    if user is None:
        st.error(problem, icon=":material/error:")
        st.stop()
    image = user.preview
else:
    image, _ = test_picture(*sample)
show_preview(image, user, drawn=source == DRAW)
if not chosen:
    st.info("Choose at least one model above to see it redraw the picture.", icon=":material/info:")
    st.stop()
st.subheader("How each model redraws it")
show_models(chosen, data, image)
