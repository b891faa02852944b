"""Train: pick the data, a preset and the settings that matter, start training, and watch the model learn.

Training runs as a background job in aecore's registry, never inside this script, so clicking around
or leaving the page cannot stop it. The job id goes into the URL (`?job=...`), so a refresh or another
tab rejoins it; a fragment polls the job and draws its progress until it finishes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import streamlit as st

import aecore.jobs
from aecore import background
from aecore.background import QueueFull
from aecore.config import DATASET_NAMES, MODEL_KINDS, NOISE_KINDS, DataConfig, RunConfig, TrainConfig, default_config
from aecore.data import is_available
from aecore.models import is_variational
from aecore.names import default_name
from aecore.device import pick_device
from aecore.machine_speed import seconds_here
from aecore.prepare import download_status, measure_speed, start_download
from aecore.presets import PRESETS, VAE_MIN_DELTA, suited_to_side
from aecore.settings import max_job_minutes
from ui.presenter import presenting
from ui.progress import show_job_curves, show_job_progress
from ui.shell import require_shell
from ui.sidebar import active_jobs
from ui.train_link import (
    CONTROLS, LIMITS, hides_any, lesson_link, opened_from_a_link, restore_settings, show_link_problems, shown,
    write_settings,
)
from ui.train_options import OPTION_LABELS, apply_options, option_values, sharpness_controls
from ui.widgets import MODEL_BLURBS, NOISE_LABELS, dataset_choices, dataset_label, format_duration, model_label, picture_side
from ui.text import plain
from ui.visitor import current_visitor
from ui.waiting import wait_for

require_shell()

CUSTOM = "custom"
MY_JOBS = "train_my_jobs"  # ids of the jobs this session started
DEFAULT_PRESET = "quick-demo"
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
POLL_SECONDS = 0.7
CURVE_SECONDS = 2.0  # the loss chart and the pictures of a job in training are redrawn this often
DEFAULT_NOISE_LEVEL = 0.3
DOWNLOAD_MB = {"fashion-mnist": 30, "mnist": 11, "cifar-10": 163}
LINK_LIMITS = {**LIMITS, "preset": (CUSTOM, *PRESETS), "batch_size": BATCH_SIZES}  # what a shared link may set
LABELS = {"dataset": "dataset", "model": "model", "latent_dim": "code size", "epochs": "epochs", "seed": "seed",
          "batch_size": "batch size", "lr": "learning rate", "noise": "noise", "noise_level": "noise level",
          "patience": "patience", **OPTION_LABELS}


def preset_values(name: str) -> dict:
    """The widget values that reproduce a preset."""
    cfg = PRESETS[name].config
    return {"dataset": cfg.data.name, "model": cfg.model.kind, "latent_dim": cfg.model.latent_dim,
            "epochs": cfg.train.epochs, "batch_size": cfg.train.batch_size, "lr": cfg.train.lr,
            "seed": cfg.train.seed,
            "noise": cfg.train.noise, "noise_level": cfg.train.noise_level, "patience": cfg.train.patience,
            **option_values(cfg)}


def preset_title(name: str, seconds: float | None) -> str:
    """A preset's title, with how long it takes here once that is measured."""
    if name not in PRESETS:
        return "Custom settings"
    return PRESETS[name].title + (f" · about {about(seconds)} here" if seconds is not None else "")


def about(seconds: float) -> str:
    return format_duration(max(1.0, seconds))


def apply_preset() -> None:
    if st.session_state.preset in PRESETS:
        st.session_state.update(preset_values(st.session_state.preset))


def apply_model_sizes() -> None:
    model = default_config(st.session_state.model)
    st.session_state.latent_dim, st.session_state.recon_loss = model.latent_dim, model.recon_loss


def apply_noise_level() -> None:
    if st.session_state.noise != "none" and st.session_state.noise_level == 0.0:
        st.session_state.noise_level = DEFAULT_NOISE_LEVEL


