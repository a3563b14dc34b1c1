"""Region-Time-Length sums (Sobolev & Tyupkin 1997), per cell centre and forecast day.

For forecast day T, cell c and one (r0, t0), over the past cell-days i of the grid (cell
centre x_i, day t_i, largest magnitude m_i) with ``r_i = |x_c - x_i| <= 2 r0`` and
``0 <= T - t_i < 2 t0`` (the space-time cylinder; the forecast day T itself included)::

    R(T, c) = sum_i exp(-r_i / r0)
    T(T, c) = sum_i exp(-(T - t_i) / t0)
    L(T, c) = sum_i l_i / max(r_i, cell_km / 2),   l_i = 10 ** (0.5 m_i - 1.8) km

(rupture length after Sobolev & Tyupkin; the distance is floored at half a cell so that an
event in the cell itself counts as if 5 km away). All three are 0 where the cylinder holds
no event. `quake.models.xgb_rtl` subtracts each term's per-cell background and multiplies.

Computed without per-pair loops: each cell-day adds a precomputed kernel patch (one per
r0 and term) to padded state maps when it enters a window and subtracts it when it leaves
(day ``t_i + 2 t0``); the T term decays by ``exp(-1/t0)`` a day. A count map per (r0, t0)
says which cylinders are empty; those are reset to exactly 0 despite float round-off. Windows are
finite, so a start at ``start - 2 max(t0)`` is exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from quake.data.events import GriddedEvents

R0_KM: tuple[float, ...] = (25.0, 50.0, 100.0)
T0_DAYS: tuple[int, ...] = (30, 90, 180)
TERMS = ("R", "T", "L")


def rupture_km(mag: np.ndarray) -> np.ndarray:
    """Rupture length ``10 ** (0.5 m - 1.8)`` km."""
    return np.power(10.0, 0.5 * np.asarray(mag, dtype=np.float64) - 1.8)


def raw_names(r0_km: Sequence[float] = R0_KM, t0_days: Sequence[int] = T0_DAYS) -> list[str]:
    """Names of the raw maps in `rtl_raw` order: r0 outer, then term R, T, L, then t0."""
    return [f"{t}_r{r:g}km_t{d}d" for r in r0_km for t in TERMS for d in t0_days]


def _kernels(r0: float, cell_km: float) -> tuple[int, np.ndarray]:
    """Half-width h (cells) and (4, 2h+1, 2h+1) patches: R, T (disk), L per km, count."""
    h = int(np.floor(2 * r0 / cell_km + 1e-9))
    off = np.arange(-h, h + 1) * cell_km
    dist = np.hypot(off[:, None], off[None, :])
    disk = (dist <= 2 * r0 + 1e-9).astype(np.float64)
    k_r = np.exp(-dist / r0) * disk
    k_l = disk / np.maximum(dist, cell_km / 2)
    return h, np.stack([k_r, disk, k_l, disk])


def rtl_raw(
    events: GriddedEvents,
    start: int,
    stop: int,
    chunk: int = 16,
    r0_km: Sequence[float] = R0_KM,
    t0_days: Sequence[int] = T0_DAYS,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_day, raw)``, raw float32 ``(n, len(r0) * len(t0) * 3, ny * nx)`` for days
    ``[start, stop)`` in `raw_names` order (see the module docstring)."""
    grid = events.grid
    ny, nx = grid.shape
    t0 = np.asarray(t0_days, dtype=np.int64)
    decay = np.exp(-1.0 / t0)[:, None, None]
    leave_t = np.exp(-2.0)  # what is left of a T-term contribution when it leaves the window
    kern = [_kernels(r, grid.cell_km) for r in r0_km]
    # state[r0]: (term R/T/L/count, t0, ny + 2h, nx + 2h), padded so patches never clip.
    state = [np.zeros((4, len(t0), ny + 2 * h, nx + 2 * h)) for h, _ in kern]
    first = max(0, start - 2 * int(t0.max()))
    bounds = np.searchsorted(events.day, np.arange(first, stop + 1))
    iy_all, ix_all = np.divmod(events.cell.astype(np.int64), nx)
    length = rupture_km(events.mag)

    def day_events(d: int) -> range:
        # Only days from `first` on entered the state, so only they may leave it.
        return range(bounds[d - first], bounds[d - first + 1]) if d >= first else range(0)

    n_maps = len(t0) * 3
    out = None
    for day in range(first, stop):
        for st in state:
            st[1] *= decay
        for j in day_events(day):
            y, x = iy_all[j], ix_all[j]
            scale = np.array([1.0, 1.0, length[j], 1.0])[:, None, None, None]
            for (h, k), st in zip(kern, state, strict=True):
                st[:, :, y : y + 2 * h + 1, x : x + 2 * h + 1] += k[:, None] * scale
        for q, span in enumerate(t0):
            for j in day_events(day - 2 * int(span)):
                y, x = iy_all[j], ix_all[j]
                scale = np.array([1.0, leave_t, length[j], 1.0])[:, None, None]
                for (h, k), st in zip(kern, state, strict=True):
                    patch = st[:, q, y : y + 2 * h + 1, x : x + 2 * h + 1]
                    patch -= k * scale
                    # Emptied cylinders are exactly 0, whatever the float round-off.
                    patch[:3, patch[3] < 0.5] = 0.0
        if day < start:
            continue
        i = (day - start) % chunk
        if i == 0:
            n = min(chunk, stop - day)
            out = np.empty((n, len(kern) * n_maps, ny * nx), dtype=np.float32)
        for b, ((h, _), st) in enumerate(zip(kern, state, strict=True)):
            o = out[i, b * n_maps : (b + 1) * n_maps].reshape(3, len(t0), ny, nx)
            np.copyto(o, st[:3, :, h : h + ny, h : h + nx], casting="same_kind")
        if i == out.shape[0] - 1:
            yield day - i, out


