"""The dashboard's pages, listed once: `app.py` builds ``st.navigation`` from `PAGES`, and the
tests, the benchmark and the browser test read the same list.

Plain data (no streamlit import). The page files live in ``app_pages/``, not ``pages/``:
Streamlit treats a ``pages/`` folder next to the main script as its legacy multipage app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class PageInfo:
    """One page: ``key`` names it in code, ``path`` is its file relative to the repository
    root (what ``st.Page`` and AppTest's ``switch_page`` take)."""

    key: str
    path: str
    title: str
    icon: str
    default: bool = False

    @property
    def slug(self) -> str:
        """The file's stem: the page's URL path name and its screenshot's name."""
        return PurePosixPath(self.path).stem

    @property
    def url(self) -> str:
        """Path after the server's address: ``""`` for the default page."""
        return "" if self.default else self.slug


PAGES: tuple[PageInfo, ...] = (
    PageInfo("home", "app_pages/home.py", "Home", ":material/home:", default=True),
    PageInfo("catalog", "app_pages/catalog.py", "Catalog", ":material/database:"),
    PageInfo("models", "app_pages/models.py", "Models", ":material/model_training:"),
    PageInfo("map", "app_pages/forecast_map.py", "Forecast map", ":material/map:"),
    PageInfo("threshold", "app_pages/threshold.py", "Threshold trade-off", ":material/tune:"),
    PageInfo("compare", "app_pages/compare.py", "Compare", ":material/leaderboard:"),
)
"""Every page, in the order of the navigation menu."""

BY_KEY: dict[str, PageInfo] = {p.key: p for p in PAGES}
PATHS: dict[str, str] = {p.key: p.path for p in PAGES}
"""``{key: path}``, e.g. ``PATHS["map"] == "app_pages/forecast_map.py"``."""
