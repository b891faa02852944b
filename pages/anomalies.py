"""Anomalies: an autoencoder redraws best what it has seen, so a large reconstruction error marks the odd one out.

First, any saved model's error on every test image, class by class, and the images it redraws worst.
Then a one-class demo: a small model trains on one class only, as training work on the one executor (so
it waits for a training slot like any job) that this page polls, never inside the script run, and the
whole test split is scored by its error, with a ROC curve. A finished demo is kept per dataset and class
while the executor holds it, so coming back shows it at once.
"""

from __future__ import annotations

import streamlit as st

from aecore import background, units, workers
from aecore.anomaly import OneClassResult
from aecore.background import QueueFull
from aecore.store.runs import RunInfo
from ui.shared_results import errors_work
from ui.charts import class_errors_figure, error_histogram_figure, roc_figure
from ui.images import enlarge, stack_pairs
from ui.loaders import finished_runs, load_model_or_stop, load_test_or_stop, run_picker, show_no_runs
from ui.shell import require_shell
from ui.widgets import dataset_label
from aecore.store import collections
from ui.text import plain, shown
from ui.visitor import current_visitor
from ui.waiting import result_of, wait_for

require_shell()

WORST = 16
WORST_PER_ROW = 8
DEMO_DATASETS = ("fashion-mnist-sample", "mnist-sample", "digits")
DEMO_EPOCHS = 10
DEMO_SEED = 0
NO_BAR = {"displayModeBar": False}


def show_model_errors(runs: list[RunInfo]) -> None:
    st.subheader("Where a model struggles")
    run = run_picker("Model", key="anomalies_run", runs=runs, help="Any saved model; its own test images are scored.")
    load_model_or_stop(run)
    load_test_or_stop(run.dataset)
    report = result_of(errors_work(run.id, run.dataset, WORST), "Scoring every test image",
                       "The test images could not be scored through this model.")
    if report is None:
        return
    st.plotly_chart(class_errors_figure(report.by_class()), key="anomalies_classes", config=NO_BAR,
                    alt="Box plots of reconstruction error for each class of test images")
    st.caption(f"Each box spans the middle half of one class's errors over {len(report.errors):,} test images, the "
               "line inside is the typical error and dots are outliers. Classes with high boxes are the ones this "
               "model finds hardest to redraw.")
    st.markdown(f"**The {len(report.worst)} test images it redraws worst**")
    pairs = stack_pairs(report.worst_images, report.worst_recons)
    for start in range(0, len(report.worst), WORST_PER_ROW):
        for column, pair, i in zip(st.columns(WORST_PER_ROW), pairs[start:], report.worst[start:start + WORST_PER_ROW]):
            name = report.classes[report.labels[i]]
            column.image(enlarge(pair, 4), caption=f"{shown(name)} · {report.errors[i]:.3f}", width="stretch",
                         alt=f"A {name} test image above the model's attempt to redraw it")
    st.caption("Top: the test image; below it: the model's attempt. The number is its reconstruction error (MSE). "
               "Unusual shapes, busy patterns and fine detail usually end up here.")


def one_class_controls() -> tuple[str, int, tuple[str, ...]]:
    """The dataset and the one class the detector learns; returns them and the dataset's class names."""
    data_col, class_col = st.columns(2)
    kept = [c.id for c in collections.list_all()[0] if len(c.classes) >= 2]  # one class against the others
    options = [*DEMO_DATASETS, *kept]
    if st.session_state.get("anomalies_dataset") not in options:
        st.session_state.anomalies_dataset = options[0]
    dataset = data_col.selectbox("Dataset", options, key="anomalies_dataset", format_func=dataset_label,
                                 help="The images to learn from: the samples that ship with the app, or your own "
                                      "pictures (added on the Your pictures page).")
    classes = load_test_or_stop(dataset).classes
    normal = class_col.selectbox("The one normal class", range(len(classes)), key="anomalies_class",
                                 format_func=lambda i: classes[i],
                                 help="The only kind of image the detector sees while it learns.")
    return dataset, int(normal), classes


def demo_status(key: tuple) -> background.Snapshot | None:
    """This demo's work: running or done in this app, or else the last one this tab started (to show a failure)."""
    task_id = background.find(key)
    mine = st.session_state.get("anomalies_task")
    if task_id is None and mine and tuple(mine[0]) == key:
        task_id = mine[1]
    try:
        return background.snapshot(task_id) if task_id else None
    except KeyError:  # forgotten by the executor
        return None


def start_demo(dataset: str, normal: int, key: tuple) -> None:
    try:
        task_id = workers.submit(units.one_class, normal, dataset, DEMO_EPOCHS, DEMO_SEED, kind="train", key=key,
                                 owner=current_visitor().owner)  # it takes a training place, as a job does
    except QueueFull as err:
        st.session_state.anomalies_refused = str(err)
        return
    st.session_state.anomalies_task = (key, task_id)


