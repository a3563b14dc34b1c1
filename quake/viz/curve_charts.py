"""plotly figures of scores and training: operating curves (ROC, precision-recall, Molchan),
misses at an alarm fraction, training curves.

Each function takes data and returns a `plotly.graph_objects.Figure`; the page decides
where it goes. ``presentation=True`` enlarges fonts, lines and markers for a projector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quake.metrics.curves import OperatingCurve
from quake.metrics.scores import molchan
from quake.viz.chart_base import (
    Point,
    Spec,
    axis_spec,
    build_figure,
    hline,
    layout_spec,
    line_width,
    log_ticks,
)
from quake.viz.style import BASELINE_COLOR, OKABE_ITO, font_size
from quake.viz.text import chart_text


# -- operating curves ---------------------------------------------------------------------
def _curve_traces(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None,
    presentation: bool,
    hover: str,
) -> list[Spec]:
    out: list[Spec] = []
    for name, (x, y) in series.items():
        out.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "mode": "lines",
                "name": chart_text(name),
                "legendgroup": chart_text(name),
                "hovertemplate": hover + f"<extra>{chart_text(name)}</extra>",
                "line": {
                    "color": colors.get(name, BASELINE_COLOR),
                    "width": line_width(presentation),
                },
            }
        )
    for name, (px, py) in (points or {}).items():
        out.append(
            {
                "type": "scatter",
                "x": [px],
                "y": [py],
                "mode": "markers",
                "name": f"{chart_text(name)} at the threshold",
                "legendgroup": chart_text(name),
                "showlegend": False,
                "hovertemplate": hover + "<extra>at the threshold</extra>",
                "marker": {
                    "color": colors.get(name, BASELINE_COLOR),
                    "size": 18 if presentation else 13,
                    "line": {"color": "white", "width": 2},
                },
            }
        )
    return out


def _dotted(x: Sequence[float], y: Sequence[float], name: str) -> Spec:
    return {
        "type": "scatter",
        "x": list(x),
        "y": list(y),
        "mode": "lines",
        "name": name,
        "hoverinfo": "skip",
        "showlegend": False,
        "line": {"color": "#BBB", "dash": "dot", "width": 1.5},
    }


def _legend_rows(n_curves: int, columns: int) -> int:
    """Rows of a legend of ``n_curves`` entries, ``columns`` a row (room under the plot)."""
    return -(-n_curves // columns)


def roc_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "ROC curve",
    legend_columns: int = 1,
) -> go.Figure:
    """True-positive rate against false-positive rate (linear axes), chance diagonal dotted.

    ``legend_columns``: legend entries a row when there are more curves than fit in the plot
    area (room is made under the plot for their rows); 1 for a narrow column."""
    size = font_size(presentation)
    series = {}
    for name, c in curves.items():
        x, y, _ = c.roc_curve()
        series[name] = (x, y)
    traces = [_dotted([0, 1], [0, 1], "chance")]
    traces += _curve_traces(series, colors, points, presentation, "FPR %{x:.3g}, TPR %{y:.3g}")
    layout = layout_spec(
        title,
        presentation,
        400,
        axis_spec("false-positive rate (quiet cell-days alarmed)", size, range=[0, 1]),
        axis_spec("true-positive rate (targets caught)", size, range=[0, 1.02]),
        legend="bottom right" if len(curves) <= 3 else "below",
        legend_rows=_legend_rows(len(curves), legend_columns),
    )
    return build_figure(traces, layout)


def pr_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "Precision–recall curve",
    legend_columns: int = 1,
) -> go.Figure:
    """Precision (log axis: targets are rare) against recall; a dotted line at the base rate."""
    size = font_size(presentation)
    series = {}
    for name, c in curves.items():
        x, y, _ = c.pr_curve()
        series[name] = (x, np.maximum(y, 1e-6))
    shapes, notes = [], []
    # the lowest base rate among curves with targets (none: no line; a log axis has no 0)
    rates = sorted({c.n_positive / c.n_pairs for c in curves.values() if c.n_positive})
    lo = math.floor(math.log10(max(rates[0] / 3, 1e-7))) if rates else -4
    if rates:
        sh, no = hline(rates[0], f"base rate {rates[0]:.2g}", log=True)
        shapes.append(sh)
        notes.append(no)
    traces = _curve_traces(
        series, colors, points, presentation, "recall %{x:.3g}, precision %{y:.3g}"
    )
    layout = layout_spec(
        title,
        presentation,
        400,
        axis_spec("recall (targets caught)", size, range=[0, 1]),
        axis_spec("precision (log scale)", size, type="log", range=[lo, 0.05], **log_ticks(lo, 0)),
        shapes=shapes,
        annotations=notes,
        legend="top right" if len(curves) <= 3 else "below",
        legend_rows=_legend_rows(len(curves), legend_columns),
    )
    return build_figure(traces, layout)


def molchan_figure(
    curves: Mapping[str, OperatingCurve],
    colors: Mapping[str, str],
    points: Mapping[str, Point] | None = None,
    presentation: bool = False,
    title: str = "Molchan error diagram",
    legend_columns: int = 1,
) -> go.Figure:
    """Miss rate ν against alarm fraction τ (log τ axis), random forecast ν = 1 − τ dotted."""
    size = font_size(presentation)
    tau_r = np.logspace(-5, 0, 60)
    traces = [_dotted(tau_r, 1 - tau_r, "random")]
    series = {}
    for name, c in curves.items():
        tau, nu = molchan(c)
        keep = tau > 0
        series[name] = (tau[keep], nu[keep])
    traces += _curve_traces(
        series, colors, points, presentation, "alarm fraction %{x:.3g}, miss rate %{y:.3g}"
    )
    layout = layout_spec(
        title,
        presentation,
        400,
        axis_spec(
            "alarm fraction τ (log scale)", size, type="log", range=[-5, 0], **log_ticks(-5, 0)
        ),
        axis_spec("miss rate ν", size, range=[0, 1.02]),
        legend="bottom left" if len(curves) <= 3 else "below",
        legend_rows=_legend_rows(len(curves), legend_columns),
    )
    return build_figure(traces, layout)


def operating_points(
    curves: Mapping[str, OperatingCurve], thresholds: Mapping[str, float]
) -> dict[str, dict[str, Point]]:
    """Where each model sits at its threshold: ``{"roc"|"pr"|"molchan": {name: (x, y)}}``."""
    out: dict[str, dict[str, Point]] = {"roc": {}, "pr": {}, "molchan": {}}
    for name, c in curves.items():
        if name not in thresholds or c.n_positive == 0 or c.n_negative == 0:
            continue
        k = c.counts_at(float(thresholds[name]))
        tp, fp = k["tp"], k["fp"]
        tpr, fpr = tp / c.n_positive, fp / c.n_negative
        out["roc"][name] = (fpr, tpr)
        if tp + fp:
            out["pr"][name] = (tpr, max(tp / (tp + fp), 1e-6))
        tau = (tp + fp) / c.n_pairs
        if tau > 0:
            out["molchan"][name] = (tau, 1.0 - tpr)
    return out


def misses_figure(
    table: pd.DataFrame, colors: Mapping[str, str], fraction: float, presentation: bool = False
) -> go.Figure:
    """Missed targets per model at one alarm fraction (bars, fewer is better)."""
    size = font_size(presentation)
    trace = {
        "type": "bar",
        "x": list(table["model"]),
        "y": table["fn"].to_numpy(),
        "marker": {"color": [colors.get(m, BASELINE_COLOR) for m in table["model"]]},
        "text": [f"{r:.0%} missed" for r in table["miss_rate"]],
        "textposition": "outside",
        "hovertemplate": "%{x}: %{y} missed<extra></extra>",
        "showlegend": False,
    }
    ymax = float(table["fn"].max()) if len(table) else 1.0
    layout = layout_spec(
        f"Misses when {fraction:.2%} of cell-days are alarmed",
        presentation,
        380,
        axis_spec("model", size),
        axis_spec("missed target cell-days (FN)", size, range=[0, 1.18 * ymax]),
    )
    return build_figure([trace], layout)


# -- training -----------------------------------------------------------------------------
def training_figure(
    history: Sequence[Mapping[str, float]], presentation: bool = False
) -> go.Figure:
    """Loss and validation metrics against step: one line per numeric key of the history.

    ``history``: the numeric metrics of the training's `quake.progress.Progress` events,
    each with a ``step`` entry (`quake.service.jobs.TrainingJob.history`). Keys containing
    "loss" go on the left axis, ``val_*`` scores on the right.
    """
    size = font_size(presentation)
    df = pd.DataFrame(list(history))
    traces: list[Spec] = []
    keys = (
        []
        if df.empty or "step" not in df
        else [
            k
            for k in df.columns
            if ("loss" in k.lower() or k.startswith("val_"))
            and pd.api.types.is_numeric_dtype(df[k])
        ]
    )
    for i, k in enumerate(keys):
        sub = df[["step", k]].dropna()
        if sub.empty:
            continue
        right = "loss" not in k.lower()
        traces.append(
            {
                "type": "scatter",
                "x": sub["step"].to_numpy(),
                "y": sub[k].to_numpy(),
                "name": k.replace("val_", "validation ").replace("_", " "),
                "mode": "lines+markers" if len(sub) < 40 else "lines",
                "yaxis": "y2" if right else "y",
                "line": {
                    "color": OKABE_ITO[i % len(OKABE_ITO)],
                    "width": line_width(presentation) * 0.8,
                    "dash": "dot" if right else "solid",
                },
            }
        )
    layout = layout_spec(
        "Training curves",
        presentation,
        320,
        axis_spec("training step", size),
        axis_spec("loss", size),
        yaxis2={
            "title": {"text": "validation score"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    return build_figure(traces, layout)
