"""The Train page's settings in its link: `write_settings` puts them in the query string, `restore_settings` reads a
link's back once per browser session, so a copied link opens the same set-up (and never starts training).

A lesson link also says which controls a class sees, as TensorFlow Playground's `hide` flags do: `show=latent_dim`
shows only the code size, `hide=seed,lr` hides those two; the hidden ones keep the link's values. `lesson_link`
writes one for the settings on the page.

Whatever is in a link came from someone else and may be anything: each value is parsed as the type of the
setting it claims to be, checked against the bounds of its widget, and then against RunConfig's own checks
(through the page's `build`); one that fails is left out, said so in plain words, and the rest still apply.
Keys the link does not know (`job`, anything else) are left to whoever reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlencode
from dataclasses import dataclass

import streamlit as st

from aecore.config import DATASET_NAMES, MODEL_KINDS, NOISE_KINDS, RunConfig

READ = "train_link_read"  # session flag: this session's link has been read
HIDDEN = "train_link_hidden"  # session: the controls a lesson link hides
FROM_LINK = "train_link_set_up"  # session flag: the session was opened by a link that holds settings
PROBLEMS = "train_link_problems"
MAX_TEXT = 64  # longer values are no setting of ours
MAX_SEED = 2**31 - 1
MAX_LIST = 400  # characters of a show= or hide= list
# the controls a lesson link can show or hide, in the page's order, with what a teacher reads
CONTROLS = {"preset": "Preset", "dataset": "Dataset", "model": "Model", "latent_dim": "Code size",
            "epochs": "Epochs", "batch_size": "Batch size", "lr": "Learning rate", "patience": "Early-stopping patience",
            "seed": "Seed", "noise": "Denoising noise", "noise_level": "Noise level", "sharper": "Sharper results",
            "name": "Name"}


@dataclass(frozen=True)
class Between:
    lo: float
    hi: float


# what each widget takes: a range, or the choices it offers; settings not listed here stay out of links
LIMITS: dict[str, Between | tuple] = {
    "dataset": DATASET_NAMES, "model": MODEL_KINDS, "noise": NOISE_KINDS,
    "latent_dim": Between(1, 512), "epochs": Between(1, 500), "lr": Between(0.0001, 1.0),
    "patience": Between(0, 100), "noise_level": Between(0.0, 1.0), "seed": Between(0, MAX_SEED),
    "ssim_weight": Between(0.1, 3.0), "warmup": Between(0.0, 0.5),
    "recon_loss": (), "lr_schedule": (), "batch_norm": (),  # () : RunConfig's checks alone
}


def parse(text: str, like: object) -> object:
    """`text` as a value of the type of `like`; ValueError saying what was expected."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValueError("is too long to be a setting")
    if isinstance(like, bool):
        if text not in ("true", "false"):
            raise ValueError(f"must be true or false, not {text!r}")
        return text == "true"
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"must be a whole number, not {text!r}") from None
    if isinstance(like, float):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"must be a number, not {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, not {text!r}")
        return value
    return text


def number(value: float) -> str:
    """2147483647 as '2,147,483,647', not '2.14748e+09'; 0.0001 as '0.0001'."""
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def check(limit: Between | tuple, value: object) -> None:
    """ValueError unless the widget can show `value`."""
    if isinstance(limit, Between) and not limit.lo <= value <= limit.hi:
        raise ValueError(f"must be between {number(limit.lo)} and {number(limit.hi)}, not {number(value)}")
    if isinstance(limit, tuple) and limit and value not in limit:
        raise ValueError(f"must be one of {', '.join(map(str, limit))}, not {value!r}")


