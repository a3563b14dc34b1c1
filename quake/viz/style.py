"""One look for every chart and map: colours, colour ramps, fonts, legends.

Colours follow Okabe & Ito (2008), distinguishable with the common colour-vision
deficiencies; the naive baseline is always grey so that it reads as "the reference".
Probability maps use ColorBrewer's YlOrRd on a log scale; gain over the prior uses
the diverging RdBu (blue below the prior, red above).
"""

from __future__ import annotations

import colorsys
import html
import math
from collections.abc import Sequence

import numpy as np

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: weak on white)
)
# Paul Tol's "muted" scheme: colour-blind safe, after Okabe-Ito when there are more models.
TOL_MUTED = (
    "#332288",  # indigo
    "#CC6677",  # rose
    "#117733",  # green
    "#882255",  # wine
    "#44AA99",  # teal
    "#999933",  # olive
    "#AA4499",  # purple
    "#88CCEE",  # cyan
    "#DDCC77",  # sand
)
PALETTE = OKABE_ITO[:-1] + TOL_MUTED + OKABE_ITO[-1:]  # yellow, weak on white, last of all


def _extra_colors() -> tuple[str, ...]:
    """Colours past the palette (more models of one Mc than it holds): 12 hues at two
    lightnesses, away from the palette's, so that no two models share a colour up to 33."""
    out = []
    for light in (0.38, 0.6):
        for k in range(12):
            r, g, b = colorsys.hls_to_rgb((k + 0.5) / 12, light, 0.55)
            out.append("#{:02X}{:02X}{:02X}".format(*(round(255 * v) for v in (r, g, b))))
    return tuple(out)


EXTRA_COLORS = _extra_colors()
BASELINE_COLOR = "#7F7F7F"
HIT_COLOR = (0, 114, 178)  # blue
MISS_COLOR = (0, 0, 0)  # black
COAST_COLOR = (70, 70, 70)
GRID_COLOR = (150, 150, 150)

# ColorBrewer YlOrRd (9 classes) and RdBu (11 classes, reversed: blue = low).
YLORRD = (
    (255, 255, 204),
    (255, 237, 160),
    (254, 217, 118),
    (254, 178, 76),
    (253, 141, 60),
    (252, 78, 42),
    (227, 26, 28),
    (189, 0, 38),
    (128, 0, 38),
)
RDBU = (
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
)
VIRIDIS = (
    (68, 1, 84),
    (72, 40, 120),
    (62, 73, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (110, 206, 88),
    (181, 222, 43),
    (253, 231, 37),
)

FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"


def font_size(presentation: bool) -> int:
    """Base font size of charts (px): larger for a projector."""
    return 20 if presentation else 14


def model_colors(
    names: Sequence[str],
    kinds: Sequence[str | None] | None = None,
    mcs: Sequence[float | None] | None = None,
) -> dict[str, str]:
    """A fixed colour per model: grey for naive baselines, one colour per kind.

    At each Mc the first model of a kind (by name) gets the kind's colour, and the kind
    keeps it at every Mc (models are compared within one Mc); further models of a kind
    (other presets, seeds) get colours no kind at that Mc uses: the palette's spare ones,
    then `EXTRA_COLORS`. So a reference model (etas, ri, ...) never shares its colour with
    the runs of another kind, and the same list of saved models gives the same colours on
    every page.
    """
    n = len(names)
    kinds = list(kinds) if kinds is not None else [None] * n
    mcs = list(mcs) if mcs is not None else [None] * n
    rows = sorted(zip(names, kinds, mcs, strict=True), key=lambda r: r[0])
    kind_order = sorted({k or name for name, k, _ in rows if k != "naive"})
    base = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kind_order)}
    spare = PALETTE[len(kind_order) :] + EXTRA_COLORS
    out: dict[str, str] = {}
    firsts: set[tuple] = set()
    taken: dict[float | None, set[str]] = {}
    for name, kind, mc in rows:  # pass 1: each kind's first model at each Mc
        if kind == "naive" or (kind is None and name.startswith("naive")):
            out[name] = BASELINE_COLOR
        elif (kind or name, mc) not in firsts:
            firsts.add((kind or name, mc))
            out[name] = base[kind or name]
            taken.setdefault(mc, set()).add(out[name])
    for name, _kind, mc in rows:  # pass 2: the others, in colours no kind here uses
        if name in out:
            continue
        used = taken.setdefault(mc, set())
        free = [c for c in spare if c not in used]
        out[name] = free[0] if free else spare[len(used) % len(spare)]
        used.add(out[name])
    return out


def ramp_colors(
    values: np.ndarray,
    vmin: float,
    vmax: float,
    ramp: Sequence[tuple[int, int, int]] = YLORRD,
    log: bool = True,
    alpha: int = 210,
    levels: int | None = None,
) -> np.ndarray:
    """RGBA ``(n, 4)`` uint8 colours of ``values`` on a (log) linear-interpolated ramp.

    Values are clipped to [vmin, vmax]; with ``log`` the position is
    ``(log10 v - log10 vmin) / (log10 vmax - log10 vmin)``. ``levels``: the position
    rounded to that many evenly spaced steps first (at most ``levels`` colours, so that a
    map fits a PNG palette), or continuous.
    """
    v = np.asarray(values, dtype=np.float64)
    if log:
        lo, hi = math.log10(vmin), math.log10(vmax)
        pos = (np.log10(np.clip(v, vmin, vmax)) - lo) / max(hi - lo, 1e-12)
    else:
        pos = (np.clip(v, vmin, vmax) - vmin) / max(vmax - vmin, 1e-12)
    if levels is not None:
        pos = np.round(pos * (levels - 1)) / (levels - 1)
    stops = np.asarray(ramp, dtype=np.float64)
    x = np.linspace(0.0, 1.0, len(stops))
    rgb = np.stack([np.interp(pos, x, stops[:, j]) for j in range(3)], axis=-1)
    out = np.empty((len(v), 4), dtype=np.uint8)
    out[:, :3] = np.round(rgb).astype(np.uint8)
    out[:, 3] = alpha
    return out


