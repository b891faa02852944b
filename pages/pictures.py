"""Your pictures: bring a zip of your own pictures (one folder per class) and train on them like any dataset.

The zip is read in a worker process (`aecore.units.add_pictures`): every picture through the upload guards,
squared, resized, kept in colour or grey, with a test share held out per class, and PCA and the average image
measured as yardsticks. What could not be read is listed with why. Kept collections are listed with a few
pictures of each class, and may be renamed or deleted by whoever added them (or the teacher).
"""

from __future__ import annotations

import secrets
from datetime import datetime

import streamlit as st

from aecore import background, units, workers
from aecore.data import DatasetUnavailable, class_gallery
from aecore.own_pictures import MIN_PICTURES, CollectionOptions
from aecore.settings import datasets_dir
from aecore.store import collections
from aecore.store.collections import (
    MAX_PICTURES,
    SIZES,
    CollectionError,
    CollectionInfo,
)
from ui.images import labelled_rows, png_bytes
from ui.shell import require_shell
from ui.text import plain
from ui.visitor import current_visitor
from ui.waiting import wait_for

WORK = "pictures_work"  # session state: the id of this visitor's latest adding work
SQUARES = {"crop": "Cut out the middle square", "pad": "Keep the whole picture, black bars at the sides"}
COLOURS = {"auto": "Colour if the pictures are in colour", "colour": "Colour", "grey": "Black and white"}
PER_CLASS = 6  # pictures of each class shown in a collection's gallery
CLASS_LIMIT = 5  # collections one visitor may keep on a class server (each up to 256 MB of pictures)
MAX_CLASSES_SHOWN = 8


@st.cache_data(max_entries=32, show_spinner=False)
def gallery_png(dataset_id: str, content_hash: str) -> bytes:
    """A few pictures of each class (the first classes only), as a PNG; keyed by content, so a rename keeps it."""
    grid, classes = class_gallery(dataset_id, PER_CLASS)
    return png_bytes(labelled_rows(list(grid[:MAX_CLASSES_SHOWN]), list(classes[:MAX_CLASSES_SHOWN]), scale=2,
                                   label_width=120))


def start_adding(data: bytes, file_name: str, name: str, options: CollectionOptions, owner: str) -> None:
    """Queue the adding of an uploaded zip in a worker, unless this visitor's last one is still under way (a second
    click). The same pictures added twice are kept once (`aecore.store.collections.keep`)."""
    if adding():
        return
    uploads = datasets_dir() / ".uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / f"{secrets.token_hex(8)}.zip"
    path.write_bytes(data)
    st.session_state[WORK] = workers.submit(units.add_pictures, name, str(path), options, file_name, owner, True,
                                            owner=owner)


def start_demo(owner: str) -> None:
    if not adding():
        st.session_state[WORK] = workers.submit(units.add_demo_pictures, owner, owner=owner)


def adding() -> bool:
    """Whether this visitor's latest adding work is still queued or running."""
    try:
        return WORK in st.session_state and not background.snapshot(st.session_state[WORK]).finished
    except KeyError:  # forgotten: long finished
        return False


def show_adding() -> None:
    """The latest adding work of this visitor: its progress, or what came of it."""
    work_id = st.session_state.get(WORK)
    if work_id is None:
        return
    try:
        done = wait_for(work_id, "Adding your pictures")
    except KeyError:
        st.session_state.pop(WORK, None)
        return
    if done is None:
        return
    if done.state != "done" or not isinstance(done.result, dict):
        st.error("The pictures could not be added.", icon=":material/error:")
        if done.error or done.message:
            st.caption(f"Details: {plain(done.error or done.message)}")
        return
    if "refused" in done.result:
        st.error(f"These pictures cannot make a collection: {plain(done.result['refused'])}", icon=":material/error:")
        return
    info: CollectionInfo = done.result["info"]
    st.success(f"Added {plain(info.name)}: {info.train + info.test:,} pictures in {len(info.classes)} "
               f"{'class' if len(info.classes) == 1 else 'classes'}, {info.size} × {info.size} pixels, "
               f"{'in colour' if info.channels == 3 else 'black and white'}. Choose it on the Train page.",
               icon=":material/check_circle:")
    if info.skipped_count:
        st.warning(f"{skipped_words(info.skipped_count)}; here is why.", icon=":material/warning:")
        st.dataframe({"File": [s.path for s in info.skipped], "Why": [s.why for s in info.skipped]},
                     hide_index=True, width="stretch")


def skipped_words(n: int) -> str:
    return "1 file was skipped" if n == 1 else f"{n:,} files were skipped"


def room_for_more(kept: list[CollectionInfo]) -> bool:
    """On a class server, whether this visitor may add another collection; says so when not."""
    visitor = current_visitor()
    if not visitor.classroom or visitor.teacher or sum(visitor.owns(c.owner) for c in kept) < CLASS_LIMIT:
        return True
    st.info(f"You keep {CLASS_LIMIT} picture collections on this shared computer, as many as one person may. Delete "
            "one you no longer need to add another.", icon=":material/info:")
    return False


