"""Plot helpers for the dashboard: take data, return a plotly figure or a pydeck deck.

Pure functions with no streamlit import; the pages decide where a figure goes.
"""

from quake.viz.catalog_charts import fmd_figure, monthly_classes, monthly_counts, monthly_figure
from quake.viz.chart_base import style_figure
from quake.viz.curve_charts import (
    misses_figure,
    molchan_figure,
    operating_points,
    pr_figure,
    roc_figure,
    training_figure,
)
from quake.viz.maps import events_deck, forecast_deck, mainshocks_deck, select_cells
from quake.viz.style import legend_html, model_colors, swatch_legend_html

__all__ = [
    "events_deck",
    "fmd_figure",
    "forecast_deck",
    "legend_html",
    "mainshocks_deck",
    "misses_figure",
    "model_colors",
    "molchan_figure",
    "monthly_classes",
    "monthly_counts",
    "monthly_figure",
    "operating_points",
    "pr_figure",
    "roc_figure",
    "select_cells",
    "style_figure",
    "swatch_legend_html",
    "training_figure",
]
