"""Home: what an autoencoder is, drawn from a real image; how to start; and the datasets, class by class."""

from __future__ import annotations

import streamlit as st

from aecore.data import DATASET_INFO, is_available
from aecore.data import class_gallery
from aecore.pca_example import CodeExample, code_example
from ui.charts import autoencoder_figure
from ui.images import labelled_rows, png_bytes
from ui.shell import require_shell
from ui.widgets import dataset_label

require_shell()

GALLERIES = ("fashion-mnist-sample", "mnist-sample")
BUNDLED = ("fashion-mnist-sample", "mnist-sample", "digits")
EXAMPLE = ("fashion-mnist-sample", 9, 8)  # an ankle boot, squeezed into 8 numbers
PER_CLASS = 10


@st.cache_data(show_spinner="Loading sample images…")
def load_gallery_png(name: str, per_class: int) -> bytes:
    """Each class of a dataset as one labelled row of sample images, as a PNG."""
    grid, classes = class_gallery(name, per_class)
    return png_bytes(labelled_rows(list(grid), classes, scale=2, label_width=110))


@st.cache_data(show_spinner="Drawing an autoencoder at work…")
def load_code_example(name: str, label: int, code_size: int) -> CodeExample:
    return code_example(name, label, code_size)


def show_intro() -> None:
    st.title("Autoencoder Studio")
    st.markdown("##### Teach a neural network to redraw pictures from a tiny summary, and watch it learn.")
    words, picture = st.columns([2, 3], gap="large", vertical_alignment="center")
    words.markdown(
        "An **autoencoder** is a neural network that learns to redraw the images it is shown. "
        "Its *encoder* squeezes each image into a short list of numbers, the **code**, and its *decoder* "
        "rebuilds the image from that code alone. Because the code is far smaller than the image, the "
        "network must learn what matters most in the pictures, which is what makes autoencoders good at "
        "compressing images, cleaning up noisy ones and spotting the odd one out."
    )
    ex = load_code_example(*EXAMPLE)
    with picture:
        st.plotly_chart(autoencoder_figure(ex.image, ex.code, ex.reconstruction), key="autoencoder_picture",
                        width="content", config={"displayModeBar": False, "staticPlot": True},
                        alt=f"A {ex.label.lower()} image, an arrow to a bar chart of {len(ex.code)} numbers, "
                            "and an arrow to the image rebuilt from them")
        st.caption(f"A real {ex.label.lower()} from the test set, squeezed into {len(ex.code)} numbers and rebuilt "
                   "by the simplest autoencoder there is: a linear one (the same as principal component "
                   "analysis). The models you train here redraw far more detail.")


def show_start() -> None:
    st.subheader("Get started")
    steps, start = st.columns([3, 1], gap="large", vertical_alignment="center")
    steps.markdown(
        "1. Open **Train** and pick a preset: *Quick demo* is a good first choice.\n"
        "2. Click **Train**, then watch the loss fall and the redrawn images sharpen, epoch by epoch.\n"
        "3. Find every finished model on **Runs**, where you can rename it, download it or delete it."
    )
    with start.container(border=True):
        st.page_link("pages/train.py", label="Start training", icon=":material/play_arrow:")
        st.page_link("pages/runs.py", label="See saved runs", icon=":material/inventory_2:")


def show_datasets() -> None:
    st.subheader("The datasets")
    gallery, catalogue = st.columns([3, 2], gap="large")
    with gallery:
        for tab, name in zip(st.tabs([dataset_label(n) for n in GALLERIES], key="gallery_tabs"), GALLERIES):
            with tab:
                st.image(load_gallery_png(name, PER_CLASS), alt=f"Sample images of each class of the {dataset_label(name)}",
                         caption=f"The first {PER_CLASS} training images of each class in the {dataset_label(name)}.")
    with catalogue:
        st.markdown("Each built-in dataset holds small pictures in ten classes: greyscale ones 28 by 28 pixels, and "
                    "CIFAR-10's colour photos 32 by 32. Bring your own on the **Your pictures** page.")
        for name, description in DATASET_INFO.items():
            if name in BUNDLED:
                badge = ":green-badge[ready: ships with the app]"
            elif is_available(name):
                badge = ":green-badge[ready: downloaded]"
            else:
                badge = ":gray-badge[download it on the Train page]"
            st.markdown(f"{description}  \n{badge}")


show_intro()
show_start()
show_datasets()
