"""The app shell every page runs inside: app.py's `st.navigation` is the app's only navigation.

Streamlit keeps its first multipage mode for a folder named `pages/` beside the main script: the first
`PagesManager` of a server sets `PagesManager.uses_pages_directory` when that folder exists
(streamlit/runtime/pages_manager.py), and only a call to `st.navigation` clears it, for the rest of the
server's life (streamlit/commands/navigation.py). While it is set, a script run goes through `_mpa_v1`
(streamlit/runtime/scriptrunner/script_runner.py): it sends a navigation of file names (app, anomalies,
compare, ...) and runs the file the URL names on its own, without app.py. That is the first request to a
fresh server, and every AppTest run (AppTest sets the flag afresh before each run).
- The file names are never shown: `.streamlit/config.toml` sets `client.showSidebarNavigation = false`,
  so `_mpa_v1` sends its navigation hidden. `show_navigation` sets the option back on (a client option a
  script may set) before the app's own `st.navigation`, which would otherwise be hidden too.
- A page run on its own runs app.py in its place, here and nowhere else. Handing over with `st.rerun()`
  instead would drop the clicks that run carries (an `st.button` is True for one run only), and in AppTest
  every click arrives in such a run; no option or hook turns the old mode off before the first run.
"""

from __future__ import annotations

import runpy
import threading
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[1] / "app.py"
_run = threading.local()  # a page runs in the same thread as the app.py run that called it


def show_navigation(pages: Sequence[st.Page]) -> st.Page:
    """The app's sidebar navigation over `pages`; returns the page the URL asks for."""
    st.set_option("client.showSidebarNavigation", True)
    return st.navigation(pages, position="sidebar")


def run_in_shell(page: st.Page) -> None:
    """Run the page chosen by `show_navigation`, marked as run by app.py."""
    _run.in_shell = True
    page.run()


def require_shell() -> None:
    """Unless app.py is running this page, run app.py instead; call it before a page draws anything."""
    if _run.__dict__.pop("in_shell", False):
        return
    runpy.run_path(str(APP))  # its st.navigation opens this page inside the shell, clicks and query included
    st.stop()