def build_config(v: dict) -> RunConfig:
    """The RunConfig the widgets describe, on top of the preset's finer settings; ValueError if they clash."""
    base = PRESETS[v["preset"]].config if v["preset"] in PRESETS else RunConfig()
    model = base.model if base.model.kind == v["model"] else default_config(v["model"])
    denoising = v["noise"] != "none"
    train = dataclasses.replace(base.train, epochs=int(v["epochs"]), batch_size=int(v["batch_size"]), lr=float(v["lr"]),
                                patience=int(v["patience"]), noise=v["noise"], seed=int(v["seed"]),
                                noise_level=float(v["noise_level"]) if denoising else 0.0)
    if model.kind != base.model.kind:  # min_delta is in the loss's unit, and a VAE's loss is nats per image
        train = dataclasses.replace(train, min_delta=VAE_MIN_DELTA if is_variational(model.kind) else
                                    TrainConfig().min_delta)
    cfg = RunConfig(DataConfig(name=v["dataset"]), dataclasses.replace(model, latent_dim=int(v["latent_dim"])), train)
    return suited_to_side(apply_options(cfg, v), picture_side(v["dataset"]))


def train_controls() -> RunConfig | None:
    """Every setting, top to bottom; returns the config, or None while the data is missing or settings clash."""
    datasets = dataset_choices()
    restore_settings(lambda name: preset_values(name if name in PRESETS else DEFAULT_PRESET), build_config,
                     DEFAULT_PRESET, LINK_LIMITS | {"dataset": datasets})  # a shared link's set-up, once
    show_link_problems()
    for key, value in {"preset": DEFAULT_PRESET, **preset_values(DEFAULT_PRESET)}.items():
        st.session_state.setdefault(key, value)
    keep = dict(persist_state="session")
    here = seconds_here({name: p.config for name, p in PRESETS.items()}, pick_device())
    if st.session_state.get("preset_times") != here:  # measured since the picker was drawn: give it its value again,
        st.session_state.preset_times = here  # which redraws the chosen title with its time (Streamlit keeps the
        st.session_state.preset = st.session_state.preset  # old text otherwise: streamlit/streamlit#13788)
    control("preset", st.selectbox, "Preset", [CUSTOM, *PRESETS], key="preset", on_change=apply_preset, **keep,
                 format_func=lambda k: preset_title(k, here.get(k)),
                 help="Ready-made settings; picking one fills in everything below, which you can then change. "
                      "The times are measured on this computer.")
    about_preset = st.empty()
    if st.session_state.get("dataset") not in datasets:  # a collection deleted since it was chosen
        st.session_state.dataset = DATASET_NAMES[0]
    dataset = control("dataset", st.selectbox, "Dataset", datasets, key="dataset", format_func=dataset_label, **keep,
                           help="The images the model learns to redraw; the samples ship with the app, and your "
                                "own pictures are added on the Your pictures page.")
    ready = show_dataset_status(dataset)
    model = control("model", st.selectbox, "Model", MODEL_KINDS, key="model", format_func=model_label, on_change=apply_model_sizes,
                         **keep, help="The network's shape; picking one also sets a code size that suits it.")
    if shown("model"):
        st.caption(MODEL_BLURBS.get(model, ""))
    control("latent_dim", st.number_input, "Code size", min_value=1, max_value=512, step=1, key="latent_dim", **keep,
                    help="How many numbers each image is squeezed into: fewer gives blurrier but more compact codes.")
    left, right = st.columns(2)
    control("epochs", left.number_input, "Epochs", min_value=1, max_value=500, step=1, key="epochs", **keep,
                      help="How many times the model sees every training image.")
    control("batch_size", right.select_slider, "Batch size", BATCH_SIZES, key="batch_size", **keep,
                        help="Images per learning step: larger batches are faster per image but take fewer steps.")
    control("lr", left.number_input, "Learning rate", min_value=0.0001, max_value=1.0, step=0.0001, format="%.4f", key="lr", **keep,
                      help="The size of each learning step: too high diverges, too low crawls; 0.001 suits most models.")
    control("patience", right.number_input, "Early-stopping patience", min_value=0, max_value=100, step=1, key="patience", **keep,
                       help="Stop early when the model has stopped getting better on pictures held back from "
                            "training for this many rounds in a row, and keep its best round; 0 never stops early. "
                            "Details: the validation loss must drop by min_delta (0.001 of per-pixel error for "
                            "autoencoders, half a nat per image for VAEs) to count as better.")
    control("seed", left.number_input, "Seed", min_value=0, max_value=LIMITS["seed"].hi, step=1, key="seed", **keep,
                      help="Where the random start comes from: the same seed and settings train the same model "
                           "again; another seed gives a slightly different one.")
    noise = control("noise", st.selectbox, "Denoising noise", NOISE_KINDS, key="noise", format_func=NOISE_LABELS.get, **keep,
                         on_change=apply_noise_level,
                         help="Train on noisy copies but score against the clean images, so the model learns to clean up.")
    control("noise_level", st.slider, "Noise level", min_value=0.0, max_value=1.0, step=0.05, key="noise_level", disabled=noise == "none",
              **keep, help="How strong the noise is: the spread of Gaussian grain, or the share of pixels hit.")
    if shown("sharper"):
        sharpness_controls(model, is_variational(model))
    show_preset_note(about_preset)
    if hides_any():
        st.caption("This lesson's link sets the other settings.")
    write_settings({k: st.session_state[k] for k in ("preset", *preset_values(DEFAULT_PRESET))}, LINK_LIMITS)
    if not ready:
        st.caption("Download the dataset above first, or choose a bundled sample.")
        return None
    try:
        return settings_config()
    except ValueError as err:
        st.error(f"These settings do not fit together: {err}. Change one of them to train.")
        return None