def settings_from_link(params: Mapping[str, str], defaults_for: Callable[[str], dict],
                       build: Callable[[dict], RunConfig], default_preset: str,
                       limits: Mapping[str, Between | tuple]) -> tuple[dict, list[str]]:
    """The widget values a link describes (the preset's, then the link's own), and what was wrong with the rest.

    `defaults_for(preset)` gives a preset's widget values, `build(values)` raises ValueError for values that do not
    make a RunConfig; `limits` has an entry for every key a link may set, "preset" among them. No link keys: {}.
    """
    given = {k: v for k, v in params.items() if k in limits}
    if not given:
        return {}, []
    problems = []
    preset = given.pop("preset", default_preset)
    try:
        check(limits["preset"], preset)
    except ValueError as err:
        problems.append(f"preset {err}")
        preset = default_preset
    values = {"preset": preset, **defaults_for(preset)}
    parsed = {}
    for key, text in given.items():
        if key not in values:
            continue  # a setting this version of the page does not have
        try:
            value = parse(text, values[key])
            check(limits[key], value)
        except ValueError as err:
            problems.append(f"{key} {err}")
        else:
            parsed[key] = value
    rejected: dict[str, str] = {}
    for _ in range(2):  # twice: a value may need a partner that comes later (a noise kind and its level)
        for key, value in parsed.items():
            try:
                build({**values, key: value})
            except ValueError as err:
                rejected[key] = f"{key} = {value!r} does not fit: {err}"
            else:
                values[key] = value
                rejected.pop(key, None)
        parsed = {k: v for k, v in parsed.items() if k in rejected}
    return values, problems + list(rejected.values())


def link_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def write_settings(values: Mapping[str, object], limits: Mapping[str, Between | tuple]) -> None:
    """Put the settings in the page's query string, beside what else is there (`job`)."""
    for key, value in values.items():
        if key in limits and st.query_params.get(key) != link_text(value):
            st.query_params[key] = link_text(value)


def restore_settings(defaults_for: Callable[[str], dict], build: Callable[[dict], RunConfig], default_preset: str,
                     limits: Mapping[str, Between | tuple]) -> None:
    """Once per session, before the widgets are drawn: the link's settings into the session's widget values."""
    if st.session_state.get(READ):
        return
    st.session_state[READ] = True
    params = {k: st.query_params.get(k) for k in st.query_params}
    st.session_state[FROM_LINK] = any(k in limits or k in ("preset", "show", "hide") for k in params)
    values, problems = settings_from_link(params, defaults_for, build, default_preset, limits)
    hidden, list_problems = hidden_from_link(params)
    st.session_state.update(values)
    st.session_state[HIDDEN] = hidden
    st.session_state[PROBLEMS] = problems + list_problems


def hidden_from_link(params: Mapping[str, str]) -> tuple[frozenset[str], list[str]]:
    """The controls a lesson link hides (`show=` names the only ones shown, `hide=` the ones hidden; with both,
    `show` wins), and what in those lists is no control of the page."""
    problems = []
    lists = {}
    for key in ("show", "hide"):
        text = params.get(key)
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > MAX_LIST:
            problems.append(f"{key} is too long to be a list of controls")
            continue
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in CONTROLS]
        if unknown:
            problems.append(f"{key}: no control is called {', '.join(repr(n) for n in unknown)}; the controls are "
                            f"{', '.join(CONTROLS)}")
        lists[key] = {n for n in names if n in CONTROLS}
    if "show" in lists:
        return frozenset(CONTROLS) - lists["show"], problems
    return frozenset(lists.get("hide", ())), problems


def shown(control: str) -> bool:
    """Whether the page draws `control` (a lesson link may hide it; its value stays as the link set it)."""
    return control not in st.session_state.get(HIDDEN, ())


def hides_any() -> bool:
    return bool(st.session_state.get(HIDDEN))


def lesson_link(base_url: str, values: Mapping[str, object], limits: Mapping[str, Between | tuple],
                show: Sequence[str]) -> str:
    """A link that opens these settings with only the `show` controls drawn."""
    query = {k: link_text(v) for k, v in values.items() if k in limits}
    query["show"] = ",".join(c for c in CONTROLS if c in show)
    return f"{base_url.split('?')[0]}?{urlencode(query, safe=',')}"


def opened_from_a_link() -> bool:
    """Whether this session began with a link that set the page up (a teacher's or a copied one)."""
    return bool(st.session_state.get(FROM_LINK))


def show_link_problems() -> None:
    """What in the link could not be used, once; the link's values are shown as text."""
    problems = st.session_state.pop(PROBLEMS, None)
    if problems:
        st.warning("Some settings in this link could not be used, so those keep their usual values. Check them "
                   "below before you train.", icon=":material/link_off:")
        st.text("\n".join(problems))  # st.text shows what the link said as written
