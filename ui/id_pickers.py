"""Pickers whose options are ids shown through labels that may change: `id_selectbox`, `id_multiselect`.

Streamlit keeps a selectbox's choice in the browser as the label it showed, and maps it back to an option
by the labels of the current run. When a label changes under it (a run renamed, here or in another window),
the label it sends back matches no option and the widget returns that label instead of an id. These pickers
remember the labels they last showed and turn such a stale label back into its id, before the page or an
`on_change` callback reads the choice, so a page only ever sees ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st


def id_selectbox(label: str, ids: Sequence[str], key: str, format_func: Callable[[str], str],
                 on_change: Callable[..., None] | None = None, args: tuple = (), **kwargs: Any) -> str:
    """A selectbox over `ids` (non-empty) that returns an id; an unknown or vanished choice falls back to the first."""
    def resolve() -> None:
        value = _as_id(st.session_state.get(key), key, ids)
        st.session_state[key] = value if value is not None else ids[0]

    def changed() -> None:
        resolve()
        if on_change is not None:
            on_change(*args)

    resolve()
    _remember(key, ids, format_func)
    return st.selectbox(label, list(ids), key=key, format_func=format_func, on_change=changed, **kwargs)


def id_multiselect(label: str, ids: Sequence[str], key: str, format_func: Callable[[str], str],
                   default: Sequence[str] = (), **kwargs: Any) -> list[str]:
    """A multiselect over `ids` that returns ids; choices that vanished are dropped, `default` picks the first time."""
    def resolve() -> None:
        chosen = st.session_state.get(key)
        if chosen is None:
            st.session_state[key] = [i for i in default if i in ids]
            return
        resolved = (_as_id(v, key, ids) for v in chosen)
        st.session_state[key] = list(dict.fromkeys(i for i in resolved if i is not None))

    resolve()
    _remember(key, ids, format_func)
    return st.multiselect(label, list(ids), key=key, format_func=format_func, on_change=resolve, **kwargs)


def _as_id(value: object, key: str, ids: Sequence[str]) -> str | None:
    """`value` if it is one of `ids`, the id a label shown earlier stood for, or None."""
    if value in ids:
        return value  # type: ignore[return-value]
    was = st.session_state.get(_labels_key(key), {}).get(value)
    return was if was in ids else None


def _remember(key: str, ids: Sequence[str], format_func: Callable[[str], str]) -> None:
    """Keep the labels shown now, and those shown before (a label the browser still holds may be older)."""
    shown = {**st.session_state.get(_labels_key(key), {}), **{format_func(i): i for i in ids}}
    st.session_state[_labels_key(key)] = dict(list(shown.items())[-512:])  # bounded: renames add labels


def _labels_key(key: str) -> str:
    return f"_shown_labels_{key}"