def control(name: str, widget: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Draw a setting's widget unless a lesson link hides it; either way, the setting's value."""
    return widget(*args, **kwargs) if shown(name) else st.session_state[kwargs["key"]]


def settings_config() -> RunConfig:
    """The RunConfig the settings in this session describe, with the name typed (if any); ValueError if they clash."""
    cfg = build_config({k: st.session_state[k] for k in ("preset", *preset_values(DEFAULT_PRESET))})
    name = " ".join(str(st.session_state.get("run_name", "")).split())
    return dataclasses.replace(cfg, name=name) if name else cfg


def name_controls(cfg: RunConfig | None) -> None:
    """The run's name, before Train: empty, the model is named as the placeholder says (after its preset or its
    model and code size), the same way the command line names runs. The store adds a number to a name already
    taken when it saves the run, so this page need not read every run's name on each rerun."""
    suggested = default_name(dataclasses.replace(cfg, name="")) if cfg else ""
    if not shown("name"):
        return
    st.text_input("Name (optional)", key="run_name", max_chars=200, placeholder=suggested,
                  help="What to call this model in lists and charts. Leave it empty to use the name shown; if "
                       "another model already has that name, a number is added, as in “Quick demo 2”.")


def lesson_link_maker() -> None:
    """A teacher's link: the settings on the page, with only the chosen controls shown to whoever opens it."""
    if hides_any():
        return  # opened from a lesson link: the class has no use for making one
    with st.expander("Make a lesson link", icon=":material/link:"):
        st.caption("Hand your class a link that opens these settings and shows only the controls you choose; "
                   "the rest keep the values they have now.")
        chosen = st.multiselect("Controls your class may change", list(CONTROLS), default=["latent_dim"],
                                format_func=CONTROLS.get, key="lesson_controls")
        values = {k: st.session_state[k] for k in ("preset", *preset_values(DEFAULT_PRESET))}
        st.code(lesson_link(st.context.url or "/train", values, LINK_LIMITS, chosen), language=None, wrap_lines=True)


