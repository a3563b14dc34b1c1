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

import pandas as pd

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$:])")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(text: object, limit: int = 120) -> str:
    """``text`` as Markdown that shows literally: one line, at most ``limit`` characters."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = html.escape(s, quote=False)  # entities render as the characters, never as tags
    return _MARKDOWN.sub(r"\\\1", s)


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
