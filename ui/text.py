"""Text that came from a user or a file (run names, error details), made safe to show inside Markdown.

Streamlit renders Markdown in headings, captions, alerts, toasts and progress labels: a run named
`![t](http://host/t.png)` would make every viewer's browser fetch that address, and `<b>`, `:red[...]` or `$x$`
would change how the text looks. Escaping punctuation is not enough: Streamlit's GitHub-flavoured Markdown
turns any `http://...`, `www.` or e-mail address in the decoded text into a link, escaped or not. A code span is
the one Markdown construct whose content is shown exactly as written, with no links, directives or maths, so
`plain(text)` puts the text in one. `plain_html(text)` does the same job for Plotly's HTML-like labels.
`shown(text)` leaves text that Markdown would show as it is (letters, digits, spaces and a little punctuation:
every built-in class name) as it is, and puts anything else in a code span: a person's own class names.
"""

from __future__ import annotations

import html
import re


def plain(text: object) -> str:
    """`text` as a Markdown code span that shows it as written; runs of white space become one space."""
    text = " ".join(str(text).split())
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)  # longer than any inside
    return f"{fence} {text} {fence}"  # CommonMark strips one space on each side, so edge backticks survive


SAFE = re.compile(r"[^\W_]+(?:[ /'(),.-]+[^\W_]*)*")  # no * _ ` [ ] < > : @ # ~ | \\ $ ! etc.


def shown(text: object) -> str:
    """`text` itself where Markdown shows it as written (and it names no web address), else `plain(text)`."""
    value = str(text)
    return value if SAFE.fullmatch(value) and "www." not in value.lower() else plain(value)


def plain_html(text: object) -> str:
    """`text` escaped for Plotly's HTML-like labels and hover texts (its `%{...}` templates included)."""
    return html.escape(str(text)).replace("%", "&#37;")
