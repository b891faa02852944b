"""Who is looking: `current_visitor()` gives this browser's owner (aecore.owners) and whether it is the teacher.

The browser keeps its owner token in a cookie, so a refresh and a new tab of the same browser are the same
owner. Streamlit reads cookies (`st.context.cookies`, as the page's connection opened) but cannot set one, so
a small component of Streamlit's own (components v2, no iframe) writes it; a first visit makes the token here
and owns its jobs from its first click, before the cookie comes back on the next visit.
"""

from __future__ import annotations

import streamlit as st

from aecore.owners import Locked, Visitor, check_token, new_token, teacher_door, visitor
from aecore.settings import teacher_password

COOKIE = "aecore_owner"
YEAR = 365 * 24 * 3600

_keep_cookie = st.components.v2.component(
    "aecore_owner_cookie",
    js=f"""
export default function ({{ data }}) {{
  const token = data && data.token;
  if (token && !document.cookie.split("; ").includes("{COOKIE}=" + token)) {{
    document.cookie = "{COOKIE}=" + token + "; path=/; max-age={YEAR}; SameSite=Strict";
  }}
}}
""",
)


def browser_token() -> str:
    """This browser's token: the cookie's when it holds a well-formed one, else a new one for it to keep."""
    token = st.session_state.get("visitor_token")
    if token is None:
        try:
            token = check_token(st.context.cookies.get(COOKIE))
        except ValueError:  # none yet, or not one of ours: a cookie is outside input
            token = new_token()
        st.session_state.visitor_token = token
    return token


def current_visitor() -> Visitor:
    """The visitor this session serves."""
    return visitor(browser_token())


def keep_owner_cookie() -> None:
    """Have the browser keep its token (a no-op once the cookie it sent holds it)."""
    token = browser_token()
    if st.context.cookies.get(COOKIE) != token:
        with st.sidebar:
            _keep_cookie(data={"token": token}, key="owner_cookie")


def teacher_sign_in() -> None:
    """The sidebar's teacher door, shown only when the server has a teacher password."""
    if not teacher_password():
        return
    with st.sidebar:
        if current_visitor().teacher:
            st.caption("You are signed in as the teacher: you can stop, pause and delete anyone's work.")
            st.button("Sign out as teacher", key="teacher_sign_out", icon=":material/logout:",
                      on_click=lambda: teacher_door().leave(current_visitor().owner))
            return
        with st.expander("Teacher", icon=":material/school:"):
            with st.form("teacher_form", clear_on_submit=True, border=False):  # the password leaves the page at once
                st.text_input("Teacher's password", type="password", key="teacher_password")
                st.form_submit_button("Sign in", icon=":material/login:", on_click=sign_in)
            if note := st.session_state.pop("teacher_note", None):
                st.error(note, icon=":material/lock:")


def sign_in() -> None:
    """The Sign in button's callback: the door hears the password once, and nothing keeps it."""
    try:
        right = teacher_door().enter(st.session_state.get("teacher_password", ""), current_visitor().owner)
    except Locked as err:
        st.session_state.teacher_note = (f"Too many wrong passwords: the teacher's sign-in is locked for "
                                         f"{max(1, round(err.seconds))} more seconds.")
        return
    if not right:
        st.session_state.teacher_note = "That is not the teacher's password."
