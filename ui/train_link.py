"""The Train page's settings in its link: `write_settings` puts them in the query string, `restore_settings` reads a
link's back once per browser session, so a copied link opens the same set-up (and never starts training).

Whatever is in a link came from someone else and may be anything: each value is parsed as the type of the
setting it claims to be, checked against the bounds of its widget, and then against RunConfig's own checks
(through the page's `build`); one that fails is left out, said so in plain words, and the rest still apply.
Keys the link does not know (`job`, anything else) are left to whoever reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st

from aecore.config import DATASET_NAMES, MODEL_KINDS, NOISE_KINDS, RunConfig

READ = "train_link_read"  # session flag: this session's link has been read
FROM_LINK = "train_link_set_up"  # session flag: the session was opened by a link that holds settings
PROBLEMS = "train_link_problems"
MAX_TEXT = 64  # longer values are no setting of ours
MAX_SEED = 2**31 - 1


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
    st.session_state[FROM_LINK] = any(k in limits or k == "preset" for k in params)
    values, problems = settings_from_link(params, defaults_for, build, default_preset, limits)
    st.session_state.update(values)
    st.session_state[PROBLEMS] = problems


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