def start_training() -> None:
    """The Train button's callback: it runs before the page is drawn, so the sidebar and the page show the job
    in the same run, without a second one."""
    try:
        cfg = settings_config()
    except ValueError:
        return  # the page run that follows says what clashes
    if is_available(cfg.data.name) and same_job_active(cfg) is None:
        try:
            st.session_state.job_id = aecore.jobs.start(cfg, owner=current_visitor().owner)
        except QueueFull as err:
            st.session_state.train_refused = str(err)
            return
        st.session_state.setdefault(MY_JOBS, []).append(st.session_state.job_id)
        st.query_params["job"] = st.session_state.job_id  # a reload or a shared link rejoins this job


def same_job_active(cfg: RunConfig) -> str | None:
    """The id of a queued or running job this session started with exactly these settings, if any.

    Quick clicks on Train queue one callback each; this check makes every click after the first a no-op,
    while a run with different settings still starts beside it.
    """
    for job_id in reversed(st.session_state.get(MY_JOBS, [])):
        try:
            p = aecore.jobs.progress(job_id)
        except KeyError:
            continue  # forgotten by the registry: long finished
        if not p.finished and p.config == cfg:
            return job_id
    return None


def show_preset_note(slot: st.delta_generator.DeltaGenerator) -> None:
    """The preset's description, and which settings now differ from it."""
    name = st.session_state.preset
    if name not in PRESETS:
        return
    changed = [LABELS[k] for k, v in preset_values(name).items()
               if st.session_state[k] != v and not (k == "noise_level" and st.session_state.noise == "none")]
    note = f" Changed from the preset: {', '.join(changed)}." if changed else ""
    with slot.container():
        st.caption(PRESETS[name].description + note)
        with st.expander("Details", icon=":material/info:"):
            st.caption(PRESETS[name].details)


def show_dataset_status(name: str) -> bool:
    """Whether the dataset is on disk; if not, a Download button and the download's progress."""
    if is_available(name):
        return True
    status = download_status(name)
    if status.state == "running":
        try:
            if wait_for(status.work_id, f"Downloading {dataset_label(name)}") is None:
                return False  # the waiting helper polls and redraws the page once the download has ended
        except KeyError:
            pass  # forgotten meanwhile: ended long ago
        return show_dataset_status(name)  # ended: the dataset is there, or the failure is shown
    if status.state == "failed":
        st.error("The download failed: this computer may be offline, or the download site unreachable. Check "
                 "the internet connection and try again, or train on a bundled sample.", icon=":material/error:")
        st.caption(f"Details: {plain(status.message)}")
    else:
        st.info(f"{dataset_label(name)} is not on this computer yet: download it once "
                f"(about {DOWNLOAD_MB.get(name, 30)} MB).", icon=":material/cloud_download:")
    st.button("Download", key="download", icon=":material/download:", on_click=start_download, args=(name,),
              help="Fetch the dataset once; it needs an internet connection and is kept for next time.")
    return False


def watched_job() -> str | None:
    """The job this page follows: the URL's `?job=`, else the last one this browser tab started."""
    job_id = st.query_params.get("job") or st.session_state.get("job_id")
    if job_id:
        st.session_state.job_id = job_id
        mine = st.session_state.setdefault(MY_JOBS, [])
        if job_id not in mine:
            mine.append(job_id)  # a reloaded tab keeps its job: Train with the same settings does not start it again
        if st.query_params.get("job") != job_id:
            st.query_params["job"] = job_id
    return job_id


def show_job(job_id: str) -> None:
    """Poll the job while it trains; once it has finished, draw its outcome once and stop polling."""
    try:
        finished = aecore.jobs.progress(job_id).finished
    except KeyError:
        show_missing_job(job_id)
        return
    st.fragment(show_job_progress, run_every=None if finished else POLL_SECONDS)(job_id, finished)
    if not finished:
        st.fragment(show_job_curves, run_every=CURVE_SECONDS)(job_id)