def log_ticks(vmin: float, vmax: float) -> list[float]:
    """Powers of ten within [vmin, vmax] (at least the two ends)."""
    lo, hi = math.ceil(math.log10(vmin) - 1e-9), math.floor(math.log10(vmax) + 1e-9)
    ticks = [10.0**k for k in range(lo, hi + 1)]
    return ticks if len(ticks) >= 2 else [vmin, vmax]


def fmt_prob(p: float) -> str:
    """A probability for people: 0.0123 -> "1.23 %", 3.4e-5 -> "3.4e-05"."""
    if p is None or not math.isfinite(p):
        return "n/a"
    if p >= 0.001:
        return f"{100 * p:.3g} %"
    return f"{p:.2g}"


MAP_SWATCHES = (
    ("#0072B2", "dot", "quake, hit (cell alarmed)"),
    ("#000000", "ring", "quake, missed"),
    ("rgba(253,141,60,0.25)", "box", "faded cell: below the threshold"),
)
"""Legend entries shared by every forecast map."""


def fmt_count(n: int) -> str:
    """A count that fits a metric tile: 11,631,400 -> "11.6 M", 144,420 -> "144,420"."""
    if abs(n) >= 10_000_000:
        return f"{n / 1e6:.1f} M"
    if abs(n) >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    return f"{n:,}"


def _tick_label(t: float, log: bool) -> str:
    if not log:
        return f"{t:g}"
    if 0.01 <= t <= 100:
        return f"{t:g}"
    return f"1e{round(math.log10(t))}"


def legend_html(
    title: str,
    vmin: float,
    vmax: float,
    ramp: Sequence[tuple[int, int, int]] = YLORRD,
    log: bool = True,
    ticks: Sequence[float] | None = None,
    presentation: bool = False,
    extra: Sequence[tuple[str, str, str]] = (),
) -> str:
    """A colour-bar legend as a self-contained HTML snippet (no scripts, no network).

    ``extra`` adds swatches ``(css colour, shape, label)`` after the bar, with shape
    ``"dot"``, ``"ring"``, ``"box"`` or ``"line"``.
    """
    size = 18 if presentation else 13
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / (len(ramp) - 1):.0f}%" for i, (r, g, b) in enumerate(ramp)
    )
    ticks = list(ticks) if ticks is not None else (log_ticks(vmin, vmax) if log else [vmin, vmax])
    lo, hi = (math.log10(vmin), math.log10(vmax)) if log else (vmin, vmax)
    marks = []
    for t in ticks:
        pos = ((math.log10(t) if log else t) - lo) / max(hi - lo, 1e-12)
        if -1e-9 <= pos <= 1 + 1e-9:
            marks.append(
                f'<span style="position:absolute;left:{100 * pos:.1f}%;'
                f'transform:translateX(-50%)">{html.escape(_tick_label(t, log))}</span>'
            )
    swatch_html = (
        f'<div style="margin-top:{size + 10}px">{_swatches(extra, size)}</div>' if extra else ""
    )
    return (
        f'<div style="font-family:{FONT};font-size:{size}px;color:#222;max-width:520px;'
        f'padding:2px 12px 6px 12px">'
        f'<div style="font-weight:600;margin-bottom:3px">{html.escape(title)}</div>'
        f'<div style="height:{size}px;border:1px solid #999;'
        f'background:linear-gradient(to right, {stops})"></div>'
        f'<div style="position:relative;height:{size + 4}px;margin-top:2px">{"".join(marks)}</div>'
        f"{swatch_html}</div>"
    )


def swatch_legend_html(
    title: str, entries: Sequence[tuple[str, str, str]], presentation: bool = False
) -> str:
    """A legend of swatches only ``(css colour, shape, label)`` (see `legend_html`)."""
    size = 18 if presentation else 13
    return (
        f'<div style="font-family:{FONT};font-size:{size}px;color:#222;max-width:520px;'
        f'padding:2px 12px 6px 12px">'
        f'<div style="font-weight:600;margin-bottom:3px">{html.escape(title)}</div>'
        f"<div>{_swatches(entries, size)}</div></div>"
    )


def _swatches(entries: Sequence[tuple[str, str, str]], size: int) -> str:
    swatches = []
    for css, shape, label in entries:
        if shape == "ring":
            mark = f"border:2.5px solid {css};background:transparent;border-radius:50%"
        elif shape == "box":
            mark = f"background:{css};border:1px solid #bbb"
        elif shape == "line":
            mark = f"border-top:3px solid {css};height:0;margin-top:{size // 2}px"
        else:
            mark = f"background:{css};border-radius:50%;border:1px solid white"
        swatches.append(
            f'<span style="display:inline-flex;align-items:center;margin-right:14px">'
            f'<span style="display:inline-block;width:{size}px;height:{size}px;{mark};'
            f'margin-right:5px"></span>{html.escape(label)}</span>'
        )
    return "".join(swatches)