def add_form(owner: str, allowed: bool) -> None:
    st.subheader("Add pictures")
    st.markdown(f"Put your pictures in a zip with **one folder per kind of picture** (for example `cats/` and "
                f"`dogs/`); a zip of pictures without folders is one kind. PNG, JPEG, WebP, BMP and GIF work. "
                f"You need at least {MIN_PICTURES} pictures, and at most {MAX_PICTURES:,}.")
    upload = st.file_uploader("A zip of your pictures", type=["zip"], key="pictures_zip")
    name = st.text_input("Name", max_chars=collections.MAX_NAME, key="pictures_name",
                         placeholder=upload.name.removesuffix(".zip") if upload else "My pictures",
                         help="What the collection is called in every list; you can change it later.")
    left, middle, right = st.columns(3)
    size = left.radio("Size", SIZES, index=1, format_func=lambda s: f"{s} × {s} pixels", key="pictures_size",
                      help="Every picture is made this size. Smaller trains faster; larger keeps more detail.")
    square = middle.radio("Making them square", list(SQUARES), format_func=SQUARES.get, key="pictures_square",
                          help="Models take square pictures: cut the middle out, or fit the whole one in.")
    colour = right.radio("Colour", list(COLOURS), format_func=COLOURS.get, key="pictures_colour",
                         help="Black and white trains faster and suits shapes; colour keeps what colour tells.")
    options = CollectionOptions(size=size, square=square, colour=colour)
    chosen = (name or (upload.name.removesuffix(".zip") if upload else "")).strip() or "My pictures"
    st.button("Add these pictures", type="primary", icon=":material/upload:", disabled=upload is None or not allowed,
              on_click=lambda: start_adding(upload.getvalue(), upload.name, chosen, options, owner))
    st.caption("No pictures at hand? Try a collection cut from the photos that come with the app.")
    st.button("Add the demo photo collection", icon=":material/photo_library:", on_click=start_demo, args=(owner,),
              disabled=not allowed)


def rename(dataset_id: str, key: str, may: bool) -> None:
    if not may:
        return
    try:
        collections.rename(dataset_id, st.session_state.get(key, ""))
    except (CollectionError, OSError) as err:
        st.session_state["pictures_problem"] = str(err)


def delete(dataset_id: str, may: bool) -> None:
    if not may:
        return
    try:
        collections.delete(dataset_id)
    except (CollectionError, OSError) as err:
        st.session_state["pictures_problem"] = str(err)


def show_collection(info: CollectionInfo, may: bool) -> None:
    with st.container(border=True):
        st.markdown(f"#### {plain(info.name)}")
        kind = "in colour" if info.channels == 3 else "black and white"
        st.caption(f"{info.train + info.test:,} pictures ({info.train:,} to learn from, {info.test:,} held back to "
                   f"test) · {len(info.classes)} {'class' if len(info.classes) == 1 else 'classes'} · {info.size} × "
                   f"{info.size} pixels, {kind} · added {datetime.fromtimestamp(info.added):%d %b %Y, %H:%M}")
        try:
            st.image(gallery_png(info.id, info.hash), width="content",
                     alt=f"A few pictures of each class of {info.name}")
        except DatasetUnavailable as err:
            st.error(f"This collection cannot be shown: {plain(err)}", icon=":material/error:")
        if len(info.classes) > MAX_CLASSES_SHOWN:
            st.caption(f"The first {MAX_CLASSES_SHOWN} of its {len(info.classes)} classes.")
        if info.skipped_count:
            with st.expander(skipped_words(info.skipped_count)):
                st.dataframe({"File": [s.path for s in info.skipped], "Why": [s.why for s in info.skipped]},
                             hide_index=True, width="stretch")
        if may:
            left, right = st.columns([3, 1], vertical_alignment="bottom")
            key = f"pictures_rename_{info.id}"
            left.text_input("New name", value=info.name, max_chars=collections.MAX_NAME, key=key)
            right.button("Rename", key=f"pictures_rename_button_{info.id}", on_click=rename, args=(info.id, key, may))
            st.button("Delete this collection", key=f"pictures_delete_{info.id}", icon=":material/delete:",
                      on_click=delete, args=(info.id, may),
                      help="Models trained on it stay, but their pages can no longer show its pictures.")


require_shell()
st.title("Your pictures")
st.caption("Teach a model your own pictures: add them here, then choose them as the dataset on the Train page.")
visitor = current_visitor()
kept, unreadable = collections.list_all()
add_form(visitor.owner, room_for_more(kept))
show_adding()
if problem := st.session_state.pop("pictures_problem", None):
    st.error(plain(problem), icon=":material/error:")
kept, unreadable = collections.list_all()  # again: one may have been added or deleted just now
st.subheader("Your collections" if not visitor.classroom else "Collections on this server")
if not kept:
    st.info("No collections yet: add a zip of pictures above, or the demo photo collection.", icon=":material/info:")
for info in kept:
    show_collection(info, visitor.may_change(info.owner))
for sentence in unreadable:
    st.warning(plain(sentence), icon=":material/warning:")
