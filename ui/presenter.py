"""Presenter mode, for a projector: one switch in the sidebar, or `?present=true` in any page's link.

Text and images are drawn larger, settings are folded away, and on Train the live reconstructions and the loss
curve fill the page. The switch is bound to the link (Streamlit's own `bind="query-params"`), so a teacher's
bookmark or a link handed to a room opens in presenter mode, and the mode stays on from page to page.
"""

from __future__ import annotations

import streamlit as st

KEY = "present"  # the switch's key, and the link's parameter
TEXT_SCALE = 1.3  # root font size: every size Streamlit draws in rem follows it
IMAGE_SCALE = 2  # images drawn at a fixed width are drawn this much wider

_STYLE = f"""
<style>
html {{ font-size: {TEXT_SCALE * 100:.0f}%; }}
[data-testid="stMainBlockContainer"] {{ max-width: 100%; padding-left: 2rem; padding-right: 2rem; }}
[data-testid="stMain"] img {{ image-rendering: pixelated; }}
</style>
"""


def presenter_switch() -> None:
    """The switch, in the sidebar on every page; in presenter mode also the style that makes everything larger."""
    with st.sidebar:
        st.toggle("Presenter mode", key=KEY, bind="query-params", persist_state="session",
                  help="For a projector: larger text and pictures, settings folded away, and on Train the model's "
                       "pictures and its learning curve as the main thing on the page.")
    if presenting():
        st.html(_STYLE)  # a fixed style of ours, no user text in it


def presenting() -> bool:
    """Whether this session is in presenter mode."""
    return bool(st.session_state.get(KEY, False))


def image_width(width: int) -> int:
    """A fixed image width, wider in presenter mode."""
    return width * IMAGE_SCALE if presenting() else width