def show_missing_job(job_id: str) -> None:
    if aecore.jobs.forgotten(job_id):
        st.info("That training job finished a while ago, and this server keeps the progress of only its latest "
                "jobs. If its model was saved, it is on the Runs page.", icon=":material/history:")
    else:
        st.info("That training job is not on this server: the app was restarted since it began, or the link is "
                "not quite right. Every model that finished training is saved on the Runs page.",
                icon=":material/history:")
    st.page_link("pages/runs.py", label="Open the saved runs", icon=":material/inventory_2:")
    st.session_state.pop("job_id", None)
    if st.query_params.get("job") == job_id:
        del st.query_params["job"]


def last_finished_job() -> str | None:
    """The newest job that finished with a saved run, this visitor's own on a shared server: the page shows it
    until a new one starts."""
    visitor = current_visitor()
    for p in aecore.jobs.list_jobs():  # newest first
        if p.finished and p.run_id and (visitor.owns(p.owner) or not visitor.classroom):
            return p.job_id
    return None


def time_here(cfg: RunConfig | None) -> float | None:
    """How long these settings take to train on this computer, once measured; what is not measured yet (every
    preset, and these settings while nothing trains) is measured in the background, and the page redrawn when
    it is done."""
    work_id = measure_speed([p.config for p in PRESETS.values()], when_idle=[cfg] if cfg is not None else [])
    if work_id is not None:
        st.caption("Measuring how fast this computer trains, to say how long each set-up takes here…")
        st.fragment(redraw_when_done, run_every=1.0)(work_id)
    return seconds_here({"cfg": cfg}, pick_device()).get("cfg") if cfg is not None else None


def redraw_when_done(work_id: str) -> None:
    """One poll of a measurement this page saw under way: the whole page is redrawn once it has ended."""
    try:
        finished = background.snapshot(work_id).finished
    except KeyError:
        finished = True  # forgotten: long done
    if finished:
        st.rerun()


def show_empty_state() -> None:
    with st.container(border=True):
        st.markdown("#### Ready when you are")
        st.markdown("Click **Train** and this space comes alive: the loss falling as the model learns, and test "
                    "images beside the model's attempts to redraw them, one row per epoch, getting sharper.")
        jobs = active_jobs()
        if jobs:
            st.page_link("pages/train.py", label="A model is training now: watch it", icon=":material/monitoring:",
                         query_params={"job": jobs[0].job_id})


st.title("Train")
if presenting():  # the model's pictures and curve are the page; the settings one click away
    settings = st.expander("Settings", icon=":material/tune:")
    actions = st.container(horizontal=True, vertical_alignment="center")
    live = st.container()
else:
    st.caption("Choose what to learn from and how, then click Train. "
               "Training carries on in the background while you look around the app.")
    settings, live = st.columns([2, 3], gap="large")  # 2/5: the longest preset title and its time fit at 1400 px
    actions = settings
with settings:
    cfg = train_controls()
    name_controls(cfg)
    lesson_link_maker()
training = same_job_active(cfg) if cfg is not None else None
with actions:
    seconds = time_here(cfg)
    st.button("Train" + (f" · about {about(seconds)} here" if seconds is not None else ""), key="train",
              type="primary", icon=":material/play_arrow:", disabled=cfg is None or bool(training),
              on_click=start_training, width="content" if presenting() else "stretch",
              help="Start training with these settings; the model is saved as a run when done. The time is "
                   "measured on this computer; a busy computer takes longer.")
    if seconds is not None and 0 < (limit := max_job_minutes() * 60) < seconds:
        st.warning(f"These settings would take about {about(seconds)} here, longer than the {format_duration(limit)} "
                   f"one model may train on this server: it would be stopped then and saved as it is. Fewer epochs "
                   "or a smaller model finish in time.", icon=":material/timer:")
    if refused := st.session_state.pop("train_refused", None):
        st.warning(refused, icon=":material/front_hand:")
    if training:
        st.caption("A model with exactly these settings is training now. Change a setting to train another "
                   "one beside it.")
with live:
    job_id = watched_job()
    if job_id:
        show_job(job_id)
    elif not opened_from_a_link() and (last := last_finished_job()):  # a link's set-up starts afresh
        st.caption("The model trained here last. Click Train to start a new one.")
        show_job(last)
    else:
        show_empty_state()