def show_one_class(dataset: str, normal: int, classes: tuple[str, ...]) -> None:
    key = ("one-class", dataset, normal, DEMO_EPOCHS, DEMO_SEED)
    status = demo_status(key)
    st.button(f"Train on “{shown(classes[normal])}” only", key="anomalies_train", type="primary",
              icon=":material/play_arrow:",
              disabled=status is not None and status.state in ("queued", "running", "done"), on_click=start_demo,
              args=(dataset, normal, key),
              help=f"Train a small autoencoder for {DEMO_EPOCHS} epochs on this class alone (a few seconds), then "
                   "score every test image. A finished demo is kept, so it shows at once next time.")
    if refused := st.session_state.pop("anomalies_refused", None):
        st.warning(refused, icon=":material/front_hand:")
    if status is None:
        st.caption("Nothing trained for this class yet: click the button above.")
        return
    status = wait_for(status.id, "Training the detector", stop_key="anomalies_stop")
    if status is None:
        return
    if status.state == "done":
        show_demo_result(status.result)
    elif status.state == "failed":
        st.error("Training the detector failed, so there is nothing to show. Click the button to try again, or "
                 "pick another class or dataset.", icon=":material/error:")
        st.caption(f"Details: {plain(status.error)}")
    else:
        st.info("That training was stopped. Click the button to train it again.", icon=":material/stop_circle:")


def show_demo_result(result: OneClassResult) -> None:
    name = result.normal_name
    others = result.scores[result.is_anomaly]
    normal = result.scores[~result.is_anomaly]
    caught = result.caught(false_alarms=0.05)
    if result.warning:
        st.warning(result.warning, icon=":material/warning:")
    auc_col, caught_col, seen_col = st.columns(3)
    auc_col.metric("Tells them apart", f"{result.roc.auc:.0%}", border=True,
                   help="Pick one odd image and one normal image at random: how often the odd one has the larger "
                        "error. 50 % is guessing, 100 % is perfect. Details: the area under the ROC curve, "
                        f"{result.roc.auc:.3f}.")
    caught_col.metric("Odd ones caught", f"{caught:.0%}", border=True,
                      help=f"Share of other-class images whose error is above 95% of the {shown(name)} images' errors: "
                           "what a threshold that wrongly flags 1 normal image in 20 would catch.")
    seen_col.metric("Trained on", f"{result.train_images:,} images", border=True,
                    help=f"Every training image of the class {shown(name)}, and nothing else.")
    st.markdown(f"The model only ever saw **{shown(name)}** images. It learned to redraw those well, and nothing else, "
                "so every other kind of image comes out badly redrawn: a large error, which makes it stand out. "
                "No one told the model what an odd one looks like.")
    roc_col, hist_col = st.columns(2, gap="large")
    with roc_col:
        st.plotly_chart(roc_figure(result.roc.fpr, result.roc.tpr, result.roc.auc), key="anomalies_roc",
                        config=NO_BAR, alt=f"ROC curve of flagging images by error, area {result.roc.auc:.2f}")
        st.caption("Raise the error threshold and fewer images are flagged: the curve shows, for every threshold, "
                   f"the share of {shown(name)} images wrongly flagged against the share of odd ones caught. The closer it "
                   "hugs the top-left corner, the better.")
    with hist_col:
        st.plotly_chart(error_histogram_figure(normal, others, name), key="anomalies_histogram", config=NO_BAR,
                        alt=f"Histograms of reconstruction error: {name} images against every other class")
        st.caption(f"The errors of {shown(name)} test images (which the model never trained on, but whose kind it knows) "
                   "against those of every other class. Where the two humps overlap, error alone cannot tell them "
                   "apart.")
    st.plotly_chart(class_errors_figure(result.per_class_errors, highlight=name), key="anomalies_one_class_classes",
                    config=NO_BAR, alt=f"Box plots of each class's error under the model trained on {name} only")
    st.caption(f"Each class's errors under this model; {shown(name)}, in orange, should sit lowest. Classes that look "
               f"like {shown(name)} sit low too: they are the hardest odd ones to catch.")


st.title("Anomalies")
st.caption("An autoencoder redraws best the kind of image it learned from, so a large reconstruction error "
           "points to something unusual: a hard case, a defect, or a kind of image it has never seen.")
runs = finished_runs()
if runs:
    show_model_errors(runs)
else:
    show_no_runs("There is no trained model to score yet (the one-class demo below needs none).")
st.divider()
st.subheader("Spot the odd one out: train on one class only")
st.markdown("Pick one kind of image. A small autoencoder trains on that class alone, then redraws every test "
            "image of every class; its reconstruction error is the score that flags the odd ones out.")
dataset, normal, classes = one_class_controls()
show_one_class(dataset, normal, classes)