def rtl_background(
    events: GriddedEvents,
    start: int,
    stop: int,
    r0_km: Sequence[float] = R0_KM,
    t0_days: Sequence[int] = T0_DAYS,
) -> np.ndarray:
    """Mean of each `rtl_raw` map over forecast days ``[start, stop)``: float32
    ``(n_cells, n_raw)`` in `raw_names` order, in closed form.

    Cell-day i counts on the ``n_i`` days T of the range with ``0 <= T - t_i < 2 t0``
    (first one ``a_i``), so the means are kernel-weighted sums over events:
    ``R: K_R * n_i``, ``L: K_L * l_i * n_i`` and ``T: K_disk * sum_{k < n_i} exp(-(a_i - t_i
    + k) / t0)`` (a geometric sum), divided by the number of days; the spatial sums are FFT
    convolutions of per-cell weights with the kernels. Reads events before ``stop`` only.
    """
    from scipy.signal import fftconvolve

    grid = events.grid
    n = stop - start
    if n <= 0:
        raise ValueError("empty range")
    s = events.span(0, stop)
    day, cell, length = events.day[s].astype(np.int64), events.cell[s], rupture_km(events.mag[s])
    kern = [_kernels(r, grid.cell_km)[1] for r in r0_km]
    out = np.zeros((len(r0_km), 3, len(t0_days), grid.n_cells))
    for j, t0 in enumerate(t0_days):
        first = np.maximum(day, start)
        count = np.clip(np.minimum(day + 2 * t0, stop) - first, 0, None).astype(np.float64)
        decayed = np.exp(-(first - day) / t0) * -np.expm1(-count / t0) / -np.expm1(-1.0 / t0)
        weights = (count, np.where(count > 0, decayed, 0.0), count * length)
        for term, w in enumerate(weights):
            per_cell = np.bincount(cell, weights=w, minlength=grid.n_cells).reshape(grid.shape)
            for i, k in enumerate(kern):
                kk = k[(0, 1, 2)[term]]
                conv = fftconvolve(per_cell, kk, mode="same") if per_cell.any() else per_cell
                out[i, term, j] = conv.ravel() / n
    np.maximum(out, 0.0, out=out)  # FFT round-off around zero
    return out.reshape(-1, grid.n_cells).T.astype(np.float32)
