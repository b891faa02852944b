"""The app shell every page runs inside: app.py runs each page through `run_in_shell`, pages call `require_shell`.

A file in pages/ can also be run on its own, without app.py: Streamlit still keeps its older automatic
multipage mode for a folder named `pages/`, and uses it when a browser opens a page's address (a
bookmark, or a refreshed `/train?job=...`) before the server has run app.py once; AppTest does the same
on every run after `switch_page`. The page would lack the wide layout, the navigation and the sidebar.
`require_shell()` at the top of each page notices, runs app.py in its place (which runs the page again,
inside the shell, clicks and query included) and ends the bare run.
"""

from __future__ import annotations

import runpy
import threading
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[1] / "app.py"
_run = threading.local()  # a page runs in the same thread as the app.py run that called it


def run_in_shell(page: st.Page) -> None:
    """Run the page chosen by st.navigation, marked as run by app.py."""
    _run.in_shell = True
    page.run()


def require_shell() -> None:
    """Unless app.py is running this page, run app.py instead; call it before a page draws anything."""
    if _run.__dict__.pop("in_shell", False):
        return
    runpy.run_path(str(APP))  # its st.navigation also ends the automatic mode for the rest of this server's life
    st.stop()
