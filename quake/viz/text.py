"""Text from users (folder names, labels, file names, CSV cells) made safe to show.

Streamlit renders Markdown in titles, captions and messages, and HTML where a page asks
for it; a model folder copied onto the server or an uploaded file's name is hostile
until proven otherwise. `plain` turns any text into Markdown that shows exactly those
characters (no HTML, no links, no images, no maths); `csv_safe` neutralises spreadsheet
formulas in a table about to be downloaded (OWASP "CSV injection").
"""

from __future__ import annotations

import functools
import html
import os
import re
import unicodedata
from pathlib import Path

import pandas as pd

from quake import settings

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
    """``text`` as Markdown that shows literally: one line, at most ``limit`` characters;
    in read-only mode the server's own folders in it are named, not shown (`hide_paths`)."""
    s = html.escape(_line(hide_paths(str(text)), limit), quote=False)  # entities render
    return _MARKDOWN.sub(r"\\\1", s)


_FOLDER_ENVS = (
    settings.MODELS_ENV,
    settings.CACHE_ENV,
    settings.DOWNLOAD_ENV,
    settings.CHECKPOINT_ENV,
    settings.CATALOG_ENV,
    settings.CATALOG_DIRS_ENV,
    "HOME",
)


def _server_folders() -> list[tuple[str, str]]:
    """``(path, name)`` of the folders whose place on the server a visitor need not see,
    longest path first (worked out once per setting of the variables that move them)."""
    return _folders_for(tuple(os.environ.get(name) for name in _FOLDER_ENVS))


@functools.lru_cache(maxsize=8)
def _folders_for(_env: tuple) -> list[tuple[str, str]]:
    named = [
        (settings.models_dir(), "models/"),
        (settings.cache_dir(), "cache/"),
        (settings.download_dir(), "downloads/"),
        (settings.checkpoint_dir(), "checkpoints/"),
        *((root, root.name + "/") for root in settings.catalog_roots()),
        (settings.PROJECT_ROOT, ""),
        (Path.home(), "~/"),
    ]
    out = {}
    for folder, name in named:
        for form in {str(folder), os.path.realpath(folder)}:
            if len(form) > 1:  # never "/"
                out.setdefault(form.rstrip(os.sep) + os.sep, name)
    return sorted(out.items(), key=lambda item: -len(item[0]))


def hide_paths(text: str) -> str:
    """In read-only (seminar) mode, the server's folders in a message become short names
    (``/srv/quake/models/x/prior.safetensors`` -> ``models/x/prior.safetensors``); a
    person running the dashboard for themselves sees the whole path."""
    if os.sep not in text or not settings.readonly():
        return text
    for path, name in _server_folders():
        text = text.replace(path, name)
        bare = re.escape(path.rstrip(os.sep)) + r"(?=$|[\s'\"`,;:)\]])"  # the folder itself
        text = re.sub(bare, lambda _m, n=name: n.rstrip("/") or ".", text)
    return text


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
