"""Text from users (folder names, labels, file names, CSV cells) made safe to show.

Streamlit renders Markdown in titles, captions and messages, and HTML where a page asks
for it; a model folder copied onto the server or an uploaded file's name is hostile
until proven otherwise. `plain` turns any text into Markdown that shows exactly those
characters (no HTML, no links, no images, no maths); `csv_safe` neutralises spreadsheet
formulas in a table about to be downloaded (OWASP "CSV injection").
"""

from __future__ import annotations

import html
import re
import unicodedata

import pandas as pd

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$:])")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _line(text: object, limit: int) -> str:
    """One line of at most ``limit`` characters whose invisible characters are shown as
    escapes: a right-to-left override (U+202E) would make ``gnp.exe`` read ``exe.png``."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in s)


def plain(text: object, limit: int = 120) -> str:
    """``text`` as Markdown that shows literally: one line, at most ``limit`` characters."""
    s = html.escape(_line(text, limit), quote=False)  # entities render as characters
    return _MARKDOWN.sub(r"\\\1", s)


def chart_text(text: object, limit: int = 80) -> str:
    """``text`` for a plotly label, title or hover: plotly renders a subset of HTML there
    (``<b>``, ``<span style>``, ``<a href>``), so markup is escaped to entities, and ``%``
    too (``%{x}`` would be read as a hover-template field)."""
    return html.escape(_line(text, limit), quote=False).replace("%", "&#37;")


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula."""
    out = frame.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out
