"""Autoencoder Studio: the entry point that sets up the page, the navigation and the shared sidebar.

Run it with `streamlit run app.py`. Each page is one file in pages/ that calls `require_shell()` before
it draws anything; add a page to the app with one line in PAGES.
"""

import logging

import streamlit as st

from aecore.memory import start_trimming
from aecore.prepare import warm_up
from aecore.settings import problems
from ui.presenter import presenter_switch
from ui.shell import run_in_shell, show_navigation
from ui.sidebar import show_sidebar
from ui.visitor import current_visitor, keep_owner_cookie, teacher_sign_in


@st.cache_resource(show_spinner=False)
def log_bad_settings(sentences: tuple[str, ...]) -> None:
    """Once per server and set of problems, not on every page a visitor opens."""
    logging.getLogger("aecore.settings").error("bad settings: %s", " ".join(sentences))


st.set_page_config(page_title="Autoencoder Studio", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/inventory_2:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("pages/denoise.py", title="Denoise", icon=":material/blur_off:"),
    st.Page("pages/anomalies.py", title="Anomalies", icon=":material/troubleshoot:"),
    st.Page("pages/your_image.py", title="Your image", icon=":material/add_photo_alternate:"),
    st.Page("pages/pictures.py", title="Your pictures", icon=":material/photo_library:"),
]

CLASS_PAGE = st.Page("pages/class_view.py", title="Class", icon=":material/school:")

start_trimming()  # once per server: memory freed by finished sessions and jobs goes back to the system
bad = problems()  # checked before any page reads a setting, and shown whole on every page (they name no secret)
teacher = not bad and current_visitor().teacher
page = show_navigation(PAGES + [CLASS_PAGE] * teacher)  # the only navigation (ui/shell.py keeps pages/' own away)
if bad:
    log_bad_settings(tuple(bad))
    st.error("This server's settings need fixing before anything can be trained or shown. Whoever started it should "
             "fix the setting below and start it again.", icon=":material/settings_alert:")
    for sentence in bad:
        st.code(sentence, language=None, wrap_lines=True)
    st.stop()
warm_up()  # the worker processes start their imports now, not at the first click (at once when they have)
presenter_switch()
show_sidebar()
keep_owner_cookie()
teacher_sign_in()
run_in_shell(page)
